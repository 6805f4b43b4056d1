import { randomBytes } from "node:crypto";
import type { Queryable } from "../db/pool";
import { ServiceError } from "../errors";

// A tenant's webhook: one URL, registered by an operator (`tsd admin tenant webhook`), with a
// secret shown once. The secret is stored as it is: every delivery is signed with it.

/**
 * The URL as it will be called, or WEBHOOK_URL_INVALID: https://, or http:// to a loopback
 * address only (a receiver on the same machine: local use and tests), and no credentials.
 */
export function checkWebhookUrl(url: string): string {
  const refuse = (reason: string): never => {
    throw new ServiceError("WEBHOOK_URL_INVALID", `${reason}: ${url.slice(0, 200)}`);
  };
  if (url.length > 2000) refuse("a webhook URL may have at most 2000 characters");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse("not a URL");
  }
  if (parsed.username !== "" || parsed.password !== "") refuse("a webhook URL may not carry credentials");
  if (parsed.protocol === "http:") {
    // Plain HTTP would show the payload to anyone on the way; on loopback there is no way.
    if (!isLoopback(parsed.hostname)) refuse("http:// is allowed only to a loopback address; use https://");
  } else if (parsed.protocol !== "https:") refuse("a webhook URL must be https://");
  return parsed.href;
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/**
 * Registers `url` as the tenant's webhook, replacing any earlier one (URL and secret), and
 * returns the new signing secret (32 random bytes, base64url, shown this once) and the URL as
 * it will be called. Deliveries not yet made go to the new URL, signed with the new secret.
 */
export async function registerWebhook(
  db: Queryable,
  tenantId: string,
  url: string,
): Promise<{ secret: string; url: string }> {
  const href = checkWebhookUrl(url);
  const secret = randomBytes(32).toString("base64url");
  try {
    await db.query(
      `INSERT INTO webhooks (tenant_id, url, secret) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, created_at = now()`,
      [tenantId, href, secret],
    );
  } catch (e) {
    throw tenantError(e);
  }
  return { secret, url: href };
}

/**
 * Removes the tenant's webhook; false if it had none. Nothing more is sent, deliveries not yet
 * made included (they stay recorded, undelivered).
 */
export async function removeWebhook(db: Queryable, tenantId: string): Promise<boolean> {
  try {
    const { rows } = await db.query<{ removed: boolean; tenant: boolean }>(
      `WITH gone AS (DELETE FROM webhooks WHERE tenant_id = $1 RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM gone) AS removed, EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS tenant`,
      [tenantId],
    );
    if (!rows[0]?.tenant) throw new ServiceError("TENANT_NOT_FOUND");
    return rows[0].removed;
  } catch (e) {
    throw tenantError(e);
  }
}

/** A foreign key (no such tenant) or a tenant id that is no uuid: TENANT_NOT_FOUND. */
function tenantError(e: unknown): unknown {
  const code = (e as { code?: string }).code;
  return code === "23503" || code === "22P02"
    ? new ServiceError("TENANT_NOT_FOUND", undefined, { cause: e })
    : e;
}
