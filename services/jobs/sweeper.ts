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
  const rolledBack = await reconcileAnchors(ctx);
  const { rows } = await ctx.db.query<{ id: number; state: string }>(
    "SELECT id, state FROM batches WHERE state <> 'certified' ORDER BY id LIMIT 1000",
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

/**
 * Checks recorded anchors against the chain, newest first. A block whose hash still matches
 * vouches for every older one (each block commits to its parent), so this usually costs one
 * RPC call. A batch whose block is gone (a reorganisation, or a local chain that lost its
 * last second to a kill) goes back to sealed, to be anchored again; its earlier certificates
 * would no longer verify and are replaced by new ones.
 */
export async function reconcileAnchors(ctx: SweepContext): Promise<number> {
  const { rows } = await ctx.db.query<{ block_number: number; block_hash: string }>(
    `SELECT DISTINCT block_number, '0x' || encode(block_hash, 'hex') AS block_hash FROM batches
      WHERE block_number IS NOT NULL ORDER BY block_number DESC LIMIT $1`,
    [RECONCILE_LIMIT],
  );
  let rolledBack = 0;
  for (const row of rows) {
    const block = await ctx.provider.getBlock(row.block_number);
    if (block?.hash === row.block_hash) break;
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
