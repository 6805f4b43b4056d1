import type { Queryable } from "../db/pool";
import type { JobQueues } from "../jobs/queues";
import { metrics } from "./metrics";

// The installation's backlog, read when /metrics is scraped: the same answer from every
// process, because it comes from PostgreSQL and Redis, not from this process's memory.

export interface StateSources {
  db: Queryable;
  queues?: JobQueues;
  /** The anchoring key's balance in wei, if this process can ask the chain for it. */
  anchorerBalance?: () => Promise<bigint>;
}

const QUEUE_STATES = ["waiting", "active", "delayed", "failed"] as const;

/** Sets the scrape-time gauges; a source that cannot be reached leaves its gauges as they were. */
export async function collectState(sources: StateSources, now = Date.now()): Promise<void> {
  const { rows } = await sources.db.query<{
    pending: string;
    oldest_pending: string | null;
    in_batches: string;
    oldest_batch: Date | null;
    sealed: string;
    anchored: string;
    blocked: string;
    last_anchor: Date | null;
  }>(
    `SELECT (SELECT count(*) FROM pending) AS pending,
            (SELECT received_at FROM pending ORDER BY seq LIMIT 1) AS oldest_pending,
            coalesce(sum(tree_size) FILTER (WHERE state <> 'certified'), 0) AS in_batches,
            min(sealed_at) FILTER (WHERE state <> 'certified') AS oldest_batch,
            count(*) FILTER (WHERE state = 'sealed' AND blocked_reason IS NULL) AS sealed,
            count(*) FILTER (WHERE state = 'anchored' AND blocked_reason IS NULL) AS anchored,
            count(*) FILTER (WHERE blocked_reason IS NOT NULL) AS blocked,
            (SELECT max(anchored_at) FROM batches WHERE block_number IS NOT NULL) AS last_anchor
       FROM batches WHERE state <> 'certified'`,
  );
  const r = rows[0]!;
  metrics.pendingDeposits.set(Number(r.pending) + Number(r.in_batches));
  const oldest = Math.min(
    r.oldest_pending === null ? now : Number(r.oldest_pending),
    r.oldest_batch === null ? now : r.oldest_batch.getTime(),
  );
  metrics.pendingAgeSeconds.set(Math.max(0, (now - oldest) / 1000));
  metrics.batchesByState.set({ state: "sealed" }, Number(r.sealed));
  metrics.batchesByState.set({ state: "anchored" }, Number(r.anchored));
  metrics.batchesByState.set({ state: "blocked" }, Number(r.blocked));
  metrics.lastAnchorAgeSeconds.set(r.last_anchor === null ? -1 : (now - r.last_anchor.getTime()) / 1000);

  if (sources.queues) {
    await Promise.all(
      Object.entries(sources.queues.queues).map(async ([name, queue]) => {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) metrics.queueJobs.set({ queue: name, state }, counts[state] ?? 0);
      }),
    ).catch(() => undefined); // Redis down: the queue gauges keep their last values
  }
  if (sources.anchorerBalance) {
    const balance = await sources.anchorerBalance().catch(() => undefined);
    if (balance !== undefined) metrics.anchorerBalanceWei.set(Number(balance));
  }
}
