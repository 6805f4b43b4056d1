import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF } from "../webhooks/retry";

// Redis carries triggers only (protocol.md section 1): a job names what to look at (a batch id,
// or nothing), and the worker re-reads everything from PostgreSQL. Losing a job loses no
// work: the sweeper finds it again.

export const QUEUE_NAMES = ["seal", "anchor", "attest", "sweep", "webhook"] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** What a batch job carries: the id, nothing else. */
export interface BatchJob {
  batchId: number;
}

/** What a webhook job carries: the delivery id (services/webhooks). */
export interface WebhookJob {
  deliveryId: number;
}

const JOB_DEFAULTS: JobsOptions = {
  attempts: 8,
  backoff: { type: "exponential", delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 5000 },
};

/** The queues, and the only ways the service adds jobs to them. */
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
      webhook: make("webhook"),
    };
    for (const name of QUEUE_NAMES) {
      const started = () => this.started.add(name);
      this.queues[name].waitUntilReady().then(started, started);
    }
  }

  /** Queues whose start-up on the connection has settled, either way (see close). */
  private readonly started = new Set<QueueName>();

  /** Asks for a seal, now or after `delayMs`. While one runs, at most one more is kept waiting. */
  async requestSeal(delayMs = 0): Promise<void> {
    await this.queues.seal.add(
      "seal",
      {},
      { deduplication: { id: "seal", keepLastIfActive: true }, ...(delayMs > 0 ? { delay: delayMs } : {}) },
    );
  }

  /** Asks for a sweep now (e.g. after the local chain restarted and may have lost blocks). */
  async requestSweep(): Promise<void> {
    await this.queues.sweep.add("sweep", {}, { deduplication: { id: "sweep" } });
  }

  /**
   * Asks for a pass of the anchoring sender (it looks at every batch waiting and every
   * transaction in flight), now or after `delayMs`. While one runs, at most one more waits.
   */
  async requestAnchorPass(delayMs = 0): Promise<void> {
    await this.queues.anchor.add(
      "anchor",
      {},
      { deduplication: { id: "anchor", keepLastIfActive: true }, ...(delayMs > 0 ? { delay: delayMs } : {}) },
    );
  }

  async requestAttest(batchId: number): Promise<void> {
    await this.queues.attest.add("attest", { batchId } satisfies BatchJob, {
      deduplication: { id: `attest-${batchId}` },
    });
  }

  /**
   * Asks for webhook delivery `deliveryId` to be sent; a request already waiting, running or
   * waiting for its retry absorbs it. The worker computes the waits between attempts.
   */
  async requestWebhook(deliveryId: number): Promise<void> {
    await this.queues.webhook.add("webhook", { deliveryId } satisfies WebhookJob, {
      deduplication: { id: `webhook-${deliveryId}` },
      attempts: WEBHOOK_ATTEMPTS,
      backoff: { type: WEBHOOK_BACKOFF },
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

  /**
   * Closes the queues whose start-up on the shared connection has settled. One still starting
   * (Redis unreachable) is left to end with the connection: BullMQ 5 closing it drops its
   * listeners first, and the start-up failing afterwards surfaces as an unhandled rejection
   * (connect ECONNREFUSED), which ends a Node process. Holding nothing but listeners on the
   * shared client, it goes when the client does.
   */
  async close(): Promise<void> {
    await Promise.all(
      QUEUE_NAMES.filter((name) => this.started.has(name)).map((name) => this.queues[name].close()),
    );
  }
}
