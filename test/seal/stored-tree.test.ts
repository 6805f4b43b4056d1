import { randomBytes } from "node:crypto";
import pg from "pg";
import { MerkleTree, toHex } from "../../services/core";
import { createPool, type Db } from "../../services/db/pool";
import { acceptDeposits } from "../../services/deposits/store";
import { inSeqOrder, sealBatch } from "../../services/seal/seal";
import { storedAuditPaths } from "../../services/seal/stored-tree";
import { createTenant, type Tenant } from "../../services/tenants/tenants";
import { testDepositor } from "../helpers/identity";
import { freshDatabase, silentLog } from "../helpers/stack";

// The seal on a real PostgreSQL: each deposit keeps its place (proofs), the tree is stored
// once (tree_levels), and every leaf's audit path read back from them is MerkleTree's, across
// tile and chunk boundaries and whatever order PostgreSQL returns the claimed rows in.

let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Db;
let tenant: Tenant;
beforeAll(async () => {
  database = await freshDatabase();
  db = createPool(database.url, 4, silentLog);
  tenant = await createTenant(db, "Seal Co.", testDepositor());
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
});

async function deposit(n: number): Promise<void> {
  for (let at = 0; at < n; at += 500) {
    const items = Array.from({ length: Math.min(500, n - at) }, () => ({
      digest: randomBytes(32).toString("hex"),
    }));
    await acceptDeposits(db, tenant, items, { bulk: true, now: Date.now() - 2000 });
  }
}

/** The batch's leaves in leaf order, as proofs place them. */
async function leavesOf(batchId: number) {
  const { rows } = await db.query<{ seq: number; leaf_index: number; leaf_hash: Buffer }>(
    `SELECT d.seq, p.leaf_index, d.leaf_hash FROM proofs p JOIN deposits d ON d.seq = p.deposit_seq
      WHERE p.batch_id = $1 ORDER BY p.leaf_index`,
    [batchId],
  );
  return rows;
}

async function expectStoredTree(batch: { id: number; treeSize: number; root: string }) {
  const leaves = await leavesOf(batch.id);
  expect(leaves.map((l) => l.leaf_index)).toEqual([...leaves.keys()]);
  expect(leaves.map((l) => l.seq)).toEqual([...leaves.map((l) => l.seq)].sort((a, b) => a - b));
  const tree = MerkleTree.fromLeafHashes(leaves.map((l) => l.leaf_hash));
  expect(batch.root).toBe(`0x${toHex(tree.root)}`);
  const all = await storedAuditPaths(
    db,
    batch,
    leaves.map((l) => ({ seq: l.seq, index: l.leaf_index })),
  );
  leaves.forEach((_, i) => expect(all[i]!.map(toHex)).toEqual(tree.auditPath(i).map(toHex)));
  for (const i of [0, leaves.length - 1, Math.floor(leaves.length / 2)]) {
    const [one] = await storedAuditPaths(db, batch, [{ seq: leaves[i]!.seq, index: i }]);
    expect(one!.map(toHex)).toEqual(tree.auditPath(i).map(toHex));
  }
  return tree;
}

test("a batch across chunk boundaries: its rows are its tree's levels 1, 5 and 9, every path is MerkleTree's", async () => {
  await deposit(1030); // level 1: 515 nodes, three chunks; level 5: 33 nodes; level 9: 3 nodes
  const { batch } = await sealBatch(db, 100_000);
  expect(batch?.treeSize).toBe(1030);
  const tree = await expectStoredTree(batch!);
  const { rows: chunks } = await db.query<{ level: number; chunk: number; nodes: Buffer }>(
    "SELECT level, chunk, nodes FROM tree_levels WHERE batch_id = $1 ORDER BY level, chunk",
    [batch!.id],
  );
  expect(chunks.map((t) => [t.level, t.chunk, t.nodes.length / 32])).toEqual([
    [1, 0, 256],
    [1, 1, 256],
    [1, 2, 3],
    [5, 0, 33],
    [9, 0, 3],
  ]);
  for (const level of [1, 5, 9]) {
    expect(Buffer.concat(chunks.filter((t) => t.level === level).map((t) => t.nodes))).toEqual(
      Buffer.from(tree.level(level)),
    );
  }
  const { rows: proofs } = await db.query("SELECT count(*)::int AS n FROM proofs WHERE batch_id = $1", [
    batch!.id,
  ]);
  expect(proofs[0]).toEqual({ n: 1030 });
});

test("claimed rows out of seq order (a scan of the table) are put in seq order first", async () => {
  await deposit(300);
  // The queue written backwards, and the seal's DELETE kept off the queue's key: PostgreSQL
  // returns the rows in table order, the reverse of seq order.
  const { rows: queued } = await db.query("DELETE FROM pending RETURNING seq, leaf_hash, received_at");
  expect(queued).toHaveLength(300);
  for (const r of [...queued].sort((a, b) => b.seq - a.seq)) {
    await db.query("INSERT INTO pending (seq, leaf_hash, received_at) VALUES ($1, $2, $3)", [
      r.seq,
      r.leaf_hash,
      r.received_at,
    ]);
  }
  const scanning = new pg.Pool({
    connectionString: database.url,
    max: 1,
    options: "-c enable_indexscan=off -c enable_bitmapscan=off -c enable_indexonlyscan=off",
  });
  try {
    const { rows: order } = await scanning.query<{ seq: number }>(
      "SELECT seq FROM pending WHERE seq <= (SELECT max(seq) FROM pending) AND received_at < $1",
      [Date.now()],
    );
    expect(order.map((r) => r.seq)).toEqual(queued.map((r) => r.seq).sort((a, b) => b - a)); // table order
    const { batch } = await sealBatch(scanning, 100_000);
    expect(batch?.treeSize).toBe(300);
    await expectStoredTree(batch!);
  } finally {
    await scanning.end();
  }
});

test("inSeqOrder sorts leaves with their seqs", () => {
  const leaf = (b: number) => new Uint8Array(32).fill(b);
  const sorted = inSeqOrder({
    seqs: Float64Array.of(30, 10, 20),
    leaves: Uint8Array.from([...leaf(3), ...leaf(1), ...leaf(2)]),
    receivedUntil: 7,
  });
  expect([...sorted.seqs]).toEqual([10, 20, 30]);
  expect([...sorted.leaves]).toEqual([...leaf(1), ...leaf(2), ...leaf(3)]);
  expect(sorted.receivedUntil).toBe(7);
});
