import type { FastifyInstance, InjectOptions } from "fastify";
import { buildApp } from "../../services/api/app";
import { appDeps, openConnections, type Connections } from "../../services/runtime";
import { MAX_KEY_CACHE_MS, cachedAuthentication } from "../../services/tenants/key-cache";
import { createApiKey, revokeApiKey } from "../../services/tenants/tenants";
import { runCli } from "../e2e/processes";
import { call, expectError, expectWithin } from "../helpers/api";
import { silentLog, startTestStack, type TestStack } from "../helpers/stack";

// API keys are remembered by each API process for API_KEY_CACHE_MS (at most a second): a key
// revoked, or a tenant disabled, by an operator in another process is refused by every API
// process within that time. Two API instances here share one database, as two replicas behind
// a load balancer do; the operator's change is made by `tsd admin`, a process of its own.

let stack: TestStack;
let other: { app: FastifyInstance; conn: Connections };
beforeAll(async () => {
  stack = await startTestStack({ workers: false });
  const conn = openConnections(stack.config, stack.deployment, silentLog);
  other = { conn, app: await buildApp(appDeps(stack.config, stack.deployment, conn, silentLog)) };
});
afterAll(async () => {
  await other?.app.close();
  await other?.conn.close();
  await stack?.close();
});

const admin = (args: string[]) => runCli(["admin", ...args], { DATABASE_URL: stack.config.DATABASE_URL });
const list = (app: FastifyInstance, apiKey: string) =>
  call(app, { method: "GET", url: "/v1/deposits", headers: { authorization: `Bearer ${apiKey}` } });

test("a key revoked with `tsd admin key revoke` is refused by both instances within API_KEY_CACHE_MS", async () => {
  const t = await stack.tenant();
  const { keyId, apiKey } = await createApiKey(stack.conn.db, t.id);
  // Both instances know the key (it is in their caches now).
  for (const app of [stack.app, other.app]) expect((await list(app, apiKey)).statusCode).toBe(200);

  expect((await admin(["key", "revoke", keyId])).code).toBe(0);
  const revoked = Date.now();
  for (const app of [other.app, stack.app]) {
    const res = await expectWithin(
      stack.config.API_KEY_CACHE_MS,
      revoked,
      () => list(app, apiKey),
      (r) => r.statusCode !== 200,
    );
    expectError(res, 401, "UNAUTHENTICATED");
  }
  // the tenant's other key is untouched
  for (const app of [stack.app, other.app]) expect((await list(app, t.apiKey)).statusCode).toBe(200);
});

test("a tenant disabled with `tsd admin tenant disable` is refused within API_KEY_CACHE_MS; enabled, accepted again", async () => {
  const t = await stack.tenant();
  const deposit: InjectOptions = {
    method: "POST",
    url: "/v1/deposits",
    headers: { authorization: `Bearer ${t.apiKey}` },
    payload: { digest: "c".repeat(64) },
  };
  for (const app of [stack.app, other.app]) expect((await call(app, deposit)).statusCode).toBe(202);

  expect((await admin(["tenant", "disable", t.id])).code).toBe(0);
  const disabled = Date.now();
  for (const app of [other.app, stack.app]) {
    const res = await expectWithin(
      stack.config.API_KEY_CACHE_MS,
      disabled,
      () => call(app, deposit),
      (r) => r.statusCode !== 202,
    );
    expectError(res, 403, "TENANT_DISABLED");
  }

  expect((await admin(["tenant", "enable", t.id])).code).toBe(0);
  const enabled = Date.now();
  for (const app of [other.app, stack.app]) {
    const res = await expectWithin(
      stack.config.API_KEY_CACHE_MS,
      enabled,
      () => call(app, deposit),
      (r) => r.statusCode !== 403,
    );
    expect(res.statusCode).toBe(202);
  }
});

describe("cachedAuthentication", () => {
  /** A clock the test moves. */
  const clock = () => {
    let now = 1_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  test("a key's tenant is remembered for ttlMs from when it was asked, then asked again", async () => {
    const t = await stack.tenant();
    const { keyId, apiKey } = await createApiKey(stack.conn.db, t.id);
    const time = clock();
    const authenticate = cachedAuthentication(stack.conn.db, { ttlMs: 1000, now: time.now });
    expect(await authenticate(apiKey)).toMatchObject({ id: t.id, depositor: t.depositor, disabled: false });

    await revokeApiKey(stack.conn.db, keyId);
    time.advance(999);
    expect(await authenticate(apiKey)).toMatchObject({ id: t.id }); // still remembered
    time.advance(1);
    expect(await authenticate(apiKey)).toBeNull(); // asked again: revoked
  });

  test("unknown keys are not remembered: a key made after a failed lookup works at once", async () => {
    const t = await stack.tenant();
    const time = clock();
    const authenticate = cachedAuthentication(stack.conn.db, { ttlMs: 1000, now: time.now });
    const spy = jest.spyOn(stack.conn.db, "query");
    try {
      expect(await authenticate(`tsd_${"x".repeat(43)}`)).toBeNull();
      expect(await authenticate(`tsd_${"x".repeat(43)}`)).toBeNull();
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    const { apiKey } = await createApiKey(stack.conn.db, t.id);
    expect(await authenticate(apiKey)).toMatchObject({ id: t.id });
  });

  test("a burst of requests with one key asks the database once", async () => {
    const t = await stack.tenant();
    const authenticate = cachedAuthentication(stack.conn.db, { ttlMs: 1000, now: clock().now });
    const spy = jest.spyOn(stack.conn.db, "query");
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => authenticate(t.apiKey)));
      expect(answers.every((a) => a?.id === t.id)).toBe(true);
      expect(await authenticate(t.apiKey)).toMatchObject({ id: t.id });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  test("ttlMs 0 asks every time; more than a second is refused", async () => {
    const t = await stack.tenant();
    const authenticate = cachedAuthentication(stack.conn.db, { ttlMs: 0 });
    const spy = jest.spyOn(stack.conn.db, "query");
    try {
      await authenticate(t.apiKey);
      await authenticate(t.apiKey);
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    expect(() => cachedAuthentication(stack.conn.db, { ttlMs: MAX_KEY_CACHE_MS + 1 })).toThrow(RangeError);
  });

  test("at most maxEntries keys are kept, the oldest leaving first", async () => {
    const a = await stack.tenant();
    const b = await stack.tenant();
    const authenticate = cachedAuthentication(stack.conn.db, {
      ttlMs: 1000,
      maxEntries: 1,
      now: clock().now,
    });
    await authenticate(a.apiKey);
    await authenticate(b.apiKey); // a's entry leaves
    const spy = jest.spyOn(stack.conn.db, "query");
    try {
      expect(await authenticate(b.apiKey)).toMatchObject({ id: b.id });
      expect(spy).toHaveBeenCalledTimes(0);
      expect(await authenticate(a.apiKey)).toMatchObject({ id: a.id });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});
