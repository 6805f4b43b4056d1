import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import type { InjectOptions } from "fastify";
import { commitSingleDeposits, prepareSingleDeposit } from "../../services/deposits/store";
import { isDataError } from "../../services/db/pool";
import { bearer, call as callApi, expectError, type TestTenant } from "../helpers/api";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// Group commit on real PostgreSQL: single deposits sent together share a transaction (rows
// written by one transaction share its xmin), and each request still gets exactly the answer it
// would get alone. Each group waits up to 100 ms for company, so requests sent at once share one.

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ workers: false, env: { GROUP_COMMIT_WAIT_MS: "100" } });
});
afterAll(async () => stack?.close());

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const call = (options: InjectOptions) => callApi(stack.app, options);
const deposit = (t: TestTenant, payload: object, headers: Record<string, string> = {}) =>
  call({ method: "POST", url: "/v1/deposits", headers: { ...bearer(t), ...headers }, payload });

/** The transactions the tenant's deposits were written in. */
async function transactionsOf(...tenants: TestTenant[]): Promise<number> {
  const { rows } = await stack.conn.db.query<{ n: number }>(
    "SELECT count(DISTINCT xmin::text)::int AS n FROM deposits WHERE tenant_id = ANY($1::uuid[])",
    [tenants.map((t) => t.id)],
  );
  return rows[0]!.n;
}

async function storedCount(t: TestTenant): Promise<number> {
  const { rows } = await stack.conn.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM deposits WHERE tenant_id = $1",
    [t.id],
  );
  return rows[0]!.n;
}

test("deposits of several tenants sent at once share commits; each is answered with its own deposit", async () => {
  const a = await stack.tenant();
  const b = await stack.tenant();
  const sent = Array.from({ length: 20 }, (_, i) => ({
    t: i % 2 === 0 ? a : b,
    digest: sha(`together ${i}`),
  }));
  const answers = await Promise.all(
    sent.map(({ t, digest }) => deposit(t, { digest, label: digest.slice(0, 8) })),
  );
  expect(answers.map((r) => r.statusCode)).toEqual(sent.map(() => 202));
  answers.forEach((res, i) => {
    expect(res.json().record).toMatchObject({ digest: sent[i]!.digest, depositor: sent[i]!.t.depositor });
  });
  expect(new Set(answers.map((r) => r.json().id)).size).toBe(20);
  expect([await storedCount(a), await storedCount(b)]).toEqual([10, 10]);
  // Stored as answered, each under its own tenant, label and all.
  const { rows } = await stack.conn.db.query<{ id: string; tenant_id: string; label: string }>(
    "SELECT id, tenant_id, label FROM deposits WHERE tenant_id = ANY($1::uuid[])",
    [[a.id, b.id]],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  answers.forEach((res, i) => {
    expect(byId.get(res.json().id)).toMatchObject({
      tenant_id: sent[i]!.t.id,
      label: sent[i]!.digest.slice(0, 8),
    });
  });
  expect(await transactionsOf(a, b)).toBeLessThanOrEqual(10);
});

test("one group, many cases: each request gets the answer it gets alone", async () => {
  const t = await stack.tenant();
  const other = await stack.tenant();
  const theirs = (await deposit(other, { digest: sha("theirs") })).json() as { id: string };
  const mine = (await deposit(t, { digest: sha("mine") })).json() as { id: string };
  const earlier = await deposit(t, { digest: sha("earlier") }, { "idempotency-key": "earlier" });
  const bulkKey = randomUUID();
  const bulk = await call({
    method: "POST",
    url: "/v1/deposits/bulk",
    headers: { ...bearer(t), "idempotency-key": bulkKey },
    payload: { items: [{ digest: sha("bulk") }] },
  });
  expect([earlier.statusCode, bulk.statusCode]).toEqual([202, 202]);

  const [plain, withPrev, foreignPrev, replay, reused, onBulk, twinA, twinB] = await Promise.all([
    deposit(t, { digest: sha("plain") }),
    deposit(t, { digest: sha("v2"), prev: mine.id }),
    deposit(t, { digest: sha("v2 of theirs"), prev: theirs.id }),
    deposit(t, { digest: sha("earlier") }, { "idempotency-key": "earlier" }),
    deposit(t, { digest: sha("not earlier") }, { "idempotency-key": "earlier" }),
    deposit(t, { digest: sha("bulk") }, { "idempotency-key": bulkKey }),
    deposit(t, { digest: sha("twin") }, { "idempotency-key": "twin" }),
    deposit(t, { digest: sha("twin") }, { "idempotency-key": "twin" }),
  ]);

  expect(plain.statusCode).toBe(202);
  expect(withPrev.statusCode).toBe(202);
  expect(withPrev.json().record.prev).toBe(mine.id);
  expectError(foreignPrev, 422, "PREV_NOT_FOUND");
  expect(replay.statusCode).toBe(202);
  expect(replay.headers["idempotent-replayed"]).toBe("true");
  expect(replay.json()).toEqual(earlier.json());
  expectError(reused, 409, "IDEMPOTENCY_KEY_REUSED");
  expectError(onBulk, 409, "IDEMPOTENCY_KEY_REUSED");
  // One key sent twice at once: one deposit; the other request is its replay.
  expect([twinA.statusCode, twinB.statusCode]).toEqual([202, 202]);
  expect(twinA.json()).toEqual(twinB.json());
  expect(
    [twinA.headers["idempotent-replayed"], twinB.headers["idempotent-replayed"]].filter((h) => h === "true"),
  ).toHaveLength(1);

  // mine, earlier, the bulk one, plain, v2, the twin: nothing else
  expect(await storedCount(t)).toBe(6);
});

test("a value PostgreSQL refuses fails its own deposit; the rest of the group is stored", async () => {
  const t = await stack.tenant();
  // The API's schema refuses a NUL in a label: here it reaches the store, as a value only
  // PostgreSQL would refuse (text cannot hold NUL).
  const group = [
    prepareSingleDeposit(t, { digest: sha("good 1") }),
    prepareSingleDeposit(t, { digest: sha("bad"), label: "a\u0000b" }),
    prepareSingleDeposit(t, { digest: sha("good 2") }, { idempotencyKey: "good-2" }),
  ];
  const outcomes = await commitSingleDeposits(stack.conn.db, group);
  expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
  const refused = outcomes[1] as { ok: false; error: unknown };
  expect(isDataError(refused.error)).toBe(true);
  const { rows } = await stack.conn.db.query<{ id: string }>("SELECT id FROM deposits WHERE tenant_id = $1", [
    t.id,
  ]);
  expect(rows.map((r) => r.id).sort()).toEqual([group[0]!.record.id, group[2]!.record.id].sort());
  const queued = await stack.conn.db.query(
    "SELECT 1 FROM pending p JOIN deposits d ON d.seq = p.seq WHERE d.tenant_id = $1",
    [t.id],
  );
  expect(queued.rowCount).toBe(2);
});

test("PostgreSQL failing under a group -> 503 for exactly that group's requests, none stored; the next group is stored", async () => {
  const t = await stack.tenant();
  expect((await deposit(t, { digest: sha("before") })).statusCode).toBe(202); // stored before the fault: it stays
  const owner = new pg.Client({ connectionString: stack.config.DATABASE_URL });
  await owner.connect();
  try {
    // Hold the pending queue so that groups wait in PostgreSQL, then end the first group's connection.
    await owner.query("BEGIN");
    await owner.query("LOCK TABLE pending IN ACCESS EXCLUSIVE MODE");
    const waitingGroups = async () => {
      await owner.query("SELECT pg_stat_clear_snapshot()"); // a transaction keeps its first view
      return (
        await owner.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH inserted%'
            ORDER BY query_start`,
        )
      ).rows.map((r) => r.pid);
    };

    // Sent together, these three normally form one group (the window is 100 ms); on a slow
    // machine they may form two, so what is checked holds either way.
    const digests = ["one", "two", "three"].map(sha);
    const first = digests.map((digest) => deposit(t, { digest }));
    await eventually(async () => ((await waitingGroups()).length >= 1 ? true : undefined));
    const second = deposit(t, { digest: sha("next group") });
    const waiting = await eventually(async () => {
      const pids = await waitingGroups();
      return pids.length >= 2 ? pids : undefined;
    });

    await owner.query("SELECT pg_terminate_backend($1)", [waiting[0]]);
    await owner.query("COMMIT");

    const answers = await Promise.all(first);
    const next = await second;
    const { rows } = await stack.conn.db.query<{ id: string; digest: string }>(
      "SELECT id, encode(digest, 'hex') AS digest FROM deposits WHERE tenant_id = $1",
      [t.id],
    );
    const stored = new Map(rows.map((r) => [r.digest, r.id]));
    // The ended group's requests: 503, nothing of them stored. Any other group: stored as answered.
    const failed = answers.filter((res) => res.statusCode === 503);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    answers.forEach((res, i) => {
      if (res.statusCode === 503) {
        expectError(res, 503, "SERVICE_UNAVAILABLE");
        expect(stored.has(digests[i]!)).toBe(false);
      } else {
        expect(res.statusCode).toBe(202);
        expect(stored.get(digests[i]!)).toBe(res.json().id);
      }
    });
    expect(next.statusCode).toBe(202);
    expect(stored.get(sha("next group"))).toBe(next.json().id);
    expect(rows).toHaveLength(2 + answers.length - failed.length); // with the one from before
  } finally {
    await owner.query("ROLLBACK").catch(() => undefined);
    await owner.end();
  }
});
