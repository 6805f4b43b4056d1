import { join } from "node:path";
import { Redis } from "ioredis";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../services/api/app";
import { limitsFrom } from "../../services/api/limits";
import { EthersChainReader, createProvider } from "../../services/chain/reader";
import { loadConfig } from "../../services/config";
import { createPool, type Db } from "../../services/db/pool";
import { call, expectError } from "../helpers/api";
import { testDepositor } from "../helpers/identity";
import { JobQueues } from "../../services/jobs/queues";
import { groupCommitOf } from "../../services/runtime";
import { createApiKey, createTenant } from "../../services/tenants/tenants";
import { freePort, freshDatabase, REDIS_URL, silentLog, uniqueName } from "../helpers/stack";

// Backing services that are down, for real: clients pointed at ports where nothing listens.
// A deposit is then refused with 503 (nothing was accepted, so nothing is lost: the client
// retries with its Idempotency-Key), and readiness follows PostgreSQL alone.

async function appWith(
  db: Db,
  redisUrl: string,
  rpcUrl: string,
): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const redis = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  redis.on("error", () => undefined);
  await redis.connect().catch(() => undefined);
  const provider = createProvider(rpcUrl, 31337);
  const prefix = uniqueName("tsdfault");
  const queues = new JobQueues(redis, prefix, silentLog);
  const app = await buildApp({
    db,
    redis,
    queues,
    provider,
    chain: new EthersChainReader(provider),
    deployment: {
      chainId: 31337,
      registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      rpcUrl,
      deployedAt: "",
    },
    bulkMax: 10,
    batchMax: 100,
    groupCommit: groupCommitOf(loadConfig({})),
    apiKeyCacheMs: loadConfig({}).API_KEY_CACHE_MS,
    publicUrl: "http://127.0.0.1:8080",
    distDir: join(__dirname, "..", "..", "dist"),
    log: silentLog,
    limits: limitsFrom(loadConfig({ REDIS_PREFIX: prefix })),
  });
  return {
    app,
    async close() {
      await app.close();
      await queues.close().catch(() => undefined);
      redis.disconnect();
      provider.destroy();
    },
  };
}

test("PostgreSQL down: deposits get 503 SERVICE_UNAVAILABLE and /readyz is 503", async () => {
  const db = createPool(`postgres://postgres@127.0.0.1:${await freePort()}/none`, 1, silentLog);
  const { app, close } = await appWith(db, REDIS_URL, `http://127.0.0.1:${await freePort()}`);
  try {
    const res = await call(app, {
      method: "POST",
      url: "/v1/deposits",
      headers: { authorization: "Bearer tsd_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
      payload: { digest: "a".repeat(64) },
    });
    expectError(res, 503, "SERVICE_UNAVAILABLE");
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({
      status: "unavailable",
      postgres: "down",
      redis: "up",
      chain: "down",
    });
  } finally {
    await close();
    await db.end();
  }
});

test("Redis and the chain down, PostgreSQL up: ready (deposits work), and the body says what is down", async () => {
  const database = await freshDatabase();
  const db = createPool(database.url, 2, silentLog);
  const { app, close } = await appWith(
    db,
    `redis://127.0.0.1:${await freePort()}`,
    `http://127.0.0.1:${await freePort()}`,
  );
  try {
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready", postgres: "up", redis: "down", chain: "down" });
    expectError(await call(app, { method: "GET", url: "/v1/registry" }), 503, "SERVICE_UNAVAILABLE");
    const tenant = await createTenant(db, "Faulty Redis Co.", testDepositor());
    const { apiKey } = await createApiKey(db, tenant.id);
    const res = await call(app, {
      method: "POST",
      url: "/v1/deposits",
      headers: { authorization: `Bearer ${apiKey}` },
      payload: { digest: "b".repeat(64) },
    });
    expect(res.statusCode).toBe(202);
    const queued = await db.query(
      "SELECT 1 FROM pending p JOIN deposits d ON d.seq = p.seq WHERE d.id = $1",
      [res.json().id],
    );
    expect(queued.rowCount).toBe(1); // in PostgreSQL, waiting for the next seal whatever Redis does
  } finally {
    await close();
    await db.end();
    await database.drop();
  }
});
