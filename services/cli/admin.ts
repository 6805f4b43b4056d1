import { loadConfig } from "../config";
import { createPool, type Db } from "../db/pool";
import { migrate } from "../db/migrate";
import { createLogger } from "../log";

/** Runs `fn` with a pool on the configured database (migrated first), then closes it. */
export async function withDatabase<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger("warn", "tsd-cli");
  await migrate(config.DATABASE_URL, log);
  const db = createPool(config.DATABASE_URL, 2, log);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}
