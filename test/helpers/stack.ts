import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import pg from "pg";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../services/api/app";
import { ensureDeployment, type Deployment } from "../../services/chain/deployment";
import { startLocalChain, type LocalChain } from "../../services/chain/local-node";
import { openProvider } from "../../services/chain/reader";
import { loadConfig, type Config } from "../../services/config";
import { migrate } from "../../services/db/migrate";
import { startWorkers, type RunningWorkers } from "../../services/jobs/workers";
import { createLogger } from "../../services/log";
import { appDeps, openConnections, workerContext, type Connections } from "../../services/runtime";
import { createApiKey, createTenant, type Tenant } from "../../services/tenants/tenants";
import { testDepositor } from "./identity";

// Each test file owns its data: a fresh PostgreSQL database, its own Redis key prefix and
// its own anvil on a free port. Nothing here is mocked.

/** PostgreSQL server the tests create their databases on (trust auth on loopback). */
export const PG_SERVER = process.env.TSD_TEST_PG ?? "postgres://postgres@127.0.0.1:5432";
export const REDIS_URL = process.env.TSD_TEST_REDIS ?? "redis://127.0.0.1:6379";

export const silentLog = createLogger(process.env.TSD_TEST_LOG ?? "silent");

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** A new, migrated database; `drop()` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = uniqueName("tsd_test");
  const url = `${PG_SERVER}/${name}`;
  await migrate(url, silentLog); // creates it
  return {
    url,
    async drop() {
      const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin.end();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A fresh anvil with its state in a temporary folder. */
export async function startTestChain(
  dir = mkdtempSync(join(tmpdir(), "tsd-chain-")),
): Promise<LocalChain & { dir: string }> {
  const chain = await startLocalChain({
    stateFile: join(dir, "chain-state.json"),
    port: await freePort(),
    log: silentLog,
  });
  return Object.assign(chain, { dir });
}

export interface TestStack {
  config: Config;
  conn: Connections;
  chain: LocalChain & { dir: string };
  deployment: Deployment;
  keys: { admin: Wallet; anchorer: Wallet; certifier: Wallet };
  app: FastifyInstance;
  workers?: RunningWorkers;
  /** A new tenant and one of its API keys. */
  tenant(depositor?: string): Promise<Tenant & { apiKey: string }>;
  close(): Promise<void>;
}

/**
 * The whole service in this process against real PostgreSQL, Redis and anvil: the API as an
 * injectable Fastify instance and, unless `workers: false`, the BullMQ workers.
 */
export async function startTestStack(
  options: { workers?: boolean; env?: Record<string, string> } = {},
): Promise<TestStack> {
  const db = await freshDatabase();
  const chain = await startTestChain().catch(async (e: unknown) => {
    await db.drop();
    throw e;
  });
  try {
    return await assemble(options, db, chain);
  } catch (e) {
    await chain.stop();
    await db.drop();
    throw e;
  }
}

async function assemble(
  options: { workers?: boolean; env?: Record<string, string> },
  db: { url: string; drop(): Promise<void> },
  chain: LocalChain & { dir: string },
): Promise<TestStack> {
  const key = () => new Wallet(Wallet.createRandom().privateKey);
  const keys = { admin: key(), anchorer: key(), certifier: key() };
  const config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: uniqueName("tsdtest"),
    CHAIN_RPC_URL: chain.rpcUrl,
    DATA_DIR: chain.dir,
    SEAL_INTERVAL_MS: "200",
    SWEEP_INTERVAL_MS: "1000",
    LOG_LEVEL: "silent",
    ...options.env,
  });
  const provider = await openProvider(chain.rpcUrl, 100);
  const deployment = await ensureDeployment({
    provider,
    rpcUrl: chain.rpcUrl,
    dataDir: chain.dir,
    admin: keys.admin,
    anchorer: keys.anchorer.address,
    certifier: keys.certifier.address,
    local: true,
    log: silentLog,
  }).finally(() => provider.destroy());
  const conn = openConnections(config, deployment, silentLog);
  conn.provider.pollingInterval = 100;
  const workers =
    options.workers === false
      ? undefined
      : await startWorkers(
          workerContext(
            config,
            deployment,
            {
              anchorer: new Wallet(keys.anchorer.privateKey),
              certifier: new Wallet(keys.certifier.privateKey),
            },
            conn,
            silentLog,
          ),
        );
  const app = await buildApp(appDeps(config, deployment, conn, silentLog));
  await app.ready();
  return {
    config,
    conn,
    chain,
    deployment,
    keys,
    app,
    ...(workers ? { workers } : {}),
    async tenant(depositor = testDepositor()) {
      const t = await createTenant(conn.db, "Test Co.", depositor);
      return { ...t, apiKey: (await createApiKey(conn.db, t.id)).apiKey };
    },
    async close() {
      await app.close();
      await workers?.close();
      // Leave nothing of this test in the shared Redis: queues, schedules, the pending hint.
      for (const queue of Object.values(conn.queues.queues))
        await queue.obliterate({ force: true }).catch(() => undefined);
      const keys = await conn.redis.keys(`${config.REDIS_PREFIX}:*`).catch(() => []);
      if (keys.length > 0) await conn.redis.del(...keys);
      await conn.close();
      await chain.stop();
      rmSync(chain.dir, { recursive: true, force: true });
      await db.drop();
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
