import type { Queryable } from "../db/pool";
import { anchoringPause, type AnchoringPause } from "./pause";

// `tsd admin lag`: how far anchoring is behind, from PostgreSQL (the chain's part, the
// anchoring key's balance, is read by the CLI).

export interface Lag {
  /** Deposits accepted and not yet in a batch. */
  pendingDeposits: number;
  /** Age of the oldest of them, seconds; null when none waits. */
  oldestPendingAgeS: number | null;
  /** Batches by state, blocked ones counted apart. */
  batches: { sealed: number; anchored: number; blocked: number };
  /** The latest recorded anchor, or null before the first. */
  lastAnchor: {
    batch: number;
    blockNumber: number;
    txHash: string;
    anchoredAt: Date;
    ageS: number;
  } | null;
  paused: AnchoringPause | null;
}

export async function anchoringLag(db: Queryable): Promise<Lag> {
  const pending = await db.query<{ n: number; oldest: number | null }>(
    `SELECT count(*)::int AS n,
            (extract(epoch FROM now()) * 1000 - min(received_at)) / 1000 AS oldest FROM pending`,
  );
  const batches = await db.query<{ sealed: number; anchored: number; blocked: number }>(
    `SELECT count(*) FILTER (WHERE state = 'sealed' AND blocked_reason IS NULL)::int AS sealed,
            count(*) FILTER (WHERE state = 'anchored' AND blocked_reason IS NULL)::int AS anchored,
            count(*) FILTER (WHERE blocked_reason IS NOT NULL)::int AS blocked
       FROM batches WHERE state <> 'certified'`,
  );
  const last = await db.query<{
    batch: number;
    block_number: number;
    tx_hash: string;
    anchored_at: Date;
    age: number;
  }>(
    `SELECT id AS batch, block_number, '0x' || encode(tx_hash, 'hex') AS tx_hash, anchored_at,
            extract(epoch FROM now() - anchored_at) AS age
       FROM batches WHERE anchored_at IS NOT NULL ORDER BY anchored_at DESC, id DESC LIMIT 1`,
  );
  const p = pending.rows[0] as { n: number; oldest: number | null };
  const l = last.rows[0];
  return {
    pendingDeposits: p.n,
    oldestPendingAgeS: p.oldest === null ? null : Math.max(0, Math.round(Number(p.oldest))),
    batches: batches.rows[0] as Lag["batches"],
    lastAnchor: l
      ? {
          batch: l.batch,
          blockNumber: l.block_number,
          txHash: l.tx_hash,
          anchoredAt: l.anchored_at,
          ageS: Math.max(0, Math.round(Number(l.age))),
        }
      : null,
    paused: await anchoringPause(db),
  };
}
