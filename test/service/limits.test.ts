import { Redis } from "ioredis";
import pino from "pino";
import type { FastifyInstance, InjectOptions } from "fastify";
import { buildApp } from "../../services/api/app";
import type { Config } from "../../services/config";
import { appDeps, openConnections, type Connections } from "../../services/runtime";
import { createApiKey } from "../../services/tenants/tenants";
import { bearer, call, expectError, type TestTenant } from "../helpers/api";
import { selfSignedCertificate } from "../helpers/forged";
import { startThrowawayRedis } from "../helpers/redis";
import { freePort, REDIS_URL, silentLog, startTestStack, uniqueName, type TestStack } from "../helpers/stack";

// Rate limits and the deposit quota (services/api/limits.ts) against real PostgreSQL, Redis and
// anvil. Each test builds apps with its own limits on its own Redis prefix, so counters never
// leak between tests; two apps on one prefix share theirs.

let stack: TestStack;
const apps: FastifyInstance[] = [];
const extraConnections: Connections[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({ workers: false });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  for (const conn of extraConnections) await conn.close();
  const redis = new Redis(REDIS_URL);
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
  await stack?.close();
});

/** The test stack's configuration with `over`, on a Redis prefix of its own unless given one. */
function configWith(over: Partial<Config>): Config {
  const config = { ...stack.config, REDIS_PREFIX: uniqueName("tsdlimits"), ...over };
  prefixes.push(config.REDIS_PREFIX);
  return config;
}

async function appWith(over: Partial<Config>, conn: Connections = stack.conn): Promise<FastifyInstance> {
  const app = await buildApp(appDeps(configWith(over), stack.deployment, conn, silentLog));
  apps.push(app);
  return app;
}

const digest = (i: number) => i.toString(16).padStart(64, "0");
let nextDigest = 1;
const items = (n: number) => Array.from({ length: n }, () => ({ digest: digest(nextDigest++) }));

async function storedFor(t: TestTenant): Promise<number> {
  const { rows } = await stack.conn.db.query<{ n: string }>(
    "SELECT count(*) AS n FROM deposits WHERE tenant_id = $1",
    [t.id],
  );
  return Number(rows[0]?.n);
}

/** Asserts a 429 with the code and a Retry-After of 1..max seconds; returns the Retry-After. */
function expectLimited(res: Awaited<ReturnType<typeof call>>, code: string, max = 60): number {
  expectError(res, 429, code);
  const retryAfter = Number(res.headers["retry-after"]);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(max);
  return retryAfter;
}

const list = (app: FastifyInstance, t: TestTenant, extra: Partial<InjectOptions> = {}) =>
  call(app, { method: "GET", url: "/v1/deposits", headers: bearer(t), ...extra });
const bulk = (app: FastifyInstance, t: TestTenant, body: object, headers: Record<string, string> = {}) =>
  call(app, {
    method: "POST",
    url: "/v1/deposits/bulk",
    headers: { ...bearer(t), ...headers },
    payload: body,
  });
const single = (app: FastifyInstance, t: TestTenant) =>
  call(app, {
    method: "POST",
    url: "/v1/deposits",
    headers: bearer(t),
    payload: { digest: digest(nextDigest++) },
  });

describe("per API key", () => {
  test("RATE_LIMIT_REQUESTS_PER_MINUTE over every authenticated route, then 429 RATE_LIMITED; other keys go on", async () => {
    const app = await appWith({ RATE_LIMIT_REQUESTS_PER_MINUTE: 5 });
    const t = await stack.tenant();
    const sameTenantOtherKey = { ...t, apiKey: (await createApiKey(stack.conn.db, t.id)).apiKey };
    const other = await stack.tenant();
    for (let i = 0; i < 3; i++) expect((await list(app, t)).statusCode).toBe(200);
    const feed = await call(app, { method: "GET", url: "/v1/certificates?since=now", headers: bearer(t) });
    expect(feed.statusCode).toBe(200);
    expect((await single(app, t)).statusCode).toBe(202);
    // The sixth request of the minute, whichever route:
    expectLimited(await list(app, t), "RATE_LIMITED");
    expectLimited(await single(app, t), "RATE_LIMITED");
    expect(await storedFor(t)).toBe(1);
    expect((await list(app, sameTenantOtherKey)).statusCode).toBe(200);
    expect((await list(app, other)).statusCode).toBe(200);
  });

  test("RATE_LIMIT_DEPOSITS_PER_MINUTE: a bulk counts its items, all or none; refusals and replays give theirs back", async () => {
    const app = await appWith({ RATE_LIMIT_DEPOSITS_PER_MINUTE: 10, BULK_MAX: 10 });
    const t = await stack.tenant();
    const first = { items: items(4) };
    expect((await bulk(app, t, first, { "idempotency-key": "first" })).statusCode).toBe(202); // 4 of 10
    const replay = await bulk(app, t, first, { "idempotency-key": "first" });
    expect(replay.statusCode).toBe(202);
    expect(replay.headers["idempotent-replayed"]).toBe("true"); // stored nothing: takes nothing
    const bad = await bulk(app, t, { items: [...items(2), { digest: "not hex" }] });
    expect(bad.statusCode).toBe(400); // refused: takes nothing
    expectLimited(await bulk(app, t, { items: items(7) }), "RATE_LIMITED"); // 4 + 7 > 10: none of it
    expect(await storedFor(t)).toBe(4);
    expect((await bulk(app, t, { items: items(6) })).statusCode).toBe(202); // 10 of 10
    expectLimited(await single(app, t), "RATE_LIMITED");
    expect(await storedFor(t)).toBe(10);
    // Per key: the tenant's other key has its own minute (the day's quota is far off).
    const otherKey = { ...t, apiKey: (await createApiKey(stack.conn.db, t.id)).apiKey };
    expect((await single(app, otherKey)).statusCode).toBe(202);
    expect(await storedFor(t)).toBe(11);
  });
});

describe("per tenant", () => {
  test("DEPOSIT_QUOTA_PER_DAY over all the tenant's keys: 429 QUOTA_EXCEEDED until 00:00 UTC, nothing stored beyond", async () => {
    const app = await appWith({ DEPOSIT_QUOTA_PER_DAY: 12, BULK_MAX: 10 });
    const t = await stack.tenant();
    const secondKey = { ...t, apiKey: (await createApiKey(stack.conn.db, t.id)).apiKey };
    const other = await stack.tenant();
    const toMidnight = () => {
      const now = new Date();
      return Math.ceil(
        (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000,
      );
    };
    expect((await bulk(app, t, { items: items(10) })).statusCode).toBe(202);
    const before = toMidnight();
    const refused = await bulk(app, secondKey, { items: items(3) });
    const after = toMidnight();
    const retryAfter = expectLimited(refused, "QUOTA_EXCEEDED", 86_400);
    expect(retryAfter).toBeLessThanOrEqual(before);
    expect(retryAfter).toBeGreaterThanOrEqual(after);
    expect((await bulk(app, secondKey, { items: items(2) })).statusCode).toBe(202); // exactly 12
    expectLimited(await single(app, t), "QUOTA_EXCEEDED", 86_400);
    expect(await storedFor(t)).toBe(12);
    expect((await bulk(app, other, { items: items(10) })).statusCode).toBe(202);
    // Reading goes on: the quota is on deposits only.
    expect((await list(app, t)).statusCode).toBe(200);
  });
});

describe("per client address", () => {
  test("RATE_LIMIT_AUTH_FAILURES_PER_MINUTE failed authentications, then even a good key from there gets 429", async () => {
    const app = await appWith({ RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 3 });
    const t = await stack.tenant();
    const wrong = { authorization: `Bearer tsd_${"x".repeat(43)}` };
    for (let i = 0; i < 3; i++) {
      expectError(
        await call(app, { method: "GET", url: "/v1/deposits", headers: wrong }),
        401,
        "UNAUTHENTICATED",
      );
    }
    expectLimited(await list(app, t), "RATE_LIMITED");
    expectLimited(await call(app, { method: "GET", url: "/v1/deposits", headers: wrong }), "RATE_LIMITED");
    // Another address is not affected, nor are the public routes from this one.
    expect((await list(app, t, { remoteAddress: "10.1.2.3" })).statusCode).toBe(200);
    expect(
      (await call(app, { method: "POST", url: "/v1/verify", payload: { certificate: "x" } })).statusCode,
    ).toBe(200);
    // A successful authentication counts nothing.
    for (let i = 0; i < 5; i++)
      expect((await list(app, t, { remoteAddress: "10.1.2.4" })).statusCode).toBe(200);
  });

  test("RATE_LIMIT_VERIFY_PER_MINUTE on POST /v1/verify, per address", async () => {
    const app = await appWith({ RATE_LIMIT_VERIFY_PER_MINUTE: 3 });
    const verify = (remoteAddress = "127.0.0.1") =>
      call(app, { method: "POST", url: "/v1/verify", payload: { certificate: {} }, remoteAddress });
    for (let i = 0; i < 3; i++) expect((await verify()).json().code).toBe("MALFORMED");
    expectLimited(await verify(), "RATE_LIMITED");
    expect((await verify("10.9.9.9")).statusCode).toBe(200);
    // Its own counter: the pages still answer this address.
    expect((await call(app, { method: "GET", url: "/downloads/SHA256SUMS" })).statusCode).toBe(200);
  });

  test("RATE_LIMIT_PUBLIC_PER_MINUTE over pages, downloads, /v1/registry and unknown routes; probes never", async () => {
    const app = await appWith({ RATE_LIMIT_PUBLIC_PER_MINUTE: 3 });
    const t = await stack.tenant();
    expect((await call(app, { method: "GET", url: "/downloads/SHA256SUMS" })).statusCode).toBe(200);
    expect((await call(app, { method: "GET", url: "/v1/registry" })).statusCode).toBe(200);
    expectError(await call(app, { method: "GET", url: "/no/such/page" }), 404, "ROUTE_NOT_FOUND");
    expectLimited(await call(app, { method: "GET", url: "/" }), "RATE_LIMITED");
    expectLimited(await call(app, { method: "GET", url: "/no/such/page" }), "RATE_LIMITED");
    for (let i = 0; i < 5; i++) {
      expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
      expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    }
    expect((await call(app, { method: "GET", url: "/", remoteAddress: "10.3.3.3" })).statusCode).toBe(200);
    expect((await list(app, t)).statusCode).toBe(200);
  });
});

test("the OpenAPI description lists 429 on the limited routes", async () => {
  const spec = (await stack.app.inject({ method: "GET", url: "/docs/json" })).json() as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  for (const [path, method] of [
    ["/v1/deposits", "post"],
    ["/v1/deposits/bulk", "post"],
    ["/v1/deposits", "get"],
    ["/v1/certificates", "get"],
    ["/v1/verify", "post"],
    ["/v1/registry", "get"],
  ] as const) {
    expect({ path, method, has429: "429" in (spec.paths[path]?.[method]?.responses ?? {}) }).toEqual({
      path,
      method,
      has429: true,
    });
  }
});

describe("behind a proxy", () => {
  test("TRUST_PROXY: the client is the X-Forwarded-For a trusted proxy sends; from others it is ignored", async () => {
    const app = await appWith({ RATE_LIMIT_VERIFY_PER_MINUTE: 2, TRUST_PROXY: "127.0.0.1" });
    const verify = (headers: Record<string, string>, remoteAddress = "127.0.0.1") =>
      call(app, { method: "POST", url: "/v1/verify", payload: { certificate: {} }, headers, remoteAddress });
    const alice = { "x-forwarded-for": "203.0.113.7" };
    const bob = { "x-forwarded-for": "198.51.100.9" };
    expect((await verify(alice)).statusCode).toBe(200);
    expect((await verify(alice)).statusCode).toBe(200);
    expectLimited(await verify(alice), "RATE_LIMITED");
    expect((await verify(bob)).statusCode).toBe(200);
    // A client that is not the trusted proxy cannot pick its address.
    expect((await verify({ "x-forwarded-for": "192.0.2.1" }, "10.7.7.7")).statusCode).toBe(200);
    expect((await verify({ "x-forwarded-for": "192.0.2.2" }, "10.7.7.7")).statusCode).toBe(200);
    expectLimited(await verify({ "x-forwarded-for": "192.0.2.3" }, "10.7.7.7"), "RATE_LIMITED");
  });
});

describe("shared by every API process on one REDIS_PREFIX", () => {
  test("two apps with their own Redis connections share requests and quota; another prefix does not", async () => {
    const prefix = uniqueName("tsdshared");
    const limits = { RATE_LIMIT_REQUESTS_PER_MINUTE: 5, DEPOSIT_QUOTA_PER_DAY: 10, BULK_MAX: 10 };
    const a = await appWith({ ...limits, REDIS_PREFIX: prefix });
    const connB = openConnections(
      configWith({ ...limits, REDIS_PREFIX: prefix }),
      stack.deployment,
      silentLog,
    );
    extraConnections.push(connB);
    const b = await appWith({ ...limits, REDIS_PREFIX: prefix }, connB);
    const elsewhere = await appWith(limits);
    const t = await stack.tenant();

    expect((await bulk(a, t, { items: items(6) })).statusCode).toBe(202);
    expectLimited(await bulk(b, t, { items: items(5) }), "QUOTA_EXCEEDED", 86_400); // 6 + 5 > 10
    expect((await bulk(b, t, { items: items(4) })).statusCode).toBe(202);
    expect((await list(a, t)).statusCode).toBe(200);
    expect((await list(b, t)).statusCode).toBe(200); // the 5th request on the shared counter
    expectLimited(await list(a, t), "RATE_LIMITED");
    expectLimited(await list(b, t), "RATE_LIMITED");
    expect(await storedFor(t)).toBe(10);
    // Another prefix counts on its own.
    expect((await list(elsewhere, t)).statusCode).toBe(200);
    expect((await single(elsewhere, t)).statusCode).toBe(202);
  });
});

describe("when Redis fails", () => {
  /** A logger whose lines the test reads. */
  function capturingLog() {
    const lines: { msg?: string; level?: number }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    return { log, lines };
  }

  async function appOnRedis(redis: Redis, log: pino.Logger): Promise<FastifyInstance> {
    // Limits of 1 that would refuse the second request of anything, were they applied.
    const config = configWith({
      RATE_LIMIT_REQUESTS_PER_MINUTE: 1,
      RATE_LIMIT_VERIFY_PER_MINUTE: 1,
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 1,
      RATE_LIMIT_DEPOSITS_PER_MINUTE: 1,
      DEPOSIT_QUOTA_PER_DAY: 1,
      BULK_MAX: 1,
    });
    const { queues: _queues, ...deps } = appDeps(config, stack.deployment, stack.conn, log);
    const app = await buildApp({ ...deps, redis, log });
    apps.push(app);
    return app;
  }

  async function expectFailOpen(app: FastifyInstance, lines: { msg?: string }[], rounds = 3) {
    const t = await stack.tenant();
    for (let i = 0; i < rounds; i++) {
      expect((await single(app, t)).statusCode).toBe(202);
      expect((await bulk(app, t, { items: items(1) })).statusCode).toBe(202);
      expect((await list(app, t)).statusCode).toBe(200);
      expect(
        (await call(app, { method: "POST", url: "/v1/verify", payload: { certificate: {} } })).statusCode,
      ).toBe(200);
    }
    expect(await storedFor(t)).toBe(2 * rounds);
    expect(
      lines.filter((l) => l.msg === "rate limits not applied: Redis unavailable").length,
    ).toBeGreaterThanOrEqual(1);
  }

  test("down (nothing listens): limits are not applied, deposits are accepted, and the log says so", async () => {
    const redis = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    });
    redis.on("error", () => undefined);
    await redis.connect().catch(() => undefined);
    const { log, lines } = capturingLog();
    try {
      await expectFailOpen(await appOnRedis(redis, log), lines);
    } finally {
      redis.disconnect();
    }
  });

  test("hanging (a stopped redis-server): each check gives up within a moment and the request goes through", async () => {
    const server = await startThrowawayRedis();
    const redis = new Redis(server.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    });
    redis.on("error", () => undefined);
    const { log, lines } = capturingLog();
    try {
      // Connected before the first command: without an offline queue, a command sent while
      // connecting is refused at once.
      await redis.connect();
      const app = await appOnRedis(redis, log);
      await app.ready();
      await redis.ping(); // connected and ready; now it stops answering
      process.kill(server.pid, "SIGSTOP");
      await expectFailOpen(app, lines, 1);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});

describe("the verifier's CPU bound", () => {
  test("VERIFY_CONCURRENCY busy and VERIFY_QUEUE_MAX full: 429 VERIFY_BUSY with Retry-After, the others answered", async () => {
    const app = await appWith({ VERIFY_CONCURRENCY: 1, VERIFY_QUEUE_MAX: 1 });
    // Certificates that pass every offline check, so each verification waits on the chain.
    const certificates = await Promise.all(
      Array.from({ length: 12 }, () =>
        selfSignedCertificate(stack.deployment.chainId, stack.deployment.registry),
      ),
    );
    const answers = await Promise.all(
      certificates.map((certificate) =>
        call(app, { method: "POST", url: "/v1/verify", payload: { certificate } }),
      ),
    );
    const busy = answers.filter((r) => r.statusCode === 429);
    const done = answers.filter((r) => r.statusCode === 200);
    expect(busy.length + done.length).toBe(12);
    expect(busy.length).toBeGreaterThan(0);
    expect(done.length).toBeGreaterThanOrEqual(2); // one running, one waiting
    for (const r of busy) {
      expectError(r, 429, "VERIFY_BUSY");
      expect(r.headers["retry-after"]).toBe("1");
    }
    for (const r of done) expect(r.json()).toMatchObject({ outcome: "INVALID", code: "NOT_ANCHORED" });
  });
});
