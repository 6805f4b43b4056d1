import { loadConfig } from "../config";
import { migrate } from "../db/migrate";
import { createLogger } from "../log";
import { appDeps, onShutdown, openConnections, resolveDeployment } from "../runtime";
import { buildApp } from "./app";

// The API on its own (`npm run start:api`): several of these may run behind a load balancer.

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, "tsd-api");
  await migrate(config.DATABASE_URL, log);
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
