import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Wallet } from "ethers";
import { Redis } from "ioredis";
import pg from "pg";
import { ensureDeployment, type Deployment } from "../services/chain/deployment";
import { startLocalChain, type LocalChain } from "../services/chain/local-node";
import { openProvider } from "../services/chain/reader";
import { migrate } from "../services/db/migrate";
import { freePort } from "../test/helpers/stack";
import { createLogger } from "../services/log";
import { createApiKey, createTenant } from "../services/tenants/tenants";
import { testDepositor } from "../test/helpers/identity";

// The service the way an operator runs it (`npm run start:api`, `npm run start:workers`): its
// own processes, configured by environment variables, against a fresh PostgreSQL database
// tsd_bench_<pid>, a Redis prefix of its own and an anvil on its own port. Only the rate
// limits are raised, so that they, not the service, would be what a load test measures.

export const ROOT = join(__dirname, "..");
export const PG_SERVER = process.env.TSD_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432";
export const REDIS_URL = process.env.TSD_BENCH_REDIS ?? "redis://127.0.0.1:6379";
export const log = createLogger("silent");

/** The seal interval the bench stack runs with (the service's default). */
export const SEAL_INTERVAL_MS = 2000;

const UNLIMITED = String(1_000_000_000);
/** Every limit a load test would otherwise run into (services/config: RATE_LIMIT_*, the quota, the verify queue). */
export const RAISED_LIMITS: Record<string, string> = {
  RATE_LIMIT_REQUESTS_PER_MINUTE: UNLIMITED,
  RATE_LIMIT_DEPOSITS_PER_MINUTE: UNLIMITED,
  DEPOSIT_QUOTA_PER_DAY: UNLIMITED,
  RATE_LIMIT_VERIFY_PER_MINUTE: UNLIMITED,
  RATE_LIMIT_PUBLIC_PER_MINUTE: UNLIMITED,
  VERIFY_QUEUE_MAX: "10000",
};

// The tests' own port picker, for the rows too.
export { freePort };

export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A service entry point running as its own process. */
export interface ServiceProcess {
  child: ChildProcess;
  pid: number;
  /** The last few kB it wrote to stderr, for error messages. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Where service processes write V8 CPU profiles (`--profile`); undefined: no profiling. */
let profileDir: string | undefined;

/** Every service process started from now on writes a CPU profile into `dir` when it exits. */
export function profileInto(dir: string): void {
  profileDir = resolve(dir);
}

/** Starts `node --import tsx <entry>` with only `env` (and PATH, HOME) in its environment. */
export function startService(entry: string, env: Record<string, string>): ServiceProcess {
  // A folder per process: node names each thread's profile (the main one, tsx's loader thread).
  const profiling = profileDir
    ? ["--cpu-prof", "--cpu-prof-dir", join(profileDir, `${basename(entry, ".ts")}-${Date.now()}`)]
    : [];
  const child = spawn(process.execPath, [...profiling, "--import", "tsx", entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    pid: child.pid as number,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An API process, answering /healthz when returned. */
export async function startApi(
  env: Record<string, string>,
): Promise<{ url: string; process: ServiceProcess }> {
  const port = await freePort();
  const proc = startService("services/api/server.ts", { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error("exited");
        return (await fetch(`${url}/healthz`)).ok ? true : undefined;
      },
      60_000,
      "the API",
    );
  } catch (e) {
    await proc.stop();
    throw new Error(`the API did not start: ${proc.stderr() || (e as Error).message}`);
  }
  return { url, process: proc };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Deletes every key under `prefix:` (BullMQ queues, rate-limit windows). */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** A chain with the registry deployed, and the keys that deployed it. */
export interface BenchChain {
  chain: LocalChain;
  dir: string;
  deployment: Deployment;
  keys: { admin: Wallet; anchorer: Wallet; certifier: Wallet };
  stop(): Promise<void>;
}

/** A fresh anvil on a free port, with its state in a temporary folder, and the registry on it. */
export async function startChain(): Promise<BenchChain> {
  const dir = mkdtempSync(join(tmpdir(), "tsd-bench-"));
  const chain = await startLocalChain({
    stateFile: join(dir, "chain-state.json"),
    port: await freePort(),
    log,
  });
  const key = () => new Wallet(Wallet.createRandom().privateKey);
  const keys = { admin: key(), anchorer: key(), certifier: key() };
  try {
    const provider = await openProvider(chain.rpcUrl, 100);
    const deployment = await ensureDeployment({
      provider,
      rpcUrl: chain.rpcUrl,
      dataDir: dir,
      admin: keys.admin,
      anchorer: keys.anchorer.address,
      certifier: keys.certifier.address,
      local: true,
      log,
    }).finally(() => provider.destroy());
    return {
      chain,
      dir,
      deployment,
      keys,
      async stop() {
        await chain.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A migrated database with one tenant and its API key. */
export interface BenchDatabase {
  name: string;
  url: string;
  db: pg.Pool;
  tenant: { id: string; depositor: string; apiKey: string };
  drop(): Promise<void>;
}

export async function createDatabase(name: string): Promise<BenchDatabase> {
  await dropDatabase(name);
  const url = `${PG_SERVER}/${name}`;
  await migrate(url, log); // creates it
  const db = new pg.Pool({ connectionString: url, max: 4 });
  const tenant = await createTenant(db, "Bench Co.", testDepositor());
  const { apiKey } = await createApiKey(db, tenant.id);
  return {
    name,
    url,
    db,
    tenant: { id: tenant.id, depositor: tenant.depositor, apiKey },
    async drop() {
      await db.end();
      await dropDatabase(name);
    },
  };
}

/** The environment every process of a stack shares. */
export function serviceEnv(
  chain: BenchChain,
  database: BenchDatabase,
  redisPrefix: string,
): Record<string, string> {
  return {
    DATA_DIR: chain.dir,
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    CHAIN_RPC_URL: chain.chain.rpcUrl,
    REGISTRY_ADDRESS: chain.deployment.registry,
    SEAL_INTERVAL_MS: String(SEAL_INTERVAL_MS),
    LOG_LEVEL: "warn",
    WORKER_METRICS_PORT: "0",
    ...RAISED_LIMITS,
  };
}

/** The whole service: one API process and one worker process. */
export interface BenchStack {
  chain: BenchChain;
  database: BenchDatabase;
  api: string;
  apiProcess: ServiceProcess;
  workers: ServiceProcess;
  /** Authorization header of the bench tenant. */
  auth: { authorization: string };
  close(): Promise<void>;
}

export async function startStack(chain: BenchChain): Promise<BenchStack> {
  const database = await createDatabase(`tsd_bench_${process.pid}`);
  const prefix = `tsdbench_${process.pid}`;
  const env = serviceEnv(chain, database, prefix);
  const started: (() => Promise<void>)[] = [() => database.drop(), () => clearRedisPrefix(prefix)];
  const close = async () => {
    for (const step of started.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const workers = startService("services/jobs/worker-process.ts", {
      ...env,
      ANCHORER_PRIVATE_KEY: chain.keys.anchorer.privateKey,
      CERTIFIER_PRIVATE_KEY: chain.keys.certifier.privateKey,
    });
    started.push(() => workers.stop());
    const api = await startApi(env);
    started.push(() => api.process.stop());
    return {
      chain,
      database,
      api: api.url,
      apiProcess: api.process,
      workers,
      auth: { authorization: `Bearer ${database.tenant.apiKey}` },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Resident set size figures of a process, bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}
