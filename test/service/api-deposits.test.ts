import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { InjectOptions } from "fastify";
import { bearer, call as callApi, expectError, expectWithin, type TestTenant } from "../helpers/api";
import { isUuidV4, parseDepositRecord, recordLeafHash, to0xHex } from "../../services/core";
import { createApiKey, revokeApiKey } from "../../services/tenants/tenants";
import { startTestStack, type TestStack } from "../helpers/stack";

// The depositor's HTTP API (protocol.md section 3; OpenAPI at /docs) through Fastify's inject, on real
// PostgreSQL, Redis and anvil. No workers run here, so every deposit stays pending: that is
// what lets the status filter and CERTIFICATE_NOT_READY be checked without racing a seal.
// Every test uses its own tenants; errors are matched by status and code, never by message.

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ workers: false });
});
afterAll(async () => stack?.close());

type Tenant = TestTenant;
type Deposit = {
  id: string;
  status: string;
  record: Record<string, unknown>;
  leafHash: string;
  label?: string | null;
};

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const call = (options: InjectOptions) => callApi(stack.app, options);

const deposit = (t: Tenant, payload: unknown, headers: Record<string, string> = {}) =>
  call({
    method: "POST",
    url: "/v1/deposits",
    headers: { ...bearer(t), ...headers },
    payload: payload as object,
  });

const bulk = (t: Tenant, payload: unknown, headers: Record<string, string> = {}) =>
  call({
    method: "POST",
    url: "/v1/deposits/bulk",
    headers: { ...bearer(t), ...headers },
    payload: payload as object,
  });

const list = (t: Tenant, query = "") =>
  call({ method: "GET", url: `/v1/deposits${query}`, headers: bearer(t) });

/** Every deposit of the tenant, walking the pages. */
async function allDeposits(t: Tenant, query = ""): Promise<Deposit[]> {
  const found: Deposit[] = [];
  let cursor: string | null = null;
  do {
    const sep = query === "" ? "?" : "&";
    const res = await list(t, `${query}${cursor === null ? "" : `${sep}cursor=${cursor}`}`);
    expect(res.statusCode).toBe(200);
    const page = res.json() as { items: Deposit[]; nextCursor: string | null };
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return found;
}

const ids = (ds: { id: string }[]) => ds.map((d) => d.id);

/** Rows PostgreSQL holds for the tenant: the check that a refused request stored nothing. */
async function storedCount(t: Tenant): Promise<number> {
  const { rows } = await stack.conn.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM deposits WHERE tenant_id = $1",
    [t.id],
  );
  return rows[0]!.n;
}

describe("authentication", () => {
  const routes = (id: string): InjectOptions[] => [
    { method: "POST", url: "/v1/deposits", payload: { digest: sha("auth") } },
    { method: "POST", url: "/v1/deposits/bulk", payload: { items: [{ digest: sha("auth") }] } },
    { method: "GET", url: "/v1/deposits" },
    { method: "GET", url: `/v1/deposits/${id}` },
    { method: "GET", url: `/v1/deposits/${id}/certificate` },
  ];

  async function expectRefused(authorization: string | undefined, id = randomUUID()): Promise<void> {
    for (const route of routes(id)) {
      const res = await call({
        ...route,
        headers: authorization === undefined ? {} : { authorization },
      });
      expectError(res, 401, "UNAUTHENTICATED");
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer /);
    }
  }

  test("no Authorization header -> 401 UNAUTHENTICATED with www-authenticate; nothing stored", async () => {
    const before = await stack.conn.db.query("SELECT count(*)::int AS n FROM deposits");
    await expectRefused(undefined);
    const after = await stack.conn.db.query("SELECT count(*)::int AS n FROM deposits");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  test("malformed Authorization headers -> 401", async () => {
    const t = await stack.tenant();
    for (const header of [
      "",
      "Bearer",
      "Bearer ",
      t.apiKey, // no scheme
      `Basic ${Buffer.from(`x:${t.apiKey}`).toString("base64")}`,
      `Bearer ${t.apiKey} extra`,
      `Token ${t.apiKey}`,
    ]) {
      await expectRefused(header);
    }
    expect(await storedCount(t)).toBe(0);
  });

  test("unknown keys -> 401", async () => {
    await expectRefused(`Bearer tsd_${randomBytes(32).toString("base64url")}`);
    await expectRefused(`Bearer ${randomBytes(32).toString("hex")}`);
    await expectRefused(`Bearer tsd_${"x".repeat(200)}`);
  });

  test("a revoked key -> 401 within API_KEY_CACHE_MS; the tenant's other keys keep working", async () => {
    const t = await stack.tenant();
    const second = await createApiKey(stack.conn.db, t.id);
    const own = await deposit({ ...t, apiKey: second.apiKey }, { digest: sha("before revocation") });
    expect(own.statusCode).toBe(202);

    await revokeApiKey(stack.conn.db, second.keyId);
    const revoked = Date.now();
    await expectWithin(
      stack.config.API_KEY_CACHE_MS,
      revoked,
      () =>
        call({
          method: "GET",
          url: `/v1/deposits/${own.json().id}`,
          headers: { authorization: `Bearer ${second.apiKey}` },
        }),
      (res) => res.statusCode === 401,
    );
    await expectRefused(`Bearer ${second.apiKey}`, own.json().id);
    expect(await storedCount(t)).toBe(1);

    expect((await deposit(t, { digest: sha("other key") })).statusCode).toBe(202);
    expect(
      (await call({ method: "GET", url: `/v1/deposits/${own.json().id}`, headers: bearer(t) })).statusCode,
    ).toBe(200);
  });

  test("the scheme is case-insensitive", async () => {
    const t = await stack.tenant();
    const res = await call({
      method: "GET",
      url: "/v1/deposits",
      headers: { authorization: `bearer ${t.apiKey}` },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe("POST /v1/deposits", () => {
  test("a label PostgreSQL cannot store (a NUL) -> 400 VALIDATION_FAILED, nothing stored", async () => {
    const t = await stack.tenant();
    expectError(await deposit(t, { digest: sha("nul"), label: "a\u0000b" }), 400, "VALIDATION_FAILED");
    expectError(
      await bulk(t, { items: [{ digest: sha("nul"), label: "\u0000" }] }),
      400,
      "VALIDATION_FAILED",
    );
    expect(await storedCount(t)).toBe(0);
  });

  test("202 with the deposit record of protocol.md section 3 and its leaf hash", async () => {
    const t = await stack.tenant();
    const digest = sha("formula");
    const before = Date.now();
    const res = await deposit(t, { digest: digest.toUpperCase(), label: "formula v1" });
    const after = Date.now();

    expect(res.statusCode).toBe(202);
    const body = res.json() as Deposit;
    expect(Object.keys(body).sort()).toEqual(["id", "leafHash", "record", "status"]);
    expect(body.status).toBe("pending");
    expect(isUuidV4(body.id)).toBe(true);
    const record = body.record;
    // Exactly the record's fields: no label, no prev, nothing else.
    expect(Object.keys(record).sort()).toEqual(
      ["depositor", "digest", "digestAlg", "id", "receivedAt", "salt", "v"].sort(),
    );
    expect(record).toMatchObject({ v: 1, id: body.id, depositor: t.depositor, digestAlg: "sha256", digest });
    expect(record.salt).toMatch(/^[0-9a-f]{64}$/);
    expect(Number.isSafeInteger(record.receivedAt)).toBe(true);
    expect(record.receivedAt).toBeGreaterThanOrEqual(before);
    expect(record.receivedAt).toBeLessThanOrEqual(after);
    const parsed = parseDepositRecord(record);
    expect(body.leafHash).toBe(to0xHex(recordLeafHash(parsed)));

    // Stored as answered: the list shows the same record, leaf hash and label.
    expect(await allDeposits(t)).toEqual([{ ...body, label: "formula v1" }]);
  });

  test("digestAlg sha256 may be given; each deposit of one digest gets its own id and salt", async () => {
    const t = await stack.tenant();
    const digest = sha("same file");
    const a = await deposit(t, { digest, digestAlg: "sha256" });
    const b = await deposit(t, { digest });
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.json().id).not.toBe(b.json().id);
    expect(a.json().record.salt).not.toBe(b.json().record.salt);
    expect(a.json().leafHash).not.toBe(b.json().leafHash);
  });

  test("digestAlg sm3 and tsd-set/1 are recorded in the record and its leaf (protocol.md section 3)", async () => {
    const t = await stack.tenant();
    const sm3 = createHash("sm3").update("配方").digest("hex");
    for (const digestAlg of ["sm3", "tsd-set/1"] as const) {
      const res = await deposit(t, { digest: sm3, digestAlg });
      expect(res.statusCode).toBe(202);
      const { record, leafHash } = res.json();
      expect(record).toMatchObject({ digestAlg, digest: sm3 });
      expect(leafHash).toBe(to0xHex(recordLeafHash(parseDepositRecord(record))));
      expect(
        (await call({ method: "GET", url: `/v1/deposits/${record.id}`, headers: bearer(t) })).json().record,
      ).toEqual(record);
    }
    // a replay must name the same algorithm
    const key = { "idempotency-key": "alg-replay" };
    expect((await deposit(t, { digest: sm3, digestAlg: "sm3" }, key)).statusCode).toBe(202);
    expectError(await deposit(t, { digest: sm3 }, key), 409, "IDEMPOTENCY_KEY_REUSED");
  });

  // A digest that is a string but not 64 hex characters is DIGEST_INVALID: the request has
  // the API's shape and only the digest is wrong. A digest that is not a string at all (a
  // number, null, missing) breaks the request schema: VALIDATION_FAILED, like any other
  // ill-typed field (bodies are never coerced). So is a string past the schema's bound
  // of 128 characters.
  test.each<[string, string, unknown]>([
    ["short", "DIGEST_INVALID", "abc123"],
    ["empty", "DIGEST_INVALID", ""],
    ["63 characters", "DIGEST_INVALID", "a".repeat(63)],
    ["65 characters", "DIGEST_INVALID", "a".repeat(65)],
    ["non-hex", "DIGEST_INVALID", "g".repeat(64)],
    ["0x-prefixed", "DIGEST_INVALID", `0x${"a".repeat(64)}`],
    ["surrounded by spaces", "DIGEST_INVALID", ` ${"a".repeat(64)} `],
    ["over the schema's 128 characters", "VALIDATION_FAILED", "a".repeat(129)],
    ["a number", "VALIDATION_FAILED", 1234],
    ["null", "VALIDATION_FAILED", null],
    ["an array", "VALIDATION_FAILED", ["a".repeat(64)]],
  ])("digest %s -> 400 %s, nothing stored", async (_what, code, digest) => {
    const t = await stack.tenant();
    expectError(await deposit(t, { digest }), 400, code);
    expect(await allDeposits(t)).toEqual([]);
  });

  const json = { "content-type": "application/json" };
  test.each<[string, number, string, () => InjectOptions]>([
    ["no digest", 400, "VALIDATION_FAILED", () => ({ payload: { label: "x" } })],
    [
      "digestAlg sha512",
      400,
      "DIGEST_ALG_UNSUPPORTED",
      () => ({ payload: { digest: sha("x"), digestAlg: "sha512" } }),
    ],
    [
      "digestAlg SHA256",
      400,
      "DIGEST_ALG_UNSUPPORTED",
      () => ({ payload: { digest: sha("x"), digestAlg: "SHA256" } }),
    ],
    [
      "an unknown field",
      400,
      "VALIDATION_FAILED",
      () => ({ payload: { digest: sha("x"), salt: sha("mine") } }),
    ],
    [
      "a label that is a number",
      400,
      "VALIDATION_FAILED",
      () => ({ payload: { digest: sha("x"), label: 5 } }),
    ],
    ["an array body", 400, "VALIDATION_FAILED", () => ({ payload: [{ digest: sha("x") }] })],
    ["malformed JSON", 400, "MALFORMED_JSON", () => ({ headers: json, payload: `{"digest": "${sha("x")}"` })],
    ["an empty JSON body", 400, "MALFORMED_JSON", () => ({ headers: json, payload: "" })],
    [
      "a text/plain body",
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      () => ({ headers: { "content-type": "text/plain" }, payload: JSON.stringify({ digest: sha("x") }) }),
    ],
    [
      "a form body",
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      () => ({
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: `digest=${sha("x")}`,
      }),
    ],
    ["prev that is not a uuid", 422, "PREV_NOT_FOUND", () => ({ payload: { digest: sha("x"), prev: "v1" } })],
    [
      "prev a random uuid",
      422,
      "PREV_NOT_FOUND",
      () => ({ payload: { digest: sha("x"), prev: randomUUID() } }),
    ],
  ])("%s -> %i %s, nothing stored", async (_what, status, code, request) => {
    const t = await stack.tenant();
    const kept = await deposit(t, { digest: sha("kept") });
    const { headers, ...rest } = request();
    const res = await call({
      method: "POST",
      url: "/v1/deposits",
      ...rest,
      headers: { ...bearer(t), ...(headers as Record<string, string> | undefined) },
    });
    expectError(res, status, code);
    expect(ids(await allDeposits(t))).toEqual([kept.json().id]);
  });

  test("prev: an earlier deposit of one's own -> 202 with record.prev; another tenant's -> 422", async () => {
    const t = await stack.tenant();
    const other = await stack.tenant();
    const v1 = (await deposit(t, { digest: sha("process v1") })).json() as Deposit;
    const theirs = (await deposit(other, { digest: sha("their process") })).json() as Deposit;

    const v2 = await deposit(t, { digest: sha("process v2"), prev: v1.id });
    expect(v2.statusCode).toBe(202);
    const record = v2.json().record;
    expect(record.prev).toBe(v1.id);
    expect(v2.json().leafHash).toBe(to0xHex(recordLeafHash(parseDepositRecord(record))));

    expectError(await deposit(t, { digest: sha("process v3"), prev: theirs.id }), 422, "PREV_NOT_FOUND");
    expect(ids(await allDeposits(t))).toEqual([v2.json().id, v1.id]);
    expect(ids(await allDeposits(other))).toEqual([theirs.id]);
  });
});

describe("Idempotency-Key", () => {
  test("same key and body twice -> the same deposit; the replay says so", async () => {
    const t = await stack.tenant();
    const key = { "idempotency-key": `order-${randomUUID()}` };
    const first = await deposit(t, { digest: sha("retried"), label: "l" }, key);
    const second = await deposit(t, { digest: sha("retried"), label: "l" }, key);
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(second.json()).toEqual(first.json());
    expect(await storedCount(t)).toBe(1);
  });

  test("same key, different request -> 409 IDEMPOTENCY_KEY_REUSED, nothing stored", async () => {
    const t = await stack.tenant();
    const key = { "idempotency-key": randomUUID() };
    const first = await deposit(t, { digest: sha("one") }, key);
    expect(first.statusCode).toBe(202);
    expectError(await deposit(t, { digest: sha("two") }, key), 409, "IDEMPOTENCY_KEY_REUSED");
    expectError(
      await deposit(t, { digest: sha("one"), label: "now labelled" }, key),
      409,
      "IDEMPOTENCY_KEY_REUSED",
    );
    expectError(
      await deposit(t, { digest: sha("one"), prev: first.json().id }, key),
      409,
      "IDEMPOTENCY_KEY_REUSED",
    );
    expect(ids(await allDeposits(t))).toEqual([first.json().id]);
  });

  test("the replay of a digest sent in capitals matches its lowercase first request", async () => {
    const t = await stack.tenant();
    const key = { "idempotency-key": randomUUID() };
    const first = await deposit(t, { digest: sha("case") }, key);
    const second = await deposit(t, { digest: sha("case").toUpperCase() }, key);
    expect(second.statusCode).toBe(202);
    expect(second.json().id).toBe(first.json().id);
  });

  test("one key, one request: a key first used on the other endpoint -> 409", async () => {
    const t = await stack.tenant();
    const single = { "idempotency-key": randomUUID() };
    expect((await deposit(t, { digest: sha("single") }, single)).statusCode).toBe(202);
    expectError(await bulk(t, { items: [{ digest: sha("single") }] }, single), 409, "IDEMPOTENCY_KEY_REUSED");
    const batch = { "idempotency-key": randomUUID() };
    expect((await bulk(t, { items: [{ digest: sha("bulk") }] }, batch)).statusCode).toBe(202);
    expectError(await deposit(t, { digest: sha("bulk") }, batch), 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await storedCount(t)).toBe(2);
  });

  test("keys are per tenant: two tenants, one key -> two deposits", async () => {
    const a = await stack.tenant();
    const b = await stack.tenant();
    const key = { "idempotency-key": "shared-key-1" };
    const ra = await deposit(a, { digest: sha("shared") }, key);
    const rb = await deposit(b, { digest: sha("shared") }, key);
    expect([ra.statusCode, rb.statusCode]).toEqual([202, 202]);
    expect(rb.headers["idempotent-replayed"]).toBeUndefined();
    expect(ra.json().id).not.toBe(rb.json().id);
    expect(rb.json().record.depositor).toBe(b.depositor);
  });

  test("a key that is empty or not printable ASCII -> 400 VALIDATION_FAILED", async () => {
    const t = await stack.tenant();
    for (const k of ["", "has space", "x".repeat(201)]) {
      expectError(await deposit(t, { digest: sha("k") }, { "idempotency-key": k }), 400, "VALIDATION_FAILED");
    }
    expect(await storedCount(t)).toBe(0);
  });
});

describe("POST /v1/deposits/bulk", () => {
  test("10,000 items in one request -> 202 with 10,000 distinct deposits", async () => {
    const t = await stack.tenant();
    const digests = Array.from({ length: 10_000 }, (_, i) => sha(`file ${i}`));
    const res = await bulk(t, { items: digests.map((digest) => ({ digest })) });
    expect(res.statusCode).toBe(202);
    const deposits = res.json().deposits as Deposit[];
    expect(deposits).toHaveLength(10_000);
    expect(new Set(ids(deposits)).size).toBe(10_000);
    expect(deposits.map((d) => d.record.digest)).toEqual(digests);
    expect(deposits.every((d) => d.status === "pending" && d.record.depositor === t.depositor)).toBe(true);
    // Spot-check the leaf hashes, and that all 10,000 are on record.
    for (const d of [deposits[0]!, deposits[4321]!, deposits[9999]!]) {
      expect(d.leafHash).toBe(to0xHex(recordLeafHash(parseDepositRecord(d.record))));
    }
    expect(await storedCount(t)).toBe(10_000);
  });

  test("10,001 items -> 400 VALIDATION_FAILED, nothing stored", async () => {
    const t = await stack.tenant();
    const items = Array.from({ length: 10_001 }, (_, i) => ({ digest: sha(`file ${i}`) }));
    expectError(await bulk(t, { items }), 400, "VALIDATION_FAILED");
    expect(await storedCount(t)).toBe(0);
  });

  // All or none: one bad item refuses the whole request, and the message names the item as
  // `items[<index>]` whichever check caught it.
  test.each<[string, number, string, Record<string, unknown>]>([
    ["a short digest", 400, "DIGEST_INVALID", { digest: "abc" }],
    ["a non-hex digest", 400, "DIGEST_INVALID", { digest: "z".repeat(64) }],
    ["a digest that is a number", 400, "VALIDATION_FAILED", { digest: 42 }],
    ["digestAlg sha512", 400, "DIGEST_ALG_UNSUPPORTED", { digest: sha("x"), digestAlg: "sha512" }],
    ["an unknown field", 400, "VALIDATION_FAILED", { digest: sha("x"), extra: true }],
  ])(
    "one item with %s among 500 -> %i %s naming the item, nothing stored",
    async (_what, status, code, bad) => {
      const t = await stack.tenant();
      const items: Record<string, unknown>[] = Array.from({ length: 500 }, (_, i) => ({
        digest: sha(`f${i}`),
      }));
      items[357] = bad;
      const res = await bulk(t, { items });
      expectError(res, status, code);
      expect(res.json().error.message).toContain("items[357]");
      expect(await storedCount(t)).toBe(0);
    },
  );

  test("one item whose prev is not the tenant's -> 422 PREV_NOT_FOUND, nothing stored", async () => {
    const t = await stack.tenant();
    const own = (await deposit(t, { digest: sha("v1") })).json() as Deposit;
    const items = [
      { digest: sha("a"), prev: own.id },
      { digest: sha("b"), prev: randomUUID() },
      { digest: sha("c") },
    ];
    expectError(await bulk(t, { items }), 422, "PREV_NOT_FOUND");
    expect(ids(await allDeposits(t))).toEqual([own.id]);

    const ok = await bulk(t, { items: [items[0], items[2]] });
    expect(ok.statusCode).toBe(202);
    expect(ok.json().deposits[0].record.prev).toBe(own.id);
  });

  test.each<[string, unknown]>([
    ["empty items", { items: [] }],
    ["no items", {}],
    ["items not an array", { items: { digest: sha("x") } }],
    ["an unknown top-level field", { items: [{ digest: sha("x") }], label: "x" }],
  ])("%s -> 400 VALIDATION_FAILED", async (_what, payload) => {
    const t = await stack.tenant();
    expectError(await bulk(t, payload), 400, "VALIDATION_FAILED");
    expect(await storedCount(t)).toBe(0);
  });

  test("a replay with the same Idempotency-Key -> the same deposits", async () => {
    const t = await stack.tenant();
    const key = { "idempotency-key": randomUUID() };
    const items = Array.from({ length: 25 }, (_, i) => ({ digest: sha(`batch ${i}`), label: `#${i}` }));
    const first = await bulk(t, { items }, key);
    const second = await bulk(t, { items }, key);
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(ids(second.json().deposits)).toEqual(ids(first.json().deposits));
    expect(second.json()).toEqual(first.json());
    expect(await storedCount(t)).toBe(25);
  });

  test("the same Idempotency-Key on a different bulk request -> 409, nothing stored", async () => {
    const t = await stack.tenant();
    const key = { "idempotency-key": randomUUID() };
    const items = [sha("1"), sha("2"), sha("3")].map((digest) => ({ digest }));
    expect((await bulk(t, { items }, key)).statusCode).toBe(202);

    const changed = [items[0], { digest: sha("2!") }, items[2]];
    expectError(await bulk(t, { items: changed }, key), 409, "IDEMPOTENCY_KEY_REUSED");
    const longer = [...items, { digest: sha("4") }];
    expectError(await bulk(t, { items: longer }, key), 409, "IDEMPOTENCY_KEY_REUSED");
    const shorter = items.slice(0, 2);
    expectError(await bulk(t, { items: shorter }, key), 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await storedCount(t)).toBe(3);

    // Nor on the single endpoint: one key, one request.
    expectError(await deposit(t, items[0], key), 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await storedCount(t)).toBe(3);
  });
});

describe("GET /v1/deposits/:id", () => {
  test("one's own deposit -> 200 with its record, status and times", async () => {
    const t = await stack.tenant();
    const made = (await deposit(t, { digest: sha("detail"), label: "lab notes" })).json() as Deposit;
    const res = await call({ method: "GET", url: `/v1/deposits/${made.id}`, headers: bearer(t) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      ...made,
      status: "pending",
      label: "lab notes",
      batch: null,
      times: {
        receivedAt: new Date(made.record.receivedAt as number).toISOString(),
        sealedAt: null,
        anchoredAt: null,
        certifiedAt: null,
      },
    });
  });

  test("another tenant's deposit, an unknown id, or not a uuid -> 404 DEPOSIT_NOT_FOUND", async () => {
    const owner = await stack.tenant();
    const other = await stack.tenant();
    const theirs = (await deposit(owner, { digest: sha("private") })).json() as Deposit;
    for (const id of [theirs.id, randomUUID(), "not-a-uuid", theirs.id.toUpperCase(), "1"]) {
      for (const suffix of ["", "/certificate"]) {
        const res = await call({ method: "GET", url: `/v1/deposits/${id}${suffix}`, headers: bearer(other) });
        expectError(res, 404, "DEPOSIT_NOT_FOUND");
      }
    }
  });
});

describe("GET /v1/deposits/:id/certificate before certification", () => {
  test("a pending deposit -> 409 CERTIFICATE_NOT_READY", async () => {
    const t = await stack.tenant();
    const made = (await deposit(t, { digest: sha("not yet") })).json() as Deposit;
    const res = await call({ method: "GET", url: `/v1/deposits/${made.id}/certificate`, headers: bearer(t) });
    expectError(res, 409, "CERTIFICATE_NOT_READY");
  });
});

describe("GET /v1/deposits", () => {
  /** Eight deposits, in the order they were accepted. */
  async function eight(t: Tenant): Promise<Deposit[]> {
    const made: Deposit[] = [];
    for (const name of ["a", "b", "c"]) made.push((await deposit(t, { digest: sha(name) })).json());
    const b = await bulk(t, { items: ["d", "e", "f", "g"].map((n) => ({ digest: sha(n) })) });
    made.push(...(b.json().deposits as Deposit[]));
    made.push((await deposit(t, { digest: sha("h") })).json());
    return made;
  }

  test("newest first; limit and nextCursor walk every deposit exactly once", async () => {
    const t = await stack.tenant();
    const made = await eight(t);
    const newestFirst = ids(made).reverse();

    const whole = await list(t);
    expect(whole.statusCode).toBe(200);
    expect(ids(whole.json().items)).toEqual(newestFirst);
    expect(whole.json().nextCursor).toBeNull();

    for (const limit of [1, 3, 7, 8, 9]) {
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const res = await list(t, `?limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`);
        expect(res.statusCode).toBe(200);
        const page = res.json() as { items: Deposit[]; nextCursor: string | null };
        sizes.push(page.items.length);
        seen.push(...ids(page.items));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(newestFirst);
      // No empty last page: a page that ends the list says so.
      expect(sizes.every((n) => n > 0)).toBe(true);
      expect(sizes).toHaveLength(Math.ceil(8 / limit));
    }
  });

  test("a tenant sees only its own deposits", async () => {
    const a = await stack.tenant();
    const b = await stack.tenant();
    const mine = await eight(a);
    const theirs = (await deposit(b, { digest: sha("a") })).json() as Deposit;
    expect(ids(await allDeposits(a))).toEqual(ids(mine).reverse());
    expect(ids(await allDeposits(b))).toEqual([theirs.id]);
    expect(await allDeposits(b, `?digest=${sha("b")}`)).toEqual([]);
  });

  test("digest= filters, in either case; a bad digest -> 400 DIGEST_INVALID", async () => {
    const t = await stack.tenant();
    const twice = [await deposit(t, { digest: sha("twice") }), await deposit(t, { digest: sha("twice") })];
    await deposit(t, { digest: sha("once") });
    const expected = ids(twice.map((r) => r.json())).reverse();
    expect(ids(await allDeposits(t, `?digest=${sha("twice")}`))).toEqual(expected);
    expect(ids(await allDeposits(t, `?digest=${sha("twice").toUpperCase()}`))).toEqual(expected);
    expect(await allDeposits(t, `?digest=${sha("never")}`)).toEqual([]);
    expectError(await list(t, "?digest=abc"), 400, "DIGEST_INVALID");
  });

  test("label= lists the labels starting with it, literally (%, _ and \\ are not wildcards)", async () => {
    const t = await stack.tenant();
    const made = async (label: string) =>
      (await deposit(t, { digest: sha(label), label })).json().id as string;
    const v1 = await made("formula/v1");
    const v2 = await made("formula/v2");
    await made("process/v1");
    const percent = await made("100%_done\\");
    expect(ids(await allDeposits(t, "?label=formula%2F"))).toEqual([v2, v1]);
    expect(ids(await allDeposits(t, "?label=formula%2Fv1"))).toEqual([v1]);
    expect(ids(await allDeposits(t, `?label=${encodeURIComponent("100%_")}`))).toEqual([percent]);
    expect(await allDeposits(t, `?label=${encodeURIComponent("10_")}`)).toEqual([]);
    expect(await allDeposits(t, `?label=${encodeURIComponent("%")}`)).toEqual([]);
    expect(ids(await allDeposits(t, `?label=${encodeURIComponent("100%_done\\")}`))).toEqual([percent]);
  });

  test("status=pending lists the unsealed deposits; other statuses none here", async () => {
    const t = await stack.tenant();
    const made = await eight(t);
    const pending = await allDeposits(t, "?status=pending");
    expect(ids(pending)).toEqual(ids(made).reverse());
    expect(pending.every((d) => d.status === "pending")).toBe(true);
    for (const status of ["batched", "anchored", "certified"]) {
      expect(await allDeposits(t, `?status=${status}`)).toEqual([]);
    }
    expectError(await list(t, "?status=lost"), 400, "VALIDATION_FAILED");
  });

  test("a cursor the API did not issue -> 400 CURSOR_INVALID", async () => {
    const t = await stack.tenant();
    await eight(t);
    const cursor = (await list(t, "?limit=2")).json().nextCursor as string;
    expect((await list(t, `?limit=2&cursor=${cursor}`)).statusCode).toBe(200);
    const b64 = (s: string) => Buffer.from(s).toString("base64url");
    for (const bad of [
      "garbage",
      `${cursor}AA`,
      `${cursor}!!`,
      `${cursor}=`,
      `x${cursor}`,
      b64("v2:5"),
      b64("v1:-1"),
      b64("v1:05"),
      b64("v1:1e3"),
      b64("v1:9999999999999999"),
      b64(""),
    ]) {
      expectError(await list(t, `?limit=2&cursor=${encodeURIComponent(bad)}`), 400, "CURSOR_INVALID");
    }
  });

  test("bad limits and unknown parameters -> 400 VALIDATION_FAILED", async () => {
    const t = await stack.tenant();
    for (const query of ["?limit=0", "?limit=-1", "?limit=1001", "?limit=two", "?limit=", "?sort=asc"]) {
      expectError(await list(t, query), 400, "VALIDATION_FAILED");
    }
  });
});
