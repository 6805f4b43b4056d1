import type { Queryable } from "../db/pool";

// The audit trail of administrative actions (migration 1765200000000): append-only for the
// service's role, one row per change, written in the transaction that makes the change.

export interface AuditEntry {
  actor: string;
  action: string;
  subject: string;
  details?: Record<string, unknown>;
}

export interface AuditRow extends Required<AuditEntry> {
  id: number;
  at: Date;
}

export async function recordAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query("INSERT INTO audit (actor, action, subject, details) VALUES ($1, $2, $3, $4)", [
    entry.actor,
    entry.action,
    entry.subject,
    JSON.stringify(entry.details ?? {}),
  ]);
}

/** The newest `limit` rows, newest first. */
export async function auditTrail(db: Queryable, limit: number): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id::int AS id, at, actor, action, coalesce(subject, '') AS subject, details
       FROM audit ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return rows;
}
