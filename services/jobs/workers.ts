import { UnrecoverableError, Worker, type AdvancedOptions, type Processor } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { anchorTick, type AnchorContext } from "../anchor/anchor";
import { attestBatch, type AttestContext } from "../attest/attest";
import type { Db } from "../db/pool";
import { metrics } from "../metrics/metrics";
import { observeAnchored, observeCertified } from "../metrics/observe";
import { sealBatch } from "../seal/seal";
import { WEBHOOK_BACKOFF, webhookRetryDelayMs } from "../webhooks/retry";
import { cursorSealerOf } from "../tenants/cursors";
import { sendDelivery, type WebhookSendContext } from "../webhooks/send";
import { JobFailure } from "./failures";
import type { BatchJob, JobQueues, QueueName, WebhookJob } from "./queues";
import { sweep } from "./sweeper";

export interface WorkerContext {
  db: Db;
  /** A connection with maxRetriesPerRequest: null, as BullMQ workers need. */
  redis: Redis;
  queues: JobQueues;
  anchor: Omit<AnchorContext, "db" | "log">;
  attest: Omit<AttestContext, "db" | "log" | "provider">;
  batchMax: number;
  sealIntervalMs: number;
  /** See SealOptions.marginMs. */
  sealMarginMs: number;
  sweepIntervalMs: number;
  /** See ReconcileContext. */
  reconcileWindowMs: number;
  missingGraceMs: number;
  /** Webhook deliveries: their own worker, so a slow receiver never holds up a batch. */
  webhook: {
    /** POSTs in flight at once in this process. */
    concurrency: number;
    /** How long one POST may take. */
    timeoutMs: number;
    /** The wait before the first retry; it doubles each time (services/webhooks/retry.ts). */
    retryBaseMs: number;
  };
  log: Logger;
}

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs, lets running ones finish, and stops the schedule timer. */
  close(): Promise<void>;
}

/** Starts the seal, anchor, attest, sweep and webhook workers of this process. */
export async function startWorkers(ctx: WorkerContext): Promise<RunningWorkers> {
  const log = ctx.log;
  const anchorCtx: AnchorContext = { ...ctx.anchor, db: ctx.db, log };
  const attestCtx: AttestContext = {
    ...ctx.attest,
    db: ctx.db,
    provider: ctx.anchor.provider,
    webhooks: ctx.queues,
    log,
  };
  const webhookCtx: WebhookSendContext = {
    db: ctx.db,
    cursors: cursorSealerOf(ctx.db),
    timeoutMs: ctx.webhook.timeoutMs,
    log,
  };

  const processors: Record<QueueName, { run: Processor; concurrency: number; settings?: AdvancedOptions }> = {
    seal: {
      concurrency: 1,
      run: async () => {
        const { batch, again } = await sealBatch(ctx.db, ctx.batchMax, { marginMs: ctx.sealMarginMs });
        if (batch) {
          log.info({ batch: batch.id, leaves: batch.treeSize, root: batch.root }, "batch sealed");
          metrics.batchesSealed.inc();
          metrics.batchSize.observe(batch.treeSize);
          await ctx.queues.requestAnchorPass();
        }
        if (again === "now") await ctx.queues.requestSeal();
        else if (again !== null) await ctx.queues.requestSeal(Math.max(0, again - Date.now()));
        else await ctx.queues.clearPendingHint();
        return batch;
      },
    },
    anchor: {
      // One sender per key: passes run one at a time here, and a lease in PostgreSQL keeps
      // other processes' passes out while one runs.
      concurrency: 1,
      run: async () => {
        const report = await anchorTick(anchorCtx);
        if (!report) {
          await ctx.queues.requestAnchorPass(1000); // another process is sending: look again soon
          return null;
        }
        for (const id of report.anchored) await ctx.queues.requestAttest(id);
        await observeAnchored(ctx.db, ctx.anchor.provider, report.anchored);
        if (report.more) await ctx.queues.requestAnchorPass(ctx.anchor.provider.pollingInterval);
        return report;
      },
    },
    attest: {
      concurrency: 4,
      run: async (job) => {
        const { batchId } = job.data as BatchJob;
        if (await attestBatch(attestCtx, batchId)) await observeCertified(ctx.db, batchId);
      },
    },
    sweep: {
      concurrency: 1,
      run: async () =>
        sweep({
          db: ctx.db,
          provider: ctx.anchor.provider,
          queues: ctx.queues,
          log,
          reconcileWindowMs: ctx.reconcileWindowMs,
          missingGraceMs: ctx.missingGraceMs,
        }),
    },
    webhook: {
      concurrency: ctx.webhook.concurrency,
      run: async (job) => sendDelivery(webhookCtx, (job.data as WebhookJob).deliveryId),
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === WEBHOOK_BACKOFF ? webhookRetryDelayMs(attemptsMade, ctx.webhook.retryBaseMs) : -1,
      },
    },
  };

  const workers = (Object.entries(processors) as [QueueName, (typeof processors)[QueueName]][]).map(
    ([name, p]) => {
      const worker = new Worker(name, (job) => settleFailures(ctx.db, log, () => p.run(job)), {
        connection: ctx.redis,
        prefix: ctx.queues.prefix,
        concurrency: p.concurrency,
        ...(p.settings ? { settings: p.settings } : {}),
      });
      worker.on("failed", (job, err) => {
        metrics.jobFailures.inc({ queue: name });
        log.warn({ queue: name, job: job?.id, attempts: job?.attemptsMade, err: err.message }, "job failed");
      });
      worker.on("error", (err) => log.error({ queue: name, err }, "worker error"));
      return worker;
    },
  );

  const schedule = () =>
    ctx.queues
      .ensureSchedules(ctx.sealIntervalMs, ctx.sweepIntervalMs)
      .catch((err: unknown) => log.warn({ err }, "could not set up job schedules; will retry"));
  await schedule();
  const timer = setInterval(schedule, ctx.sweepIntervalMs);
  timer.unref();

  return {
    workers,
    async close() {
      clearInterval(timer);
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/**
 * Runs a job and applies FAILURE_POLICY to what it throws: a blocked batch is recorded (the
 * sweeper then leaves it to an operator), and neither a block nor a stop is retried. Any
 * other error is retried with the queue's backoff.
 */
export async function settleFailures<T>(db: Db, log: Logger, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof JobFailure) || e.policy === "retry") throw e;
    if (e.policy === "block" && e.batchId !== undefined) {
      await db.query("UPDATE batches SET blocked_reason = $2 WHERE id = $1", [
        e.batchId,
        `${e.code}: ${e.message}`,
      ]);
      log.error(
        { batch: e.batchId, code: e.code, reason: e.message },
        "batch blocked: an operator must look",
      );
    }
    throw new UnrecoverableError(`${e.code}: ${e.message}`);
  }
}
