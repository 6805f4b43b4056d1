import { randomUUID } from "node:crypto";
import { Interface, Transaction, type JsonRpcProvider, type Wallet } from "ethers";
import type { Logger } from "pino";
import { REGISTRY_ABI } from "../chain/abi";
import { registryAt } from "../chain/reader";
import { inTransaction, type Db, type DbClient } from "../db/pool";
import { JobFailure } from "../jobs/failures";
import { initialFees, replacementFees, type Fees, type NodeFees } from "./fees";
import { anchoringPause } from "./pause";
import { assertKeyInUse } from "../keys/in-use";
import { planTick, type InFlight, type Step } from "./plan";

// Anchoring (protocol.md sections 1 and 12): one registry transaction per batch, sent by one sender
// per anchoring key. A pass (`anchorTick`) looks at everything in flight and everything
// waiting, decides by the pure policy of plan.ts, and carries it out; it never waits for a
// block, so it is short, and the queue runs the next pass. The chain is the truth: whenever
// anchorOf(root) is set, the anchor is recorded from the chain (the event log and the
// canonical block), whichever transaction put it there. A transaction is signed and recorded
// with its nonce before it is sent: a crash never loses it, and a later pass sends the same
// bytes instead of signing a second one.

const REGISTRY = new Interface(REGISTRY_ABI);
const ROOT_ANCHORED = REGISTRY.getEvent("RootAnchored")!.topicHash;
/** Key of the advisory lock under which nonces are written. */
const NONCE_LOCK = 0x7473_6461_6e63_68n; // "tsdanch"
/** How long a pass may hold the sender's lease before another process may take over. */
const LEASE_MS = 60_000;
/** Identifies this process as a lease holder. */
const PROCESS_ID = randomUUID();

export interface AnchorContext {
  db: Db;
  provider: JsonRpcProvider;
  chainId: number;
  registry: string;
  /** The hot anchoring key (ANCHORER_ROLE). */
  anchorer: Wallet;
  /**
   * The anchoring key in use now, asked at the start of every pass (an operator may have
   * rotated it: services/keys/in-use.ts); without it, `anchorer` always.
   */
  resolveAnchorer?: () => Promise<Wallet>;
  confirmations: number;
  /** How long a transaction may stay unmined before it is replaced (re-priced, or moved down). */
  timeoutMs: number;
  /** ANCHOR_MAX_FEE_PER_GAS: no transaction is priced above it. */
  maxFeePerGas?: bigint;
  /** Most of the key's transactions in flight at once. */
  maxInFlight: number;
  log: Logger;
}

/** What a pass did, and whether another one is needed. */
export interface TickReport {
  /** Batches whose anchor was recorded in this pass (to attest). */
  anchored: number[];
  sent: number;
  replaced: number;
  /** Anchoring is paused (by an operator, or the registry is): nothing new was sent. */
  paused: boolean;
  /** Batches blocked for an operator in this pass. */
  blocked: number[];
  /** Something is still in flight or waiting: run another pass soon. */
  more: boolean;
}

interface Row {
  id: number;
  batch_id: number;
  nonce: number;
  sender: string;
  tx_hash: string;
  raw_tx: string;
  sent_at: number;
  root: string;
  tree_size: number;
}

interface BatchRow {
  id: number;
  root: string;
  tree_size: number;
}

/**
 * One pass of the sender: settles what was mined, re-sends, replaces the lowest stuck
 * transaction, fills nonce gaps and sends waiting batches. Null when another process holds the
 * sender's lease. Safe to run again at any point: every step is decided from recorded state.
 */
export async function anchorTick(ctx: AnchorContext): Promise<TickReport | null> {
  if (!(await takeLease(ctx))) return null;
  try {
    return await pass(ctx);
  } finally {
    await ctx.db
      .query("UPDATE anchor_sender SET until = now() WHERE chain_id = $1 AND holder = $2", [
        ctx.chainId,
        PROCESS_ID,
      ])
      .catch(() => undefined);
  }
}

/** Whether this process last saw anchoring paused by an operator (to log changes once). */
let operatorPaused = false;

async function pass(given: AnchorContext): Promise<TickReport> {
  const ctx = given.resolveAnchorer ? { ...given, anchorer: await given.resolveAnchorer() } : given;
  const pause = await anchoringPause(ctx.db);
  if ((pause !== null) !== operatorPaused) {
    operatorPaused = pause !== null;
    if (pause) ctx.log.warn({ by: pause.actor, reason: pause.reason }, "anchoring paused by an operator");
    else ctx.log.info("anchoring resumed");
  }
  const report: TickReport = {
    anchored: [],
    sent: 0,
    replaced: 0,
    paused: pause !== null,
    blocked: [],
    more: false,
  };
  const { rows } = await ctx.db.query<Row>(
    `SELECT a.id, a.batch_id, a.nonce, a.sender, '0x' || encode(a.tx_hash, 'hex') AS tx_hash,
            '0x' || encode(a.raw_tx, 'hex') AS raw_tx, (extract(epoch FROM a.created_at) * 1000)::bigint AS sent_at,
            '0x' || encode(b.root, 'hex') AS root, b.tree_size
       FROM anchor_attempts a JOIN batches b ON b.id = a.batch_id
      WHERE a.state = 'sent' AND a.chain_id = $1 ORDER BY a.nonce`,
    [ctx.chainId],
  );
  // Receipts before the nonce count: a transaction mined in between then reads as "dropped",
  // which is checked against the chain, never as a gap to fill.
  const receipts = await Promise.all(rows.map((r) => ctx.provider.getTransactionReceipt(r.tx_hash)));
  const [confirmed, latest] = await Promise.all([
    ctx.provider.getTransactionCount(ctx.anchorer.address, "latest"),
    ctx.provider.getBlock("latest"),
  ]);
  if (!latest) throw new Error("the chain node has no latest block");
  const head = latest.number;
  const candidates = await ctx.db.query<BatchRow & { received_until: string }>(
    `SELECT b.id, '0x' || encode(b.root, 'hex') AS root, b.tree_size, b.received_until FROM batches b
      WHERE b.state = 'sealed' AND b.blocked_reason IS NULL
        AND NOT EXISTS (SELECT 1 FROM anchor_attempts a WHERE a.batch_id = b.id AND a.state = 'sent')
      ORDER BY b.id LIMIT $1`,
    [ctx.maxInFlight],
  );
  const waiting = { rows: await readyToSend(ctx, latest.timestamp, candidates.rows) };
  if (waiting.rows.length < candidates.rows.length) report.more = true;
  const byAttempt = new Map(rows.map((r) => [r.id, r]));
  const byBatch = new Map<number, BatchRow>([
    ...rows.map((r): [number, BatchRow] => [
      r.batch_id,
      { id: r.batch_id, root: r.root, tree_size: r.tree_size },
    ]),
    ...waiting.rows.map((b): [number, BatchRow] => [b.id, b]),
  ]);
  const steps = planTick({
    sender: ctx.anchorer.address,
    confirmed,
    head,
    now: Date.now(),
    inFlight: rows.map((r, i): InFlight => ({
      id: r.id,
      batchId: r.batch_id,
      nonce: r.nonce,
      sender: r.sender,
      sentAt: r.sent_at,
      receipt: receipts[i]
        ? { status: receipts[i]!.status ?? 0, blockNumber: receipts[i]!.blockNumber }
        : null,
    })),
    waiting: waiting.rows.map((b) => b.id),
    confirmations: ctx.confirmations,
    timeoutMs: ctx.timeoutMs,
    maxInFlight: ctx.maxInFlight,
  });

  let nodeFees: NodeFees | undefined;
  const fees = async () => (nodeFees ??= await ctx.provider.getFeeData());
  for (const step of steps) {
    const row = step.kind === "send" ? undefined : byAttempt.get(step.attempt.id);
    const batch: BatchRow =
      step.kind === "send"
        ? (byBatch.get(step.batchId) as BatchRow)
        : { id: row!.batch_id, root: row!.root, tree_size: row!.tree_size };
    try {
      if (step.kind === "send" && report.paused) continue;
      await carryOut(ctx, step, row, batch, fees, report);
    } catch (e) {
      // A conflict is the batch's alone: it is blocked for an operator and the pass goes on.
      if (e instanceof JobFailure && e.policy === "block" && e.batchId !== undefined) {
        await blockBatch(ctx.db, e);
        report.blocked.push(e.batchId);
        continue;
      }
      throw e;
    }
  }
  // While an operator's pause holds, waiting batches call for no pass of their own: the
  // sweeper's will do, and `tsd admin unpause` asks for one.
  const left = await ctx.db.query(
    `SELECT 1 FROM batches b WHERE b.state = 'sealed' AND b.blocked_reason IS NULL AND NOT $2::boolean
      UNION ALL SELECT 1 FROM anchor_attempts WHERE state = 'sent' AND chain_id = $1 LIMIT 1`,
    [ctx.chainId, pause !== null],
  );
  report.more ||= (left.rowCount ?? 0) > 0;
  return report;
}

/**
 * The time invariant (protocol.md section 11) before anything is sent: a batch goes out only once the
 * chain's head is at least as late as the batch's last deposit, so the later block that will
 * hold its anchor is later still. A chain whose blocks come on a clock reaches that within a
 * block. A development node that mines only on demand (anvil) keeps an old head, and its clock
 * may run up to a second behind this machine's: there the next block's time is set to the
 * batch's last second, which the seal cutoff keeps in the past.
 */
async function readyToSend<T extends { received_until: string }>(
  ctx: AnchorContext,
  headTime: number,
  batches: T[],
): Promise<T[]> {
  const due = (b: T) => Number(b.received_until) <= headTime * 1000;
  const late = batches.filter((b) => !due(b));
  if (late.length === 0) return batches;
  // Never a block time ahead of this machine's clock: a batch from the future (a clock that
  // jumped back) waits for the chain like anywhere else.
  const nowSeconds = Math.floor(Date.now() / 1000);
  const settable = late.filter((b) => Math.ceil(Number(b.received_until) / 1000) <= nowSeconds);
  if (settable.length === 0 || !(await isOnDemandDevNode(ctx.provider))) return batches.filter(due);
  const latest = Math.max(...settable.map((b) => Math.ceil(Number(b.received_until) / 1000)));
  try {
    await ctx.provider.send("evm_setNextBlockTimestamp", [Math.max(latest, headTime + 1)]);
  } catch (err) {
    // The node's head moved past what this pass read (or its clock was set meanwhile): mine an
    // empty block so the next pass reads a head at the node's own time, rather than wait for
    // a block that an idle development node never makes.
    ctx.log.warn({ err }, "could not set the development node's next block time; mining a block");
    await ctx.provider.send("evm_mine", []).catch(() => undefined);
    return batches.filter(due);
  }
  return batches.filter((b) => due(b) || settable.includes(b));
}

const devNodes = new WeakMap<JsonRpcProvider, Promise<boolean>>();
/** Whether the node is anvil (a development node whose next block time may be set). */
function isOnDemandDevNode(provider: JsonRpcProvider): Promise<boolean> {
  let known = devNodes.get(provider);
  if (!known) {
    known = (provider.send("web3_clientVersion", []) as Promise<string>).then(
      (v) => v.toLowerCase().startsWith("anvil/"),
      () => false,
    );
    devNodes.set(provider, known);
  }
  return known;
}

async function carryOut(
  ctx: AnchorContext,
  step: Step,
  row: Row | undefined,
  batch: BatchRow,
  fees: () => Promise<NodeFees>,
  report: TickReport,
): Promise<void> {
  const anchored = async () => {
    const found = await recordIfOnChain(ctx, batch);
    if (found === "recorded") report.anchored.push(batch.id);
    return found;
  };
  switch (step.kind) {
    case "record":
      await anchored();
      return;
    case "reverted":
    case "dropped":
    case "abandon": {
      await settle(ctx.db, step.attempt.id, step.kind === "abandon" ? "abandoned" : step.kind);
      // Whichever transaction put the root on chain (a replaced one, another process's): record it.
      if ((await anchored()) === "absent" && step.kind === "reverted") {
        ctx.log.warn(
          { batch: batch.id, reason: await revertReason(ctx, batch) },
          "anchor transaction reverted",
        );
      }
      return;
    }
    case "rebroadcast":
      await broadcast(ctx, row!.raw_tx);
      return;
    case "replace": {
      const old = Transaction.from(row!.raw_tx);
      const oldFees: Fees =
        old.type === 2
          ? {
              type: 2,
              maxFeePerGas: old.maxFeePerGas ?? 0n,
              maxPriorityFeePerGas: old.maxPriorityFeePerGas ?? 0n,
            }
          : { type: 0, gasPrice: old.gasPrice ?? 0n };
      // At its own nonce it must outbid itself; moved into a gap, today's fees do.
      const next =
        step.nonce === row!.nonce
          ? replacementFees(oldFees, await fees(), ctx.maxFeePerGas)
          : initialFees(await fees(), ctx.maxFeePerGas);
      if (next === "capped") {
        ctx.log.warn(
          { batch: batch.id, nonce: row!.nonce, cap: String(ctx.maxFeePerGas) },
          "anchor transaction stuck at the fee cap",
        );
        await broadcast(ctx, row!.raw_tx);
        return;
      }
      const tx = {
        to: old.to as string,
        data: old.data,
        nonce: step.nonce,
        chainId: ctx.chainId,
        gasLimit: old.gasLimit,
        ...next,
      };
      const raw = await inTransaction(ctx.db, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [NONCE_LOCK.toString()]);
        const replaced = await client.query(
          "UPDATE anchor_attempts SET state = 'replaced', settled_at = now() WHERE id = $1 AND state = 'sent'",
          [row!.id],
        );
        if (replaced.rowCount !== 1) return null; // settled meanwhile
        return record(ctx, client, batch.id, tx);
      }).catch(takenMeanwhile);
      if (raw === null) return;
      ctx.log.warn(
        { batch: batch.id, nonce: row!.nonce, to: step.nonce, replaced: row!.tx_hash },
        "anchor transaction replaced",
      );
      report.replaced++;
      await broadcast(ctx, raw);
      return;
    }
    case "send": {
      if ((await anchored()) !== "absent") return;
      const data = REGISTRY.encodeFunctionData("anchor", [batch.root, batch.tree_size, batch.id]);
      let gas: bigint;
      try {
        gas = await ctx.provider.estimateGas({ from: ctx.anchorer.address, to: ctx.registry, data });
      } catch (e) {
        const reason = revertName(e);
        if (reason === "RootAlreadyAnchored") return void (await anchored());
        if (reason === "EnforcedPause") {
          if (!report.paused) ctx.log.warn("the registry is paused: anchoring waits until it is unpaused");
          report.paused = true;
          return;
        }
        if (reason === "AccessControlUnauthorizedAccount") {
          throw new JobFailure(
            "ANCHORER_UNAUTHORISED",
            `the anchoring key ${ctx.anchorer.address} lacks ANCHORER_ROLE`,
            undefined,
            { cause: e },
          );
        }
        if ((e as { code?: string }).code === "INSUFFICIENT_FUNDS") {
          throw new JobFailure(
            "ANCHORER_UNFUNDED",
            `the anchoring key ${ctx.anchorer.address} cannot pay for gas`,
            undefined,
            { cause: e },
          );
        }
        throw e;
      }
      const tx = {
        to: ctx.registry,
        data,
        nonce: step.nonce,
        chainId: ctx.chainId,
        gasLimit: (gas * 12n) / 10n,
        ...initialFees(await fees(), ctx.maxFeePerGas),
      };
      const raw = await inTransaction(ctx.db, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [NONCE_LOCK.toString()]);
        return record(ctx, client, batch.id, tx);
      }).catch(takenMeanwhile);
      if (raw === null) return;
      report.sent++;
      await broadcast(ctx, raw);
      return;
    }
  }
}

/**
 * A transaction recorded meanwhile holds this batch or this nonce (the unique indexes on what is
 * in flight): nothing is signed twice, nothing is sent, the next pass reads the chain again.
 */
function takenMeanwhile(e: unknown): null {
  if ((e as { code?: string }).code === "23505") return null;
  throw e;
}

/** Sends signed bytes; a node that knows them already, or has moved past their nonce, is fine: the next pass reads the chain. */
async function broadcast(ctx: AnchorContext, raw: string): Promise<void> {
  try {
    await ctx.provider.broadcastTransaction(raw);
  } catch (e) {
    ctx.log.debug({ err: (e as Error).message }, "broadcast refused; the next pass reads the chain");
  }
}

/** Signs `tx` with the anchoring key and records it as the batch's transaction in flight; returns the raw bytes. */
async function record(
  ctx: AnchorContext,
  client: DbClient,
  batchId: number,
  tx: { to: string; data: string; nonce: number; chainId: number; gasLimit: bigint } & Fees,
): Promise<string> {
  // An operator's switch of the anchoring key (tsd admin anchorer rotate) waits for this
  // transaction, and once it committed the old key records nothing more.
  await assertKeyInUse(client, "anchorer", ctx.anchorer.address);
  const raw = await ctx.anchorer.signTransaction(tx);
  const txHash = Transaction.from(raw).hash as string;
  await client.query(
    `INSERT INTO anchor_attempts (batch_id, chain_id, sender, nonce, tx_hash, raw_tx)
     VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'))`,
    [batchId, ctx.chainId, ctx.anchorer.address, tx.nonce, txHash.slice(2), raw.slice(2)],
  );
  ctx.log.info({ batch: batchId, nonce: tx.nonce, txHash }, "anchor transaction signed and recorded");
  return raw;
}

async function settle(db: Db, attemptId: number, state: "reverted" | "dropped" | "abandoned"): Promise<void> {
  await db.query(
    "UPDATE anchor_attempts SET state = $2, settled_at = now() WHERE id = $1 AND state = 'sent'",
    [attemptId, state],
  );
}

async function blockBatch(db: Db, failure: JobFailure): Promise<void> {
  await db.query("UPDATE batches SET blocked_reason = $2 WHERE id = $1", [
    failure.batchId,
    `${failure.code}: ${failure.message}`,
  ]);
}

/** Takes (or renews) the sender's lease for this key's chain; false while another process holds it. */
async function takeLease(ctx: AnchorContext): Promise<boolean> {
  const { rowCount } = await ctx.db.query(
    `INSERT INTO anchor_sender (chain_id, holder, until) VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
     ON CONFLICT (chain_id) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
       WHERE anchor_sender.holder = EXCLUDED.holder OR anchor_sender.until < now()`,
    [ctx.chainId, PROCESS_ID, LEASE_MS],
  );
  return rowCount === 1;
}

/**
 * If the registry holds the root, records the anchor from the chain once it has its
 * confirmations. "absent": not on chain; "unconfirmed": on chain, too recent; a root on chain
 * under other data is a conflict for an operator.
 */
async function recordIfOnChain(
  ctx: AnchorContext,
  batch: BatchRow,
): Promise<"recorded" | "absent" | "unconfirmed"> {
  const registry = registryAt(ctx.registry, ctx.provider);
  const [timestamp, blockNumber, treeSize, batchNo] = (await registry.getFunction("anchorOf")(
    batch.root,
  )) as bigint[];
  if (treeSize === 0n) return "absent";
  if (treeSize !== BigInt(batch.tree_size) || batchNo !== BigInt(batch.id)) {
    throw new JobFailure(
      "ANCHOR_CONFLICT",
      `root ${batch.root} is anchored on chain as batch ${batchNo} of ${treeSize} leaves, not batch ${batch.id} of ${batch.tree_size}`,
      batch.id,
    );
  }
  const number = Number(blockNumber);
  if ((await ctx.provider.getBlockNumber()) - number + 1 < ctx.confirmations) return "unconfirmed";
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
      `UPDATE anchor_attempts
          SET state = CASE WHEN tx_hash = decode($2, 'hex') THEN 'mined' WHEN state = 'abandoned' THEN 'abandoned' ELSE 'dropped' END,
              settled_at = now()
        WHERE batch_id = $1 AND state IN ('sent', 'replaced', 'abandoned')`,
      [batch.id, log.transactionHash.slice(2)],
    );
  });
  ctx.log.info({ batch: batch.id, txHash: log.transactionHash, block: number }, "batch anchored");
  return "recorded";
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
