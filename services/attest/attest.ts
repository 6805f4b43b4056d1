import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { attestationTypedData, signAttestation, type AttestationSigner } from "../core";
import { registryAt } from "../chain/reader";
import { inTransaction, type Db } from "../db/pool";
import { JobFailure } from "../jobs/failures";
import { assertKeyInUse } from "../keys/in-use";
import { recordDeliveries, requestDeliveries, type WebhookTrigger } from "../webhooks/deliveries";

// Attestation (protocol.md section 7): one EIP-712 signature per anchored batch by the certifier
// key. Signing twice is harmless: the first signature recorded wins, and certificates are
// always built from the recorded one.

export interface AttestContext {
  db: Db;
  provider: JsonRpcProvider;
  registry: string;
  certifier: AttestationSigner;
  /**
   * The certifier key in use now, asked before each signature (an operator may have rotated
   * it: services/keys/in-use.ts); without it, `certifier` always.
   */
  resolveCertifier?: () => Promise<AttestationSigner>;
  log: Logger;
  /** Asked, after the commit, to send the webhook deliveries owed; without it the sweeper asks. */
  webhooks?: WebhookTrigger;
  /** Seconds since the epoch; a test may pin it. */
  now?: () => number;
}

interface AnchoredRow {
  state: string;
  received_until: number;
  root: string;
  tree_size: number;
  chain_id: number;
  registry: string;
  tx_hash: string;
  block_number: number;
  block_hash: string;
  block_timestamp: number;
}

/**
 * Brings batch `batchId` from anchored to certified. Returns false when this run recorded
 * nothing: the batch was not anchored, another run certified it, or its anchor changed.
 */
export async function attestBatch(ctx: AttestContext, batchId: number): Promise<boolean> {
  const { rows } = await ctx.db.query<AnchoredRow>(
    `SELECT state, received_until, '0x' || encode(root, 'hex') AS root, tree_size, chain_id, registry,
            '0x' || encode(tx_hash, 'hex') AS tx_hash, block_number, '0x' || encode(block_hash, 'hex') AS block_hash,
            block_timestamp
       FROM batches WHERE id = $1`,
    [batchId],
  );
  const b = rows[0];
  if (!b || b.state !== "anchored") return false;
  // The seal's cutoff keeps this from happening unless the chain's clock runs behind ours; a
  // certificate must never say "no later than T" of a deposit received after T.
  if (b.received_until > b.block_timestamp * 1000) {
    throw new JobFailure(
      "TIME_INVARIANT",
      `a deposit was received at ${b.received_until} ms, after anchor block ${b.block_number}'s time ${b.block_timestamp} s; raise SEAL_MARGIN_MS`,
      batchId,
    );
  }

  const certifier = ctx.resolveCertifier ? await ctx.resolveCertifier() : ctx.certifier;
  // A retired or unregistered key would sign certificates that verify as SIGNER_NOT_AUTHORISED.
  const [since, until] = (await registryAt(b.registry, ctx.provider).getFunction("certifier")(
    certifier.address,
  )) as [bigint, bigint];
  if (since === 0n || until !== 0n) {
    throw new JobFailure(
      "CERTIFIER_INACTIVE",
      `certifier key ${certifier.address} is not active on the registry; configure an active one`,
    );
  }
  // Never earlier than the anchor block or the key's registration: both would not verify.
  const now = ctx.now?.() ?? Math.floor(Date.now() / 1000);
  const issuedAt = Math.max(now, b.block_timestamp, Number(since));
  const anchor = {
    chainId: b.chain_id,
    registry: b.registry,
    root: b.root,
    batch: batchId,
    txHash: b.tx_hash,
    blockNumber: b.block_number,
    blockHash: b.block_hash,
    blockTimestamp: b.block_timestamp,
  };
  const typedData = attestationTypedData(anchor, b.tree_size, issuedAt);
  const { signer, signature } = await signAttestation(certifier, typedData);
  const deliveries = await inTransaction(ctx.db, async (client) => {
    // A switch of the certifier key (tsd admin certifier rotate) waits for this transaction;
    // once it committed, a signature by the old key is not recorded (the job signs again).
    await assertKeyInUse(client, "certifier", signer);
    // The state change is the guard: of two concurrent signers, one records its signature,
    // and only while the batch is still anchored where it was signed (the sweeper may have
    // sent it back for a lost block, and it may be anchored elsewhere by now).
    const moved = await client.query(
      `UPDATE batches SET state = 'certified', certified_at = now()
        WHERE id = $1 AND state = 'anchored' AND tx_hash = decode($2, 'hex') AND block_hash = decode($3, 'hex')`,
      [batchId, b.tx_hash.slice(2), b.block_hash.slice(2)],
    );
    if (moved.rowCount !== 1) return null;
    const attestation = await client.query<{ id: number }>(
      `INSERT INTO attestations (batch_id, chain_id, registry, tx_hash, block_number, block_hash, block_timestamp,
                                 signer, signature, issued_at)
       VALUES ($1, $2, $3, decode($4, 'hex'), $5, decode($6, 'hex'), $7, $8, decode($9, 'hex'), $10)
       RETURNING id`,
      [
        batchId,
        b.chain_id,
        b.registry,
        b.tx_hash.slice(2),
        b.block_number,
        b.block_hash.slice(2),
        b.block_timestamp,
        signer,
        signature.slice(2),
        issuedAt,
      ],
    );
    // The tenants' notifications are owed exactly when the certification commits.
    return recordDeliveries(client, batchId, (attestation.rows[0] as { id: number }).id);
  });
  if (deliveries === null) return false;
  ctx.log.info({ batch: batchId, signer }, "batch certified");
  await requestDeliveries(ctx.webhooks, deliveries, ctx.log);
  return true;
}
