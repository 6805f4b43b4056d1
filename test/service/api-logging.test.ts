import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../services/api/app";
import { loadConfig } from "../../services/config";
import { createLogger, REDACTED } from "../../services/log";
import { appDeps, logSecrets, openConnections, type Connections } from "../../services/runtime";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The log lines of real requests to a listening API, captured as the process would write them:
// each carries its request id, and the tenant's id once the key is checked; API keys,
// Idempotency-Keys, digests, cursors and the chain RPC URL (with the provider's key in it)
// appear in none.

jest.setTimeout(60_000);

let stack: TestStack;
let rpc: Server;
let rpcUrl: string;
let conn: Connections;
let app: FastifyInstance;
let origin: string;
const lines: string[] = [];
const KEY_IN_PATH = `pathkey${randomBytes(8).toString("hex")}`;
const KEY_IN_QUERY = `querykey${randomBytes(8).toString("hex")}`;

beforeAll(async () => {
  stack = await startTestStack({ workers: false });
  // A chain node that refuses every call with 500: ethers' error then quotes the URL it called.
  rpc = createServer((_req, res) => res.writeHead(500, { "content-type": "text/plain" }).end("no"));
  await new Promise<void>((resolve) => rpc.listen(0, "127.0.0.1", resolve));
  rpcUrl = `http://127.0.0.1:${(rpc.address() as { port: number }).port}/v3/${KEY_IN_PATH}?apikey=${KEY_IN_QUERY}`;
  const config = loadConfig({
    DATABASE_URL: stack.config.DATABASE_URL,
    REDIS_URL: stack.config.REDIS_URL,
    REDIS_PREFIX: stack.config.REDIS_PREFIX,
    CHAIN_RPC_URL: rpcUrl,
    DATA_DIR: stack.config.DATA_DIR,
    HTTP_REQUEST_TIMEOUT_MS: "1500",
    HTTP_HEADERS_TIMEOUT_MS: "1000",
  });
  const log = createLogger("info", "tsd-api", {
    secrets: logSecrets(config),
    destination: { write: (line: string) => void lines.push(line) },
  });
  const deployment = { ...stack.deployment, rpcUrl };
  conn = openConnections(config, deployment, log);
  app = await buildApp(appDeps(config, deployment, conn, log));
  origin = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await conn?.close();
  rpc?.close();
  await stack?.close();
});

const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const linesOf = (reqId: string) => parsed().filter((l) => l.reqId === reqId);

test("a deposit's lines: request id on each, tenant id once authenticated; no key, digest or Idempotency-Key", async () => {
  const tenant = await stack.tenant();
  const digest = randomBytes(32).toString("hex");
  const idempotencyKey = `order-${randomBytes(8).toString("hex")}`;
  const res = await fetch(`${origin}/v1/deposits`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${tenant.apiKey}`,
      "idempotency-key": idempotencyKey,
      "content-type": "application/json",
    },
    body: JSON.stringify({ digest, label: "secret formula" }),
  });
  expect(res.status).toBe(202);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const reqId = res.headers.get("x-request-id") as string;
  expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
  const mine = linesOf(reqId);
  expect(mine.map((l) => l.msg)).toEqual(["incoming request", "request completed"]);
  // the tenant is known after the key is checked: the completion line names it
  expect(mine[1]).toMatchObject({ tenantId: tenant.id, res: { statusCode: 202 } });
  expect(mine[0]).toMatchObject({ req: { method: "POST", url: "/v1/deposits" } });
  const all = lines.join("");
  for (const secret of [tenant.apiKey, idempotencyKey, digest, "secret formula"]) {
    expect(all).not.toContain(secret);
  }
});

test("digests and cursors in URLs are redacted; harmless query values stay", async () => {
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const digests = [randomBytes(32).toString("hex"), randomBytes(32).toString("hex")];
  for (const digest of digests) {
    const res = await fetch(`${origin}/v1/deposits`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ digest }),
    });
    expect(res.status).toBe(202);
  }
  const page = await fetch(`${origin}/v1/deposits?limit=1`, { headers: auth });
  const cursor = ((await page.json()) as { nextCursor: string }).nextCursor;
  expect(cursor).toEqual(expect.any(String));
  const asked = [
    `/v1/deposits?digest=${digests[0]}&limit=1`,
    `/v1/deposits?cursor=${encodeURIComponent(cursor)}&status=pending`,
    `/v1/deposits/${digests[1]}`,
  ];
  const logged: unknown[] = [];
  for (const path of asked) {
    const res = await fetch(`${origin}${path}`, { headers: auth });
    expect(res.status).toBeLessThan(500);
    const incoming = linesOf(res.headers.get("x-request-id") as string).find(
      (l) => l.msg === "incoming request",
    );
    logged.push((incoming?.req as { url?: string } | undefined)?.url);
  }
  expect(logged).toEqual([
    `/v1/deposits?digest=${REDACTED}&limit=1`,
    `/v1/deposits?cursor=${REDACTED}&status=pending`,
    "/v1/deposits/[digest]",
  ]);
  const all = lines.join("");
  for (const secret of [...digests, cursor, tenant.apiKey]) expect(all).not.toContain(secret);
});

test("the chain RPC URL never reaches a line, not even inside ethers' error", async () => {
  // the node answers 500: /v1/registry is 503, and the error logged quotes the URL ethers called
  const res = await fetch(`${origin}/v1/registry`);
  expect(res.status).toBe(503);
  const failed = linesOf(res.headers.get("x-request-id") as string).find((l) => l.msg === "request failed");
  expect(JSON.stringify(failed?.err)).toContain(`requestUrl`);
  expect(JSON.stringify(failed?.err)).toContain(REDACTED);
  // anything else that names it, however it is written
  app.log.info({ rpcUrl, note: `calling ${new URL(rpcUrl).href}` }, `node at ${rpcUrl}`);
  const all = lines.join("");
  expect(all).not.toContain(KEY_IN_PATH);
  expect(all).not.toContain(KEY_IN_QUERY);
  expect(all).toContain("127.0.0.1"); // (the lines are there: only the secret went)
});

test("an Authorization header logged by mistake is redacted", () => {
  const before = lines.length;
  app.log.info({
    req: { headers: { authorization: "Bearer tsd_leak" } },
    headers: { "idempotency-key": "k-leak" },
  });
  const added = lines.slice(before).join("");
  expect(added).not.toContain("tsd_leak");
  expect(added).not.toContain("k-leak");
});

test("deployment.json, which records the RPC URL, is readable by its owner only", () => {
  const mode = statSync(join(stack.config.dataDir, "deployment.json")).mode & 0o777;
  expect(mode.toString(8)).toBe("600");
});

test("a client cut off by the request timeout is an info line, not an error; its key is not in it", async () => {
  const tenant = await stack.tenant();
  const before = lines.length;
  const answer = await new Promise<string>((resolve) => {
    const socket = connect(Number(new URL(origin).port), "127.0.0.1");
    let received = "";
    socket.on("data", (d) => (received += d.toString()));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(received));
    socket.write(
      "POST /v1/deposits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        `Authorization: Bearer ${tenant.apiKey}\r\nContent-Length: 100\r\n\r\n{"dig`,
    );
  });
  expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
  await eventually(async () => (lines.length > before ? true : undefined));
  const added = lines.slice(before).map((l) => JSON.parse(l) as { level: number; msg: string });
  expect(added.filter((l) => l.level >= 50)).toEqual([]);
  expect(added.map((l) => l.msg)).toContain("client error");
  expect(lines.slice(before).join("")).not.toContain(tenant.apiKey);
});
