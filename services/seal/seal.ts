import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import { MerkleTree, toHex } from "../core";
import { inTransaction, type Db } from "../db/pool";

// Batching (DESIGN section 2): pending deposits become one batch: its tree, its root and
// every audit path, computed in one pass and written in the same transaction that takes them
// off the pending queue. A crash at any point rolls back to "still pending", so sealing can
// always simply run again. Deposits themselves are never updated.

/** Key of the PostgreSQL advisory lock that lets one sealer work at a time. */
const SEAL_LOCK = 0x7473_6473_6561_6cn; // "tsdseal"

export interface SealedBatch {
  id: number;
  treeSize: number;
  root: string;
  /** True when pending deposits remain beyond this batch's BATCH_MAX. */
  more: boolean;
}

/**
 * Seals up to `batchMax` pending deposits, oldest first, into a new batch. Returns null when
 * nothing is pending or another process is sealing right now.
 */
export async function sealBatch(db: Db, batchMax: number): Promise<SealedBatch | null> {
  return inTransaction(db, async (client) => {
    const lock = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS ok", [
      SEAL_LOCK.toString(),
    ]);
    if (!lock.rows[0]?.ok) return null;

    // Look before taking a batch number, so idle ticks leave no gaps in the numbering.
    const waiting = await client.query("SELECT 1 FROM pending LIMIT 1");
    if (waiting.rowCount === 0) return null;
    const {
      rows: [next],
    } = await client.query<{ id: number }>("SELECT nextval('batches_id_seq') AS id");
    const batchId = (next as { id: number }).id;
    // One statement takes the oldest pending deposits off the queue; leaf order is seq order.
    // Rows come back as raw bytes to keep a million of them cheap.
    const claimed = await client.query<{ seq: number; leaf_hash: Buffer }>(
      `WITH picked AS (SELECT seq FROM pending ORDER BY seq LIMIT $1)
       DELETE FROM pending p USING picked WHERE p.seq = picked.seq
       RETURNING p.seq, p.leaf_hash`,
      [batchMax],
    );
    const rows = claimed.rows.sort((a, b) => a.seq - b.seq);
    const tree = MerkleTree.fromLeafHashes(rows.map((r) => r.leaf_hash));
    const seqs = rows.map((r) => r.seq);

    await pipeline(
      Readable.from(copyRows(batchId, seqs, tree)),
      client.query(
        copyFrom("COPY proofs (batch_id, leaf_index, deposit_seq, audit_path) FROM STDIN (FORMAT binary)"),
      ),
    );
    const root = toHex(tree.root);
    await client.query(
      "INSERT INTO batches (id, tree_size, root, state) VALUES ($1, $2, decode($3, 'hex'), 'sealed')",
      [batchId, tree.size, root],
    );
    const remaining = await client.query("SELECT 1 FROM pending LIMIT 1");
    return { id: batchId, treeSize: tree.size, root: `0x${root}`, more: (remaining.rowCount ?? 0) > 0 };
  });
}

const COPY_HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const CHUNK_SIZE = 1 << 20;

/**
 * PostgreSQL binary COPY of every proof row (batch_id int8, leaf_index int4, deposit_seq
 * int8, audit_path bytea), in chunks of about 1 MB: no hex encoding, no per-leaf objects.
 */
function* copyRows(batchId: number, seqs: readonly number[], tree: MerkleTree): Generator<Buffer> {
  yield COPY_HEADER;
  const maxRow = 2 + (4 + 8) + (4 + 4) + (4 + 8) + (4 + 64 * 32);
  let chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  let at = 0;
  for (let i = 0; i < tree.size; i++) {
    if (at + maxRow > CHUNK_SIZE) {
      yield chunk.subarray(0, at);
      chunk = Buffer.allocUnsafe(CHUNK_SIZE);
      at = 0;
    }
    at = chunk.writeInt16BE(4, at);
    at = chunk.writeInt32BE(8, at);
    at = chunk.writeBigInt64BE(BigInt(batchId), at);
    at = chunk.writeInt32BE(4, at);
    at = chunk.writeInt32BE(i, at);
    at = chunk.writeInt32BE(8, at);
    at = chunk.writeBigInt64BE(BigInt(seqs[i] as number), at);
    const length = tree.writeAuditPath(i, chunk, at + 4);
    at = chunk.writeInt32BE(length, at) + length;
  }
  yield chunk.subarray(0, at);
  yield COPY_TRAILER;
}
