import { join } from "node:path";
import { buildApp } from "./api/app";
import { ensureDeployment } from "./chain/deployment";
import { startLocalChain, type LocalChain } from "./chain/local-node";
import { openProvider } from "./chain/reader";
import { loadConfig, loadDotEnv } from "./config";
import { startWorkers } from "./jobs/workers";
import { loadKey } from "./keys/keys";
import { createLogger } from "./log";
import { checkRedisPolicy } from "./redis-policy";
import {
  appDeps,
  keySources,
  logSecrets,
  migrateAsOwner,
  onShutdown,
  openConnections,
  serviceKeys,
  workerContext,
} from "./runtime";

// `npm start`: the whole service in one process on its local defaults. Validates the
// configuration, migrates the database, starts the local chain when CHAIN_RPC_URL is unset,
// deploys the registry once (re-used on every later start), then runs the API and workers.

async function main(): Promise<void> {
  const envFile = loadDotEnv();
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, "tsd", { secrets: logSecrets(config) });
  if (envFile) log.info({ envFile }, "read .env (variables already set win)");
  // What to undo on the way out, in reverse order of start: a signal during start-up too
  // stops what is already running (the local chain above all).
  const started: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of started.splice(0).reverse()) await step();
  };
  onShutdown(log, stop);

  try {
    await checkRedisPolicy(config.REDIS_URL, log);
    await migrateAsOwner(config, log, { createDatabase: true });
    const local = config.CHAIN_RPC_URL === undefined;
    let rpcUrl = config.CHAIN_RPC_URL;
    let localChain: LocalChain | undefined;
    if (rpcUrl === undefined) {
      const chain = await startLocalChain({
        stateFile: join(config.dataDir, "chain-state.json"),
        port: config.LOCAL_CHAIN_PORT,
        log,
      });
      started.push(() => chain.stop());
      rpcUrl = chain.rpcUrl;
      localChain = chain;
    }
    const sources = keySources(config, local);
    const keys = serviceKeys(sources);
    const admin = loadKey(sources, "admin");
    const setupProvider = await openProvider(rpcUrl);
    const deployment = await ensureDeployment({
      provider: setupProvider,
      rpcUrl,
      dataDir: config.dataDir,
      ...(config.REGISTRY_ADDRESS ? { registryAddress: config.REGISTRY_ADDRESS } : {}),
      ...(admin ? { admin } : {}),
      anchorer: keys.anchorer.address,
      certifier: keys.certifier.address,
      local,
      log,
    }).finally(() => setupProvider.destroy());

    const conn = openConnections(config, deployment, log);
    started.push(() => conn.close());
    const workers = await startWorkers(workerContext(config, deployment, keys, conn, log));
    started.push(() => workers.close());
    // A local chain that died and came back may have lost its last second of blocks: have the
    // recorded anchors checked at once rather than at the next sweep.
    localChain?.onRestart(() => {
      conn.queues.requestSweep().catch((err: unknown) => log.warn({ err }, "could not request a sweep"));
    });
    const app = await buildApp({
      ...appDeps(config, deployment, conn, log),
      anchorerBalance: () => conn.provider.getBalance(keys.anchorer.address),
    });
    started.push(() => app.close());
    await app.listen({ port: config.PORT, host: config.HOST });
    log.info(
      {
        registry: deployment.registry,
        chainId: deployment.chainId,
        // an external node's URL may carry a key: named only when it is the local chain's
        ...(local ? { rpcUrl } : { chain: "external (CHAIN_RPC_URL)" }),
        docs: `http://${config.HOST}:${config.PORT}/docs`,
      },
      "tsd is up",
    );
  } catch (e) {
    await stop();
    throw e;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
