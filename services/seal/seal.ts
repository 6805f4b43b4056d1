import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { MerkleTree, toHex } from "../core";
import { BinaryCopyWriter, readFixedRows } from "../db/binary-copy";
import { inTransaction, type Db, type DbClient } from "../db/pool";
import { storeTree } from "./stored-tree";

// Batching (protocol.md section 1): pending deposits become one batch: its tree, its root, each
// deposit's place in it and the tree's tiles (stored-tree.ts), written in the same transaction
// that takes them off the pending queue. A crash at any point rolls back to "still pending",
// so sealing can always simply run again. Deposits themselves are never updated. Only
// deposits received before the current second began are taken (the time invariant of protocol.md
// section 3).

/** Key of the PostgreSQL advisory lock that lets one sealer work at a time. */
export const SEAL_LOCK = 0x7473_6473_6561_6cn; // "tsdseal"

export interface SealedBatch {
  id: number;
  treeSize: number;
  root: string;
  /** The latest receivedAt (ms) among its deposits. */
  receivedUntil: number;
}

export interface SealOutcome {
  /** The batch sealed; null when nothing was ready or another process was sealing. */
  batch: SealedBatch | null;
  /**
   * When to seal again: "now" (more deposits are ready than one batch takes), a time in ms
   * (deposits wait for their second to end), or null (nothing is pending).
   */
  again: "now" | number | null;
}

export interface SealOptions {
  /** The sealer's clock, ms; a test may set it. */
  now?: number;
  /** Seal only deposits received at least this long before the current second began. */
  marginMs?: number;
}

/**
 * The newest receivedAt a batch sealed at `now` may contain. A block's timestamp is whole
 * seconds, and a chain never gives a block a time before the moment it is made: a deposit
 * received before the current second began is older than any block still to come, so its
 * certificate can truthfully say "no later than the block's time" (the time invariant).
 */
export function sealCutoff(now: number, marginMs = 0): number {
  return Math.floor(now / 1000) * 1000 - marginMs;
}

/**
 * Seals up to `batchMax` pending deposits received before the cutoff, oldest first, into a
 * new batch.
 */
export async function sealBatch(db: Db, batchMax: number, options: SealOptions = {}): Promise<SealOutcome> {
  const now = options.now ?? Date.now();
  const cutoff = sealCutoff(now, options.marginMs);
  const nextAfter = (receivedAt: number) => sealCutoff(receivedAt) + 1000 + (options.marginMs ?? 0);
  return inTransaction(db, async (client) => {
    const lock = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS ok", [
      SEAL_LOCK.toString(),
    ]);
    if (!lock.rows[0]?.ok) return { batch: null, again: null };

    // Look before taking a batch number, so idle ticks leave no gaps in the numbering.
    const oldest = await oldestPending(client);
    if (oldest === null) return { batch: null, again: null };
    if (oldest >= cutoff) return { batch: null, again: nextAfter(oldest) };
    const {
      rows: [next],
    } = await client.query<{ id: number }>("SELECT nextval('batches_id_seq') AS id");
    const batchId = (next as { id: number }).id;
    const { tree, ...claimed } = await claimPending(client, batchMax, cutoff);
    await writeProofs(client, batchId, claimed.seqs);
    await storeTree(client, batchId, tree);
    const root = toHex(tree.root);
    await client.query(
      `INSERT INTO batches (id, tree_size, root, state, received_until, first_seq, last_seq)
       VALUES ($1, $2, decode($3, 'hex'), 'sealed', $4, $5, $6)`,
      [batchId, tree.size, root, claimed.receivedUntil, claimed.seqs[0], claimed.seqs[tree.size - 1]],
    );
    const remaining = await oldestPending(client);
    return {
      batch: { id: batchId, treeSize: tree.size, root: `0x${root}`, receivedUntil: claimed.receivedUntil },
      again: remaining === null ? null : remaining < cutoff ? "now" : nextAfter(remaining),
    };
  });
}

/** receivedAt of the oldest pending deposit (by seq, the queue's order), or null. */
async function oldestPending(client: DbClient): Promise<number | null> {
  const { rows } = await client.query<{ received_at: number }>(
    "SELECT received_at FROM pending ORDER BY seq LIMIT 1",
  );
  return rows[0]?.received_at ?? null;
}

/** Deposits taken off the pending queue, in leaf order (seq order). */
export interface ClaimedLeaves {
  seqs: Float64Array;
  /** Their leaf hashes, concatenated: the tree's leaf level. */
  leaves: Uint8Array;
  /** The latest receivedAt among them. */
  receivedUntil: number;
}

/** Leaves hashed into the tree as they arrive: every this many. */
const STREAM_SLICE = 1024;

/**
 * Takes the oldest `batchMax` deposits received before `cutoff` off the pending queue in one
 * statement (one snapshot), read as binary COPY: no row objects, and the tree hashed while
 * PostgreSQL is still sending (rows come in seq order when the DELETE walks the queue's key;
 * if they do not, they are sorted and hashed at the end). There is at least one: the caller
 * saw it in this transaction.
 */
async function claimPending(
  client: DbClient,
  batchMax: number,
  cutoff: number,
): Promise<ClaimedLeaves & { tree: MerkleTree }> {
  // COPY takes no parameters; both are integers the sealer computed.
  const taken = client.query(
    copyTo(
      `COPY (DELETE FROM pending
              WHERE received_at < ${integer(cutoff)}
                AND seq <= coalesce((SELECT seq FROM pending WHERE received_at < ${integer(cutoff)}
                                      ORDER BY seq OFFSET ${integer(batchMax - 1)} LIMIT 1), ${Number.MAX_SAFE_INTEGER})
              RETURNING seq, leaf_hash, received_at) TO STDOUT (FORMAT binary)`,
    ),
  );
  let seqs = new Float64Array(Math.min(batchMax, 1 << 16));
  let leaves = Buffer.allocUnsafe(seqs.length * 32);
  let count = 0;
  let receivedUntil = 0;
  let inOrder = true;
  const builder = MerkleTree.builder();
  await readFixedRows(taken, [8, 32, 8], (data, [seq, leaf, receivedAt]) => {
    if (count === seqs.length) {
      const more = new Float64Array(seqs.length * 2);
      more.set(seqs);
      seqs = more;
      const room = Buffer.allocUnsafe(seqs.length * 32);
      leaves.copy(room);
      leaves = room;
    }
    seqs[count] = int8At(data, seq as number);
    // 32 bytes: a loop is cheaper than a native copy's views, a million times over.
    for (let k = 0, to = count * 32, from = leaf as number; k < 32; k++)
      leaves[to + k] = data[from + k] as number;
    receivedUntil = Math.max(receivedUntil, int8At(data, receivedAt as number));
    inOrder &&= count === 0 || (seqs[count - 1] as number) < (seqs[count] as number);
    count++;
    if (inOrder && count % STREAM_SLICE === 0)
      builder.append(leaves.subarray((count - STREAM_SLICE) * 32, count * 32));
  });
  const claimed = { seqs: seqs.subarray(0, count), leaves: leaves.subarray(0, count * 32), receivedUntil };
  if (!inOrder) {
    const sorted = inSeqOrder(claimed);
    return { ...sorted, tree: MerkleTree.fromLeafLevel(sorted.leaves) };
  }
  builder.append(claimed.leaves.subarray((count - (count % STREAM_SLICE)) * 32));
  return { ...claimed, tree: builder.finish() };
}

/** A non-negative int8 below 2^53 (seqs, times in ms), without a BigInt per row. */
function int8At(data: Buffer, offset: number): number {
  return data.readUInt32BE(offset) * 2 ** 32 + data.readUInt32BE(offset + 4);
}

function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/**
 * The claimed leaves in seq order. The DELETE returns rows in the order it finds them: seq
 * order when it walks the queue's key, table order when it scans the table.
 */
export function inSeqOrder(claimed: ClaimedLeaves): ClaimedLeaves {
  const { seqs, leaves } = claimed;
  const order = Array.from(seqs.keys()).sort((a, b) => (seqs[a] as number) - (seqs[b] as number));
  const sorted = new Uint8Array(leaves.length);
  order.forEach((from, to) => sorted.set(leaves.subarray(from * 32, from * 32 + 32), to * 32));
  return {
    seqs: Float64Array.from(order, (i) => seqs[i] as number),
    leaves: sorted,
    receivedUntil: claimed.receivedUntil,
  };
}

/** Each deposit's place in batch `batchId`: proofs rows (batch_id, leaf_index, deposit_seq), by binary COPY. */
async function writeProofs(client: DbClient, batchId: number, seqs: Float64Array): Promise<void> {
  await pipeline(
    Readable.from(proofRows(batchId, seqs)),
    client.query(copyFrom("COPY proofs (batch_id, leaf_index, deposit_seq) FROM STDIN (FORMAT binary)")),
  );
}

function* proofRows(batchId: number, seqs: Float64Array): Generator<Buffer> {
  const rows = new BinaryCopyWriter();
  for (let i = 0; i < seqs.length; i++) {
    rows
      .row(3, 12 + 8 + 12)
      .int8(batchId)
      .int4(i)
      .int8(seqs[i] as number);
    if (i % 16384 === 0) yield* rows.take();
  }
  yield* rows.end();
}
