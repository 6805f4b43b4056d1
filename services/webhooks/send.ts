import type { Logger } from "pino";
import { feedCursor } from "../certificates/certificate";
import type { CursorSealer } from "../tenants/cursors";
import type { Db } from "../db/pool";
import { tenantDepositsOfBatch } from "./deliveries";
import { WEBHOOK_ATTEMPTS } from "./retry";
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook } from "./signature";

// Sending one delivery: what the webhook job does. Everything is re-read from PostgreSQL (the
// job carries the delivery id only), each POST is recorded after it returns, and sending
// again is harmless: receivers de-duplicate by the tsd-delivery header (at least once).

/** Deposit ids listed in one payload at most; beyond, the receiver follows the cursor. */
export const PAYLOAD_MAX_IDS = 1000;

/** What a receiver gets: the tenant's deposits of one batch were certified. */
export interface WebhookPayload {
  event: "deposits.certified";
  /** The tenant's id. */
  tenant: string;
  batch: number;
  /** The attestation that certified the batch (a batch anchored again gets a new one). */
  attestation: number;
  /** The tenant's deposits in the batch. */
  count: number;
  /** Their ids in leaf order; left out when there are more than PAYLOAD_MAX_IDS. */
  depositIds?: string[];
  /** `since` for GET /v1/certificates: its answer starts with exactly these certificates. */
  certificatesCursor: string;
}

export interface WebhookSendContext {
  db: Db;
  /** Seals the tenant's feed cursor in the payload. */
  cursors: () => Promise<CursorSealer>;
  /** How long one POST may take before it counts as failed. */
  timeoutMs: number;
  log: Logger;
  /** Seconds since the epoch, for the signature; a test may pin it. */
  now?: () => number;
}

/** A POST that did not get a 2xx: the job fails and the queue retries it with backoff. */
export class WebhookDeliveryError extends Error {
  override readonly name = "WebhookDeliveryError";
  constructor(
    readonly deliveryId: number,
    /** `status`: the receiver answered, not 2xx; `timeout`; `network`: no answer at all. */
    readonly kind: "status" | "timeout" | "network",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface DeliveryRow {
  tenant_id: string;
  attestation_id: number;
  batch_id: number;
  current: boolean;
  attempts: number;
  delivered: boolean;
  url: string | null;
  secret: string | null;
}

/**
 * Sends delivery `deliveryId` once: "delivered" on a 2xx, "skipped" when there is nothing to
 * send (no such delivery, already delivered, its attempts spent, the webhook removed, or the
 * attestation withdrawn because the chain lost its block; the new one gets its own delivery).
 * Throws WebhookDeliveryError otherwise, after recording the attempt.
 */
export async function sendDelivery(
  ctx: WebhookSendContext,
  deliveryId: number,
): Promise<"delivered" | "skipped"> {
  const { rows } = await ctx.db.query<DeliveryRow>(
    `SELECT wd.tenant_id, wd.attestation_id, a.batch_id, a.current, wd.attempts,
            wd.delivered_at IS NOT NULL AS delivered, w.url, w.secret
       FROM webhook_deliveries wd
       JOIN attestations a ON a.id = wd.attestation_id
       LEFT JOIN webhooks w ON w.tenant_id = wd.tenant_id
      WHERE wd.id = $1`,
    [deliveryId],
  );
  const d = rows[0];
  if (!d || d.delivered || !d.current || d.attempts >= WEBHOOK_ATTEMPTS || !d.url || !d.secret)
    return "skipped";

  const body = JSON.stringify(await payloadOf(ctx.db, await ctx.cursors(), d));
  const t = ctx.now?.() ?? Math.floor(Date.now() / 1000);
  const failure = await post(
    d.url,
    body,
    {
      "content-type": "application/json",
      "user-agent": "tsd-webhook/1",
      [SIGNATURE_HEADER]: signWebhook(d.secret, body, t),
      [DELIVERY_HEADER]: String(deliveryId),
    },
    ctx.timeoutMs,
  );

  // A failure keeps delivered_at empty; a success keeps the last error, for the record.
  await ctx.db.query(
    `UPDATE webhook_deliveries
        SET attempts = attempts + 1,
            last_error = coalesce($2, last_error),
            delivered_at = CASE WHEN $2::text IS NULL THEN coalesce(delivered_at, now()) END
      WHERE id = $1`,
    [deliveryId, failure ? failure.message.slice(0, 500) : null],
  );
  if (failure)
    throw new WebhookDeliveryError(deliveryId, failure.kind, failure.message, { cause: failure.cause });
  ctx.log.info({ delivery: deliveryId, tenant: d.tenant_id, batch: d.batch_id }, "webhook delivered");
  return "delivered";
}

/** The payload of a delivery: the tenant's deposits of the batch and the cursor to their certificates. */
async function payloadOf(db: Db, cursors: CursorSealer, d: DeliveryRow): Promise<WebhookPayload> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT d.id FROM ${tenantDepositsOfBatch("$2")} ORDER BY d.seq LIMIT ${PAYLOAD_MAX_IDS + 1}`,
    [d.batch_id, d.tenant_id],
  );
  let count = rows.length;
  if (count > PAYLOAD_MAX_IDS) {
    const counted = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${tenantDepositsOfBatch("$2")}`,
      [d.batch_id, d.tenant_id],
    );
    count = counted.rows[0]?.n ?? count;
  }
  return {
    event: "deposits.certified",
    tenant: d.tenant_id,
    batch: d.batch_id,
    attestation: d.attestation_id,
    count,
    ...(count <= PAYLOAD_MAX_IDS ? { depositIds: rows.map((r) => r.id) } : {}),
    // The feed's order is (attestation, leaf index) and its query takes what comes after the
    // cursor: leaf -1 of this attestation is just before its first certificate.
    certificatesCursor: feedCursor(cursors, d.tenant_id, { attestation: d.attestation_id, leafIndex: -1 }),
  };
}

/** POSTs `body`; null on a 2xx, else why not. Redirects are not followed: the URL is the one registered. */
async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ kind: WebhookDeliveryError["kind"]; message: string; cause?: unknown } | null> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The answer's body means nothing to us; dropping it frees the connection.
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? null : { kind: "status", message: `HTTP ${res.status}` };
  } catch (e) {
    if (e instanceof Error && e.name === "TimeoutError") {
      return { kind: "timeout", message: `no answer within ${timeoutMs} ms`, cause: e };
    }
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
    return { kind: "network", message: `could not reach the receiver: ${reason}`, cause: e };
  }
}
