import { createPool } from "../../services/db/pool";
import { authenticate } from "../../services/tenants/tenants";
import { runCli } from "../e2e/processes";
import { testDepositor } from "../helpers/identity";
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
      "uscc:91310000MA1FL0007C",
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
      depositor: "uscc:91310000MA1FL0007C",
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
    expect(tenants.stdout).toContain("uscc:91310000MA1FL0007C");
  } finally {
    await pool.end();
  }
});

test.each([
  [
    ["admin", "tenant", "create", "--name", "Copy", "--depositor", "uscc:91310000MA1FL0007C"],
    "DEPOSITOR_TAKEN",
  ],
  [["admin", "tenant", "create", "--name", "X", "--depositor", "公司"], "DEPOSITOR_INVALID"],
  // O is not a USCC character: refused before any look-alike check
  [
    ["admin", "tenant", "create", "--name", "Look-alike", "--depositor", "uscc:91310000MA1FLOOO7C"],
    "DEPOSITOR_INVALID",
  ],
  [
    ["admin", "tenant", "create", "--name", "Case", "--depositor", "USCC:91310000MA1FL0007C"],
    "DEPOSITOR_INVALID",
  ],
  [
    ["admin", "tenant", "create", "--name", "Typo", "--depositor", "uscc:91310000MA1FL0007D"],
    "DEPOSITOR_INVALID",
  ],
  [["admin", "key", "create", "--tenant", "00000000-0000-4000-8000-000000000000"], "TENANT_NOT_FOUND"],
  [["admin", "key", "revoke", "not-a-key"], "API_KEY_NOT_FOUND"],
])("%j fails with %s and exit code 3", async (args, code) => {
  const result = await runCli(args, env);
  expect(result.code).toBe(3);
  expect(result.stderr).toContain(code);
});

test("a look-alike of an existing depositor that passes its own check is refused (an O for a 0 in an LEI)", async () => {
  // Both are valid LEIs (MOD 97-10 lets about 1 in 97 letter-for-digit changes through).
  const first = await runCli(
    ["admin", "tenant", "create", "--name", "A", "--depositor", "lei:5493000IBP32UQZ0KL24"],
    env,
  );
  expect(first.code).toBe(0);
  const alike = await runCli(
    ["admin", "tenant", "create", "--name", "B", "--depositor", "lei:5493000IBP32UQZOKL24"],
    env,
  );
  expect(alike.code).toBe(3);
  expect(alike.stderr).toContain("DEPOSITOR_TAKEN");
});

test("a refused depositor says why, and what it would be in canonical form", async () => {
  const result = await runCli(
    ["admin", "tenant", "create", "--name", "Spaces", "--depositor", " USCC:91310000MA1FL0007C "],
    env,
  );
  expect(result.code).toBe(3);
  expect(result.stderr).toContain("did you mean uscc:91310000MA1FL0007C?");
});

test("usage errors exit 3", async () => {
  expect((await runCli(["admin", "tenant", "create", "--name", "only"], env)).code).toBe(3);
  expect((await runCli(["verify"], env)).code).toBe(3);
  expect((await runCli(["verify", "/nonexistent.json"], env)).code).toBe(3);
});

describe("the audit trail and blocked batches", () => {
  const owner = () => createPool(db.url, 1, silentLog);

  test("each change is one audit row naming TSD_ACTOR, the action and its subject; reads write none", async () => {
    const as = { ...env, TSD_ACTOR: "operator zhang" };
    const depositor = testDepositor();
    const created = await runCli(
      ["admin", "tenant", "create", "--name", "Audited", "--depositor", depositor, "--json"],
      as,
    );
    expect(created.code).toBe(0);
    const { tenantId, keyId } = JSON.parse(created.stdout) as { tenantId: string; keyId: string };
    expect((await runCli(["admin", "key", "revoke", keyId], as)).code).toBe(0);
    expect((await runCli(["admin", "tenant", "list"], as)).code).toBe(0);
    const trail = await runCli(["admin", "audit", "--limit", "2", "--json"], as);
    expect(trail.code).toBe(0);
    const rows = JSON.parse(trail.stdout) as {
      actor: string;
      action: string;
      subject: string;
      details: unknown;
    }[];
    expect(rows.map((r) => [r.actor, r.action, r.subject])).toEqual([
      ["operator zhang", "key.revoke", keyId],
      ["operator zhang", "tenant.create", tenantId],
    ]);
    expect(rows[1]!.details).toMatchObject({ keyId, depositor });
    // a refused action leaves no row
    const before = await runCli(["admin", "audit", "--json"], as);
    expect((await runCli(["admin", "key", "revoke", "not-a-key"], as)).code).toBe(3);
    expect((await runCli(["admin", "audit", "--json"], as)).stdout).toBe(before.stdout);
  });

  test("blocked lists a blocked batch with its reason; unblock clears it once, audited; unknown or unblocked batches exit 3", async () => {
    const pool = owner();
    try {
      await pool.query(
        `INSERT INTO batches (id, tree_size, root, state, received_until, blocked_reason)
         VALUES (9001, 1, decode(repeat('ab', 32), 'hex'), 'sealed', 1, 'ANCHOR_CONFLICT: the root is on chain under batch 12')`,
      );
      const listed = await runCli(["admin", "blocked"], env);
      expect(listed.stdout).toContain(
        "batch 9001  sealed  ANCHOR_CONFLICT: the root is on chain under batch 12",
      );

      const unblocked = await runCli(["admin", "unblock", "9001"], { ...env, TSD_ACTOR: "operator li" });
      expect(unblocked.code).toBe(0);
      expect(unblocked.stdout).toContain("ANCHOR_CONFLICT");
      const { rows } = await pool.query("SELECT blocked_reason FROM batches WHERE id = 9001");
      expect(rows[0].blocked_reason).toBeNull();
      const audit = await pool.query(
        "SELECT actor, action, subject, details FROM audit ORDER BY id DESC LIMIT 1",
      );
      expect(audit.rows[0]).toMatchObject({
        actor: "operator li",
        action: "batch.unblock",
        subject: "batch:9001",
        details: { reason: "ANCHOR_CONFLICT: the root is on chain under batch 12" },
      });
      expect((await runCli(["admin", "blocked"], env)).stdout).toContain("no batch is blocked");

      const again = await runCli(["admin", "unblock", "9001"], env);
      expect(again.code).toBe(3);
      expect(again.stderr).toContain("BATCH_NOT_BLOCKED");
      const unknown = await runCli(["admin", "unblock", "424242"], env);
      expect(unknown.code).toBe(3);
      expect(unknown.stderr).toContain("BATCH_NOT_FOUND");
      expect((await runCli(["admin", "unblock", "-1"], env)).code).toBe(3);
    } finally {
      await pool.end();
    }
  });
});
