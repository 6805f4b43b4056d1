import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../services/api/app";
import { loadConfig } from "../../services/config";
import { verifyCertificate, type Certificate } from "../../services/core";
import { appDeps, openConnections, type Connections } from "../../services/runtime";
import {
  PG_SERVER,
  eventually,
  silentLog,
  startTestStack,
  uniqueName,
  type TestStack,
} from "../helpers/stack";

// The restore drill of docs/operating.md, as an operator runs it: pg_dump of the live
// database, pg_restore into a new one, a service started on the copy — and every certificate
// it serves is byte for byte the one served before, and still VALID on the chain.

jest.setTimeout(180_000);

let stack: TestStack;
let restored: { name: string; conn: Connections; app: FastifyInstance } | undefined;
const dir = mkdtempSync(join(tmpdir(), "tsd-drill-"));
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await restored?.app.close();
  await restored?.conn.close();
  if (restored) {
    const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(restored.name)} WITH (FORCE)`);
    await admin.end();
  }
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("dump, restore into a new database: every certificate served afterwards is byte-identical and VALID", async () => {
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const ids: string[] = [];
  for (let round = 0; round < 3; round++) {
    const items = Array.from({ length: 5 }, () => ({ digest: randomBytes(32).toString("hex") }));
    const res = await stack.app.inject({
      method: "POST",
      url: "/v1/deposits/bulk",
      headers: auth,
      payload: { items },
    });
    expect(res.statusCode).toBe(202);
    ids.push(...(res.json().deposits as { id: string }[]).map((d) => d.id));
  }
  const fetchAll = (app: FastifyInstance) =>
    Promise.all(
      ids.map(async (id) => {
        const res = await app.inject({ method: "GET", url: `/v1/deposits/${id}/certificate`, headers: auth });
        return res.statusCode === 200 ? res.body : undefined;
      }),
    );
  const before = await eventually(async () => {
    const bodies = await fetchAll(stack.app);
    return bodies.every((b) => b !== undefined) ? (bodies as string[]) : undefined;
  });
  await stack.workers?.close(); // nothing changes while the dump runs (not needed, but a drill is exact)

  const source = stack.config.DATABASE_URL;
  const dump = join(dir, "tsd.dump");
  execFileSync("pg_dump", ["--format=custom", "--file", dump, source]);
  const name = uniqueName("tsd_restored");
  execFileSync("createdb", ["-h", "127.0.0.1", "-U", "postgres", name]);
  execFileSync("pg_restore", ["--exit-on-error", "--no-owner", "--dbname", `${PG_SERVER}/${name}`, dump]);

  const config = loadConfig({
    DATABASE_URL: `${PG_SERVER}/${name}`,
    REDIS_URL: stack.config.REDIS_URL,
    REDIS_PREFIX: uniqueName("tsdrestore"),
    CHAIN_RPC_URL: stack.chain.rpcUrl,
    DATA_DIR: stack.chain.dir,
    LOG_LEVEL: "silent",
  });
  const conn = openConnections(config, stack.deployment, silentLog);
  const app = await buildApp(appDeps(config, stack.deployment, conn, silentLog));
  restored = { name, conn, app };

  const after = await fetchAll(app);
  expect(after).toEqual(before);
  for (const body of after) {
    const verdict = await verifyCertificate(JSON.parse(body as string) as Certificate, {
      chain: stack.conn.chain,
    });
    expect(verdict.outcome).toBe("VALID");
  }
  // the copy takes new deposits as the original did (its sequences were restored too)
  const more = await app.inject({
    method: "POST",
    url: "/v1/deposits",
    headers: auth,
    payload: { digest: randomBytes(32).toString("hex") },
  });
  expect(more.statusCode).toBe(202);
});
