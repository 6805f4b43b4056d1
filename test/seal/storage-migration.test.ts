import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { FEED_START, certificatesSince, loadCertificate } from "../../services/certificates/certificate";
import { MerkleTree, serializeCertificate, verifyInclusion } from "../../services/core";
import { migrate } from "../../services/db/migrate";
import { createPool, type Db } from "../../services/db/pool";
import { sealBatch } from "../../services/seal/seal";
import { storedAuditPaths } from "../../services/seal/stored-tree";
import {
  BEFORE_STORED_TREES,
  OLD_TENANTS,
  migrateTo,
  writeOldStorage,
  type OldDeposit,
} from "../helpers/old-storage";
import { PG_SERVER, silentLog, uniqueName } from "../helpers/stack";

// Migration 1765320000000 (trees stored once, audit paths computed on request) on a
// database written as before it: every certificate served afterwards is byte for byte the one
// the code of that time served (test/vectors/storage-migration.json), the feed too; the
// migration refuses stored paths its tree does not give; and going down restores them.

jest.setTimeout(120_000);

/** Made once by the code before the migration; never regenerated (see its "about"). */
const vectors = JSON.parse(
  readFileSync(join(__dirname, "..", "vectors", "storage-migration.json"), "utf8"),
) as {
  certificates: Record<string, string>;
  feeds: Record<string, unknown[]>;
};
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const databases: string[] = [];

/** A new database migrated up to just before tiles, holding the old rows. */
async function oldDatabase(): Promise<{ url: string; deposits: OldDeposit[] }> {
  const name = uniqueName("tsd_test_trees");
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await admin.end();
  databases.push(name);
  const url = `${PG_SERVER}/${name}`;
  expect((await migrateTo(url, { upTo: BEFORE_STORED_TREES })).pop()).toBe("1765310000000_operator-controls");
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return { url, deposits: await writeOldStorage(db) };
  } finally {
    await db.end();
  }
}

async function oldProofs(url: string) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{
      batch_id: string;
      leaf_index: number;
      deposit_seq: string;
      audit_path: Buffer;
    }>("SELECT batch_id, leaf_index, deposit_seq, audit_path FROM proofs ORDER BY deposit_seq");
    return rows;
  } finally {
    await db.end();
  }
}

/** What GET /v1/deposits/:id/certificate answers (its body's SHA-256), or its error code. */
async function served(db: Db, d: OldDeposit): Promise<string> {
  try {
    return sha(serializeCertificate(await loadCertificate(db, d.tenantId, d.id)));
  } catch (e) {
    return `error ${(e as { code?: string }).code}`;
  }
}

afterAll(async () => {
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  for (const name of databases)
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await admin.end();
});

describe("an old database, migrated", () => {
  let url: string;
  let deposits: OldDeposit[];
  let before: Awaited<ReturnType<typeof oldProofs>>;
  let db: Db;
  beforeAll(async () => {
    ({ url, deposits } = await oldDatabase());
    before = await oldProofs(url);
    expect(await migrate(url, silentLog)).toEqual(["1765320000000_stored-trees"]);
    db = createPool(url, 4, silentLog);
  });
  afterAll(async () => db?.end());

  test("serves every certificate byte for byte as before, and the same not-ready answers", async () => {
    expect(deposits).toHaveLength(Object.keys(vectors.certificates).length);
    const answers: Record<string, string> = {};
    for (const d of deposits) answers[d.id] = await served(db, d);
    expect(answers).toEqual(vectors.certificates);
  });

  test("serves the feed of each tenant page for page as before", async () => {
    for (const tenant of OLD_TENANTS) {
      const pages: unknown[] = [];
      let since = FEED_START;
      for (;;) {
        const page = await certificatesSince(db, tenant.id, since, 50);
        pages.push({
          count: page.certificates.length,
          sha256: sha(page.certificates.map((c) => `${JSON.stringify(c)}\n`).join("")),
          next: page.next,
        });
        if (page.certificates.length === 0) break;
        since = page.next;
      }
      expect(pages).toEqual(vectors.feeds[tenant.id]);
    }
  });

  test("keeps each deposit's place and no path; every batch has its stored levels and seq range", async () => {
    const { rows: columns } = await db.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'proofs' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual(["batch_id", "leaf_index", "deposit_seq"]);
    const { rows: placed } = await db.query<{ batch_id: number; leaf_index: number; deposit_seq: number }>(
      "SELECT batch_id, leaf_index, deposit_seq FROM proofs ORDER BY deposit_seq",
    );
    expect(placed).toEqual(
      before.map((r) => ({
        batch_id: Number(r.batch_id),
        leaf_index: r.leaf_index,
        deposit_seq: Number(r.deposit_seq),
      })),
    );
    const { rows: chunks } = await db.query(
      "SELECT batch_id, level, chunk, length(nodes) / 32 AS nodes FROM tree_levels ORDER BY batch_id, level, chunk",
    );
    // batches of 1, 2, 5, 520, 7 and 3 leaves: level 1 of the 520 has 260 nodes, two chunks
    expect(chunks).toEqual([
      { batch_id: 3, level: 1, chunk: 0, nodes: 3 },
      { batch_id: 4, level: 1, chunk: 0, nodes: 256 },
      { batch_id: 4, level: 1, chunk: 1, nodes: 4 },
      { batch_id: 4, level: 5, chunk: 0, nodes: 17 },
      { batch_id: 4, level: 9, chunk: 0, nodes: 2 },
      { batch_id: 5, level: 1, chunk: 0, nodes: 4 },
      { batch_id: 6, level: 1, chunk: 0, nodes: 2 },
    ]);
    const { rows: ranges } = await db.query("SELECT id, first_seq, last_seq FROM batches ORDER BY id");
    expect(ranges).toEqual(
      [1, 2, 3, 4, 5, 6].map((id) => {
        const seqs = deposits.filter((d) => d.batchId === id).map((d) => d.seq);
        return { id, first_seq: seqs[0], last_seq: seqs[seqs.length - 1] };
      }),
    );
  });

  test("seals what was pending into a new batch with its tree stored", async () => {
    const { batch } = await sealBatch(db, 1000);
    expect(batch).toMatchObject({ id: 7, treeSize: 2 });
    const pending = deposits.filter((d) => d.batchId === null);
    const { rows } = await db.query<{ leaf_hash: Buffer }>(
      "SELECT leaf_hash FROM deposits WHERE seq = ANY($1::bigint[]) ORDER BY seq",
      [pending.map((d) => d.seq)],
    );
    const tree = MerkleTree.fromLeafHashes(rows.map((r) => r.leaf_hash));
    expect(batch!.root).toBe(`0x${Buffer.from(tree.root).toString("hex")}`);
    const paths = await storedAuditPaths(
      db,
      { id: 7, treeSize: 2 },
      pending.map((d, index) => ({ seq: d.seq, index })),
    );
    paths.forEach((path, i) => expect(verifyInclusion(rows[i]!.leaf_hash, i, 2, path, tree.root)).toBe(true));
  });

  test("going down stores every leaf's path again, as it was", async () => {
    await db.end();
    expect(await migrateTo(url, { down: 1 })).toEqual(["1765320000000_stored-trees"]);
    const after = (await oldProofs(url)).filter((r) => Number(r.batch_id) !== 7); // the batch sealed above
    expect(after).toEqual(before);
    db = createPool(url, 1, silentLog);
  });
});

describe("the migration stops, changing nothing, when the stored tree is not its leaves'", () => {
  test.each([
    [
      "a stored path",
      "UPDATE proofs SET audit_path = overlay(audit_path PLACING '\\xff' FROM 40) WHERE batch_id = 4 AND leaf_index = 300",
      /batch 4: 1 stored audit paths differ/,
    ],
    [
      "a root",
      "UPDATE batches SET root = sha256(root) WHERE id = 5",
      /batch 5: its leaves do not give its root/,
    ],
    [
      "a missing leaf",
      "DELETE FROM proofs WHERE batch_id = 2 AND leaf_index = 1",
      /batch 2: 1 leaves with proofs, not leaves 0 to 1/,
    ],
  ])("%s", async (_what, tamper, refusal) => {
    const { url } = await oldDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(tamper);
      await expect(migrate(url, silentLog)).rejects.toThrow(refusal);
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM information_schema.columns WHERE table_name = 'proofs' AND column_name = 'audit_path')::int AS paths,
                to_regclass('tree_levels') IS NULL AS no_levels,
                (SELECT max(name) FROM pgmigrations) AS last`,
      );
      expect(rows[0]).toEqual({ paths: 1, no_levels: true, last: "1765310000000_operator-controls" });
    } finally {
      await client.end();
    }
  });
});
