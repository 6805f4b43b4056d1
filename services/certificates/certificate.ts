import {
  attestationTypedData,
  buildCertificate,
  isUuidV4,
  recordLeafHash,
  toHex,
  type Certificate,
} from "../core";
import type { Db } from "../db/pool";
import { DEPOSIT_COLUMNS, DEPOSIT_FROM, recordOf, type DepositRow } from "../deposits/store";
import { ServiceError } from "../errors";

// The certificate (DESIGN section 7), assembled from what PostgreSQL holds: the record, its
// stored audit path, the batch's anchor and its stored attestation. Nothing is signed here;
// the same deposit always yields the same certificate.

interface CertificateRow extends DepositRow {
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
  audit_path: Buffer | null;
}

/** The certificate of one of the tenant's deposits; CERTIFICATE_NOT_READY until it is certified. */
export async function loadCertificate(db: Db, tenantId: string, depositId: string): Promise<Certificate> {
  if (!isUuidV4(depositId)) throw new ServiceError("DEPOSIT_NOT_FOUND");
  const { rows } = await db.query<CertificateRow>(
    `SELECT ${DEPOSIT_COLUMNS}, b.tree_size, '0x' || encode(b.root, 'hex') AS root, a.chain_id, a.registry,
            '0x' || encode(a.tx_hash, 'hex') AS tx_hash, a.block_number, '0x' || encode(a.block_hash, 'hex') AS block_hash,
            a.block_timestamp, a.signer, '0x' || encode(a.signature, 'hex') AS signature, a.issued_at, p.audit_path
       FROM ${DEPOSIT_FROM}
       LEFT JOIN attestations a ON a.batch_id = b.id AND a.current
      WHERE d.id = $1 AND d.tenant_id = $2`,
    [depositId, tenantId],
  );
  const row = rows[0];
  if (!row) throw new ServiceError("DEPOSIT_NOT_FOUND");
  if (row.status !== "certified") {
    throw new ServiceError(
      "CERTIFICATE_NOT_READY",
      `the deposit is ${row.status}; its certificate is not ready yet`,
    );
  }
  const c = row as Required<{ [K in keyof CertificateRow]: NonNullable<CertificateRow[K]> }>;
  const deposit = recordOf(row);
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
  const path = new Uint8Array(c.audit_path);
  return buildCertificate({
    deposit,
    leafIndex: c.leaf_index,
    treeSize: c.tree_size,
    auditPath: Array.from({ length: path.length / 32 }, (_, i) => path.subarray(32 * i, 32 * i + 32)),
    anchor,
    attestation: { signer: c.signer, signature: c.signature, typedData },
  });
}
