import { loadConfig } from "../config";
import { migrate } from "../db/migrate";
import { createLogger } from "../log";
import {
  keySources,
  onShutdown,
  openConnections,
  resolveDeployment,
  serviceKeys,
  workerContext,
} from "../runtime";
import { startWorkers } from "./workers";

// The workers on their own (`npm run start:workers`): several processes may run together;
// PostgreSQL locks and the recorded anchoring state keep them from doing any step twice.

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, "tsd-workers");
  await migrate(config.DATABASE_URL, log);
  const deployment = await resolveDeployment(config);
  const keys = serviceKeys(keySources(config, false));
  const conn = openConnections(config, deployment, log);
  const workers = await startWorkers(workerContext(config, deployment, keys, conn, log));
  log.info({ registry: deployment.registry, chainId: deployment.chainId }, "workers started");
  onShutdown(log, async () => {
    await workers.close();
    await conn.close();
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
