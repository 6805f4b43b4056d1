import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { reconcileAnchors } from "../anchor/reconcile";
import type { Db } from "../db/pool";
import { deliveriesToResend } from "../webhooks/deliveries";
import { WEBHOOK_ATTEMPTS } from "../webhooks/retry";
import type { JobQueues } from "./queues";

// The sweeper (protocol.md section 1): re-drives whatever a lost job left behind, from
// PostgreSQL alone, and has recorded anchors checked against the chain.

export interface SweepContext {
  db: Db;
  provider: JsonRpcProvider;
  queues: JobQueues;
  log: Logger;
  /** See ReconcileContext. */
  reconcileWindowMs: number;
  missingGraceMs: number;
}

export async function sweep(
  ctx: SweepContext,
): Promise<{ anchor: number; attest: number; sentBack: number; webhooks: number }> {
  // The chain being unreachable must not stop the rest: sealing needs no chain.
  const sentBack = await reconcileAnchors({
    db: ctx.db,
    provider: ctx.provider,
    log: ctx.log,
    requestAnchor: () => ctx.queues.requestAnchorPass(),
    windowMs: ctx.reconcileWindowMs,
    missingGraceMs: ctx.missingGraceMs,
  }).catch((err: unknown) => {
    ctx.log.warn({ err }, "could not check recorded anchors against the chain; will retry");
    return [];
  });
  const { rows } = await ctx.db.query<{ id: number; state: string }>(
    "SELECT id, state FROM batches WHERE state <> 'certified' AND blocked_reason IS NULL ORDER BY id LIMIT 1000",
  );
  let anchor = 0;
  let attest = 0;
  for (const b of rows) {
    if (b.state === "sealed") anchor++;
    else {
      await ctx.queues.requestAttest(b.id);
      attest++;
    }
  }
  if (anchor > 0) await ctx.queues.requestAnchorPass();
  const pending = await ctx.db.query("SELECT 1 FROM pending LIMIT 1");
  if ((pending.rowCount ?? 0) > 0) await ctx.queues.requestSeal();
  // Undelivered webhooks with attempts left: a live job absorbs the request, a lost one is replaced.
  const webhooks = await deliveriesToResend(ctx.db, WEBHOOK_ATTEMPTS, 1000);
  await Promise.all(webhooks.map((id) => ctx.queues.requestWebhook(id)));
  return { anchor, attest, sentBack: sentBack.length, webhooks: webhooks.length };
}
