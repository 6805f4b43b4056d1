import { Redis } from "ioredis";
import type { Logger } from "./log";

// Redis must never evict keys: BullMQ's jobs and schedules, and the rate-limit and quota
// counters, live there. An evicted job waits for the next sweep; an evicted counter lifts a
// tenant's limit. A Redis with another maxmemory-policy is refused at start-up.

/**
 * Reads Redis's `maxmemory-policy` and throws, naming the setting, unless it is `noeviction`.
 * A Redis that forbids CONFIG (managed services often do), or that cannot be reached now (the
 * service runs without Redis for a while), is let through with a warning.
 */
export async function checkRedisPolicy(redisUrl: string, log: Logger): Promise<void> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined); // the connect or command below reports it
  try {
    try {
      await redis.connect();
    } catch (err) {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "could not reach Redis (REDIS_URL) to check its maxmemory-policy; going on without it",
      );
      return;
    }
    let answer: unknown;
    try {
      answer = await redis.config("GET", "maxmemory-policy");
    } catch (err) {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "could not read Redis's maxmemory-policy (CONFIG is disabled): make sure it is noeviction",
      );
      return;
    }
    const policy = Array.isArray(answer) ? (answer[1] as unknown) : undefined;
    if (policy !== "noeviction") {
      throw new Error(
        `Redis (REDIS_URL) has maxmemory-policy ${String(policy)}; tsd needs maxmemory-policy noeviction ` +
          "(its jobs and rate-limit counters must never be evicted). Set `maxmemory-policy noeviction` " +
          "in redis.conf (or CONFIG SET maxmemory-policy noeviction), or point REDIS_URL at a Redis that has it.",
      );
    }
  } finally {
    redis.disconnect();
  }
}
