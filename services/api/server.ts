import { loadConfig, loadDotEnv } from "../config";
import { createLogger } from "../log";
import {
  appDeps,
  logSecrets,
  migrateAsOwner,
  onShutdown,
  openConnections,
  resolveDeployment,
} from "../runtime";
import { checkRedisPolicy } from "../redis-policy";
import { buildApp } from "./app";

// The API on its own (`npm run start:api`): several of these may run behind a load balancer.

async function main(): Promise<void> {
  const envFile = loadDotEnv();
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, "tsd-api", { secrets: logSecrets(config) });
  if (envFile) log.info({ envFile }, "read .env (variables already set win)");
  await checkRedisPolicy(config.REDIS_URL, log);
  await migrateAsOwner(config, log, { createDatabase: true });
  const deployment = await resolveDeployment(config);
  const conn = openConnections(config, deployment, log);
  const app = await buildApp(appDeps(config, deployment, conn, log));
  await app.listen({ port: config.PORT, host: config.HOST });
  onShutdown(log, async () => {
    await app.close();
    await conn.close();
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
