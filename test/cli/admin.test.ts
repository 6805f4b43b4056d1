import { createPool } from "../../services/db/pool";
import { authenticate } from "../../services/tenants/tenants";
import { runCli } from "../e2e/processes";
import { freshDatabase, silentLog } from "../helpers/stack";

// `tsd admin`, as an operator runs it: a real process against a real (fresh) database.

let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: Record<string, string>;
beforeAll(async () => {
  db = await freshDatabase();
  env = { DATABASE_URL: db.url };
});
afterAll(async () => db?.drop());

test("tenant create prints a working key once; keys can be added, listed and revoked", async () => {
  const created = await runCli(
    [
      "admin",
      "tenant",
      "create",
      "--name",
      "Lingang Chips",
      "--depositor",
      "uscc:91310000LINGANG01",
      "--json",
    ],
    env,
  );
  expect(created.code).toBe(0);
  const { tenantId, apiKey, keyId } = JSON.parse(created.stdout) as {
    tenantId: string;
    apiKey: string;
    keyId: string;
  };
  const pool = createPool(db.url, 1, silentLog);
  try {
    expect(await authenticate(pool, apiKey)).toMatchObject({
      id: tenantId,
      depositor: "uscc:91310000LINGANG01",
    });

    const second = await runCli(["admin", "key", "create", "--tenant", tenantId, "--json"], env);
    const { apiKey: secondKey } = JSON.parse(second.stdout) as { apiKey: string };
    const listed = await runCli(["admin", "key", "list", "--tenant", tenantId, "--json"], env);
    expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(2);
    expect(listed.stdout).not.toContain(apiKey); // keys are never shown again

    const revoked = await runCli(["admin", "key", "revoke", keyId], env);
    expect(revoked.code).toBe(0);
    expect(await authenticate(pool, apiKey)).toBeNull();
    expect(await authenticate(pool, secondKey)).not.toBeNull();

    const tenants = await runCli(["admin", "tenant", "list"], env);
    expect(tenants.stdout).toContain("uscc:91310000LINGANG01");
  } finally {
    await pool.end();
  }
});

test.each([
  [
    ["admin", "tenant", "create", "--name", "Copy", "--depositor", "uscc:91310000LINGANG01"],
    "DEPOSITOR_TAKEN",
  ],
  [["admin", "tenant", "create", "--name", "X", "--depositor", "公司"], "VALIDATION_FAILED"],
  [["admin", "key", "create", "--tenant", "00000000-0000-4000-8000-000000000000"], "TENANT_NOT_FOUND"],
  [["admin", "key", "revoke", "not-a-key"], "API_KEY_NOT_FOUND"],
])("%j fails with %s and exit code 3", async (args, code) => {
  const result = await runCli(args, env);
  expect(result.code).toBe(3);
  expect(result.stderr).toContain(code);
});

test("usage errors exit 3", async () => {
  expect((await runCli(["admin", "tenant", "create", "--name", "only"], env)).code).toBe(3);
  expect((await runCli(["verify"], env)).code).toBe(3);
  expect((await runCli(["verify", "/nonexistent.json"], env)).code).toBe(3);
});
