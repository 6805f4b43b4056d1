import { randomBytes } from "node:crypto";
import {
  DEFAULT_DIGEST_ALG,
  DIGEST_ALGS,
  createDepositRecord,
  isDigestAlg,
  isUuidV4,
  recordLeafHash,
  to0xHex,
  type DepositRecord,
  type DigestAlg,
} from "../core";
import { inTransaction, isDataError, type Db, type DbClient, type Queryable } from "../db/pool";
import { ServiceError } from "../errors";
import type { ItemOutcome } from "./group-commit";
import type { CursorSealer } from "../tenants/cursors";
import type { Tenant } from "../tenants/tenants";

// Where a digest enters (protocol.md section 1): deposits are validated, turned into records and
// written to PostgreSQL in one multi-row statement per request. A 2xx means the rows are
// committed; nothing about a deposit lives only in Redis or in memory.

export type DepositStatus = "pending" | "batched" | "anchored" | "certified";

/** One deposit as a client submits it. */
export interface DepositInput {
  digest: string;
  digestAlg?: string;
  label?: string;
  prev?: string;
}

export interface AcceptedDeposit {
  id: string;
  status: DepositStatus;
  record: DepositRecord;
  leafHash: string;
}

export interface DepositDetail extends AcceptedDeposit {
  label: string | null;
  batch: {
    id: number;
    treeSize: number;
    root: string;
    leafIndex: number;
    chainId: number | null;
    registry: string | null;
    txHash: string | null;
    blockNumber: number | null;
    blockTimestamp: number | null;
  } | null;
  times: {
    receivedAt: string;
    sealedAt: string | null;
    anchoredAt: string | null;
    certifiedAt: string | null;
  };
}

const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
/** A record's salt: 32 random bytes. */
const SALT_BYTES = 32;

/** The columns every read of a deposit selects, from DEPOSIT_FROM (a DepositRow). */
export const DEPOSIT_COLUMNS = `d.id, d.seq, d.depositor, d.digest_alg, encode(d.digest, 'hex') AS digest, encode(d.salt, 'hex') AS salt,
  d.received_at, d.prev, d.label, d.idempotency_key, encode(d.leaf_hash, 'hex') AS leaf_hash,
  p.batch_id, p.leaf_index,
  CASE WHEN p.batch_id IS NULL THEN 'pending' WHEN b.state = 'sealed' THEN 'batched' ELSE b.state END AS status`;

/** A deposit with its place in a batch (`p`, none while pending) and that batch (`b`). */
export const DEPOSIT_FROM = `deposits d LEFT JOIN proofs p ON p.deposit_seq = d.seq LEFT JOIN batches b ON b.id = p.batch_id`;

/** A deposit as DEPOSIT_COLUMNS reads it. */
export interface DepositRow {
  id: string;
  seq: number;
  depositor: string;
  digest_alg: DigestAlg;
  digest: string;
  salt: string;
  received_at: number;
  prev: string | null;
  label: string | null;
  idempotency_key: string | null;
  leaf_hash: string;
  batch_id: number | null;
  leaf_index: number | null;
  status: DepositStatus;
}

/** The deposit record of a stored row: exactly the fields that were hashed into its leaf. */
export function recordOf(
  row: Pick<DepositRow, "id" | "depositor" | "digest_alg" | "digest" | "salt" | "received_at" | "prev">,
): DepositRecord {
  return {
    v: 1,
    id: row.id,
    depositor: row.depositor,
    digestAlg: row.digest_alg,
    digest: row.digest,
    salt: row.salt,
    receivedAt: row.received_at,
    ...(row.prev === null ? {} : { prev: row.prev }),
  };
}

function accepted(row: DepositRow): AcceptedDeposit {
  return { id: row.id, status: row.status, record: recordOf(row), leafHash: `0x${row.leaf_hash}` };
}

/**
 * Checks one item; `where` names it in errors (e.g. `items[3]`). Returns the lowercase digest
 * and its algorithm.
 */
function validate(item: DepositInput, where: string): { digest: string; digestAlg: DigestAlg } {
  if (item.digestAlg !== undefined && !isDigestAlg(item.digestAlg)) {
    throw new ServiceError(
      "DIGEST_ALG_UNSUPPORTED",
      `${where}digestAlg: expected one of ${DIGEST_ALGS.map((a) => `"${a}"`).join(", ")}`,
    );
  }
  if (!HEX_DIGEST.test(item.digest)) {
    throw new ServiceError("DIGEST_INVALID", `${where}digest: expected 64 hexadecimal characters`);
  }
  if (item.prev !== undefined && !isUuidV4(item.prev)) {
    throw new ServiceError("PREV_NOT_FOUND", `${where}prev: not a deposit id (lowercase UUID v4)`);
  }
  return { digest: item.digest.toLowerCase(), digestAlg: item.digestAlg ?? DEFAULT_DIGEST_ALG };
}

/**
 * Accepts deposits for `tenant` in one transaction: all of them or none. With an
 * idempotency key, a repeated request returns the deposits of the first one; the same key
 * with a different request is IDEMPOTENCY_KEY_REUSED.
 */
export async function acceptDeposits(
  db: Db,
  tenant: Tenant,
  items: DepositInput[],
  options: { idempotencyKey?: string; bulk: boolean; now?: number },
): Promise<{ deposits: AcceptedDeposit[]; created: number }> {
  const where = (i: number) => (options.bulk ? `items[${i}].` : "");
  const checked = items.map((item, i) => validate(item, where(i)));
  const digests = checked.map((c) => c.digest);
  const receivedAt = options.now ?? Date.now();
  const keys = items.map((_, i) =>
    options.idempotencyKey === undefined
      ? null
      : options.bulk
        ? bulkKey(options.idempotencyKey, i)
        : `s:${options.idempotencyKey}`,
  );
  // Every salt from one draw of the system's CSPRNG: a call per item cost more than its bytes.
  const salts = randomBytes(SALT_BYTES * items.length);
  const records = items.map((item, i) =>
    createDepositRecord({
      depositor: tenant.depositor,
      digest: digests[i] as string,
      digestAlg: checked[i]!.digestAlg,
      receivedAt,
      salt: salts.toString("hex", SALT_BYTES * i, SALT_BYTES * (i + 1)),
      ...(item.prev === undefined ? {} : { prev: item.prev }),
    }),
  );
  const leafHashes = records.map((r) => to0xHex(recordLeafHash(r)).slice(2));

  return inTransaction(db, async (client) => {
    await checkPrevs(client, tenant.id, items);
    if (options.idempotencyKey !== undefined) {
      // One key, one request: a key first used on the other endpoint is a reuse too.
      const other = options.bulk ? `s:${options.idempotencyKey}` : bulkKey(options.idempotencyKey, 0);
      const used = await client.query(
        "SELECT 1 FROM deposits WHERE tenant_id = $1 AND idempotency_key = $2",
        [tenant.id, other],
      );
      if (used.rowCount !== 0) throw new ServiceError("IDEMPOTENCY_KEY_REUSED");
    }
    const inserted = await client.query<{ id: string }>(
      `WITH inserted AS (
         INSERT INTO deposits (id, tenant_id, depositor, digest_alg, digest, salt, received_at, prev, label, idempotency_key, leaf_hash)
         SELECT u.id, $1, $2, u.alg, decode(u.digest, 'hex'), decode(u.salt, 'hex'), $3, u.prev, u.label, u.ikey, decode(u.leaf, 'hex')
           FROM unnest($4::uuid[], $5::text[], $6::text[], $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[])
                AS u(id, digest, salt, prev, label, ikey, leaf, alg)
         ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id, seq, leaf_hash, received_at
       ), queued AS (
         INSERT INTO pending (seq, leaf_hash, received_at) SELECT seq, leaf_hash, received_at FROM inserted
       )
       SELECT id FROM inserted`,
      [
        tenant.id,
        tenant.depositor,
        receivedAt,
        records.map((r) => r.id),
        digests,
        records.map((r) => r.salt),
        items.map((i) => i.prev ?? null),
        items.map((i) => i.label ?? null),
        keys,
        leafHashes,
        checked.map((c) => c.digestAlg),
      ],
    );
    const fresh = records.map((record, i) => ({
      id: record.id,
      status: "pending" as const,
      record,
      leafHash: `0x${leafHashes[i]}`,
    }));
    if (inserted.rowCount === records.length) return { deposits: fresh, created: records.length };
    if (options.bulk && options.idempotencyKey !== undefined) {
      await requireWholeReplay(
        client,
        tenant.id,
        options.idempotencyKey,
        items.length,
        inserted.rowCount ?? 0,
      );
    }

    // Some keys were used before: those items are replays. Each must match its first request.
    const insertedIds = new Set(inserted.rows.map((r) => r.id));
    const earlier = await client.query<DepositRow>(
      `SELECT ${DEPOSIT_COLUMNS} FROM ${DEPOSIT_FROM}
        WHERE d.tenant_id = $1 AND d.idempotency_key = ANY($2::text[])`,
      [tenant.id, keys.filter((k, i) => k !== null && !insertedIds.has(records[i]!.id))],
    );
    const byKey = new Map(earlier.rows.map((r) => [r.idempotency_key, r]));
    const deposits = fresh.map((d, i) => {
      if (insertedIds.has(d.id)) return d;
      const row = byKey.get(keys[i] ?? null);
      const item = items[i] as DepositInput;
      if (
        !row ||
        row.digest !== digests[i] ||
        row.digest_alg !== checked[i]!.digestAlg ||
        row.prev !== (item.prev ?? null) ||
        row.label !== (item.label ?? null)
      ) {
        throw new ServiceError("IDEMPOTENCY_KEY_REUSED");
      }
      return accepted(row);
    });
    return { deposits, created: inserted.rowCount ?? 0 };
  });
}

/** A single deposit, checked and turned into its record, ready to join a group commit. */
export interface SingleDeposit {
  tenant: Tenant;
  item: DepositInput;
  /** The lowercase digest and its algorithm (validated). */
  digest: string;
  digestAlg: DigestAlg;
  record: DepositRecord;
  /** The record's leaf hash, hex without 0x. */
  leafHash: string;
  /** The stored idempotency key (`s:<key>`), or null. */
  key: string | null;
  /** The client's Idempotency-Key as sent, or undefined. */
  idempotencyKey: string | undefined;
}

/** A single deposit's answer: its deposit (the first request's on a replay), and whether it was new. */
export interface StoredDeposit {
  deposit: AcceptedDeposit;
  created: boolean;
}

/**
 * Checks one deposit of `POST /v1/deposits` and makes its record; throws what acceptDeposits
 * would (DIGEST_INVALID, DIGEST_ALG_UNSUPPORTED, PREV_NOT_FOUND for a malformed prev). Nothing
 * is stored: commitSingleDeposits does that, for a group of them at once.
 */
export function prepareSingleDeposit(
  tenant: Tenant,
  item: DepositInput,
  options: { idempotencyKey?: string; now?: number } = {},
): SingleDeposit {
  const { digest, digestAlg } = validate(item, "");
  const record = createDepositRecord({
    depositor: tenant.depositor,
    digest,
    digestAlg,
    receivedAt: options.now ?? Date.now(),
    ...(item.prev === undefined ? {} : { prev: item.prev }),
  });
  return {
    tenant,
    item,
    digest,
    digestAlg,
    record,
    leafHash: to0xHex(recordLeafHash(record)).slice(2),
    key: options.idempotencyKey === undefined ? null : `s:${options.idempotencyKey}`,
    idempotencyKey: options.idempotencyKey,
  };
}

/**
 * Stores a group of single deposits, of any tenants, with one statement and one commit, and
 * answers each on its own: the same answers, item by item, as acceptDeposits gives one
 * request at a time (a replay, IDEMPOTENCY_KEY_REUSED, PREV_NOT_FOUND). A value PostgreSQL
 * refuses fails its own item only: the group is then stored one deposit at a time. Any other
 * failure (the database away) throws, failing the whole group, none of it stored.
 */
export async function commitSingleDeposits(
  db: Db,
  group: SingleDeposit[],
): Promise<ItemOutcome<StoredDeposit>[]> {
  try {
    return await commitGroup(db, group);
  } catch (e) {
    if (group.length === 1 || !isRowRefused(e)) throw e;
    const outcomes: ItemOutcome<StoredDeposit>[] = [];
    for (const d of group) {
      outcomes.push(
        await commitGroup(db, [d]).then(
          (o) => o[0] as ItemOutcome<StoredDeposit>,
          (error: unknown) => ({ ok: false as const, error }),
        ),
      );
    }
    return outcomes;
  }
}

/** PostgreSQL refused a row's values (a data exception, an integrity violation): one item's fault. */
function isRowRefused(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return isDataError(e) || (typeof code === "string" && code.startsWith("23"));
}

async function commitGroup(db: Db, group: SingleDeposit[]): Promise<ItemOutcome<StoredDeposit>[]> {
  const fresh = (d: SingleDeposit): ItemOutcome<StoredDeposit> => ({
    ok: true,
    value: {
      deposit: { id: d.record.id, status: "pending", record: d.record, leafHash: `0x${d.leafHash}` },
      created: true,
    },
  });
  // Most deposits name no prev and no key: one statement, its own transaction, nothing to look up.
  if (group.every((d) => d.item.prev === undefined && d.key === null)) {
    const inserted = await insertSingles(db, group);
    if (inserted.size !== group.length) throw new Error("deposits without keys were not all inserted");
    return group.map(fresh);
  }
  return inTransaction(db, async (client) => {
    const outcomes = new Map<SingleDeposit, ItemOutcome<StoredDeposit>>();
    const refuse = (d: SingleDeposit, error: ServiceError) => outcomes.set(d, { ok: false, error });
    const open = () => group.filter((d) => !outcomes.has(d));

    const withPrev = group.filter((d) => d.item.prev !== undefined);
    if (withPrev.length > 0) {
      const { rows } = await client.query<{ id: string; tenant_id: string }>(
        "SELECT id, tenant_id FROM deposits WHERE id = ANY($1::uuid[])",
        [[...new Set(withPrev.map((d) => d.item.prev as string))]],
      );
      const found = new Set(rows.map((r) => `${r.tenant_id}/${r.id}`));
      for (const d of withPrev) {
        if (!found.has(`${d.tenant.id}/${d.item.prev}`)) {
          refuse(d, new ServiceError("PREV_NOT_FOUND", `prev ${d.item.prev} is not one of your deposits`));
        }
      }
    }

    // One key, one request: a key first used on the bulk endpoint is a reuse too.
    const keyed = open().filter((d) => d.idempotencyKey !== undefined);
    if (keyed.length > 0) {
      const { rows } = await client.query<{ tenant_id: string; idempotency_key: string }>(
        `SELECT tenant_id, idempotency_key FROM deposits
          WHERE (tenant_id, idempotency_key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
        [keyed.map((d) => d.tenant.id), keyed.map((d) => bulkKey(d.idempotencyKey as string, 0))],
      );
      const used = new Set(rows.map((r) => `${r.tenant_id}/${r.idempotency_key}`));
      for (const d of keyed) {
        if (used.has(`${d.tenant.id}/${bulkKey(d.idempotencyKey as string, 0)}`)) {
          refuse(d, new ServiceError("IDEMPOTENCY_KEY_REUSED"));
        }
      }
    }

    const toInsert = open();
    const inserted = await insertSingles(client, toInsert);
    // Not inserted: its key was used before, by an earlier request or one earlier in this group.
    const replays = toInsert.filter((d) => !inserted.has(d.record.id));
    for (const d of toInsert) if (inserted.has(d.record.id)) outcomes.set(d, fresh(d));
    if (replays.length > 0) {
      const { rows } = await client.query<DepositRow & { tenant_id: string }>(
        `SELECT ${DEPOSIT_COLUMNS}, d.tenant_id FROM ${DEPOSIT_FROM}
          WHERE (d.tenant_id, d.idempotency_key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
        [replays.map((d) => d.tenant.id), replays.map((d) => d.key)],
      );
      const byKey = new Map(rows.map((r) => [`${r.tenant_id}/${r.idempotency_key}`, r]));
      for (const d of replays) {
        const row = byKey.get(`${d.tenant.id}/${d.key}`);
        if (
          !row ||
          row.digest !== d.digest ||
          row.digest_alg !== d.digestAlg ||
          row.prev !== (d.item.prev ?? null) ||
          row.label !== (d.item.label ?? null)
        ) {
          refuse(d, new ServiceError("IDEMPOTENCY_KEY_REUSED"));
        } else outcomes.set(d, { ok: true, value: { deposit: accepted(row), created: false } });
      }
    }
    return group.map((d) => outcomes.get(d) as ItemOutcome<StoredDeposit>);
  });
}

/** Inserts deposits (and their places in the pending queue) in one statement; the ids inserted. */
async function insertSingles(q: Queryable, ds: SingleDeposit[]): Promise<Set<string>> {
  if (ds.length === 0) return new Set();
  const { rows } = await q.query<{ id: string }>(
    `WITH inserted AS (
       INSERT INTO deposits (id, tenant_id, depositor, digest_alg, digest, salt, received_at, prev, label, idempotency_key, leaf_hash)
       SELECT u.id, u.tenant_id, u.depositor, u.alg, decode(u.digest, 'hex'), decode(u.salt, 'hex'), u.received_at, u.prev, u.label, u.ikey, decode(u.leaf, 'hex')
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::uuid[], $9::text[], $10::text[], $11::text[])
              AS u(id, tenant_id, depositor, alg, digest, salt, received_at, prev, label, ikey, leaf)
       ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id, seq, leaf_hash, received_at
     ), queued AS (
       INSERT INTO pending (seq, leaf_hash, received_at) SELECT seq, leaf_hash, received_at FROM inserted
     )
     SELECT id FROM inserted`,
    [
      ds.map((d) => d.record.id),
      ds.map((d) => d.tenant.id),
      ds.map((d) => d.tenant.depositor),
      ds.map((d) => d.digestAlg),
      ds.map((d) => d.digest),
      ds.map((d) => d.record.salt),
      ds.map((d) => d.record.receivedAt),
      ds.map((d) => d.item.prev ?? null),
      ds.map((d) => d.item.label ?? null),
      ds.map((d) => d.key),
      ds.map((d) => d.leafHash),
    ],
  );
  return new Set(rows.map((r) => r.id));
}

/** The stored idempotency key of item `i` of a bulk request. */
function bulkKey(key: string, i: number): string {
  return `b:${key}:${i}`;
}

/**
 * A replayed bulk request must be the first one whole: with some items new (a longer list)
 * or the first request's next item on record (a shorter one), the key was reused for a
 * different request. Throwing rolls the new items back.
 */
async function requireWholeReplay(
  client: DbClient,
  tenantId: string,
  key: string,
  count: number,
  created: number,
): Promise<void> {
  if (created > 0) throw new ServiceError("IDEMPOTENCY_KEY_REUSED");
  const { rowCount } = await client.query(
    "SELECT 1 FROM deposits WHERE tenant_id = $1 AND idempotency_key = $2",
    [tenantId, bulkKey(key, count)],
  );
  if (rowCount !== 0) throw new ServiceError("IDEMPOTENCY_KEY_REUSED");
}

async function checkPrevs(client: DbClient, tenantId: string, items: DepositInput[]): Promise<void> {
  const prevs = [...new Set(items.flatMap((i) => (i.prev === undefined ? [] : [i.prev])))];
  if (prevs.length === 0) return;
  const { rows } = await client.query<{ id: string }>(
    "SELECT id FROM deposits WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
    [tenantId, prevs],
  );
  const found = new Set(rows.map((r) => r.id));
  const missing = prevs.find((p) => !found.has(p));
  if (missing !== undefined)
    throw new ServiceError("PREV_NOT_FOUND", `prev ${missing} is not one of your deposits`);
}

/** One of the tenant's deposits with its batch and times; DEPOSIT_NOT_FOUND for anyone else's. */
export async function getDeposit(db: Db, tenantId: string, id: string): Promise<DepositDetail> {
  if (!isUuidV4(id)) throw new ServiceError("DEPOSIT_NOT_FOUND");
  const { rows } = await db.query<
    DepositRow & {
      tree_size: number | null;
      root: string | null;
      chain_id: number | null;
      registry: string | null;
      tx_hash: string | null;
      block_number: number | null;
      block_timestamp: number | null;
      sealed_at: Date | null;
      anchored_at: Date | null;
      certified_at: Date | null;
    }
  >({
    // Named: each connection plans it once. Planning this join took PostgreSQL several times
    // longer than running it, and status lookups are the API's most frequent read.
    name: "deposit-detail",
    text: `SELECT ${DEPOSIT_COLUMNS}, b.tree_size, encode(b.root, 'hex') AS root, b.chain_id, b.registry,
            encode(b.tx_hash, 'hex') AS tx_hash, b.block_number, b.block_timestamp, b.sealed_at, b.anchored_at, b.certified_at
       FROM ${DEPOSIT_FROM}
      WHERE d.id = $1 AND d.tenant_id = $2`,
    values: [id, tenantId],
  });
  const row = rows[0];
  if (!row) throw new ServiceError("DEPOSIT_NOT_FOUND");
  return {
    ...accepted(row),
    label: row.label,
    batch:
      row.batch_id === null
        ? null
        : {
            id: row.batch_id,
            treeSize: row.tree_size as number,
            root: `0x${row.root}`,
            leafIndex: row.leaf_index as number,
            chainId: row.chain_id,
            registry: row.registry,
            txHash: row.tx_hash === null ? null : `0x${row.tx_hash}`,
            blockNumber: row.block_number,
            blockTimestamp: row.block_timestamp,
          },
    times: {
      receivedAt: new Date(row.received_at).toISOString(),
      sealedAt: row.sealed_at?.toISOString() ?? null,
      anchoredAt: row.anchored_at?.toISOString() ?? null,
      certifiedAt: row.certified_at?.toISOString() ?? null,
    },
  };
}

export interface ListFilter {
  digest?: string;
  /** Deposits whose label starts with this. */
  label?: string;
  status?: DepositStatus;
  cursor?: string;
  limit: number;
}

/** The tenant's deposits, newest first, a page at a time; `nextCursor` is null on the last page. */
export async function listDeposits(
  db: Db,
  tenantId: string,
  filter: ListFilter,
  cursors: CursorSealer,
): Promise<{ items: (AcceptedDeposit & { label: string | null })[]; nextCursor: string | null }> {
  const conditions = ["d.tenant_id = $1"];
  const params: unknown[] = [tenantId];
  if (filter.digest !== undefined) {
    if (!HEX_DIGEST.test(filter.digest)) throw new ServiceError("DIGEST_INVALID");
    params.push(filter.digest.toLowerCase());
    conditions.push(`d.digest = decode($${params.length}, 'hex')`);
  }
  if (filter.label !== undefined) {
    // A prefix, matched literally: LIKE's own wildcards and its escape are escaped.
    params.push(`${filter.label.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    conditions.push(`d.label LIKE $${params.length}`);
  }
  // Pending deposits are in the pending queue: probe it rather than scan for missing proofs.
  if (filter.status === "pending") conditions.push("EXISTS (SELECT 1 FROM pending q WHERE q.seq = d.seq)");
  else if (filter.status !== undefined) {
    params.push(filter.status === "batched" ? "sealed" : filter.status);
    conditions.push(`b.state = $${params.length}`);
  }
  if (filter.cursor !== undefined) {
    params.push(decodeCursor(cursors, tenantId, filter.cursor));
    conditions.push(`d.seq < $${params.length}`);
  }
  params.push(filter.limit + 1);
  const { rows } = await db.query<DepositRow>(
    `SELECT ${DEPOSIT_COLUMNS} FROM ${DEPOSIT_FROM}
      WHERE ${conditions.join(" AND ")} ORDER BY d.seq DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ ...accepted(r), label: r.label })),
    nextCursor: rows.length > filter.limit && last ? cursors.seal(tenantId, `d1:${last.seq}`) : null,
  };
}

function decodeCursor(cursors: CursorSealer, tenantId: string, cursor: string): number {
  const match = /^d1:(\d{1,15})$/.exec(cursors.open(tenantId, cursor));
  if (!match) throw new ServiceError("CURSOR_INVALID");
  return Number(match[1]);
}
