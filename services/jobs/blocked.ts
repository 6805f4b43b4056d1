import type { Queryable } from "../db/pool";
import { ServiceError } from "../errors";

// Batches a job blocked (FAILURE_POLICY "block"): the sweeper leaves them alone until an
// operator has looked, mended the cause and cleared the block. Clearing it is all `unblock`
// does; the sweeper re-drives the batch on its next pass (SWEEP_INTERVAL_MS).

export interface BlockedBatch {
  id: number;
  state: string;
  reason: string;
  sealedAt: Date;
}

/** Every blocked batch, oldest first. */
export async function blockedBatches(db: Queryable): Promise<BlockedBatch[]> {
  const { rows } = await db.query<BlockedBatch>(
    `SELECT id::int AS id, state, blocked_reason AS reason, sealed_at AS "sealedAt"
       FROM batches WHERE blocked_reason IS NOT NULL ORDER BY id`,
  );
  return rows;
}

/** Clears the block of batch `id`; returns the reason it had. BATCH_NOT_FOUND, BATCH_NOT_BLOCKED. */
export async function unblockBatch(db: Queryable, id: number): Promise<string> {
  const { rows } = await db.query<{ reason: string | null }>(
    `SELECT blocked_reason AS reason FROM batches WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const batch = rows[0];
  if (!batch) throw new ServiceError("BATCH_NOT_FOUND");
  if (batch.reason === null) throw new ServiceError("BATCH_NOT_BLOCKED");
  await db.query("UPDATE batches SET blocked_reason = NULL WHERE id = $1", [id]);
  return batch.reason;
}
