import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { blockHashes } from "../chain/reader";
import { inTransaction, type Db } from "../db/pool";

// Reconciliation (protocol.md section 12, confirmations): the chain is the truth, and chains lose blocks — a
// reorganisation deeper than the confirmations, or the local anvil killed before it wrote
// its last second to disk. Every recorded anchor younger than the window is compared with
// the chain, each on its own: a block that matches says nothing about older ones, because
// after a rewind new anchors land on the new branch while the lost ones sit below them.
// A batch whose block is gone goes back to be anchored again; its certificates are withdrawn
// until it is certified anew, and its old attestation stays as history.

export interface ReconcileContext {
  db: Db;
  provider: JsonRpcProvider;
  log: Logger;
  /** Asks for a batch to be anchored (again). */
  requestAnchor(batchId: number): Promise<void>;
  /** Anchors recorded longer ago than this are final and no longer re-checked. */
  windowMs: number;
  /**
   * How long a recorded block may stay above the node's head (the node behind, or the chain
   * rewound) before it counts as lost. 0 for the local chain: it is the only node, so a block
   * it lacks was lost.
   */
  missingGraceMs: number;
}

/** What the chain says of one recorded anchor block. */
export type AnchorFinding =
  /** The block is there with the recorded hash. */
  | "held"
  /** Another block holds that height: a reorganisation. */
  | "replaced"
  /** The node has no block at that height yet: behind, or rewound; wait out the grace. */
  | "missing"
  /** Missing for longer than the grace: lost. */
  | "lost";

/**
 * Judges one recorded anchor block from the node's hash at its height (null: no such block)
 * and since when it has been missing. Pure, so the policy is tested on its own.
 */
export function judgeAnchor(
  recordedHash: string,
  canonicalHash: string | null,
  missingSince: number | null,
  now: number,
  graceMs: number,
): AnchorFinding {
  if (canonicalHash === recordedHash) return "held";
  if (canonicalHash !== null) return "replaced";
  return now - (missingSince ?? now) >= graceMs ? "lost" : "missing";
}

/**
 * Checks every recorded anchor of the window against the chain; sends back the batches whose
 * block was replaced or lost. Returns their ids.
 */
export async function reconcileAnchors(ctx: ReconcileContext): Promise<number[]> {
  // Recorded anchors first, the chain second: any anchor recorded meanwhile is in a block the
  // node already has, so it cannot be mistaken for a missing one.
  const { rows } = await ctx.db.query<{
    block_number: number;
    block_hash: string;
    missing_since: Date | null;
  }>(
    `SELECT block_number, '0x' || encode(block_hash, 'hex') AS block_hash, min(chain_missing_since) AS missing_since
       FROM batches
      WHERE block_number IS NOT NULL AND anchored_at > now() - make_interval(secs => $1::double precision / 1000)
      GROUP BY block_number, block_hash`,
    [ctx.windowMs],
  );
  if (rows.length === 0) return [];
  const hashes = await blockHashes(
    ctx.provider,
    rows.map((r) => r.block_number),
  );
  const now = Date.now();
  const sentBack: number[] = [];
  for (const row of rows) {
    const finding = judgeAnchor(
      row.block_hash,
      hashes.get(row.block_number) ?? null,
      row.missing_since?.getTime() ?? null,
      now,
      ctx.missingGraceMs,
    );
    if (finding === "held") {
      if (row.missing_since !== null) await setMissingSince(ctx.db, row, null);
    } else if (finding === "missing") {
      if (row.missing_since === null) {
        await setMissingSince(ctx.db, row, new Date(now));
        ctx.log.warn(
          { block: row.block_number },
          "anchor block not on the node (behind, or the chain lost it); waiting",
        );
      }
    } else {
      const ids = await sendBack(ctx.db, row.block_number, row.block_hash);
      ctx.log.warn(
        { block: row.block_number, finding, batches: ids },
        "anchor block no longer on chain: certificates withdrawn, batches will be anchored again",
      );
      for (const id of ids) await ctx.requestAnchor(id);
      sentBack.push(...ids);
    }
  }
  return sentBack;
}

async function setMissingSince(
  db: Db,
  row: { block_number: number; block_hash: string },
  since: Date | null,
): Promise<void> {
  await db.query(
    "UPDATE batches SET chain_missing_since = $3 WHERE block_number = $1 AND block_hash = decode($2, 'hex')",
    [row.block_number, row.block_hash.slice(2), since],
  );
}

/**
 * Returns the batches anchored in a lost block to sealed, in one transaction: the anchor is
 * forgotten, the attestation kept but no longer current, the mined attempt dropped. Guarded
 * by the block, so a batch anchored again meanwhile is left alone.
 */
async function sendBack(db: Db, blockNumber: number, blockHash: string): Promise<number[]> {
  return inTransaction(db, async (client) => {
    const reverted = await client.query<{ id: number }>(
      `UPDATE batches SET state = 'sealed', chain_id = NULL, registry = NULL, tx_hash = NULL, block_number = NULL,
              block_hash = NULL, block_timestamp = NULL, anchored_at = NULL, certified_at = NULL,
              chain_missing_since = NULL
        WHERE block_number = $1 AND block_hash = decode($2, 'hex') RETURNING id`,
      [blockNumber, blockHash.slice(2)],
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
}
