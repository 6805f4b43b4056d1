import { join } from "node:path";
import { Wallet } from "ethers";
import { runner } from "node-pg-migrate";
import pg from "pg";
import {
  MerkleTree,
  attestationTypedData,
  recordLeafHash,
  sha256,
  signAttestation,
  toHex,
  type DepositRecord,
} from "../../services/core";
import { usccWithChecks } from "./identity";

// A database as it was before trees were stored once (migrations up to 1765310000000):
// every leaf's audit path in proofs.audit_path, written as the seal of that time wrote it.
// The data is the same on every run (ids, salts, keys, anchors), so certificates served from
// it can be compared with ones recorded once by that time's code (test/vectors).

/** The last migration before trees were stored once. */
export const BEFORE_STORED_TREES = 1765310000000;

/** Applies migrations up to and including `upTo`, or undoes the latest `down` of them. */
export async function migrateTo(url: string, step: { upTo: number } | { down: number }): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: join(__dirname, "../../services/db/migrations"),
      migrationsTable: "pgmigrations",
      checkOrder: true,
      singleTransaction: true,
      log: () => undefined,
      ...("upTo" in step
        ? { direction: "up" as const, count: step.upTo, timestamp: true }
        : { direction: "down" as const, count: step.down }),
    });
    return applied.map((m) => m.name);
  } finally {
    await client.end();
  }
}

/** A deterministic 32-byte value for `label`. */
const bytes32 = (label: string) => sha256(new TextEncoder().encode(`old-storage:${label}`));
const hex32 = (label: string) => toHex(bytes32(label));

/** A deterministic UUID v4 for `label`. */
function uuid(label: string): string {
  const b = bytes32(label).slice(0, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const OLD_TENANTS = [
  { id: uuid("tenant 0"), depositor: `uscc:${usccWithChecks("9131011500000001")}` },
  { id: uuid("tenant 1"), depositor: `uscc:${usccWithChecks("9131011500000002")}` },
];
/** Leaves of the certified batches: one leaf, two, odd sizes, and a level of 260 nodes (two chunks). */
export const OLD_BATCH_SIZES = [1, 2, 5, 520, 7];
const CERTIFIER = new Wallet(`0x${"11".repeat(32)}`);
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const RECEIVED = 1_765_300_000_000;

export interface OldDeposit {
  id: string;
  tenantId: string;
  seq: number;
  batchId: number | null;
}

/**
 * Writes the old database's rows: two tenants with interleaved deposits, the certified batches
 * of OLD_BATCH_SIZES (anchored and attested), one more batch only sealed, and two deposits
 * still pending.
 */
export async function writeOldStorage(db: pg.Client | pg.Pool): Promise<OldDeposit[]> {
  for (const [i, t] of OLD_TENANTS.entries()) {
    await db.query("INSERT INTO tenants (id, name, depositor) VALUES ($1, $2, $3)", [
      t.id,
      `Tenant ${i}`,
      t.depositor,
    ]);
  }
  const sizes = [...OLD_BATCH_SIZES, 3];
  const total = sizes.reduce((a, b) => a + b, 0) + 2;
  const deposits: (OldDeposit & { leaf: Uint8Array; receivedAt: number })[] = [];
  for (let i = 0; i < total; i++) {
    const tenant = OLD_TENANTS[i % 3 === 0 ? 1 : 0]!;
    const earlier = deposits.filter((d) => d.tenantId === tenant.id);
    const record: DepositRecord = {
      v: 1,
      id: uuid(`deposit ${i}`),
      depositor: tenant.depositor,
      digestAlg: i % 5 === 4 ? "sm3" : "sha256",
      digest: hex32(`digest ${i}`),
      salt: hex32(`salt ${i}`),
      receivedAt: RECEIVED + 10 * i,
      ...(i % 7 === 6 && earlier.length > 0 ? { prev: earlier[earlier.length - 1]!.id } : {}),
    };
    const leaf = recordLeafHash(record);
    const { rows } = await db.query<{ seq: string }>(
      `INSERT INTO deposits (id, tenant_id, depositor, digest_alg, digest, salt, received_at, prev, label, leaf_hash)
       VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'), $7, $8, $9, $10) RETURNING seq`,
      [
        record.id,
        tenant.id,
        record.depositor,
        record.digestAlg,
        record.digest,
        record.salt,
        record.receivedAt,
        record.prev ?? null,
        i % 4 === 0 ? `label ${i}` : null,
        Buffer.from(leaf),
      ],
    );
    deposits.push({
      id: record.id,
      tenantId: tenant.id,
      seq: Number(rows[0]!.seq),
      batchId: null,
      leaf,
      receivedAt: record.receivedAt,
    });
  }

  let next = 0;
  for (const [k, size] of sizes.entries()) {
    const batchId = k + 1;
    const leaves = deposits.slice(next, next + size);
    next += size;
    for (const d of leaves) d.batchId = batchId;
    await sealTheOldWay(db, batchId, leaves, k < OLD_BATCH_SIZES.length);
  }
  await db.query("SELECT setval('batches_id_seq', $1)", [sizes.length]);
  for (const d of deposits.slice(next)) {
    await db.query("INSERT INTO pending (seq, leaf_hash, received_at) VALUES ($1, $2, $3)", [
      d.seq,
      Buffer.from(d.leaf),
      d.receivedAt,
    ]);
  }
  return deposits.map(({ id, tenantId, seq, batchId }) => ({ id, tenantId, seq, batchId }));
}

/** A batch as the seal of migration 1765310000000 wrote it, anchored and attested when `certified`. */
async function sealTheOldWay(
  db: pg.Client | pg.Pool,
  batchId: number,
  leaves: readonly { seq: number; leaf: Uint8Array; receivedAt: number }[],
  certified: boolean,
): Promise<void> {
  const tree = MerkleTree.fromLeafHashes(leaves.map((l) => l.leaf));
  const root = `0x${toHex(tree.root)}`;
  const anchor = {
    chainId: 31337,
    registry: REGISTRY,
    root,
    batch: batchId,
    txHash: `0x${hex32(`tx ${batchId}`)}`,
    blockNumber: 100 + batchId,
    blockHash: `0x${hex32(`block ${batchId}`)}`,
    blockTimestamp: RECEIVED / 1000 + 600 + batchId,
  };
  await db.query(
    `INSERT INTO batches (id, tree_size, root, state, received_until, chain_id, registry, tx_hash,
                          block_number, block_hash, block_timestamp, anchored_at, certified_at)
     VALUES ($1, $2, decode($3, 'hex'), $4, $5, $6, $7, decode($8, 'hex'), $9, decode($10, 'hex'), $11,
             CASE WHEN $12 THEN now() END, CASE WHEN $12 THEN now() END)`,
    [
      batchId,
      tree.size,
      root.slice(2),
      certified ? "certified" : "sealed",
      Math.max(...leaves.map((l) => l.receivedAt)),
      certified ? anchor.chainId : null,
      certified ? anchor.registry : null,
      certified ? anchor.txHash.slice(2) : null,
      certified ? anchor.blockNumber : null,
      certified ? anchor.blockHash.slice(2) : null,
      certified ? anchor.blockTimestamp : null,
      certified,
    ],
  );
  await db.query(
    `INSERT INTO proofs (batch_id, leaf_index, deposit_seq, audit_path)
     SELECT $1, i - 1, seq, path FROM unnest($2::bigint[], $3::bytea[]) WITH ORDINALITY AS x (seq, path, i)`,
    [batchId, leaves.map((l) => l.seq), leaves.map((_, i) => Buffer.concat(tree.auditPath(i)))],
  );
  if (!certified) return;
  const issuedAt = anchor.blockTimestamp + 30;
  const { signer, signature } = await signAttestation(
    CERTIFIER,
    attestationTypedData(anchor, tree.size, issuedAt),
  );
  await db.query(
    `INSERT INTO attestations (batch_id, chain_id, registry, tx_hash, block_number, block_hash,
                               block_timestamp, signer, signature, issued_at)
     VALUES ($1, $2, $3, decode($4, 'hex'), $5, decode($6, 'hex'), $7, $8, decode($9, 'hex'), $10)`,
    [
      batchId,
      anchor.chainId,
      anchor.registry,
      anchor.txHash.slice(2),
      anchor.blockNumber,
      anchor.blockHash.slice(2),
      anchor.blockTimestamp,
      signer,
      signature.slice(2),
      issuedAt,
    ],
  );
}
