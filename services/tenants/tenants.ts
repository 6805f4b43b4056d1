import { createHash, randomBytes, randomUUID } from "node:crypto";
import { isDepositor } from "../core";
import type { Db, DbClient } from "../db/pool";

/** A pool or one client inside a transaction. */
type Queryable = Db | DbClient;
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

export async function createTenant(db: Queryable, name: string, depositor: string): Promise<Tenant> {
  if (!isDepositor(depositor)) {
    throw new ServiceError("VALIDATION_FAILED", "depositor must be 1-256 printable ASCII characters");
  }
  if (name.trim() === "") throw new ServiceError("VALIDATION_FAILED", "name must not be empty");
  const id = randomUUID();
  try {
    await db.query("INSERT INTO tenants (id, name, depositor) VALUES ($1, $2, $3)", [id, name, depositor]);
  } catch (e) {
    if ((e as { code?: string }).code === "23505")
      throw new ServiceError("DEPOSITOR_TAKEN", undefined, { cause: e });
    throw e;
  }
  return { id, name, depositor };
}

export async function listTenants(db: Db): Promise<Tenant[]> {
  const { rows } = await db.query<Tenant>("SELECT id, name, depositor FROM tenants ORDER BY created_at, id");
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
export async function revokeApiKey(db: Db, keyId: string): Promise<void> {
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

/** The tenant an unrevoked key belongs to, or null. */
export async function authenticate(db: Db, apiKey: string): Promise<Tenant | null> {
  if (!apiKey.startsWith(KEY_PREFIX) || apiKey.length > 100) return null;
  const { rows } = await db.query<Tenant>(
    `SELECT t.id, t.name, t.depositor FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashKey(apiKey)],
  );
  return rows[0] ?? null;
}
