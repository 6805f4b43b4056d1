import type { Logger } from "pino";
import type { Db, DbClient } from "../db/pool";

// Webhook deliveries: one row per (tenant, attestation), recorded in the attest step's own
// transaction, so a batch is certified and its notifications are owed in one commit. Sending
// is a job of its own queue (send.ts): the attest step never waits on a receiver.

/** The one way the attest step and the sweeper ask for a delivery to be sent. */
export interface WebhookTrigger {
  requestWebhook(deliveryId: number): Promise<void>;
}

/**
 * The batch's deposits of tenant `tenantSql` as `d`, with their proofs as `p`, for a query whose
 * `$1` is the batch id. Leaf order is seq order (the seal takes the pending queue by seq), so
 * the batch's first and last leaves (kept with the batch) bound its seqs: the tenant's
 * deposits are one range of the (tenant_id, seq) index, each checked against proofs by its
 * deposit_seq key; or, if the planner prefers, the batch's seq range is read once.
 */
export function tenantDepositsOfBatch(tenantSql: string): string {
  return `deposits d JOIN proofs p ON p.deposit_seq = d.seq AND p.batch_id = $1
     WHERE d.tenant_id = ${tenantSql}
       AND d.seq BETWEEN (SELECT first_seq FROM batches WHERE id = $1)
                     AND (SELECT last_seq FROM batches WHERE id = $1)`;
}

/**
 * Records a delivery of attestation `attestationId` (of batch `batchId`) for every tenant with
 * a webhook and a deposit in the batch, in the caller's transaction; returns their ids. One
 * statement, on indexes only: a probe per registered webhook, or one pass over the batch's seq
 * range (about 6 ms per 10,000 leaves), whichever the planner finds cheaper. Recording twice
 * adds nothing.
 */
export async function recordDeliveries(
  client: DbClient,
  batchId: number,
  attestationId: number,
): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO webhook_deliveries (tenant_id, attestation_id)
     SELECT w.tenant_id, $2::bigint FROM webhooks w
      WHERE EXISTS (SELECT 1 FROM ${tenantDepositsOfBatch("w.tenant_id")})
     ON CONFLICT (tenant_id, attestation_id) DO NOTHING
     RETURNING id`,
    [batchId, attestationId],
  );
  return rows.map((r) => r.id);
}

/**
 * Asks for each delivery to be sent, after the commit that recorded them. Best effort: a
 * Redis fault is logged, never thrown (the certification stands, and the sweeper asks again).
 */
export async function requestDeliveries(
  trigger: WebhookTrigger | undefined,
  deliveryIds: readonly number[],
  log: Logger,
): Promise<void> {
  if (!trigger || deliveryIds.length === 0) return;
  try {
    await Promise.all(deliveryIds.map((id) => trigger.requestWebhook(id)));
  } catch (err) {
    log.warn({ err, deliveries: deliveryIds }, "could not request webhook deliveries; the sweeper will");
  }
}

/**
 * Deliveries the sweeper asks for again: not delivered, younger than a day, attempts left, the
 * tenant's webhook still registered and the attestation still current. Most are waiting for a
 * retry and the queue's de-duplication absorbs the request; the others lost their job.
 */
export async function deliveriesToResend(db: Db, maxAttempts: number, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT wd.id FROM webhook_deliveries wd
       JOIN webhooks w ON w.tenant_id = wd.tenant_id
       JOIN attestations a ON a.id = wd.attestation_id AND a.current
      WHERE wd.delivered_at IS NULL AND wd.created_at > now() - interval '1 day' AND wd.attempts < $1
      ORDER BY wd.created_at LIMIT $2`,
    [maxAttempts, limit],
  );
  return rows.map((r) => r.id);
}
