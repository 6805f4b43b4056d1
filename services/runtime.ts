import { Redis } from "ioredis";
import { getAddress, type JsonRpcProvider, type Wallet } from "ethers";
import type { Config } from "./config";
import { readDeployment, type Deployment } from "./chain/deployment";
import { EthersChainReader, createProvider, openProvider } from "./chain/reader";
import { createPool, type Db } from "./db/pool";
import { JobQueues } from "./jobs/queues";
import type { WorkerContext } from "./jobs/workers";
import type { AppDeps } from "./api/app";
import { requireKey, type KeySources } from "./keys/keys";
import type { Logger } from "./log";

// Process plumbing shared by the three entry points (main.ts, api/server.ts,
// jobs/worker-process.ts): connections opened once, closed once, in order.

export interface Connections {
  db: Db;
  /** Fails fast while Redis is down, so the API never waits on it. */
  redis: Redis;
  queues: JobQueues;
  provider: JsonRpcProvider;
  chain: EthersChainReader;
  /** A connection for BullMQ workers (blocking commands, retries forever). */
  workerRedis(): Redis;
  close(): Promise<void>;
}

export function openConnections(config: Config, deployment: Deployment, log: Logger): Connections {
  const db = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE, log);
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  });
  redis.on("error", (err) => log.warn({ err: err.message }, "Redis connection problem"));
  const queues = new JobQueues(redis, config.REDIS_PREFIX, log);
  const provider = createProvider(deployment.rpcUrl, deployment.chainId);
  let worker: Redis | undefined;
  return {
    db,
    redis,
    queues,
    provider,
    chain: new EthersChainReader(provider),
    workerRedis() {
      worker ??= new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
      worker.on("error", (err) => log.warn({ err: err.message }, "Redis (workers) connection problem"));
      return worker;
    },
    async close() {
      await queues.close().catch(() => undefined);
      await Promise.all([redis.quit().catch(() => undefined), worker?.quit().catch(() => undefined)]);
      provider.destroy();
      await db.end();
    },
  };
}

/**
 * The chain and registry for a process that does not deploy (the API or the workers on
 * their own): CHAIN_RPC_URL and REGISTRY_ADDRESS, else DATA_DIR/deployment.json. Checks
 * that the node answers and has the registry.
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
    if ((await provider.getCode(registry)) === "0x")
      throw new Error(`no registry contract at ${registry} on chain ${chainId}`);
    return { chainId, registry: getAddress(registry), rpcUrl, deployedAt: recorded?.deployedAt ?? "unknown" };
  } finally {
    provider.destroy();
  }
}

/** The anchoring and certifier keys, which must differ (DESIGN section 5). */
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
  return {
    db: conn.db,
    redis: conn.workerRedis(),
    queues: conn.queues,
    anchor: {
      provider: conn.provider,
      chainId: deployment.chainId,
      registry: deployment.registry,
      anchorer: keys.anchorer,
      confirmations: config.CHAIN_CONFIRMATIONS,
      timeoutMs: config.ANCHOR_TIMEOUT_MS,
    },
    attest: { registry: deployment.registry, certifier: keys.certifier },
    batchMax: config.BATCH_MAX,
    sealIntervalMs: config.SEAL_INTERVAL_MS,
    sweepIntervalMs: config.SWEEP_INTERVAL_MS,
    log,
  };
}

/** The API's dependencies from the process's config, deployment and connections. */
export function appDeps(config: Config, deployment: Deployment, conn: Connections, log: Logger): AppDeps {
  return {
    db: conn.db,
    redis: conn.redis,
    queues: conn.queues,
    provider: conn.provider,
    chain: conn.chain,
    deployment,
    bulkMax: config.BULK_MAX,
    batchMax: config.BATCH_MAX,
    log,
  };
}
