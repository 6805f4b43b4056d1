import {
  attestationTypedData,
  buildCertificate,
  isUuidV4,
  recordLeafHash,
  toHex,
  type Certificate,
  type DepositRecord,
} from "../core";
import type { Db } from "../db/pool";
import { ServiceError } from "../errors";
import { auditPathOfRow, pathPartsJoins, storedAuditPaths, type PathPartsRow } from "../seal/stored-tree";
import type { CursorSealer } from "../tenants/cursors";

// The certificate (protocol.md section 8), assembled from what PostgreSQL holds: the record, its
// audit path (from its batch's stored tree), the batch's anchor and its current attestation. Nothing is signed here;
// the same deposit always yields the same certificate, and the same bytes (certificateJson).

interface CertificateRow {
  id: string;
  seq: number;
  depositor: string;
  digest_alg: string;
  digest: string;
  salt: string;
  received_at: number;
  prev: string | null;
  leaf_hash: string;
  batch_id: number | null;
  leaf_index: number | null;
  state: string | null;
  tree_size: number | null;
  root: string | null;
  chain_id: number | null;
  registry: string | null;
  tx_hash: string | null;
  block_number: number | null;
  block_hash: string | null;
  block_timestamp: number | null;
  signer: string | null;
  signature: string | null;
  issued_at: number | null;
  /** An attestation of the batch was withdrawn (its anchor block was lost). */
  withdrawn: boolean;
}

/** Everything a certificate is made of, from the deposit, its batch and the current attestation. */
const CERTIFICATE_COLUMNS = `d.id, d.seq, d.depositor, d.digest_alg, encode(d.digest, 'hex') AS digest, encode(d.salt, 'hex') AS salt,
  d.received_at, d.prev, encode(d.leaf_hash, 'hex') AS leaf_hash, p.batch_id, p.leaf_index, b.state,
  b.tree_size, '0x' || encode(b.root, 'hex') AS root, a.chain_id, a.registry,
  '0x' || encode(a.tx_hash, 'hex') AS tx_hash, a.block_number, '0x' || encode(a.block_hash, 'hex') AS block_hash,
  a.block_timestamp, a.signer, '0x' || encode(a.signature, 'hex') AS signature, a.issued_at`;

/**
 * One deposit's certificate row with the parts of its audit path: one round trip, and a
 * prepared statement, planned once per connection (planning the joins costs more than running
 * them).
 */
const LOAD_CERTIFICATE = {
  name: "tsd-load-certificate",
  text: `SELECT ${CERTIFICATE_COLUMNS}, path_tiles, path_sibling, path_sibling_index,
                EXISTS (SELECT 1 FROM attestations w WHERE w.batch_id = b.id AND NOT w.current) AS withdrawn
           FROM deposits d
           LEFT JOIN proofs p ON p.deposit_seq = d.seq
           LEFT JOIN batches b ON b.id = p.batch_id
           LEFT JOIN attestations a ON a.batch_id = b.id AND a.current
           ${pathPartsJoins({ batch: "p.batch_id", leaf: "p.leaf_index", seq: "d.seq", size: "b.tree_size" })}
          WHERE d.id = $1 AND d.tenant_id = $2`,
};

/** The certificate of one of the tenant's deposits; CERTIFICATE_NOT_READY until it is certified. */
export async function loadCertificate(db: Db, tenantId: string, depositId: string): Promise<Certificate> {
  if (!isUuidV4(depositId)) throw new ServiceError("DEPOSIT_NOT_FOUND");
  const { rows } = await db.query<CertificateRow & PathPartsRow>({
    ...LOAD_CERTIFICATE,
    values: [depositId, tenantId],
  });
  const row = rows[0];
  if (!row) throw new ServiceError("DEPOSIT_NOT_FOUND");
  if (row.state !== "certified") {
    if (row.withdrawn) throw new ServiceError("CERTIFICATE_WITHDRAWN");
    const status = row.batch_id === null ? "pending" : row.state === "sealed" ? "batched" : row.state;
    throw new ServiceError(
      "CERTIFICATE_NOT_READY",
      `the deposit is ${status}; its certificate is not ready yet`,
    );
  }
  return certificateOf(row, auditPathOfRow(row.leaf_index as number, row.tree_size as number, row));
}

/** Where a tenant's feed of certificates stands: after this attestation, after this leaf. */
export interface FeedPosition {
  attestation: number;
  leafIndex: number;
}

/** The feed's start: before every attestation. */
export const FEED_START: FeedPosition = { attestation: 0, leafIndex: -1 };

/** The tenant's opaque cursor for a feed position. */
export function feedCursor(cursors: CursorSealer, tenantId: string, p: FeedPosition): string {
  return cursors.seal(tenantId, `c1:${p.attestation}:${p.leafIndex}`);
}

/** The feed position in a cursor this service gave the tenant; CURSOR_INVALID otherwise. */
export function feedPosition(cursors: CursorSealer, tenantId: string, cursor: string): FeedPosition {
  const match = /^c1:(\d{1,15}):(-1|\d{1,10})$/.exec(cursors.open(tenantId, cursor));
  if (!match) throw new ServiceError("CURSOR_INVALID");
  return { attestation: Number(match[1]), leafIndex: Number(match[2]) };
}

/**
 * The tenant's certificates in the order their batches were certified (a batch certified
 * again after a lost block comes again, with its new certificates), after `since`, at most
 * `limit`; and the position after the last one. `since` null means "from now": no
 * certificates, only the position to poll from.
 */
export async function certificatesSince(
  db: Db,
  tenantId: string,
  since: FeedPosition | null,
  limit: number,
): Promise<{ certificates: Certificate[]; next: FeedPosition }> {
  if (since === null) {
    const { rows } = await db.query<{ id: number }>("SELECT coalesce(max(id), 0) AS id FROM attestations");
    return {
      certificates: [],
      next: { attestation: (rows[0] as { id: number }).id, leafIndex: 2 ** 31 - 1 },
    };
  }
  // Per attestation, the tenant's deposits of its batch in leaf order (seq order): one range
  // of the (tenant_id, seq) index, each placed by its proofs row; never a walk over the batch.
  const { rows } = await db.query<CertificateRow & { attestation_id: number }>(
    `SELECT ${CERTIFICATE_COLUMNS}, a.id AS attestation_id, false AS withdrawn
       FROM attestations a
       JOIN batches b ON b.id = a.batch_id AND b.state = 'certified'
       CROSS JOIN LATERAL (
         SELECT t.seq FROM deposits t JOIN proofs q ON q.deposit_seq = t.seq AND q.batch_id = a.batch_id
          WHERE t.tenant_id = $1 AND t.seq BETWEEN b.first_seq AND b.last_seq
            AND (a.id > $2 OR q.leaf_index > $3)
          ORDER BY t.seq
          LIMIT $4
       ) AS mine
       JOIN deposits d ON d.seq = mine.seq
       JOIN proofs p ON p.deposit_seq = d.seq
      WHERE a.current AND a.id >= $2
      ORDER BY a.id, p.leaf_index
      LIMIT $4`,
    [tenantId, since.attestation, since.leafIndex, limit],
  );
  const paths = new Map<CertificateRow, Uint8Array[]>();
  for (const leaves of byBatch(rows)) {
    const found = await storedAuditPaths(
      db,
      batchOf(leaves[0] as CertificateRow),
      leaves.map((r) => ({ seq: r.seq, index: r.leaf_index as number })),
    );
    leaves.forEach((r, k) => paths.set(r, found[k] as Uint8Array[]));
  }
  const last = rows[rows.length - 1];
  return {
    certificates: rows.map((r) => certificateOf(r, paths.get(r) as Uint8Array[])),
    next: last ? { attestation: last.attestation_id, leafIndex: last.leaf_index as number } : since,
  };
}

function byBatch<R extends CertificateRow>(rows: readonly R[]): R[][] {
  const groups = new Map<number, R[]>();
  for (const r of rows) {
    const group = groups.get(r.batch_id as number);
    if (group) group.push(r);
    else groups.set(r.batch_id as number, [r]);
  }
  return [...groups.values()];
}

function batchOf(row: CertificateRow): { id: number; treeSize: number } {
  return { id: row.batch_id as number, treeSize: row.tree_size as number };
}

/** A certified row as its certificate; refuses a record that no longer hashes to its leaf. */
function certificateOf(row: CertificateRow, auditPath: Uint8Array[]): Certificate {
  const c = row as Required<{ [K in keyof CertificateRow]: NonNullable<CertificateRow[K]> }>;
  const deposit: DepositRecord = {
    v: 1,
    id: row.id,
    depositor: row.depositor,
    digestAlg: row.digest_alg as DepositRecord["digestAlg"],
    digest: row.digest,
    salt: row.salt,
    receivedAt: row.received_at,
    ...(row.prev === null ? {} : { prev: row.prev }),
  };
  if (toHex(recordLeafHash(deposit)) !== row.leaf_hash) {
    throw new Error(`deposit ${row.id}: the stored record no longer hashes to its leaf`);
  }
  const anchor = {
    chainId: c.chain_id,
    registry: c.registry,
    root: c.root,
    batch: c.batch_id,
    txHash: c.tx_hash,
    blockNumber: c.block_number,
    blockHash: c.block_hash,
    blockTimestamp: c.block_timestamp,
  };
  const typedData = attestationTypedData(anchor, c.tree_size, c.issued_at);
  return buildCertificate({
    deposit,
    leafIndex: c.leaf_index,
    treeSize: c.tree_size,
    auditPath,
    anchor,
    attestation: { signer: c.signer, signature: c.signature, typedData },
  });
}
