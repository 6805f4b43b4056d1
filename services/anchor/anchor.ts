import {
  Interface,
  Transaction,
  type JsonRpcProvider,
  type TransactionLike,
  type TransactionReceipt,
  type Wallet,
} from "ethers";
import type { Logger } from "pino";
import { REGISTRY_ABI } from "../chain/abi";
import { registryAt } from "../chain/reader";
import { inTransaction, type Db, type DbClient } from "../db/pool";

// Anchoring (DESIGN sections 2 and 9): one registry transaction per batch. The chain is the
// truth: whenever anchorOf(root) is set, the anchor is recorded from the chain (the event
// log and the canonical block), whichever attempt put it there. A transaction is signed and
// recorded with its nonce before it is sent, so a crash never loses it and a retry re-sends
// the same bytes instead of signing a second one.

const REGISTRY = new Interface(REGISTRY_ABI);
const ROOT_ANCHORED = REGISTRY.getEvent("RootAnchored")!.topicHash;
/** Key of the advisory lock that serialises nonce allocation for the anchoring key. */
const NONCE_LOCK = 0x7473_6461_6e63_68n; // "tsdanch"

export interface AnchorContext {
  db: Db;
  provider: JsonRpcProvider;
  chainId: number;
  registry: string;
  /** The hot anchoring key (ANCHORER_ROLE). */
  anchorer: Wallet;
  confirmations: number;
  /** How long to wait for a transaction or for confirmations before giving up this run. */
  timeoutMs: number;
  log: Logger;
}

/** A failure that retrying cannot mend (an operator must look). */
export class AnchorConflictError extends Error {
  override readonly name = "AnchorConflictError";
}

export interface BatchRow {
  id: number;
  root: string;
  tree_size: number;
  state: string;
}

export interface Attempt {
  id: number;
  nonce: number;
  tx_hash: string;
  raw_tx: string;
}

/**
 * Brings batch `batchId` from sealed to anchored. Idempotent: safe to run again after any
 * crash, and from several processes at once. Returns false when the batch was not sealed.
 */
export async function anchorBatch(ctx: AnchorContext, batchId: number): Promise<boolean> {
  const { rows } = await ctx.db.query<BatchRow>(
    "SELECT id, '0x' || encode(root, 'hex') AS root, tree_size, state FROM batches WHERE id = $1",
    [batchId],
  );
  const batch = rows[0];
  if (!batch || batch.state !== "sealed") return false;

  try {
    for (let round = 0; round < 5; round++) {
      if (await recordIfOnChain(ctx, batch)) return true;
      const attempt = await prepareAnchorTransaction(ctx, batch);
      if (!attempt) continue; // the root went on chain meanwhile
      const outcome = await sendAndWait(ctx, attempt);
      if (outcome === "dropped") continue; // its nonce was taken by another transaction: sign a new one
      if (outcome === "pending") {
        // Not mined in time: most likely underpriced. The same nonce, higher fees.
        await replaceWithHigherFees(ctx, batch, attempt);
        continue;
      }
      if (outcome.status !== 1) {
        await settle(ctx, attempt.id, "reverted");
        if (await recordIfOnChain(ctx, batch)) return true;
        throw new Error(`anchor transaction ${attempt.tx_hash} reverted: ${await revertReason(ctx, batch)}`);
      }
    }
  } catch (e) {
    if (e instanceof AnchorConflictError) {
      // Recorded, so the sweeper stops re-driving it: an operator has to look.
      await ctx.db.query("UPDATE batches SET blocked_reason = $2 WHERE id = $1", [batch.id, e.message]);
    }
    throw e;
  }
  throw new Error(`batch ${batchId} is still not anchored after several rounds`);
}

/** If the registry holds the root, records the anchor from the chain; true when recorded. */
async function recordIfOnChain(ctx: AnchorContext, batch: BatchRow): Promise<boolean> {
  const registry = registryAt(ctx.registry, ctx.provider);
  const [timestamp, blockNumber, treeSize, batchNo] = (await registry.getFunction("anchorOf")(
    batch.root,
  )) as bigint[];
  if (treeSize === 0n) return false;
  if (treeSize !== BigInt(batch.tree_size) || batchNo !== BigInt(batch.id)) {
    throw new AnchorConflictError(
      `root ${batch.root} is anchored on chain as batch ${batchNo} of ${treeSize} leaves, not batch ${batch.id} of ${batch.tree_size}`,
    );
  }
  const number = Number(blockNumber);
  await waitForConfirmations(ctx, number);
  const [log] = await ctx.provider.getLogs({
    address: ctx.registry,
    topics: [ROOT_ANCHORED, batch.root],
    fromBlock: number,
    toBlock: number,
  });
  const block = await ctx.provider.getBlock(number);
  const blockHash = block?.hash;
  if (!log || !block || !blockHash || blockHash !== log.blockHash || BigInt(block.timestamp) !== timestamp) {
    throw new Error(
      `block ${number} changed while anchoring batch ${batch.id} (a reorganisation); will retry`,
    );
  }
  await inTransaction(ctx.db, async (client) => {
    await client.query(
      `UPDATE batches SET state = 'anchored', chain_id = $2, registry = $3, tx_hash = decode($4, 'hex'),
              block_number = $5, block_hash = decode($6, 'hex'), block_timestamp = $7, anchored_at = now()
        WHERE id = $1 AND state = 'sealed'`,
      [
        batch.id,
        ctx.chainId,
        ctx.registry,
        log.transactionHash.slice(2),
        number,
        blockHash.slice(2),
        block.timestamp,
      ],
    );
    await client.query(
      `UPDATE anchor_attempts SET state = CASE WHEN tx_hash = decode($2, 'hex') THEN 'mined' ELSE 'dropped' END,
              settled_at = now()
        WHERE batch_id = $1 AND state IN ('sent', 'replaced')`,
      [batch.id, log.transactionHash.slice(2)],
    );
  });
  ctx.log.info({ batch: batch.id, txHash: log.transactionHash, block: number }, "batch anchored");
  return true;
}

async function waitForConfirmations(ctx: AnchorContext, blockNumber: number): Promise<void> {
  const deadline = Date.now() + ctx.timeoutMs;
  while ((await ctx.provider.getBlockNumber()) - blockNumber + 1 < ctx.confirmations) {
    if (Date.now() > deadline)
      throw new Error(`block ${blockNumber} lacks ${ctx.confirmations} confirmations yet`);
    await new Promise((r) => setTimeout(r, ctx.provider.pollingInterval));
  }
}

const LIVE_ATTEMPT = `SELECT id, nonce, '0x' || encode(tx_hash, 'hex') AS tx_hash, '0x' || encode(raw_tx, 'hex') AS raw_tx
                        FROM anchor_attempts WHERE batch_id = $1 AND state = 'sent'`;

/**
 * The batch's transaction in flight, or a new one: signed with the next nonce and recorded
 * before anything is sent. Null when estimating shows the root is already anchored.
 * Exported for the tests that stop between recording and sending, as a crash would.
 */
export async function prepareAnchorTransaction(ctx: AnchorContext, batch: BatchRow): Promise<Attempt | null> {
  const live = await ctx.db.query<Attempt>(LIVE_ATTEMPT, [batch.id]);
  if (live.rows[0]) return live.rows[0];

  // Ask the node before taking the lock, so no PostgreSQL connection waits on the network.
  const data = REGISTRY.encodeFunctionData("anchor", [batch.root, batch.tree_size, batch.id]);
  let gas: bigint;
  try {
    gas = await ctx.provider.estimateGas({ from: ctx.anchorer.address, to: ctx.registry, data });
  } catch (e) {
    if (revertName(e) === "RootAlreadyAnchored") return null;
    throw e;
  }
  const fees = feeFields(await ctx.provider.getFeeData());

  return inTransaction(ctx.db, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [NONCE_LOCK.toString()]);
    const again = await client.query<Attempt>(LIVE_ATTEMPT, [batch.id]);
    if (again.rows[0]) return again.rows[0];
    const inFlight = await client.query<{ next: number | null }>(
      "SELECT max(nonce) + 1 AS next FROM anchor_attempts WHERE chain_id = $1 AND sender = $2 AND state = 'sent'",
      [ctx.chainId, ctx.anchorer.address],
    );
    const nonce = Math.max(
      await ctx.provider.getTransactionCount(ctx.anchorer.address, "pending"),
      inFlight.rows[0]?.next ?? 0,
    );
    const tx = { to: ctx.registry, data, nonce, chainId: ctx.chainId, gasLimit: (gas * 12n) / 10n, ...fees };
    return record(ctx, client, batch.id, tx);
  });
}

type FeeFields =
  { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

function feeFields(fees: {
  maxFeePerGas: bigint | null;
  maxPriorityFeePerGas: bigint | null;
  gasPrice: bigint | null;
}): FeeFields {
  return fees.maxFeePerGas !== null
    ? { type: 2, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 0n }
    : { type: 0, gasPrice: fees.gasPrice ?? 0n };
}

/** Signs `tx` with the anchoring key and records it as the batch's transaction in flight. */
async function record(
  ctx: AnchorContext,
  client: DbClient,
  batchId: number,
  tx: TransactionLike & { nonce: number },
): Promise<Attempt> {
  const raw = await ctx.anchorer.signTransaction(tx);
  const txHash = Transaction.from(raw).hash as string;
  const inserted = await client.query<{ id: number }>(
    `INSERT INTO anchor_attempts (batch_id, chain_id, sender, nonce, tx_hash, raw_tx)
     VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex')) RETURNING id`,
    [batchId, ctx.chainId, ctx.anchorer.address, tx.nonce, txHash.slice(2), raw.slice(2)],
  );
  ctx.log.info({ batch: batchId, nonce: tx.nonce, txHash }, "anchor transaction signed and recorded");
  return { id: (inserted.rows[0] as { id: number }).id, nonce: tx.nonce, tx_hash: txHash, raw_tx: raw };
}

/**
 * Replaces a transaction that was not mined in time with the same one at the same nonce and
 * higher fees (25% above it, or the node's current fees if higher). Whichever of the two is
 * mined, recordIfOnChain settles both from the chain.
 */
async function replaceWithHigherFees(ctx: AnchorContext, batch: BatchRow, attempt: Attempt): Promise<void> {
  const old = Transaction.from(attempt.raw_tx);
  const now = feeFields(await ctx.provider.getFeeData());
  const bump = (fee: bigint | null, current: bigint) => {
    const raised = ((fee ?? 0n) * 125n) / 100n + 1n;
    return raised > current ? raised : current;
  };
  const fees: FeeFields =
    old.type === 2 && now.type === 2
      ? {
          type: 2,
          maxFeePerGas: bump(old.maxFeePerGas, now.maxFeePerGas),
          maxPriorityFeePerGas: bump(old.maxPriorityFeePerGas, now.maxPriorityFeePerGas),
        }
      : { type: 0, gasPrice: bump(old.gasPrice, now.type === 0 ? now.gasPrice : (old.gasPrice ?? 0n)) };
  await inTransaction(ctx.db, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [NONCE_LOCK.toString()]);
    const replaced = await client.query(
      "UPDATE anchor_attempts SET state = 'replaced', settled_at = now() WHERE id = $1 AND state = 'sent'",
      [attempt.id],
    );
    if (replaced.rowCount !== 1) return; // settled meanwhile by another run
    const tx = {
      to: old.to,
      data: old.data,
      nonce: attempt.nonce,
      chainId: ctx.chainId,
      gasLimit: old.gasLimit,
      ...fees,
    };
    await record(ctx, client, batch.id, tx);
  });
  ctx.log.warn(
    { batch: batch.id, nonce: attempt.nonce, replaced: attempt.tx_hash },
    "anchor transaction re-priced",
  );
}

/**
 * Sends the recorded transaction (again, if need be) and waits for its receipt, then for the
 * configured confirmations. "dropped" when its nonce was consumed by another transaction,
 * "pending" when it was not mined within the timeout.
 */
async function sendAndWait(
  ctx: AnchorContext,
  attempt: Attempt,
): Promise<TransactionReceipt | "dropped" | "pending"> {
  let receipt = await ctx.provider.getTransactionReceipt(attempt.tx_hash);
  if (!receipt) {
    try {
      await ctx.provider.broadcastTransaction(attempt.raw_tx);
    } catch (e) {
      // Known already (sent before a crash) is fine; a spent nonce means it can never be mined.
      if (!(await ctx.provider.getTransaction(attempt.tx_hash))) {
        receipt = await ctx.provider.getTransactionReceipt(attempt.tx_hash);
        if (!receipt && (e as { code?: string }).code === "NONCE_EXPIRED") {
          await settle(ctx, attempt.id, "dropped");
          return "dropped";
        }
        if (!receipt) throw e;
      }
    }
  }
  // Our own polling: ethers' waitForTransaction can miss a transaction mined in the block it
  // starts on when no later block follows (an idle or automining chain).
  const deadline = Date.now() + ctx.timeoutMs;
  while (!receipt) {
    if (Date.now() > deadline) return "pending";
    await new Promise((r) => setTimeout(r, ctx.provider.pollingInterval));
    receipt = await ctx.provider.getTransactionReceipt(attempt.tx_hash);
  }
  await waitForConfirmations(ctx, receipt.blockNumber);
  return receipt;
}

async function settle(ctx: AnchorContext, attemptId: number, state: "reverted" | "dropped"): Promise<void> {
  await ctx.db.query(
    "UPDATE anchor_attempts SET state = $2, settled_at = now() WHERE id = $1 AND state = 'sent'",
    [attemptId, state],
  );
}

/** Why `anchor` would revert now, by the registry's custom error name. */
async function revertReason(ctx: AnchorContext, batch: BatchRow): Promise<string> {
  try {
    await ctx.provider.call({
      from: ctx.anchorer.address,
      to: ctx.registry,
      data: REGISTRY.encodeFunctionData("anchor", [batch.root, batch.tree_size, batch.id]),
    });
    return "the call succeeds now";
  } catch (e) {
    return revertName(e) ?? "unknown reason";
  }
}

/** The custom error name of an ethers CALL_EXCEPTION against the registry, if any. */
export function revertName(e: unknown): string | undefined {
  const data = (e as { data?: unknown }).data;
  if (typeof data !== "string" || data.length < 10) return undefined;
  return REGISTRY.parseError(data)?.name;
}
