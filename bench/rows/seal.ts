import { randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { sealBatch } from "../../services/seal/seal";
import type { BenchContext } from "../context";
import type { BenchModule } from "../module";
import { auditPathBytesPerLeaf } from "../report";
import { createDatabase, type BenchDatabase } from "../stack";

// Sealing a big batch, and what its proofs cost on disk. n deposits are copied into a
// database of their own (deposits + pending, the rows the API writes), then one sealBatch
// takes them all: claim, tree, proof storage, in one transaction.

const SEAL = "seal: a 1,000,000-deposit batch (claim, tree, proof storage)";
const STORAGE = "storage: proof bytes per deposit";

/**
 * Tables that are not proof storage: a seal's growth of every other table counts as proof
 * storage, whatever the tables holding a batch's tree are called (per-leaf paths, tree levels
 * or tiles). The one place to change if the schema grows another non-proof table that a seal writes.
 */
export const NOT_PROOF_STORAGE = ["deposits", "pending", "batches", "pgmigrations"];

/** Rows of `deposits` as the API writes them (random digests and leaf hashes), in COPY text format. */
export function* depositCopyText(
  n: number,
  tenant: { id: string; depositor: string },
  receivedAt: number,
): Generator<string> {
  const hex = () => `\\\\x${randomBytes(32).toString("hex")}`;
  let chunk = "";
  for (let i = 0; i < n; i++) {
    chunk += `${randomUUID()}\t${tenant.id}\t${tenant.depositor}\t${hex()}\t${hex()}\t${receivedAt}\t${hex()}\n`;
    if (chunk.length > 1 << 20) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk !== "") yield chunk;
}

/** COPYs deposit rows (depositCopyText) into `table` (deposits, or a copy of its shape) in one transaction. */
export async function copyDeposits(db: pg.Pool, table: string, rows: Iterable<string>): Promise<void> {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    await pipeline(
      Readable.from(rows),
      client.query(
        copyFrom(
          `COPY ${pg.escapeIdentifier(table)} (id, tenant_id, depositor, digest, salt, received_at, leaf_hash) FROM STDIN`,
        ),
      ),
    );
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

async function tableSizes(db: pg.Pool): Promise<Map<string, number>> {
  const { rows } = await db.query<{ name: string; bytes: string }>(
    `SELECT relname AS name, pg_total_relation_size(oid) AS bytes FROM pg_class
      WHERE relkind IN ('r', 'p', 'm') AND relnamespace = 'public'::regnamespace`,
  );
  return new Map(rows.map((r) => [r.name, Number(r.bytes)]));
}

export interface SealedDatabase {
  database: BenchDatabase;
  deposits: number;
  sealSeconds: number;
  proofBytes: number;
  grown: string[];
}

/** The database with n deposits, sealed into one batch (once per run). */
export function sealedDatabase(ctx: BenchContext): Promise<SealedDatabase> {
  return ctx.memo("sealed-database", async () => {
    const n = ctx.sizes.sealDeposits;
    const database = await createDatabase(`tsd_bench_${process.pid}_seal`);
    ctx.onClose(() => database.drop());
    const { db, tenant } = database;
    await copyDeposits(db, "deposits", depositCopyText(n, tenant, Date.now() - 60_000));
    await db.query(
      "INSERT INTO pending (seq, leaf_hash, received_at) SELECT seq, leaf_hash, received_at FROM deposits",
    );
    await db.query("VACUUM ANALYZE deposits");
    await db.query("VACUUM ANALYZE pending");
    await db.query("CHECKPOINT");
    const before = await tableSizes(db);
    const start = process.hrtime.bigint();
    const outcome = await sealBatch(db, n);
    const sealSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (outcome.batch?.treeSize !== n)
      throw new Error(`sealed ${outcome.batch?.treeSize ?? 0} of ${n} deposits`);
    const after = await tableSizes(db);
    let proofBytes = 0;
    const grown: string[] = [];
    for (const [name, bytes] of after) {
      const growth = bytes - (before.get(name) ?? 0);
      if (growth <= 0 || NOT_PROOF_STORAGE.includes(name)) continue;
      proofBytes += growth;
      grown.push(`${name} +${(growth / 2 ** 20).toFixed(1)} MiB`);
    }
    return { database, deposits: n, sealSeconds, proofBytes, grown };
  });
}

export const seal: BenchModule = {
  rows: [
    { name: SEAL, unit: "s", goal: { value: { op: "<=", limit: 4 } } },
    { name: STORAGE, unit: "B", goal: { value: { op: "<=", limit: 100 } } },
  ],
  async run(ctx) {
    const sealed = await sealedDatabase(ctx);
    const n = sealed.deposits;
    const size = ctx.sizeNote(`${n.toLocaleString("en-US")} deposits`);
    return {
      [SEAL]: {
        value: sealed.sealSeconds,
        notes: ["one sealBatch call, COPY-seeded pending queue", ...size],
      },
      [STORAGE]: {
        value: sealed.proofBytes / n,
        baseline: auditPathBytesPerLeaf(n),
        notes: [
          `growth of every table but ${NOT_PROOF_STORAGE.join(", ")} (pg_total_relation_size): ${sealed.grown.join(", ") || "none"}`,
          "baseline: audit path bytes per leaf when every path is stored (sum of RFC 9162 path lengths × 32 / n)",
          ...size,
        ],
      },
    };
  },
};
