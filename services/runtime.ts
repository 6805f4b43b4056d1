import { join } from "node:path";
import { Redis } from "ioredis";
import { getAddress, type JsonRpcProvider, type Wallet } from "ethers";
import { corsOrigins, type Config } from "./config";
import {
  checkRecordedDeployment,
  codeHashAt,
  readDeployment,
  writeDeployment,
  type Deployment,
} from "./chain/deployment";
import { EthersChainReader, createProvider, openProvider } from "./chain/reader";
import { migrate } from "./db/migrate";
import { createPool, type Db } from "./db/pool";
import { JobQueues } from "./jobs/queues";
import type { WorkerContext } from "./jobs/workers";
import type { AppDeps } from "./api/app";
import type { GroupCommitOptions } from "./deposits/group-commit";
import { httpLimitsOf } from "./api/http";
import { limitsFrom } from "./api/limits";
import { CachingChainReader } from "./chain/cached-reader";
import { requireKey, type KeySources } from "./keys/keys";
import { keyResolver } from "./keys/in-use";
import type { Logger } from "./log";

// Process plumbing shared by the three entry points (main.ts, api/server.ts,
// jobs/worker-process.ts): connections opened once, closed once, in order.

export interface Connections {
  db: Db;
  /** Fails fast while Redis is down, so the API never waits on it. */
  redis: Redis;
  /**
   * The API's rate-limit counters: fails fast like `redis`, and sends the commands of one turn
   * of the event loop in one write (ioredis auto-pipelining), where each request would
   * otherwise cost a write of its own. Never BullMQ's: its jobs are not safe on it.
   */
  limitsRedis: Redis;
  queues: JobQueues;
  provider: JsonRpcProvider;
  /** The verifier's reads, on a provider of their own that sends calls made together as one JSON-RPC batch. */
  chain: EthersChainReader;
  /** The workers' own pool: their long statements never starve the API's connections. */
  workerDb(): Db;
  /** A connection for BullMQ workers (blocking commands, retries forever). */
  workerRedis(): Redis;
  close(): Promise<void>;
}

/** The API's PostgreSQL pool, in the service's role, with the API's statement timeout. */
export function apiPool(config: Config, log: Logger): Db {
  return createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE, log, {
    role: config.DATABASE_ROLE,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
  });
}

/** Migrates the database as its owner (DATABASE_OWNER_URL, else DATABASE_URL). */
export function migrateAsOwner(
  config: Config,
  log: Logger,
  o: { createDatabase: boolean },
): Promise<string[]> {
  return migrate(config.DATABASE_OWNER_URL ?? config.DATABASE_URL, log, o);
}

export function openConnections(config: Config, deployment: Deployment, log: Logger): Connections {
  const db = apiPool(config, log);
  let workerDb: Db | undefined;
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  });
  redis.on("error", (err) => log.warn({ err: err.message }, "Redis connection problem"));
  const limitsRedis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
  });
  limitsRedis.on("error", (err) => log.warn({ err: err.message }, "Redis (rate limits) connection problem"));
  const queues = new JobQueues(redis, config.REDIS_PREFIX, log);
  const provider = createProvider(deployment.rpcUrl, deployment.chainId);
  const verifierProvider = createProvider(deployment.rpcUrl, deployment.chainId, 500, 30_000, true);
  const chain = new EthersChainReader(verifierProvider);
  let worker: Redis | undefined;
  return {
    db,
    redis,
    limitsRedis,
    queues,
    provider,
    chain,
    workerDb() {
      workerDb ??= createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE, log, {
        role: config.DATABASE_ROLE,
        statementTimeoutMs: config.WORKER_STATEMENT_TIMEOUT_MS,
      });
      return workerDb;
    },
    workerRedis() {
      worker ??= new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
      worker.on("error", (err) => log.warn({ err: err.message }, "Redis (workers) connection problem"));
      return worker;
    },
    async close() {
      await queues.close().catch(() => undefined);
      await Promise.all([redis, limitsRedis, worker].map((r) => r?.quit().catch(() => undefined)));
      provider.destroy();
      verifierProvider.destroy();
      await Promise.all([db.end(), workerDb?.end()]);
    },
  };
}

/**
 * The chain and registry for a process that does not deploy (the API or the workers on
 * their own): CHAIN_RPC_URL and REGISTRY_ADDRESS, else DATA_DIR/deployment.json. Checks
 * that the node answers and has the registry, and that both are the ones deployment.json
 * records (chain id, registry code); fills in the code hash of an older deployment.json.
 */
export async function resolveDeployment(config: Config): Promise<Deployment> {
  const recorded = readDeployment(config.dataDir);
  const rpcUrl = config.CHAIN_RPC_URL ?? recorded?.rpcUrl;
  const registry = config.REGISTRY_ADDRESS ?? recorded?.registry;
  if (!rpcUrl || !registry) {
    throw new Error(
      `no deployment: run \`npm start\` once (it deploys the registry and writes ${config.dataDir}/deployment.json), ` +
        "or set CHAIN_RPC_URL and REGISTRY_ADDRESS",
    );
  }
  const provider = await openProvider(rpcUrl);
  try {
    const chainId = Number(BigInt(await provider.send("eth_chainId", [])));
    checkRecordedDeployment(config.dataDir, recorded, { chainId });
    if ((await provider.getCode(registry)) === "0x")
      throw new Error(`no registry contract at ${registry} on chain ${chainId}`);
    const registryCodeHash = await codeHashAt(provider, registry);
    checkRecordedDeployment(config.dataDir, recorded, { chainId, registry, registryCodeHash });
    const sameRegistry = recorded !== undefined && getAddress(recorded.registry) === getAddress(registry);
    if (sameRegistry && recorded.registryCodeHash === undefined) {
      writeDeployment(config.dataDir, { ...recorded, registryCodeHash });
    }
    return {
      chainId,
      registry: getAddress(registry),
      rpcUrl,
      deployedAt: recorded?.deployedAt ?? "unknown",
      registryCodeHash,
    };
  } finally {
    provider.destroy();
  }
}

/**
 * What no log line may show (services/log.ts): the operator's token, CHAIN_RPC_URL, and the
 * RPC URL deployment.json recorded unless it is a loopback node's (the local chain's, no key).
 */
export function logSecrets(config: Config): string[] {
  const secrets = [config.CHAIN_RPC_URL, config.OPERATOR_TOKEN].filter((s): s is string => s !== undefined);
  try {
    const recorded = readDeployment(config.dataDir)?.rpcUrl;
    if (recorded && !/^(127\.|localhost$|\[::1\]$)/.test(new URL(recorded).hostname)) secrets.push(recorded);
  } catch {
    // an unreadable deployment.json is reported where it is used
  }
  return secrets;
}

/** The anchoring and certifier keys, which must differ (protocol.md section 6). */
export function serviceKeys(sources: KeySources): { anchorer: Wallet; certifier: Wallet } {
  const anchorer = requireKey(sources, "anchorer");
  const certifier = requireKey(sources, "certifier");
  if (anchorer.address === certifier.address) {
    throw new Error("the anchoring key and the certifier key must be different keys");
  }
  return { anchorer, certifier };
}

export function keySources(config: Config, generate: boolean): KeySources {
  return {
    dataDir: config.dataDir,
    generate,
    env: {
      ...(config.ADMIN_PRIVATE_KEY ? { admin: config.ADMIN_PRIVATE_KEY } : {}),
      ...(config.ANCHORER_PRIVATE_KEY ? { anchorer: config.ANCHORER_PRIVATE_KEY } : {}),
      ...(config.CERTIFIER_PRIVATE_KEY ? { certifier: config.CERTIFIER_PRIVATE_KEY } : {}),
    },
  };
}

/** Runs `shutdown` once on SIGTERM or SIGINT, then exits; a second signal exits at once. */
export function onShutdown(log: Logger, shutdown: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, "shutting down");
    shutdown()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, "unclean shutdown");
        process.exit(1);
      });
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

/** The workers' context from the process's config, deployment, keys and connections. */
export function workerContext(
  config: Config,
  deployment: Deployment,
  keys: { anchorer: Wallet; certifier: Wallet },
  conn: Connections,
  log: Logger,
): WorkerContext {
  const db = conn.workerDb();
  // An operator may rotate either key while the workers run: they look for the key in use
  // before each signature, among the environment's keys and DATA_DIR/keys as it is then.
  const sources = keySources(config, false);
  return {
    db,
    redis: conn.workerRedis(),
    queues: conn.queues,
    anchor: {
      provider: conn.provider,
      chainId: deployment.chainId,
      registry: deployment.registry,
      anchorer: keys.anchorer,
      resolveAnchorer: keyResolver(db, sources, "anchorer", keys.anchorer),
      confirmations: config.CHAIN_CONFIRMATIONS,
      timeoutMs: config.ANCHOR_TIMEOUT_MS,
      maxInFlight: config.ANCHOR_MAX_IN_FLIGHT,
      ...(config.ANCHOR_MAX_FEE_PER_GAS === undefined
        ? {}
        : { maxFeePerGas: BigInt(config.ANCHOR_MAX_FEE_PER_GAS) }),
    },
    attest: {
      registry: deployment.registry,
      certifier: keys.certifier,
      resolveCertifier: keyResolver(db, sources, "certifier", keys.certifier),
    },
    batchMax: config.BATCH_MAX,
    sealIntervalMs: config.SEAL_INTERVAL_MS,
    sealMarginMs: config.SEAL_MARGIN_MS,
    sweepIntervalMs: config.SWEEP_INTERVAL_MS,
    reconcileWindowMs: config.RECONCILE_WINDOW_MS,
    // The local anvil is the only node of its chain: a block it lacks was lost, not late.
    missingGraceMs: config.CHAIN_RPC_URL === undefined ? 0 : config.ANCHOR_LOSS_GRACE_MS,
    webhook: {
      concurrency: config.WEBHOOK_CONCURRENCY,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    },
    log,
  };
}

/** The API's dependencies from the process's config, deployment and connections. */
export function appDeps(config: Config, deployment: Deployment, conn: Connections, log: Logger): AppDeps {
  return {
    db: conn.db,
    redis: conn.limitsRedis,
    queues: conn.queues,
    provider: conn.provider,
    // The verifier's reads of confirmed anchors and blocks, and of certifier registrations, cached.
    chain: new CachingChainReader(conn.chain, () => conn.chain.blockNumber(), {
      confirmations: config.CHAIN_CONFIRMATIONS,
      maxEntries: config.VERIFY_CACHE_ENTRIES,
      ttlMs: config.VERIFY_CACHE_TTL_MS,
    }),
    deployment,
    bulkMax: config.BULK_MAX,
    batchMax: config.BATCH_MAX,
    groupCommit: groupCommitOf(config),
    apiKeyCacheMs: config.API_KEY_CACHE_MS,
    publicUrl: config.PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`,
    ...(publicRpcUrl(config, deployment) ? { publicRpcUrl: publicRpcUrl(config, deployment) } : {}),
    distDir: join(__dirname, "..", "dist"),
    ...(config.OPERATOR_TOKEN ? { operatorToken: config.OPERATOR_TOKEN } : {}),
    log,
    http: httpLimitsOf(config),
    corsOrigins: corsOrigins(config),
    limits: limitsFrom(config),
    ...(config.TRUST_PROXY === undefined ? {} : { trustProxy: config.TRUST_PROXY }),
  };
}

/**
 * Group commit from the config. At most half the API's pool commits single deposits at once:
 * the rest stays free for reads and bulk deposits, and while the slots are busy arriving
 * deposits gather into larger groups.
 */
export function groupCommitOf(config: Config): GroupCommitOptions {
  return {
    maxItems: config.GROUP_COMMIT_MAX_ITEMS,
    maxWaitMs: config.GROUP_COMMIT_WAIT_MS,
    maxConcurrent: Math.max(1, Math.floor(config.DATABASE_POOL_SIZE / 2)),
  };
}

/** The RPC URL offered to verifiers: configured, or the local chain's (nothing secret in it). */
function publicRpcUrl(config: Config, deployment: Deployment): string | undefined {
  return config.PUBLIC_CHAIN_RPC_URL ?? (config.CHAIN_RPC_URL === undefined ? deployment.rpcUrl : undefined);
}
