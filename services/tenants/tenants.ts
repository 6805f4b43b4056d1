import { createHash, randomBytes, randomUUID } from "node:crypto";
import { depositorLookalikeKey, parseDepositor } from "./identity";
import type { Db, Queryable } from "../db/pool";

/** A pool or one client inside a transaction. */
import { ServiceError } from "../errors";

// Tenants (depositing enterprises) and their API keys. A key is shown once, at creation;
// only its SHA-256 is stored.

export interface Tenant {
  id: string;
  name: string;
  depositor: string;
}

export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  /** The first characters of the key, to tell keys apart in listings. */
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

const KEY_PREFIX = "tsd_";

function hashKey(apiKey: string): Buffer {
  return createHash("sha256").update(apiKey, "utf8").digest();
}

/**
 * Creates a tenant. The depositor is printed on every certificate, so it must be canonical and
 * checked (services/tenants/identity.ts: DEPOSITOR_INVALID with the reason, and a "did you
 * mean" when there is one), and may not look like another tenant's (DEPOSITOR_TAKEN).
 */
export async function createTenant(db: Queryable, name: string, depositor: string): Promise<Tenant> {
  const parsed = parseDepositor(depositor);
  if (!parsed.ok) throw new ServiceError("DEPOSITOR_INVALID", parsed.reason);
  if (name.trim() === "") throw new ServiceError("VALIDATION_FAILED", "name must not be empty");
  const key = depositorLookalikeKey(parsed.depositor);
  // Tenants from before look-alike keys existed get theirs now; then the UNIQUE key decides.
  const { rows: unkeyed } = await db.query<{ id: string; depositor: string }>(
    "SELECT id, depositor FROM tenants WHERE depositor_key IS NULL",
  );
  for (const t of unkeyed) {
    await db.query("UPDATE tenants SET depositor_key = $2 WHERE id = $1", [
      t.id,
      depositorLookalikeKey(t.depositor),
    ]);
  }
  const id = randomUUID();
  try {
    await db.query("INSERT INTO tenants (id, name, depositor, depositor_key) VALUES ($1, $2, $3, $4)", [
      id,
      name,
      parsed.depositor,
      key,
    ]);
  } catch (e) {
    if ((e as { code?: string }).code === "23505")
      throw new ServiceError("DEPOSITOR_TAKEN", undefined, { cause: e });
    throw e;
  }
  return { id, name, depositor: parsed.depositor };
}

export async function listTenants(db: Db): Promise<(Tenant & { disabled: boolean })[]> {
  const { rows } = await db.query<Tenant & { disabled: boolean }>(
    "SELECT id, name, depositor, disabled_at IS NOT NULL AS disabled FROM tenants ORDER BY created_at, id",
  );
  return rows;
}

/** Creates a key for `tenantId`; the returned `apiKey` is the only time the key exists in clear. */
export async function createApiKey(
  db: Queryable,
  tenantId: string,
): Promise<{ keyId: string; apiKey: string }> {
  const apiKey = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  const keyId = randomUUID();
  try {
    await db.query("INSERT INTO api_keys (id, tenant_id, key_hash, prefix) VALUES ($1, $2, $3, $4)", [
      keyId,
      tenantId,
      hashKey(apiKey),
      apiKey.slice(0, KEY_PREFIX.length + 6),
    ]);
  } catch (e) {
    // 23503: foreign key (no such tenant); 22P02: not a uuid
    const code = (e as { code?: string }).code;
    if (code === "23503" || code === "22P02")
      throw new ServiceError("TENANT_NOT_FOUND", undefined, { cause: e });
    throw e;
  }
  return { keyId, apiKey };
}

/** Revokes a key at once; revoking twice is harmless. */
export async function revokeApiKey(db: Queryable, keyId: string): Promise<void> {
  const { rowCount } = await db
    .query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", [keyId])
    .catch((e: { code?: string }) => {
      if (e.code === "22P02") return { rowCount: 0 };
      throw e;
    });
  if (rowCount === 0) throw new ServiceError("API_KEY_NOT_FOUND");
}

export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<ApiKeyInfo>(
    `SELECT id, tenant_id AS "tenantId", prefix, created_at AS "createdAt", revoked_at AS "revokedAt"
       FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`,
    [tenantId],
  );
  return rows;
}

/** The tenant an unrevoked key belongs to (`disabled` when an operator disabled it), or null. */
export async function authenticate(db: Db, apiKey: string): Promise<(Tenant & { disabled: boolean }) | null> {
  if (!apiKey.startsWith(KEY_PREFIX) || apiKey.length > 100) return null;
  const { rows } = await db.query<Tenant & { disabled: boolean }>(
    `SELECT t.id, t.name, t.depositor, t.disabled_at IS NOT NULL AS disabled
       FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashKey(apiKey)],
  );
  return rows[0] ?? null;
}

/**
 * Disables or enables a tenant (`tsd admin tenant disable|enable`). A disabled tenant's keys
 * are refused with 403 TENANT_DISABLED; nothing of its deposits or certificates changes, and
 * they stay verifiable by anyone. Returns whether anything changed. TENANT_NOT_FOUND.
 */
export async function setTenantDisabled(
  db: Queryable,
  tenantId: string,
  disabled: boolean,
): Promise<boolean> {
  const { rows } = await db
    .query<{ was: boolean }>(
      `UPDATE tenants t SET disabled_at = CASE WHEN $2 THEN coalesce(t.disabled_at, now()) END
         FROM tenants old WHERE old.id = t.id AND t.id = $1
       RETURNING old.disabled_at IS NOT NULL AS was`,
      [tenantId, disabled],
    )
    .catch((e: { code?: string }) => {
      if (e.code === "22P02") return { rows: [] }; // not a uuid
      throw e;
    });
  const row = rows[0];
  if (!row) throw new ServiceError("TENANT_NOT_FOUND");
  return row.was !== disabled;
}
