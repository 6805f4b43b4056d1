import { join } from "node:path";
import { buildApp } from "./api/app";
import { ensureDeployment } from "./chain/deployment";
import { startLocalChain } from "./chain/local-node";
import { openProvider } from "./chain/reader";
import { loadConfig } from "./config";
import { migrate } from "./db/migrate";
import { startWorkers } from "./jobs/workers";
import { loadKey } from "./keys/keys";
import { createLogger } from "./log";
import { appDeps, keySources, onShutdown, openConnections, serviceKeys, workerContext } from "./runtime";

// `npm start`: the whole service in one process on its local defaults. Validates the
// configuration, migrates the database, starts the local chain when CHAIN_RPC_URL is unset,
// deploys the registry once (re-used on every later start), then runs the API and workers.

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  // What to undo on the way out, in reverse order of start: a signal during start-up too
  // stops what is already running (the local chain above all).
  const started: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of started.splice(0).reverse()) await step();
  };
  onShutdown(log, stop);

  try {
    await migrate(config.DATABASE_URL, log);
    const local = config.CHAIN_RPC_URL === undefined;
    let rpcUrl = config.CHAIN_RPC_URL;
    if (rpcUrl === undefined) {
      const chain = await startLocalChain({
        stateFile: join(config.dataDir, "chain-state.json"),
        port: config.LOCAL_CHAIN_PORT,
        log,
      });
      started.push(() => chain.stop());
      rpcUrl = chain.rpcUrl;
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
    const app = await buildApp(appDeps(config, deployment, conn, log));
    started.push(() => app.close());
    await app.listen({ port: config.PORT, host: config.HOST });
    log.info(
      {
        registry: deployment.registry,
        chainId: deployment.chainId,
        rpcUrl,
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
