import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

// Redis carries triggers only (DESIGN section 2): a job names what to look at (a batch id,
// or nothing), and the worker re-reads everything from PostgreSQL. Losing a job loses no
// work: the sweeper finds it again.

export const QUEUE_NAMES = ["seal", "anchor", "attest", "sweep"] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** What a batch job carries: the id, nothing else. */
export interface BatchJob {
  batchId: number;
}

const JOB_DEFAULTS: JobsOptions = {
  attempts: 8,
  backoff: { type: "exponential", delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 5000 },
};

/** The four queues, and the only ways the service adds jobs to them. */
export class JobQueues {
  readonly queues: Record<QueueName, Queue>;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    private readonly log: Logger,
  ) {
    const make = (name: QueueName) =>
      new Queue(name, { connection: redis, prefix, defaultJobOptions: JOB_DEFAULTS });
    this.queues = {
      seal: make("seal"),
      anchor: make("anchor"),
      attest: make("attest"),
      sweep: make("sweep"),
    };
  }

  /** Asks for a seal soon. While one runs, at most one more is kept waiting. */
  async requestSeal(): Promise<void> {
    await this.queues.seal.add("seal", {}, { deduplication: { id: "seal", keepLastIfActive: true } });
  }

  /** Asks for batch `batchId` to be anchored; a request already waiting or running absorbs it. */
  async requestAnchor(batchId: number): Promise<void> {
    await this.queues.anchor.add("anchor", { batchId } satisfies BatchJob, {
      deduplication: { id: `anchor-${batchId}` },
    });
  }

  async requestAttest(batchId: number): Promise<void> {
    await this.queues.attest.add("attest", { batchId } satisfies BatchJob, {
      deduplication: { id: `attest-${batchId}` },
    });
  }

  /**
   * Sets up the periodic seal and sweep. Idempotent: called at every worker start and again
   * each sweep interval, so a Redis that lost its data (it keeps nothing on disk) heals itself.
   */
  async ensureSchedules(sealIntervalMs: number, sweepIntervalMs: number): Promise<void> {
    await this.queues.seal.upsertJobScheduler("seal-every", { every: sealIntervalMs }, { name: "seal" });
    await this.queues.sweep.upsertJobScheduler("sweep-every", { every: sweepIntervalMs }, { name: "sweep" });
  }

  /**
   * Counts newly accepted deposits in a Redis hint; once `batchMax` wait, asks for a seal at
   * once instead of at the next tick. Best effort: a Redis fault never fails a deposit.
   */
  async notePending(count: number, batchMax: number): Promise<void> {
    try {
      const waiting = await this.redis.incrby(this.hintKey, count);
      if (waiting >= batchMax) await this.requestSeal();
    } catch (err) {
      this.log.warn(
        { err },
        "could not note pending deposits in Redis; the scheduled seal will pick them up",
      );
    }
  }

  /** Resets the hint after a seal that left nothing pending. */
  async clearPendingHint(): Promise<void> {
    await this.redis.set(this.hintKey, 0);
  }

  private get hintKey(): string {
    return `${this.prefix}:hint:pending`;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
