import pg from "pg";
import type { Logger } from "pino";

// bigint columns (int8) come back as strings by default; every bigint here (sequence numbers,
// block numbers, timestamps) is far below 2^53, so numbers are safe and simpler.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

/** A pool for `url`; errors on idle clients are logged instead of crashing the process. */
export function createPool(url: string, size: number, log: Logger): Db {
  const pool = new pg.Pool({ connectionString: url, max: size, connectionTimeoutMillis: 5000 });
  pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL client failed"));
  return pool;
}

/** Runs `fn` in one transaction, committing on success and rolling back on any throw. */
export async function inTransaction<T>(db: Db, fn: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/** True for errors that mean PostgreSQL is unreachable or going away (not a bad query). */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") {
    // Class 08 connection exceptions, 57P admin shutdown/crash, and socket-level errors.
    return (
      code.startsWith("08") ||
      code.startsWith("57P") ||
      ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"].includes(code)
    );
  }
  // pg-pool's "no connection within connectionTimeoutMillis" carries no code: its message is
  // the only mark it has (pg-pool 3).
  return e instanceof Error && e.message === "timeout exceeded when trying to connect";
}

/** True for PostgreSQL's data exceptions (class 22): a value the database cannot store. */
export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("22");
}
