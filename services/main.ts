import { join } from "node:path";
import { buildApp } from "./api/app";
import { ensureDeployment } from "./chain/deployment";
import { startLocalChain, type LocalChain } from "./chain/local-node";
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
  await migrate(config.DATABASE_URL, log);

  let localChain: LocalChain | undefined;
  const stopChain = async () => localChain?.stop();
  try {
    const local = config.CHAIN_RPC_URL === undefined;
    if (local) {
      localChain = await startLocalChain({
        stateFile: join(config.dataDir, "chain-state.json"),
        port: config.LOCAL_CHAIN_PORT,
        log,
      });
    }
    const rpcUrl = config.CHAIN_RPC_URL ?? (localChain as LocalChain).rpcUrl;
    const sources = keySources(config, local);
    const keys = serviceKeys(sources);
    const setupProvider = await openProvider(rpcUrl);
    const deployment = await ensureDeployment({
      provider: setupProvider,
      rpcUrl,
      dataDir: config.dataDir,
      ...(config.REGISTRY_ADDRESS ? { registryAddress: config.REGISTRY_ADDRESS } : {}),
      ...(loadKey(sources, "admin") ? { admin: loadKey(sources, "admin") } : {}),
      anchorer: keys.anchorer.address,
      certifier: keys.certifier.address,
      local,
      log,
    }).finally(() => setupProvider.destroy());

    const conn = openConnections(config, deployment, log);
    const workers = await startWorkers(workerContext(config, deployment, keys, conn, log));
    const app = await buildApp(appDeps(config, deployment, conn, log));
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
    onShutdown(log, async () => {
      await app.close();
      await workers.close();
      await conn.close();
      await stopChain();
    });
  } catch (e) {
    await stopChain();
    throw e;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
