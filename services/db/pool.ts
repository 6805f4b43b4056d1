import pg from "pg";
import type { Logger } from "pino";

// bigint columns (int8) come back as strings by default; every bigint here (sequence numbers,
// block numbers, timestamps) is far below 2^53, so numbers are safe and simpler.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;
/** A pool or a client inside a transaction: what one statement needs. */
export type Queryable = Db | DbClient;

export interface PoolOptions {
  /** The role every connection takes at start (DATABASE_ROLE). */
  role?: string;
  /** PostgreSQL's statement_timeout for every statement, ms. */
  statementTimeoutMs?: number;
}

/**
 * A pool for `url`; errors on idle clients are logged instead of crashing the process. The
 * role and the statement timeout are start-up options of each connection, so no statement can
 * run before they hold.
 */
export function createPool(url: string, size: number, log: Logger, o: PoolOptions = {}): Db {
  const options = [
    ...(o.role === undefined ? [] : [`-c role=${o.role}`]),
    ...(o.statementTimeoutMs === undefined ? [] : [`-c statement_timeout=${o.statementTimeoutMs}`]),
  ].join(" ");
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    connectionTimeoutMillis: 5000,
    ...(options === "" ? {} : { options }),
  });
  pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL client failed"));
  // Every client, from the moment it exists: a backend terminated while the pool hands a new
  // connection over can emit its error before withClient's own listener is attached.
  pool.on("connect", (client) =>
    client.on("error", (err) => log.warn({ err }, "PostgreSQL connection failed")),
  );
  return pool;
}

/**
 * Runs `fn` with a client of its own, released afterwards. pg emits 'error' on a client
 * whose connection dies (a failover, pg_terminate_backend, an idle-session timeout) even
 * between queries, and the pool listens only while the client is idle: a checked-out client
 * without a listener of its own crashes the process. So it gets one for as long as it is
 * out, and a client that failed is destroyed on release, never handed out again.
 */
export async function withClient<T>(db: Db, fn: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let failure: Error | undefined;
  const onError = (err: Error) => {
    failure ??= err;
  };
  client.on("error", onError);
  try {
    return await fn(client);
  } finally {
    client.removeListener("error", onError);
    client.release(failure);
  }
}

/**
 * Runs `fn` in one transaction, committing on success and rolling back on any throw. `fn`
 * must not wait on the network (the chain, Redis): a transaction holds its locks and its
 * connection for as long as it is open.
 */
export async function inTransaction<T>(db: Db, fn: (client: DbClient) => Promise<T>): Promise<T> {
  return withClient(db, async (client) => {
    await client.query("BEGIN");
    try {
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  });
}

/** A single connection (outside any pool) that logs a dying connection instead of crashing. */
export function standaloneClient(url: string, log: Logger): pg.Client {
  const client = new pg.Client({ connectionString: url });
  client.on("error", (err) => log.warn({ err }, "PostgreSQL connection failed"));
  return client;
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
  // pg and pg-pool raise these without a code: their messages are the only mark they have
  // (pg 8, pg-pool 3): no connection within connectionTimeoutMillis, a query on a client whose
  // connection already died, and the connection dying under a query.
  return e instanceof Error && CONNECTION_MESSAGES.has(e.message);
}

const CONNECTION_MESSAGES = new Set([
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Connection terminated unexpectedly",
  "Connection terminated",
]);

/** True for PostgreSQL's data exceptions (class 22): a value the database cannot store. */
export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("22");
}
