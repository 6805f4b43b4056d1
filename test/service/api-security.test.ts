import type { FastifyInstance } from "fastify";
import { buildApp } from "../../services/api/app";
import { API_CSP } from "../../services/api/security";
import { appDeps } from "../../services/runtime";
import { bearer, call, expectError, type TestTenant } from "../helpers/api";
import { silentLog, startTestStack, type TestStack } from "../helpers/stack";

// Response headers for browsers: helmet's set on every answer, CORS only for the configured
// origins (and for the public routes from anywhere), Cache-Control: no-store on every answer
// of a route that takes an API key, refusals included.

let stack: TestStack;
let tenant: TestTenant;
/** The same API without CORS_ORIGINS. */
let closed: FastifyInstance;
const ERP = "https://erp.example.com";

beforeAll(async () => {
  stack = await startTestStack({
    workers: false,
    env: { CORS_ORIGINS: `${ERP}, https://portal.example.com:8443` },
  });
  tenant = await stack.tenant();
  const { CORS_ORIGINS: _configured, ...config } = stack.config;
  closed = await buildApp(appDeps(config, stack.deployment, stack.conn, silentLog));
});
afterAll(async () => {
  await closed?.close();
  await stack?.close();
});

test("helmet's headers and a CSP that allows nothing on API answers, errors included", async () => {
  for (const url of ["/healthz", "/v1/registry", "/v1/nothing"]) {
    const res = await call(stack.app, { method: "GET", url });
    expect(res.headers).toMatchObject({
      "content-security-policy": API_CSP.replace(/; /g, ";"),
      "x-content-type-options": "nosniff",
      "x-frame-options": "SAMEORIGIN",
      "referrer-policy": "no-referrer",
      "strict-transport-security": expect.stringContaining("max-age="),
      "cross-origin-resource-policy": "same-origin",
    });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  }
});

test("every answer of a route behind an API key is Cache-Control: no-store, refusals too", async () => {
  const id = (
    await call(stack.app, {
      method: "POST",
      url: "/v1/deposits",
      headers: bearer(tenant),
      payload: { digest: "b".repeat(64) },
    })
  ).json().id as string;
  const answers = await Promise.all(
    [
      { method: "GET", url: "/v1/deposits", headers: bearer(tenant) },
      { method: "GET", url: `/v1/deposits/${id}`, headers: bearer(tenant) },
      { method: "GET", url: "/v1/deposits?limit=0", headers: bearer(tenant) },
      { method: "GET", url: `/v1/deposits/${id}/certificate`, headers: bearer(tenant) },
      { method: "GET", url: "/v1/certificates", headers: bearer(tenant) },
      { method: "GET", url: "/v1/deposits" },
      { method: "POST", url: "/v1/deposits/bulk", headers: bearer(tenant), payload: { items: [] } },
    ].map(async (o) => {
      const res = await call(stack.app, o as Parameters<typeof call>[1]);
      return `${res.statusCode} ${res.headers["cache-control"]}`;
    }),
  );
  expect(answers).toEqual([
    "200 no-store",
    "200 no-store",
    "400 no-store",
    "409 no-store",
    "200 no-store",
    "401 no-store",
    "400 no-store",
  ]);
});

test("CORS: a configured origin may call the API with its key; another origin gets no CORS headers", async () => {
  const from = (origin: string) =>
    call(stack.app, { method: "GET", url: "/v1/deposits", headers: { ...bearer(tenant), origin } });
  const allowed = await from(ERP);
  expect(allowed.headers["access-control-allow-origin"]).toBe(ERP);
  expect(allowed.headers["access-control-expose-headers"]).toContain("x-next-cursor");
  expect(allowed.headers.vary).toContain("Origin");
  expect((await from("https://portal.example.com:8443")).headers["access-control-allow-origin"]).toBe(
    "https://portal.example.com:8443",
  );
  const other = await from("https://evil.example");
  expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  // the preflight names what a depositor's browser may send
  const preflight = await stack.app.inject({
    method: "OPTIONS",
    url: "/v1/deposits/bulk",
    headers: {
      origin: ERP,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization",
    },
  });
  expect(preflight.statusCode).toBe(204);
  expect(preflight.headers).toMatchObject({
    "access-control-allow-origin": ERP,
    "access-control-allow-headers": "authorization, content-type, idempotency-key",
    "access-control-allow-methods": "GET, HEAD, POST",
  });
  expect(preflight.headers["access-control-allow-credentials"]).toBeUndefined();
});

test("CORS by default: none for the key-holding routes, any origin for /v1/verify and /v1/registry", async () => {
  const keyed = await call(closed, {
    method: "GET",
    url: "/v1/deposits",
    headers: { ...bearer(tenant), origin: ERP },
  });
  expect(keyed.statusCode).toBe(200);
  expect(keyed.headers["access-control-allow-origin"]).toBeUndefined();
  const preflight = await call(closed, {
    method: "OPTIONS",
    url: "/v1/deposits",
    headers: { origin: ERP, "access-control-request-method": "POST" },
  });
  expectError(preflight, 404, "ROUTE_NOT_FOUND");
  expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();

  for (const app of [closed, stack.app]) {
    const verify = await call(app, {
      method: "POST",
      url: "/v1/verify",
      headers: { origin: "https://court.example" },
      payload: { certificate: {} },
    });
    expect(verify.statusCode).toBe(200);
    expect(verify.headers["access-control-allow-origin"]).toBe("*");
    const registry = await call(app, {
      method: "GET",
      url: "/v1/registry",
      headers: { origin: "https://x.example" },
    });
    expect(registry.headers["access-control-allow-origin"]).toBe("*");
    const preflight = await app.inject({
      method: "OPTIONS",
      url: "/v1/verify",
      headers: { origin: "https://court.example", "access-control-request-method": "POST" },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("*");
  }
});
