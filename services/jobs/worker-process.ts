import { loadConfig, loadDotEnv } from "../config";
import { createLogger } from "../log";
import { serveMetrics } from "../metrics/server";
import { checkRedisPolicy } from "../redis-policy";
import {
  keySources,
  logSecrets,
  migrateAsOwner,
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
  const envFile = loadDotEnv();
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, "tsd-workers", { secrets: logSecrets(config) });
  if (envFile) log.info({ envFile }, "read .env (variables already set win)");
  await checkRedisPolicy(config.REDIS_URL, log);
  await migrateAsOwner(config, log, { createDatabase: true });
  const deployment = await resolveDeployment(config);
  const keys = serviceKeys(keySources(config, false));
  const conn = openConnections(config, deployment, log);
  const workers = await startWorkers(workerContext(config, deployment, keys, conn, log));
  const metricsServer =
    config.WORKER_METRICS_PORT === 0
      ? undefined
      : await serveMetrics(
          config.WORKER_METRICS_PORT,
          config.HOST,
          {
            db: conn.db,
            queues: conn.queues,
            anchorerBalance: () => conn.provider.getBalance(keys.anchorer.address),
            ...(config.OPERATOR_TOKEN ? { operatorToken: config.OPERATOR_TOKEN } : {}),
          },
          log,
        ).catch((err: NodeJS.ErrnoException) => {
          // Another worker process on this host has the port: the work matters more than the
          // metrics. Give each process its own WORKER_METRICS_PORT to scrape them all.
          if (err.code !== "EADDRINUSE") throw err;
          log.error(
            { port: config.WORKER_METRICS_PORT },
            "WORKER_METRICS_PORT is in use (another worker on this host?): this process serves no /metrics",
          );
          return undefined;
        });
  log.info(
    { registry: deployment.registry, chainId: deployment.chainId, metricsPort: metricsServer?.port },
    "workers started",
  );
  onShutdown(log, async () => {
    await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
    await workers.close();
    await conn.close();
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
