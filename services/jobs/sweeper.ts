import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { inTransaction, type Db } from "../db/pool";
import type { JobQueues } from "./queues";

// The sweeper (DESIGN section 2): re-drives whatever a lost job left behind, from
// PostgreSQL alone, and notices when the chain lost blocks that anchors were recorded in.

export interface SweepContext {
  db: Db;
  provider: JsonRpcProvider;
  queues: JobQueues;
  log: Logger;
}

/** How many anchored batches one sweep re-checks against the chain at most. */
const RECONCILE_LIMIT = 100;

export async function sweep(
  ctx: SweepContext,
): Promise<{ anchor: number; attest: number; rolledBack: number }> {
  // The chain being unreachable must not stop the rest: sealing needs no chain.
  const rolledBack = await reconcileAnchors(ctx).catch((err: unknown) => {
    ctx.log.warn({ err }, "could not check recorded anchors against the chain; will retry");
    return 0;
  });
  const { rows } = await ctx.db.query<{ id: number; state: string }>(
    "SELECT id, state FROM batches WHERE state <> 'certified' AND blocked_reason IS NULL ORDER BY id LIMIT 1000",
  );
  let anchor = 0;
  let attest = 0;
  for (const b of rows) {
    if (b.state === "sealed") {
      await ctx.queues.requestAnchor(b.id);
      anchor++;
    } else {
      await ctx.queues.requestAttest(b.id);
      attest++;
    }
  }
  const pending = await ctx.db.query("SELECT 1 FROM pending LIMIT 1");
  if ((pending.rowCount ?? 0) > 0) await ctx.queues.requestSeal();
  return { anchor, attest, rolledBack };
}

/** How long a recorded anchor block may be missing from the node before it counts as lost. */
const LOSS_GRACE_MS = 60_000;

/**
 * Checks recorded anchors against the chain, newest first. A block whose hash still matches
 * vouches for every older one (each block commits to its parent), so this usually costs two
 * RPC calls. A batch whose block was replaced (a reorganisation), or has been missing for
 * longer than any node lags (a local chain that lost its last second to a kill), goes back
 * to sealed, to be anchored again; its earlier certificates would no longer verify and are
 * replaced by new ones. A block merely not there yet (a node behind) is left alone.
 */
export async function reconcileAnchors(ctx: SweepContext): Promise<number> {
  const { rows } = await ctx.db.query<{ block_number: number; block_hash: string; anchored_at: Date }>(
    `SELECT block_number, '0x' || encode(block_hash, 'hex') AS block_hash, max(anchored_at) AS anchored_at
       FROM (SELECT block_number, block_hash, anchored_at FROM batches WHERE block_number IS NOT NULL
              ORDER BY block_number DESC LIMIT $1) recent
      GROUP BY block_number, block_hash ORDER BY block_number DESC`,
    [RECONCILE_LIMIT],
  );
  if (rows.length === 0) return 0;
  const head = await ctx.provider.getBlockNumber();
  let rolledBack = 0;
  for (const row of rows) {
    const block = row.block_number <= head ? await ctx.provider.getBlock(row.block_number) : null;
    if (block?.hash === row.block_hash) break;
    const replaced = block !== null && block.hash !== null;
    const longGone = Date.now() - row.anchored_at.getTime() > LOSS_GRACE_MS;
    if (!replaced && !longGone) continue;
    const ids = await inTransaction(ctx.db, async (client) => {
      const reverted = await client.query<{ id: number }>(
        `UPDATE batches SET state = 'sealed', chain_id = NULL, registry = NULL, tx_hash = NULL, block_number = NULL,
                block_hash = NULL, block_timestamp = NULL, anchored_at = NULL, certified_at = NULL
          WHERE block_number = $1 AND block_hash = decode($2, 'hex') RETURNING id`,
        [row.block_number, row.block_hash.slice(2)],
      );
      const batchIds = reverted.rows.map((r) => r.id);
      await client.query(
        "UPDATE attestations SET current = false WHERE batch_id = ANY($1::bigint[]) AND current",
        [batchIds],
      );
      await client.query(
        "UPDATE anchor_attempts SET state = 'dropped', settled_at = now() WHERE batch_id = ANY($1::bigint[]) AND state IN ('mined', 'sent')",
        [batchIds],
      );
      return batchIds;
    });
    ctx.log.warn(
      { block: row.block_number, batches: ids },
      "anchor block no longer on chain: batches will be anchored again",
    );
    for (const id of ids) await ctx.queues.requestAnchor(id);
    rolledBack += ids.length;
  }
  return rolledBack;
}
