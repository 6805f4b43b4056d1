import { UnrecoverableError, Worker, type Processor } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { AnchorConflictError, anchorBatch, type AnchorContext } from "../anchor/anchor";
import { attestBatch, type AttestContext } from "../attest/attest";
import type { Db } from "../db/pool";
import { sealBatch } from "../seal/seal";
import type { BatchJob, JobQueues, QueueName } from "./queues";
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
  sweepIntervalMs: number;
  log: Logger;
}

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs, lets running ones finish, and stops the schedule timer. */
  close(): Promise<void>;
}

/** Starts the seal, anchor, attest and sweep workers of this process. */
export async function startWorkers(ctx: WorkerContext): Promise<RunningWorkers> {
  const log = ctx.log;
  const anchorCtx: AnchorContext = { ...ctx.anchor, db: ctx.db, log };
  const attestCtx: AttestContext = { ...ctx.attest, db: ctx.db, provider: ctx.anchor.provider, log };

  const processors: Record<QueueName, { run: Processor; concurrency: number }> = {
    seal: {
      concurrency: 1,
      run: async () => {
        const batch = await sealBatch(ctx.db, ctx.batchMax);
        if (!batch) return null;
        log.info({ batch: batch.id, leaves: batch.treeSize, root: batch.root }, "batch sealed");
        await ctx.queues.requestAnchor(batch.id);
        if (batch.more) await ctx.queues.requestSeal();
        else await ctx.queues.clearPendingHint();
        return batch;
      },
    },
    anchor: {
      concurrency: 4,
      run: async (job) => {
        const { batchId } = job.data as BatchJob;
        try {
          if (await anchorBatch(anchorCtx, batchId)) await ctx.queues.requestAttest(batchId);
        } catch (e) {
          if (e instanceof AnchorConflictError) throw new UnrecoverableError(e.message);
          throw e;
        }
      },
    },
    attest: {
      concurrency: 4,
      run: async (job) => {
        await attestBatch(attestCtx, (job.data as BatchJob).batchId);
      },
    },
    sweep: {
      concurrency: 1,
      run: async () => sweep({ db: ctx.db, provider: ctx.anchor.provider, queues: ctx.queues, log }),
    },
  };

  const workers = (Object.entries(processors) as [QueueName, { run: Processor; concurrency: number }][]).map(
    ([name, p]) => {
      const worker = new Worker(name, p.run, {
        connection: ctx.redis,
        prefix: ctx.queues.prefix,
        concurrency: p.concurrency,
      });
      worker.on("failed", (job, err) =>
        log.warn({ queue: name, job: job?.id, attempts: job?.attemptsMade, err: err.message }, "job failed"),
      );
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
