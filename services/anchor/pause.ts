import type { Queryable } from "../db/pool";

// Anchoring paused by an operator (`tsd admin pause`, migration 1765310000000): a row in
// PostgreSQL that every pass of the anchor sender reads first, so every process honours it
// from its next pass on. While paused no new anchoring transaction is signed; transactions
// already in flight are still followed to their end (re-sent, recorded once mined), since
// they may be mined anyway. Deposits keep being accepted and sealed.

export interface AnchoringPause {
  since: Date;
  actor: string;
  reason: string | null;
}

/** The pause in force, or null when anchoring runs. */
export async function anchoringPause(db: Queryable): Promise<AnchoringPause | null> {
  const { rows } = await db.query<AnchoringPause>("SELECT since, actor, reason FROM anchoring_pause");
  return rows[0] ?? null;
}

/** Pauses anchoring; false when it was paused already (the first pause stands). */
export async function pauseAnchoring(db: Queryable, actor: string, reason?: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "INSERT INTO anchoring_pause (actor, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    [actor, reason ?? null],
  );
  return rowCount === 1;
}

/** Resumes anchoring; returns the pause it lifted, or null when anchoring was not paused. */
export async function resumeAnchoring(db: Queryable): Promise<AnchoringPause | null> {
  const { rows } = await db.query<AnchoringPause>(
    "DELETE FROM anchoring_pause RETURNING since, actor, reason",
  );
  return rows[0] ?? null;
}
