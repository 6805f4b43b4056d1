import { Job, type Queue } from "bullmq";
import type { Queryable } from "../db/pool";
import { ServiceError } from "../errors";
import type { JobQueues } from "./queues";

// `tsd admin redrive BATCH`: the batch's next job, asked for now rather than at the next sweep.
// A job already waiting or running for it is left alone; one waiting out a retry's backoff is
// started at once; one whose attempts ran out is tried again; else a new one is added.

export interface Redriven {
  batch: number;
  state: "sealed" | "anchored";
  /** The queue of the batch's next job. */
  queue: "anchor" | "attest";
  /** What was done to the queue. */
  how: "added" | "promoted" | "retried" | "already waiting";
}

/**
 * Redrives batch `id`; within a transaction, the batch row stays locked until it commits.
 * BATCH_NOT_FOUND, BATCH_BLOCKED (unblock it first), BATCH_CERTIFIED (nothing to do).
 */
export async function redriveBatch(db: Queryable, queues: JobQueues, id: number): Promise<Redriven> {
  const { rows } = await db.query<{ state: string; blocked: boolean }>(
    "SELECT state, blocked_reason IS NOT NULL AS blocked FROM batches WHERE id = $1 FOR UPDATE",
    [id],
  );
  const batch = rows[0];
  if (!batch) throw new ServiceError("BATCH_NOT_FOUND");
  if (batch.blocked) throw new ServiceError("BATCH_BLOCKED");
  if (batch.state === "certified") throw new ServiceError("BATCH_CERTIFIED");
  const state = batch.state as "sealed" | "anchored";
  // A sealed batch waits for the anchor sender's pass, which looks at every waiting batch.
  const [queue, dedup, add] =
    state === "sealed"
      ? (["anchor", "anchor", () => queues.requestAnchorPass()] as const)
      : (["attest", `attest-${id}`, () => queues.requestAttest(id)] as const);
  const how = await nudge(queues.queues[queue], dedup, add);
  return { batch: id, state, queue, how };
}

async function nudge(queue: Queue, dedup: string, add: () => Promise<void>): Promise<Redriven["how"]> {
  const jobId = await queue.getDeduplicationJobId(dedup);
  const job = jobId ? await Job.fromId(queue, jobId) : undefined;
  const state = job ? await job.getState() : "unknown";
  if (job && state === "delayed") {
    await job.promote();
    return "promoted";
  }
  if (job && state === "failed") {
    await job.retry("failed");
    return "retried";
  }
  if (job && (state === "waiting" || state === "active" || state === "prioritized")) return "already waiting";
  // None, or one finished: the deduplication key is stale or gone.
  if (jobId) await queue.removeDeduplicationKey(dedup);
  await add();
  return "added";
}
