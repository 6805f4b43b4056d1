import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { attestationTypedData, signAttestation, type AttestationSigner } from "../core";
import { registryAt } from "../chain/reader";
import type { Db } from "../db/pool";

// Attestation (DESIGN section 6): one EIP-712 signature per anchored batch by the certifier
// key. Signing twice is harmless: the first signature stored wins, and certificates are
// always built from the stored one.

export interface AttestContext {
  db: Db;
  provider: JsonRpcProvider;
  registry: string;
  certifier: AttestationSigner;
  log: Logger;
  /** Seconds since the epoch; a test may pin it. */
  now?: () => number;
}

interface AnchoredRow {
  state: string;
  root: string;
  tree_size: number;
  chain_id: number;
  registry: string;
  tx_hash: string;
  block_number: number;
  block_hash: string;
  block_timestamp: number;
}

/** Brings batch `batchId` from anchored to certified. Returns false when it was not anchored. */
export async function attestBatch(ctx: AttestContext, batchId: number): Promise<boolean> {
  const { rows } = await ctx.db.query<AnchoredRow>(
    `SELECT state, '0x' || encode(root, 'hex') AS root, tree_size, chain_id, registry,
            '0x' || encode(tx_hash, 'hex') AS tx_hash, block_number, '0x' || encode(block_hash, 'hex') AS block_hash,
            block_timestamp
       FROM batches WHERE id = $1`,
    [batchId],
  );
  const b = rows[0];
  if (!b || b.state !== "anchored") return false;

  // A retired or unregistered key would sign certificates that verify as SIGNER_NOT_AUTHORISED.
  const [since, until] = (await registryAt(b.registry, ctx.provider).getFunction("certifier")(
    ctx.certifier.address,
  )) as [bigint, bigint];
  if (since === 0n || until !== 0n) {
    throw new Error(
      `certifier key ${ctx.certifier.address} is not active on the registry; configure an active one`,
    );
  }
  // Never earlier than the anchor block or the key's registration: both would not verify.
  const now = ctx.now?.() ?? Math.floor(Date.now() / 1000);
  const issuedAt = Math.max(now, b.block_timestamp, Number(since));
  const typedData = attestationTypedData(b.chain_id, b.registry, {
    root: b.root,
    treeSize: b.tree_size,
    batch: batchId,
    txHash: b.tx_hash,
    blockNumber: b.block_number,
    blockHash: b.block_hash,
    blockTimestamp: b.block_timestamp,
    issuedAt,
  });
  const { signer, signature } = await signAttestation(ctx.certifier, typedData);
  const updated = await ctx.db.query(
    `UPDATE batches SET state = 'certified', signer = $2, signature = decode($3, 'hex'), issued_at = $4, certified_at = now()
      WHERE id = $1 AND state = 'anchored'`,
    [batchId, signer, signature.slice(2), issuedAt],
  );
  if (updated.rowCount === 1) ctx.log.info({ batch: batchId, signer }, "batch certified");
  return true;
}
