import { join } from "node:path";
import { runner } from "node-pg-migrate";
import pg from "pg";
import type { Logger } from "pino";

const MIGRATIONS_DIR = join(__dirname, "migrations");

/**
 * Creates the database if it does not exist (the local defaults name one that a fresh
 * PostgreSQL lacks), then applies pending migrations. Safe to run from several processes at
 * once: node-pg-migrate holds an advisory lock while it works.
 */
export async function migrate(databaseUrl: string, log: Logger): Promise<void> {
  await ensureDatabase(databaseUrl, log);
  const applied = await runner({
    databaseUrl,
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
  });
  if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, "database migrated");
}

async function ensureDatabase(databaseUrl: string, log: Logger): Promise<void> {
  const probe = new pg.Client({ connectionString: databaseUrl });
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
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    log.info({ database: name }, "database created");
  } catch (e) {
    if ((e as { code?: string }).code !== "42P04") throw e; // created meanwhile by another process
  } finally {
    await admin.end();
  }
}
