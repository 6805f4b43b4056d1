import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Interface, Wallet } from "ethers";
import pg from "pg";
import { Redis } from "ioredis";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { ensureDeployment } from "../../services/chain/deployment";
import { EthersChainReader, createProvider, openProvider, registryAt } from "../../services/chain/reader";
import { loadCertificate } from "../../services/certificates/certificate";
import { verifyCertificate, type ChainReader } from "../../services/core";
import { createPool, type Db } from "../../services/db/pool";
import { createApiKey, createTenant } from "../../services/tenants/tenants";
import { startProcess, type ServiceProcess } from "../e2e/processes";
import { testDepositor } from "../helpers/identity";
import { PG_SERVER, REDIS_URL, eventually, freePort, silentLog, uniqueName } from "../helpers/stack";
import {
  laggingProxy,
  ownRedis,
  startChain,
  type LaggingProxy,
  type OwnRedis,
  type TestChain,
} from "./chain";

// The fault suites' common ground: the real service in its own processes (as an operator runs
// it), a client that deposits the way a careful one does (bulk requests with an
// Idempotency-Key, retried until answered 2xx), and one check of the product's promise:
// every deposit answered 2xx is certified exactly once, in a batch whose root the chain holds
// at the recorded block, and its certificate verifies VALID.

export interface Installation {
  env: Record<string, string>;
  /** The API of `start()` (services/main.ts). */
  api: string;
  /** The chain's own RPC (never the proxy), for the checks. */
  chainRpc: string;
  dataDir: string;
  /** A pool of the test's own on the service's database, for checks and fault injection. */
  db: Db;
  /** The `npm start` process (services/main.ts) while it runs. */
  service?: ServiceProcess;
  /** The test's own chain (with `ownChain`), which it stops, restarts, mines and reorganises. */
  chain?: TestChain;
  /** The JSON-RPC proxy the service talks to (with `proxy`). */
  proxy?: LaggingProxy;
  /** The test's own Redis (with `ownRedis`). */
  redis?: OwnRedis;
  /** Keys of an installation on the test's own chain. */
  keys?: { admin: Wallet; anchorer: Wallet; certifier: Wallet };
  /** Every log line of every service process this installation ran. */
  logs(): Record<string, unknown>[];
  /** How long each process took to come up, ms. */
  startTimes: number[];
  start(): Promise<ServiceProcess>;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number | null>;
  /** An API process of its own (services/api/server.ts) on a port of its own. */
  startApi(env?: Record<string, string>): Promise<ServiceProcess & { url: string }>;
  /** A worker process of its own (services/jobs/worker-process.ts). */
  startWorkers(env?: Record<string, string>): Promise<ServiceProcess>;
  tenant(): Promise<{ id: string; apiKey: string; depositor: string }>;
  /** pid of the local chain node the service started (from its pid file). */
  chainPid(): number | undefined;
  registry(): string;
  remove(): Promise<void>;
}

export interface InstallationOptions {
  /**
   * The chain is the test's (an anvil it holds, `inst.chain`), not the service's local one:
   * the registry is deployed from the test, and the service gets CHAIN_RPC_URL and its keys.
   */
  ownChain?: boolean;
  /** With `ownChain`: the service reaches the chain through a proxy that can fall behind. */
  proxy?: boolean;
  /** A redis-server of the test's own instead of the shared one. */
  ownRedis?: boolean;
}

/** A fresh installation (database, Redis prefix, data folder, ports) of `npm start`. */
export async function installation(
  env: Record<string, string> = {},
  o: InstallationOptions = {},
): Promise<Installation> {
  const dir = mkdtempSync(join(tmpdir(), "tsd-fault-"));
  const dbName = uniqueName("tsd_fault");
  const port = await freePort();
  const chainPort = await freePort();
  const redis = o.ownRedis ? await ownRedis() : undefined;
  const fullEnv: Record<string, string> = {
    DATA_DIR: join(dir, "data"),
    DATABASE_URL: `${PG_SERVER}/${dbName}`,
    REDIS_URL: redis?.url ?? REDIS_URL,
    REDIS_PREFIX: uniqueName("tsdfault"),
    PORT: String(port),
    LOCAL_CHAIN_PORT: String(chainPort),
    SEAL_INTERVAL_MS: "1000",
    SWEEP_INTERVAL_MS: "1000",
    ANCHOR_TIMEOUT_MS: "5000",
    LOG_LEVEL: "info",
    // several worker processes per host here; the metrics ports are not what is tested
    WORKER_METRICS_PORT: "0",
    ...env,
  };
  let chain: TestChain | undefined;
  let proxy: LaggingProxy | undefined;
  let keys: Installation["keys"];
  if (o.ownChain) {
    chain = await startChain(join(dir, "chain-state.json"));
    proxy = o.proxy ? await laggingProxy(chain.rpcUrl) : undefined;
    const key = () => new Wallet(Wallet.createRandom().privateKey);
    keys = { admin: key(), anchorer: key(), certifier: key() };
    for (const k of [keys.admin, keys.anchorer])
      await chain.call("anvil_setBalance", [k.address, "0x56BC75E2D63100000"]); // 100 ETH
    const rpcUrl = proxy?.url ?? chain.rpcUrl;
    const provider = await openProvider(chain.rpcUrl, 100);
    await ensureDeployment({
      provider,
      rpcUrl,
      dataDir: fullEnv.DATA_DIR!,
      admin: keys.admin,
      anchorer: keys.anchorer.address,
      certifier: keys.certifier.address,
      local: false,
      log: silentLog,
    }).finally(() => provider.destroy());
    Object.assign(fullEnv, {
      CHAIN_RPC_URL: rpcUrl,
      ANCHORER_PRIVATE_KEY: keys.anchorer.privateKey,
      CERTIFIER_PRIVATE_KEY: keys.certifier.privateKey,
      ...env,
    });
  }
  let db: Db | undefined;
  const processes: ServiceProcess[] = [];
  const startTimes: number[] = [];
  const run = async (entry: string, extra: Record<string, string>, ready: string) => {
    const started = Date.now();
    const p = startProcess(entry, { ...fullEnv, ...extra });
    processes.push(p);
    await p.waitForLog(ready, 90_000);
    startTimes.push(Date.now() - started);
    return p;
  };
  const inst: Installation = {
    env: fullEnv,
    api: `http://127.0.0.1:${port}`,
    chainRpc: chain?.rpcUrl ?? `http://127.0.0.1:${chainPort}`,
    dataDir: fullEnv.DATA_DIR!,
    ...(chain ? { chain } : {}),
    ...(proxy ? { proxy } : {}),
    ...(redis ? { redis } : {}),
    ...(keys ? { keys } : {}),
    get db(): Db {
      db ??= createPool(fullEnv.DATABASE_URL!, 4, silentLog);
      return db;
    },
    logs() {
      return processes.flatMap((p) => p.logs());
    },
    startTimes,
    async start() {
      inst.service = await run("services/main.ts", {}, "tsd is up");
      return inst.service;
    },
    async stop() {
      const code = (await inst.service?.stop()) ?? null;
      inst.service = undefined;
      return code;
    },
    async startApi(extra = {}) {
      const apiPort = await freePort();
      const url = `http://127.0.0.1:${apiPort}`;
      const p = await run(
        "services/api/server.ts",
        { PORT: String(apiPort), ...extra },
        `Server listening at ${url}`,
      );
      return Object.assign(p, { url });
    },
    async startWorkers(extra = {}) {
      return run("services/jobs/worker-process.ts", extra, "workers started");
    },
    async tenant() {
      const depositor = testDepositor();
      const t = await createTenant(inst.db, "Fault Test Co.", depositor);
      return { id: t.id, depositor, apiKey: (await createApiKey(inst.db, t.id)).apiKey };
    },
    chainPid() {
      const file = join(fullEnv.DATA_DIR!, "chain-state.json.pid");
      return existsSync(file) ? Number(readFileSync(file, "utf8")) : undefined;
    },
    registry() {
      return (
        JSON.parse(readFileSync(join(fullEnv.DATA_DIR!, "deployment.json"), "utf8")) as { registry: string }
      ).registry;
    },
    async remove() {
      await Promise.all(processes.map((p) => p.stop()));
      const pid = inst.chainPid();
      if (pid !== undefined) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      await proxy?.close();
      await chain?.stop();
      await db?.end();
      const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
      await admin.end();
      if (redis) await redis.stop();
      else {
        const shared = new Redis(REDIS_URL);
        const keys = await shared.keys(`${fullEnv.REDIS_PREFIX}:*`);
        if (keys.length > 0) await shared.del(...keys);
        shared.disconnect();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return inst;
}

export interface IngestReport {
  /** Ids of every deposit answered 2xx. */
  accepted: string[];
  requests: number;
  /** Answers other than 2xx (retried with the same Idempotency-Key), by status or error. */
  refusals: Record<string, number>;
}

/**
 * Bulk deposits of `items` digests every `intervalMs`, each request retried with its
 * Idempotency-Key until it is answered 2xx (as a careful client does) or `giveUpMs` passes.
 */
export function ingest(
  api: string | string[],
  apiKey: string,
  o: { items: number; intervalMs: number; giveUpMs?: number },
): { stop(): Promise<IngestReport> } {
  const report: IngestReport = { accepted: [], requests: 0, refusals: {} };
  const inFlight = new Set<Promise<void>>();
  const apis = Array.isArray(api) ? api : [api];
  let turn = 0;
  let running = true;
  const one = async () => {
    const key = randomUUID();
    const body = JSON.stringify({
      items: Array.from({ length: o.items }, () => ({ digest: randomBytes(32).toString("hex") })),
    });
    const deadline = Date.now() + (o.giveUpMs ?? 120_000);
    while (Date.now() < deadline) {
      report.requests++;
      try {
        const res = await fetch(`${apis[turn++ % apis.length]}/v1/deposits/bulk`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${apiKey}`,
            "content-type": "application/json",
            "idempotency-key": key,
          },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const json = (await res.json()) as { deposits?: { id: string }[]; error?: { code: string } };
        if (res.status === 202 && json.deposits) {
          report.accepted.push(...json.deposits.map((d) => d.id));
          return;
        }
        const why = `${res.status} ${json.error?.code ?? ""}`.trim();
        report.refusals[why] = (report.refusals[why] ?? 0) + 1;
      } catch (e) {
        const why = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
        report.refusals[why] = (report.refusals[why] ?? 0) + 1;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const loop = (async () => {
    while (running) {
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
      await new Promise((r) => setTimeout(r, o.intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(inFlight);
      return report;
    },
  };
}

export interface EvidenceSummary {
  deposits: number;
  batches: number;
  lost: number;
  duplicated: number;
  verified: number;
  /** Certificates whose record was received after its anchor block's time. */
  newerThanBlock: number;
  /** Certified batches whose root the chain lacks at the recorded block and hash. */
  unanchored: string[];
  /** Certificates that did not verify VALID, with their outcome. */
  invalid: string[];
  /** Roots with more than one anchor transaction mined on the canonical chain (reverted ones too). */
  sentTwice: string[];
  /** Attestations no longer current: certificates withdrawn because their block was lost. */
  withdrawn: number;
  /** Batches not certified at the end, as the database has them (for the output). */
  uncertified: Record<string, unknown>[];
  /** ms spent waiting for the last certification, and verifying every certificate. */
  waitedMs: number;
  verifiedMs: number;
}

/**
 * Waits until every accepted deposit is certified (or `timeoutMs` passes), then checks the
 * whole promise: each one in exactly one batch; every certified batch's root on chain at its
 * recorded block, with that block's hash, and anchored once on the canonical chain; every
 * certificate VALID against the chain with the registry pinned, and none newer than its block.
 */
export async function checkEvidence(
  inst: Installation,
  tenantId: string,
  accepted: string[],
  timeoutMs = 120_000,
): Promise<EvidenceSummary> {
  const db = inst.db;
  const certifiedCount = async () => {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM deposits d JOIN proofs p ON p.deposit_seq = d.seq
         JOIN batches b ON b.id = p.batch_id WHERE d.id = ANY($1::uuid[]) AND b.state = 'certified'`,
      [accepted],
    );
    return rows[0]!.n;
  };
  const t0 = Date.now();
  await eventually(
    async () => ((await certifiedCount()) === accepted.length ? true : undefined),
    timeoutMs,
    `all ${accepted.length} accepted deposits certified`,
  ).catch(() => undefined); // the counts below say what is missing
  const waitedMs = Date.now() - t0;

  const placed = await db.query<{ id: string; n: number }>(
    `SELECT d.id, count(p.batch_id)::int AS n FROM deposits d LEFT JOIN proofs p ON p.deposit_seq = d.seq
      WHERE d.id = ANY($1::uuid[]) GROUP BY d.id`,
    [accepted],
  );
  const stored = new Set(placed.rows.map((r) => r.id));
  // In two batches, or in one batch certified twice (two current attestations).
  const twice = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM deposits d JOIN proofs p ON p.deposit_seq = d.seq
      WHERE d.id = ANY($1::uuid[])
        AND (SELECT count(*) FROM attestations a WHERE a.batch_id = p.batch_id AND a.current) > 1`,
    [accepted],
  );
  const duplicated = placed.rows.filter((r) => r.n > 1).length + twice.rows[0]!.n;
  const withdrawn = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM attestations WHERE NOT current",
  );
  const lost = accepted.filter((id) => !stored.has(id)).length;

  const provider = createProvider(inst.chainRpc, 31337, 200);
  const registry = inst.registry();
  const summary: EvidenceSummary = {
    deposits: accepted.length,
    batches: 0,
    lost,
    duplicated,
    verified: 0,
    newerThanBlock: 0,
    unanchored: [],
    invalid: [],
    sentTwice: [],
    withdrawn: withdrawn.rows[0]!.n,
    waitedMs,
    verifiedMs: 0,
    uncertified: (
      await db.query(
        `SELECT id, state, blocked_reason, received_until, block_number, block_timestamp, sealed_at, anchored_at
           FROM batches WHERE state <> 'certified' ORDER BY id`,
      )
    ).rows,
  };
  try {
    const sent = await anchorTransactions(inst.chainRpc, registry);
    summary.sentTwice = [...sent].filter(([, n]) => n > 1).map(([root, n]) => `${root} ×${n}`);
    const batches = await db.query<{
      id: number;
      root: string;
      tree_size: number;
      block_number: number;
      block_hash: string;
    }>(
      `SELECT id, '0x' || encode(root, 'hex') AS root, tree_size, block_number, '0x' || encode(block_hash, 'hex') AS block_hash
         FROM batches WHERE state = 'certified' ORDER BY id`,
    );
    summary.batches = batches.rows.length;
    const contract = registryAt(registry, provider);
    const topic = new Interface(REGISTRY_ABI).getEvent("RootAnchored")!.topicHash;
    const events = await provider.getLogs({ address: registry, topics: [topic], fromBlock: 0 });
    const anchoredTimes = new Map<string, number>();
    for (const e of events) anchoredTimes.set(e.topics[1]!, (anchoredTimes.get(e.topics[1]!) ?? 0) + 1);
    for (const b of batches.rows) {
      const [, blockNumber, treeSize, batch] = (await contract.getFunction("anchorOf")(b.root)) as bigint[];
      const block = await provider.getBlock(b.block_number);
      const ok =
        blockNumber === BigInt(b.block_number) &&
        treeSize === BigInt(b.tree_size) &&
        batch === BigInt(b.id) &&
        block?.hash === b.block_hash &&
        anchoredTimes.get(b.root) === 1;
      if (!ok) summary.unanchored.push(`batch ${b.id} at block ${b.block_number}`);
    }

    const t1 = Date.now();
    const chain = memoised(new EthersChainReader(provider));
    // A few at a time: one's database reads overlap another's hashing.
    for (let i = 0; i < accepted.length; i += 8) {
      await Promise.all(
        accepted.slice(i, i + 8).map(async (id) => {
          const certificate = await loadCertificate(db, tenantId, id).catch(() => undefined);
          if (!certificate) {
            summary.invalid.push(`${id}: no certificate`);
            return;
          }
          if (certificate.deposit.receivedAt > certificate.anchor.blockTimestamp * 1000)
            summary.newerThanBlock++;
          const result = await verifyCertificate(certificate, { chain, registry });
          if (result.outcome === "VALID") summary.verified++;
          else summary.invalid.push(`${id}: ${result.outcome} ${result.code ?? ""}`);
        }),
      );
    }
    summary.verifiedMs = Date.now() - t1;
  } finally {
    provider.destroy();
  }
  return summary;
}

/**
 * Every `anchor` transaction mined on the canonical chain (whatever its outcome), counted by
 * root: a root sent twice shows here even when the registry refused the second.
 */
export async function anchorTransactions(rpcUrl: string, registry: string): Promise<Map<string, number>> {
  const iface = new Interface(REGISTRY_ABI);
  const selector = iface.getFunction("anchor")!.selector;
  const rpc = async (body: unknown) =>
    (await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    }).then((r) => r.json())) as unknown;
  const head = Number(
    BigInt(((await rpc({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber" })) as { result: string }).result),
  );
  const counts = new Map<string, number>();
  for (let from = 0; from <= head; from += 100) {
    const numbers = Array.from({ length: Math.min(100, head - from + 1) }, (_, i) => from + i);
    const blocks = (await rpc(
      numbers.map((n) => ({
        jsonrpc: "2.0",
        id: n,
        method: "eth_getBlockByNumber",
        params: [`0x${n.toString(16)}`, true],
      })),
    )) as { result: { transactions: { to: string | null; input: string }[] } }[];
    for (const { result } of blocks) {
      for (const tx of result.transactions) {
        if (tx.to?.toLowerCase() !== registry.toLowerCase() || !tx.input.startsWith(selector)) continue;
        const root = (iface.decodeFunctionData("anchor", tx.input)[0] as string).toLowerCase();
        counts.set(root, (counts.get(root) ?? 0) + 1);
      }
    }
  }
  return counts;
}

/** The chain facts asked for by many certificates of few batches, read once. */
function memoised(reader: ChainReader): ChainReader {
  const cache = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    if (!cache.has(key)) cache.set(key, read());
    return cache.get(key) as Promise<T>;
  };
  return {
    chainId: () => once("chainId", () => reader.chainId()),
    anchorOf: (registry, root) => once(`anchor ${registry} ${root}`, () => reader.anchorOf(registry, root)),
    block: (n) => once(`block ${n}`, () => reader.block(n)),
    certifier: (registry, signer) =>
      once(`certifier ${registry} ${signer}`, () => reader.certifier(registry, signer)),
  };
}

/** What the run did and what it found, for the test output; with the service's warnings. */
export function describeRun(
  name: string,
  ingestReport: IngestReport,
  s: EvidenceSummary,
  inst?: Installation,
): string {
  const warnings: Record<string, number> = {};
  for (const line of inst?.logs() ?? []) {
    if (typeof line.level === "number" && line.level >= 40) {
      const err = typeof line.err === "string" ? line.err : (line.err as { message?: string })?.message;
      const key = err ? `${String(line.msg)} (${err.slice(0, 100)})` : String(line.msg);
      warnings[key] = (warnings[key] ?? 0) + 1;
    }
  }
  return (
    `${name}: ${s.deposits} deposits in ${s.batches} certified batches (${ingestReport.requests} requests, ` +
    `refused and retried: ${JSON.stringify(ingestReport.refusals)}); lost ${s.lost}, duplicated ${s.duplicated}, ` +
    `verified ${s.verified}, newer than their block ${s.newerThanBlock}, unanchored ${s.unanchored.length}, ` +
    `roots sent twice ${s.sentTwice.length}, certificates withdrawn ${s.withdrawn}` +
    (s.invalid.length > 0 ? `; invalid: ${s.invalid.slice(0, 5).join(", ")}…` : "") +
    (s.uncertified.length > 0 ? `; batches not certified: ${JSON.stringify(s.uncertified)}` : "") +
    (inst ? `; service warnings: ${JSON.stringify(warnings)}` : "") +
    `; waited ${s.waitedMs} ms for the last certificate, verified them all in ${s.verifiedMs} ms` +
    (inst ? `; process starts: ${inst.startTimes.map((t) => `${t} ms`).join(", ")}` : "")
  );
}

/**
 * Kills every PostgreSQL backend connected to `database` (an operator's
 * pg_terminate_backend, an idle-session timeout or a failover do the same); returns how many.
 */
export async function terminateBackends(database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [database],
    );
    return rows[0]!.n;
  } finally {
    await admin.end();
  }
}

/** The database name of a PostgreSQL URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** One row of the suite's summary table (test/faults/summary-reporter.js prints them at the end). */
export interface CaseRow {
  case: string;
  deposits: number;
  batches: number;
  lost: number;
  duplicated: number;
  verified: number;
  sentTwice: number;
}

/** Where the rows go: the reporter names the file for its run; a run without it still writes one. */
export const SUMMARY_FILE = process.env.TSD_FAULT_SUMMARY ?? join(tmpdir(), "tsd-fault-summary.jsonl");

/** Prints what the run found (describeRun) and adds the case's row to the suite's summary. */
export function recordCase(
  name: string,
  ingestReport: IngestReport,
  s: EvidenceSummary,
  inst?: Installation,
): void {
  console.log(describeRun(name, ingestReport, s, inst));
  // Every log line of the case's processes, for a closer look (TSD_FAULT_LOG_DIR=/some/dir).
  if (process.env.TSD_FAULT_LOG_DIR && inst) {
    writeFileSync(
      join(process.env.TSD_FAULT_LOG_DIR, `${name.replace(/[^a-z0-9]+/gi, "-")}.jsonl`),
      inst
        .logs()
        .map((l) => JSON.stringify(l))
        .join("\n"),
    );
  }
  const row: CaseRow = {
    case: name,
    deposits: s.deposits,
    batches: s.batches,
    lost: s.lost,
    duplicated: s.duplicated,
    verified: s.verified,
    sentTwice: s.sentTwice.length,
  };
  appendFileSync(SUMMARY_FILE, `${JSON.stringify(row)}\n`);
}

/**
 * The promise every case checks: each deposit answered 2xx certified exactly once, every
 * certified root on chain once at its recorded block, no root sent twice, every certificate
 * VALID and none newer than its block.
 */
export function expectPromiseKept(s: EvidenceSummary): void {
  expect(s.deposits).toBeGreaterThan(0);
  expect({ ...s, invalid: s.invalid.slice(0, 3), uncertified: s.uncertified.slice(0, 3) }).toMatchObject({
    lost: 0,
    duplicated: 0,
    newerThanBlock: 0,
    unanchored: [],
    invalid: [],
    sentTwice: [],
  });
  expect(s.verified).toBe(s.deposits);
}

/** One recorded anchoring transaction. */
export interface Attempt {
  batch_id: number;
  nonce: number;
  tx_hash: string;
  state: string;
  sender: string;
}

/** The recorded anchoring transactions matching `where` (SQL over anchor_attempts), in order. */
export async function attempts(inst: Installation, where = "true"): Promise<Attempt[]> {
  const { rows } = await inst.db.query<Attempt>(
    `SELECT batch_id, nonce, '0x' || encode(tx_hash, 'hex') AS tx_hash, state, sender
       FROM anchor_attempts WHERE ${where} ORDER BY id`,
  );
  return rows;
}

/** Batches by state and id. */
export async function batchStates(inst: Installation): Promise<Map<number, string>> {
  const { rows } = await inst.db.query<{ id: number; state: string }>("SELECT id, state FROM batches");
  return new Map(rows.map((r) => [r.id, r.state]));
}

/** Log lines of the installation's processes with message `msg`. */
export function logged(inst: Installation, msg: string): Record<string, unknown>[] {
  return inst.logs().filter((l) => l.msg === msg);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
