// How often and how patiently a webhook delivery is retried: arithmetic only, so it is tested
// on its own; the queue (services/jobs) applies it.

/** POSTs of one delivery at most, counting the first: about 2.4 hours of retries at the defaults. */
export const WEBHOOK_ATTEMPTS = 12;

/** The longest wait between two POSTs of one delivery. */
export const WEBHOOK_RETRY_MAX_MS = 3_600_000;

/** The BullMQ backoff type of webhook jobs, computed by webhookRetryDelayMs. */
export const WEBHOOK_BACKOFF = "webhook";

/**
 * The wait after the `attemptsMade`-th failed POST (1 after the first): `baseMs`, doubling
 * with each failure, never more than `maxMs`. With the default 5 s: 5 s, 10 s, 20 s, … 43 min,
 * then an hour.
 */
export function webhookRetryDelayMs(
  attemptsMade: number,
  baseMs: number,
  maxMs = WEBHOOK_RETRY_MAX_MS,
): number {
  // 2^40 is past any cap; keeps the arithmetic finite for absurd attempt counts.
  const exponent = Math.min(Math.max(attemptsMade, 1) - 1, 40);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}
