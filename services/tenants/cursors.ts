import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import type { Db } from "../db/pool";
import { ServiceError } from "../errors";

// Cursors a tenant is given (pages of its deposits, the certificates feed) carry positions in
// global sequences: read in clear, they would show how much other tenants deposit. They are
// sealed with AES-256-GCM under a key the service keeps (service_secrets), with the tenant's
// id as associated data: opaque, unforgeable, and refused when another tenant presents them.
// The nonce is synthetic (an HMAC of tenant and position under a key derived from the cursor
// key), so one position always gives one cursor: a feed read twice, or a webhook retried,
// hands out the same string, and distinct positions never share a nonce.

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens one tenant's cursors. */
export class CursorSealer {
  private readonly ivKey: Buffer;

  private constructor(private readonly key: Buffer) {
    this.ivKey = createHmac("sha256", key).update("tsd cursor nonce").digest();
  }

  /** The service's cursor key, from PostgreSQL (made by a migration, read once). */
  static async load(db: Db): Promise<CursorSealer> {
    const { rows } = await db.query<{ value: Buffer }>(
      "SELECT value FROM service_secrets WHERE name = 'cursor'",
    );
    const value = rows[0]?.value;
    if (!value) throw new Error("service_secrets has no cursor key: the database is not migrated");
    return new CursorSealer(value.subarray(0, 32));
  }

  /** An opaque cursor for `tenantId` carrying `position`. */
  seal(tenantId: string, position: string): string {
    const iv = createHmac("sha256", this.ivKey)
      .update(`${tenantId}\u0000${position}`, "utf8")
      .digest()
      .subarray(0, IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(tenantId, "utf8"));
    const body = Buffer.concat([cipher.update(position, "utf8"), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
  }

  /** The position in a cursor this service sealed for `tenantId`; CURSOR_INVALID otherwise. */
  open(tenantId: string, cursor: string): string {
    const bytes = Buffer.from(cursor, "base64url");
    // Node's base64 decoder skips stray characters; only the exact encoding is one we issued.
    if (bytes.length < IV_BYTES + TAG_BYTES + 1 || bytes.toString("base64url") !== cursor) {
      throw new ServiceError("CURSOR_INVALID");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(tenantId, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      throw new ServiceError("CURSOR_INVALID");
    }
  }
}

/** The sealer of `db`'s key, loaded on first use (and again after a failure: the database may be down). */
export function cursorSealerOf(db: Db): () => Promise<CursorSealer> {
  let loading: Promise<CursorSealer> | undefined;
  return () => {
    loading ??= CursorSealer.load(db).catch((e: unknown) => {
      loading = undefined;
      throw e;
    });
    return loading;
  };
}
