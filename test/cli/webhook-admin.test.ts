import { createPool, type Db } from "../../services/db/pool";
import { runCli } from "../e2e/processes";
import { freshDatabase, silentLog } from "../helpers/stack";

// `tsd admin tenant webhook`, as an operator runs it: a real process against a real (fresh)
// database.

let db: Awaited<ReturnType<typeof freshDatabase>>;
let pool: Db;
let env: Record<string, string>;
let tenantId: string;
beforeAll(async () => {
  db = await freshDatabase();
  env = { DATABASE_URL: db.url };
  pool = createPool(db.url, 1, silentLog);
  const created = await runCli(
    [
      "admin",
      "tenant",
      "create",
      "--name",
      "Lingang Hooks",
      "--depositor",
      "uscc:91310000MA1FL0007C",
      "--json",
    ],
    env,
  );
  tenantId = (JSON.parse(created.stdout) as { tenantId: string }).tenantId;
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const stored = async () =>
  (
    await pool.query<{ url: string; secret: string }>(
      "SELECT url, secret FROM webhooks WHERE tenant_id = $1",
      [tenantId],
    )
  ).rows;

test("--url registers the webhook and prints its secret once; again replaces both; --remove removes it", async () => {
  const first = await runCli(
    ["admin", "tenant", "webhook", "--tenant", tenantId, "--url", "https://hooks.acme.example/tsd"],
    env,
  );
  expect(first.code).toBe(0);
  const secret = /^secret +(\S+)$/m.exec(first.stdout)?.[1];
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
  expect(first.stdout).toContain("shown once");
  expect(await stored()).toEqual([{ url: "https://hooks.acme.example/tsd", secret }]);

  const second = await runCli(
    ["admin", "tenant", "webhook", "--tenant", tenantId, "--url", "http://127.0.0.1:9000/hook", "--json"],
    env,
  );
  expect(second.code).toBe(0);
  const replaced = JSON.parse(second.stdout) as { tenantId: string; url: string; secret: string };
  expect(replaced).toMatchObject({ tenantId, url: "http://127.0.0.1:9000/hook" });
  expect(replaced.secret).not.toBe(secret);
  expect(await stored()).toEqual([{ url: replaced.url, secret: replaced.secret }]);

  const removed = await runCli(
    ["admin", "tenant", "webhook", "--tenant", tenantId, "--remove", "--json"],
    env,
  );
  expect(removed.code).toBe(0);
  expect(JSON.parse(removed.stdout)).toEqual({ tenantId, removed: true });
  expect(await stored()).toEqual([]);
  const again = await runCli(["admin", "tenant", "webhook", "--tenant", tenantId, "--remove"], env);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("had no webhook");
});

test.each([
  [["--url", "http://hooks.acme.example/tsd"], "WEBHOOK_URL_INVALID"],
  [["--url", "not a url"], "WEBHOOK_URL_INVALID"],
  [["--url", "https://user:pw@hooks.acme.example/tsd"], "WEBHOOK_URL_INVALID"],
])("%j fails with %s and exit code 3, and stores nothing", async (args, code) => {
  const result = await runCli(["admin", "tenant", "webhook", "--tenant", tenantId, ...args], env);
  expect(result.code).toBe(3);
  expect(result.stderr).toContain(code);
  expect(await stored()).toEqual([]);
});

test.each([["--url", "https://hooks.acme.example/tsd"], ["--remove"]])(
  "an unknown tenant (%s) fails with TENANT_NOT_FOUND",
  async (...args) => {
    for (const tenant of ["00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      const result = await runCli(["admin", "tenant", "webhook", "--tenant", tenant, ...args], env);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain("TENANT_NOT_FOUND");
    }
  },
);

test("usage errors exit 3: neither --url nor --remove, both, or no --tenant", async () => {
  const base = ["admin", "tenant", "webhook"];
  expect((await runCli([...base, "--tenant", tenantId], env)).code).toBe(3);
  expect(
    (
      await runCli(
        [...base, "--tenant", tenantId, "--url", "https://hooks.acme.example/tsd", "--remove"],
        env,
      )
    ).code,
  ).toBe(3);
  expect((await runCli([...base, "--url", "https://hooks.acme.example/tsd"], env)).code).toBe(3);
  expect(await stored()).toEqual([]);
});

test("the help says what it does, with examples and the signature scheme", async () => {
  const help = await runCli(["admin", "tenant", "webhook", "--help"], env);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("signed POST when the tenant's deposits are certified");
  expect(help.stdout).toContain("tsd admin tenant webhook --tenant 5c0f1d2e-… --url https://");
  expect(help.stdout).toContain("tsd admin tenant webhook --tenant 5c0f1d2e-… --remove");
  expect(help.stdout).toContain("tsd-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret");
  expect((await runCli(["admin", "tenant", "--help"], env)).stdout).toMatch(/webhook \[options\]/);
});
