import { join } from "node:path";
import { runner } from "node-pg-migrate";
import pg from "pg";
import type { Logger } from "pino";
import { standaloneClient } from "./pool";

const MIGRATIONS_DIR = join(__dirname, "migrations");
/** Key of the advisory lock that processes migrating at once queue on. */
const MIGRATION_QUEUE = 0x7473_646d_6967_72n; // "tsdmigr"

/**
 * Applies pending migrations and returns their names; with `createDatabase`, first creates the
 * database if it does not exist (the local defaults name one that a fresh PostgreSQL lacks).
 * Safe to run from several processes at once (the API and worker replicas of a fresh
 * installation or an upgrade start together): they create the database once and migrate one
 * after the other.
 */
export async function migrate(
  databaseUrl: string,
  log: Logger,
  o: { createDatabase: boolean } = { createDatabase: true },
): Promise<string[]> {
  if (o.createDatabase) await ensureDatabase(databaseUrl, log);
  const client = standaloneClient(databaseUrl, log);
  await client.connect();
  // node-pg-migrate's own lock refuses a second runner ("Another migration is already
  // running") instead of waiting: processes started together queue here, and the later ones
  // find nothing left to apply. Held for the connection's life, so released by client.end().
  await client
    .query("SELECT pg_advisory_lock($1)", [MIGRATION_QUEUE.toString()])
    .catch(async (e: unknown) => {
      await client.end().catch(() => undefined);
      throw e;
    });
  const applied = await runner({
    dbClient: client,
    dir: MIGRATIONS_DIR,
    direction: "up",
    migrationsTable: "pgmigrations",
    checkOrder: true,
    singleTransaction: true,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => log.warn(m),
      error: (m) => log.error(m),
    },
  }).finally(() => client.end().catch(() => undefined));
  if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, "database migrated");
  return applied.map((m) => m.name);
}

async function ensureDatabase(databaseUrl: string, log: Logger): Promise<void> {
  const probe = standaloneClient(databaseUrl, log);
  try {
    await probe.connect();
    return;
  } catch (e) {
    if ((e as { code?: string }).code !== "3D000") throw e; // 3D000: database does not exist
  } finally {
    await probe.end().catch(() => undefined);
  }
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = standaloneClient(url.toString(), log);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    log.info({ database: name }, "database created");
  } catch (e) {
    if (!createdMeanwhile(e)) throw e;
  } finally {
    await admin.end();
  }
}

/**
 * Whether CREATE DATABASE failed because another process created the database meanwhile:
 * 42P04 (duplicate_database) when it had committed, 23505 (unique_violation on
 * pg_database's name index) when both were creating it at the same moment, as the API and
 * worker processes of a fresh installation do when they start together.
 */
export function createdMeanwhile(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "42P04" || code === "23505";
}
