import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { anchorNow } from "../helpers/anchor";
import { attestBatch } from "../../services/attest/attest";
import type { Certificate } from "../../services/core";
import { inTransaction } from "../../services/db/pool";
import { acceptDeposits } from "../../services/deposits/store";
import { sweep } from "../../services/jobs/sweeper";
import { SEAL_LOCK, sealBatch } from "../../services/seal/seal";
import { recordDeliveries } from "../../services/webhooks/deliveries";
import { registerWebhook, removeWebhook } from "../../services/webhooks/registration";
import { WEBHOOK_ATTEMPTS } from "../../services/webhooks/retry";
import type { WebhookPayload } from "../../services/webhooks/send";
import { verifyWebhookSignature } from "../../services/webhooks/signature";
import { bearer, call, type TestTenant } from "../helpers/api";
import { eventually, silentLog, startTestStack, type TestStack } from "../helpers/stack";

// Webhooks against the real stack (PostgreSQL, Redis with the BullMQ workers, anvil) and a
// real HTTP receiver on loopback that records what it gets. Retries wait 200 ms, doubling
// (WEBHOOK_RETRY_BASE_MS), and the webhook worker sends two POSTs at a time
// (WEBHOOK_CONCURRENCY), so two hanging receivers are enough to saturate it.

/** A request as the receiver got it: the raw body, before any parsing. */
interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  requests: Received[];
  /** Requests not answered yet (a hanging receiver keeps them open). */
  open(): number;
  close(): Promise<void>;
}

/** A receiver on 127.0.0.1 answering its `n`-th request (from 0) with `answer(n)`. */
async function receiver(answer: (n: number) => number | "hang" = () => 200): Promise<Receiver> {
  const requests: Received[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const n = requests.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      });
      const status = answer(n - 1);
      if (status === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
      } else res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tsd`,
    requests,
    open: () => hanging.size,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const digests = (n: number) => Array.from({ length: n }, () => ({ digest: randomBytes(32).toString("hex") }));
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the current second is young: deposits sent now are received in one second. */
async function startOfSecond(): Promise<void> {
  const ms = Date.now() % 1000;
  if (ms > 200) await sleep(1000 - ms + 10);
}

describe("with the workers running", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      env: { WEBHOOK_RETRY_BASE_MS: "200", WEBHOOK_CONCURRENCY: "2", WEBHOOK_TIMEOUT_MS: "30000" },
    });
  });
  afterAll(async () => stack?.close());

  /** Deposits `n` fresh digests in one bulk request (one receivedAt, so one batch); their ids. */
  async function deposit(t: TestTenant, n: number): Promise<string[]> {
    const res = await call(stack.app, {
      method: "POST",
      url: "/v1/deposits/bulk",
      headers: bearer(t),
      payload: { items: digests(n) },
    });
    expect(res.statusCode).toBe(202);
    return res.json().deposits.map((d: { id: string }) => d.id);
  }

  /** The deposit's batch once it is certified. */
  async function certifiedBatch(t: TestTenant, id: string, timeoutMs = 30_000): Promise<number> {
    return eventually(
      async () => {
        const res = await call(stack.app, { method: "GET", url: `/v1/deposits/${id}`, headers: bearer(t) });
        return res.json().status === "certified" ? (res.json().batch.id as number) : undefined;
      },
      timeoutMs,
      `deposit ${id} certified`,
    );
  }

  const received = (r: Receiver, n: number, timeoutMs = 30_000) =>
    eventually(
      async () => (r.requests.length >= n ? r.requests : undefined),
      timeoutMs,
      `${n} webhook POSTs`,
    );

  const payloadOf = (r: Received) => JSON.parse(r.body) as WebhookPayload;

  async function deliveriesOf(tenantId: string) {
    const { rows } = await stack.conn.db.query<{
      id: number;
      attestation_id: number;
      attempts: number;
      delivered_at: Date | null;
      last_error: string | null;
    }>(
      "SELECT id, attestation_id, attempts, delivered_at, last_error FROM webhook_deliveries WHERE tenant_id = $1 ORDER BY id",
      [tenantId],
    );
    return rows;
  }

  /** The tenant's deliveries once the first `n` are recorded as delivered (the receiver sees a POST before its worker records the answer). */
  async function delivered(tenantId: string, n = 1) {
    return eventually(async () => {
      const rows = await deliveriesOf(tenantId);
      return rows.length >= n && rows.slice(0, n).every((d) => d.delivered_at) ? rows : undefined;
    });
  }

  async function feed(t: TestTenant, since: string, limit = 10_000): Promise<Certificate[]> {
    const res = await call(stack.app, {
      method: "GET",
      url: `/v1/certificates?since=${since}&limit=${limit}`,
      headers: bearer(t),
    });
    expect(res.statusCode).toBe(200);
    return res.body
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Certificate);
  }

  test("a certified batch: one signed POST with the tenant's count, ids and a cursor to exactly its certificates", async () => {
    const t = await stack.tenant();
    const r = await receiver();
    const { secret } = await registerWebhook(stack.conn.db, t.id, r.url);
    try {
      const first = await deposit(t, 3);
      const [req] = await received(r, 1);
      const batch = await certifiedBatch(t, first[0]!);
      const [delivery] = await delivered(t.id);
      const { rows } = await stack.conn.db.query<{ id: number }>(
        "SELECT id FROM attestations WHERE batch_id = $1 AND current",
        [batch],
      );
      const payload = payloadOf(req!);
      expect(payload).toEqual({
        event: "deposits.certified",
        tenant: t.id,
        batch,
        attestation: rows[0]!.id,
        count: 3,
        depositIds: first,
        certificatesCursor: expect.any(String),
      });
      expect(req!.headers["content-type"]).toBe("application/json");
      expect(req!.headers["tsd-delivery"]).toBe(String(delivery!.id));
      const signature = req!.headers["tsd-signature"] as string;
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifyWebhookSignature(secret, signature, req!.body, now())).toBe(true);
      expect(
        verifyWebhookSignature(secret, signature, req!.body.replace('"count":3', '"count":4'), now()),
      ).toBe(false);
      expect(delivery).toMatchObject({ attempts: 1, last_error: null, delivered_at: expect.any(Date) });

      // A second batch of the tenant's: its own delivery. The first cursor gives the first
      // batch's certificates first, then the second's; the second cursor only the second's.
      const second = await deposit(t, 2);
      const [, req2] = await received(r, 2);
      const payload2 = payloadOf(req2!);
      expect(payload2).toMatchObject({ count: 2, depositIds: second });
      expect(payload2.batch).toBeGreaterThan(batch);
      const fromFirst = await feed(t, payload.certificatesCursor);
      expect(fromFirst.map((c) => c.deposit.id)).toEqual([...first, ...second]);
      expect(fromFirst.map((c) => c.anchor.batch)).toEqual([
        batch,
        batch,
        batch,
        payload2.batch,
        payload2.batch,
      ]);
      expect((await feed(t, payload.certificatesCursor, 3)).map((c) => c.deposit.id)).toEqual(first);
      expect((await feed(t, payload2.certificatesCursor)).map((c) => c.deposit.id)).toEqual(second);

      // Sweeps come and go (every second here); nothing is sent twice.
      await sleep(2500);
      expect(r.requests).toHaveLength(2);
      expect(await deliveriesOf(t.id)).toHaveLength(2);
    } finally {
      await r.close();
    }
  });

  test("more than 1000 deposits in the batch: the count, no ids, and the cursor pages through them all", async () => {
    const t = await stack.tenant();
    const r = await receiver();
    await registerWebhook(stack.conn.db, t.id, r.url);
    try {
      const ids = await deposit(t, 1001);
      const [req] = await received(r, 1);
      const payload = payloadOf(req!);
      expect(payload.count).toBe(1001);
      expect(payload.depositIds).toBeUndefined();
      const certificates = await feed(t, payload.certificatesCursor);
      expect(certificates.map((c) => c.deposit.id)).toEqual(ids);
      expect(new Set(certificates.map((c) => c.anchor.batch))).toEqual(new Set([payload.batch]));
    } finally {
      await r.close();
    }
  });

  test("three tenants in one batch: each with a webhook gets its own delivery and secret; the one without gets none", async () => {
    const [a, b, c] = [await stack.tenant(), await stack.tenant(), await stack.tenant()];
    const [ra, rb] = [await receiver(), await receiver()];
    const { secret: sa } = await registerWebhook(stack.conn.db, a.id, ra.url);
    const { secret: sb } = await registerWebhook(stack.conn.db, b.id, rb.url);
    try {
      // Received in one second, and none sealed before all three are stored: the sealer's lock
      // is held meanwhile, so the first seal after it takes the three together.
      const holder = await stack.conn.db.connect();
      let ia, ib, ic;
      try {
        await holder.query("BEGIN");
        await holder.query("SELECT pg_advisory_xact_lock($1)", [SEAL_LOCK.toString()]);
        await startOfSecond();
        [ia, ib, ic] = await Promise.all([deposit(a, 2), deposit(b, 3), deposit(c, 1)]);
      } finally {
        await holder.query("COMMIT");
        holder.release();
      }
      const [[reqA], [reqB]] = await Promise.all([received(ra, 1), received(rb, 1)]);
      const batch = await certifiedBatch(a, ia![0]!);
      expect(await certifiedBatch(b, ib![0]!)).toBe(batch);
      expect(await certifiedBatch(c, ic![0]!)).toBe(batch);

      const [pa, pb] = [payloadOf(reqA!), payloadOf(reqB!)];
      expect(pa).toMatchObject({ tenant: a.id, batch, count: 2, depositIds: ia });
      expect(pb).toMatchObject({
        tenant: b.id,
        batch,
        count: 3,
        depositIds: ib,
        attestation: pa.attestation,
      });
      expect(reqA!.headers["tsd-delivery"]).not.toBe(reqB!.headers["tsd-delivery"]);
      const sigA = reqA!.headers["tsd-signature"] as string;
      expect(verifyWebhookSignature(sa, sigA, reqA!.body, now())).toBe(true);
      expect(verifyWebhookSignature(sb, sigA, reqA!.body, now())).toBe(false);
      expect(verifyWebhookSignature(sb, reqB!.headers["tsd-signature"] as string, reqB!.body, now())).toBe(
        true,
      );
      // Each tenant's cursor gives its own certificates only.
      expect((await feed(a, pa.certificatesCursor)).map((x) => x.deposit.id)).toEqual(ia);

      expect(await deliveriesOf(c.id)).toEqual([]);
      const { rows } = await stack.conn.db.query<{ tenant_id: string }>(
        "SELECT tenant_id FROM webhook_deliveries WHERE attestation_id = $1 ORDER BY tenant_id",
        [pa.attestation],
      );
      expect(rows.map((x) => x.tenant_id)).toEqual([a.id, b.id].sort());
      await sleep(1500);
      expect([ra.requests.length, rb.requests.length]).toEqual([1, 1]);
    } finally {
      await Promise.all([ra.close(), rb.close()]);
    }
  });

  test("a receiver answering 500 twice, then 200: delivered on the third POST, recorded with attempts = 3", async () => {
    const t = await stack.tenant();
    const r = await receiver((n) => (n < 2 ? 500 : 200));
    const { secret } = await registerWebhook(stack.conn.db, t.id, r.url);
    try {
      await deposit(t, 1);
      const requests = await received(r, 3);
      const [delivery] = await delivered(t.id);
      expect(delivery).toMatchObject({ attempts: 3, last_error: "HTTP 500", delivered_at: expect.any(Date) });
      // One delivery, the same body each time, each POST signed afresh.
      expect(new Set(requests.map((q) => q.headers["tsd-delivery"]))).toEqual(
        new Set([String(delivery!.id)]),
      );
      expect(new Set(requests.map((q) => q.body)).size).toBe(1);
      for (const q of requests) {
        expect(verifyWebhookSignature(secret, q.headers["tsd-signature"] as string, q.body, now())).toBe(
          true,
        );
      }
      // The backoff: 200 ms after the first failure, 400 ms after the second.
      const [r0, r1, r2] = requests;
      expect(r1!.at - r0!.at).toBeGreaterThanOrEqual(180);
      expect(r2!.at - r1!.at).toBeGreaterThanOrEqual(360);
      await sleep(2000);
      expect(r.requests).toHaveLength(3);
    } finally {
      await r.close();
    }
  });

  test("receivers that never answer fill the webhook worker, and later batches are certified as fast as ever", async () => {
    const t = await stack.tenant();
    const other = await stack.tenant();
    const r = await receiver(() => "hang");
    await registerWebhook(stack.conn.db, t.id, r.url);
    try {
      // Two batches of the tenant's: two POSTs hang, both of the worker's two slots.
      await deposit(t, 1);
      await eventually(async () => (r.open() === 1 ? true : undefined), 30_000, "the first POST hanging");
      await deposit(t, 1);
      await eventually(async () => (r.open() === 2 ? true : undefined), 30_000, "the second POST hanging");

      // Meanwhile, batches keep being sealed, anchored and certified: the tenant's own (its
      // delivery now waits for a free slot) and another tenant's.
      const started = Date.now();
      const [mine] = await deposit(t, 1);
      const [theirs] = await deposit(other, 1);
      await certifiedBatch(t, mine!, 20_000);
      await certifiedBatch(other, theirs!, 20_000);
      expect(Date.now() - started).toBeLessThan(20_000);

      // No attest job waits on a receiver: the step ends with its commit.
      const attestJobs = stack.conn.queues.queues.attest;
      await eventually(async () => ((await attestJobs.getActiveCount()) === 0 ? true : undefined), 5000);
      // Both POSTs were still hanging all along (a 30 s timeout): no attempt has returned.
      expect(r.open()).toBe(2);
      expect(r.requests).toHaveLength(2);
      const deliveries = await deliveriesOf(t.id);
      expect(deliveries).toHaveLength(3);
      expect(deliveries.map((d) => d.attempts)).toEqual([0, 0, 0]);
    } finally {
      // Nothing more to send; the hanging POSTs end with their connections.
      await removeWebhook(stack.conn.db, t.id);
      await r.close();
    }
  });
});

describe("attest and the sweeper, driven by hand", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ workers: false });
  });
  afterAll(async () => stack?.close());

  const webhookJobs = async () =>
    (
      await stack.conn.queues.queues.webhook.getJobs([
        "waiting",
        "paused",
        "delayed",
        "prioritized",
        "active",
      ])
    ).map((j) => j.data as { deliveryId: number });
  const sweepNow = () =>
    sweep({
      db: stack.conn.db,
      provider: stack.conn.provider,
      queues: stack.conn.queues,
      log: silentLog,
      reconcileWindowMs: 86_400_000,
      missingGraceMs: 0,
    });

  /** Deposits for each tenant, then seals, anchors and attests their one batch, with Redis "down". */
  async function certify(
    tenants: TestTenant[],
  ): Promise<{ batchId: number; certified: boolean; attestAgain: () => Promise<boolean> }> {
    for (const t of tenants)
      await acceptDeposits(stack.conn.db, t, digests(2), { bulk: true, now: Date.now() - 2000 });
    const { batch } = await sealBatch(stack.conn.db, 100_000);
    const { conn, deployment, keys } = stack;
    await anchorNow(
      {
        db: conn.db,
        provider: conn.provider,
        chainId: deployment.chainId,
        registry: deployment.registry,
        anchorer: keys.anchorer,
        confirmations: 1,
        timeoutMs: 20_000,
        maxInFlight: 8,
        log: silentLog,
      },
      batch!.id,
    );
    const attest = () =>
      attestBatch(
        {
          db: conn.db,
          provider: conn.provider,
          registry: deployment.registry,
          certifier: keys.certifier,
          log: silentLog,
          webhooks: { requestWebhook: () => Promise.reject(new Error("Redis is down")) },
        },
        batch!.id,
      );
    return { batchId: batch!.id, certified: await attest(), attestAgain: attest };
  }

  test("a Redis fault after the commit does not fail the attest; the sweeper asks for the delivery, once", async () => {
    const [withHook, without] = [await stack.tenant(), await stack.tenant()];
    await registerWebhook(stack.conn.db, withHook.id, "http://127.0.0.1:9/never-called");
    const { batchId, certified, attestAgain } = await certify([withHook, without]);
    expect(certified).toBe(true);
    const { rows } = await stack.conn.db.query<{ id: number; tenant_id: string; attestation_id: number }>(
      `SELECT wd.id, wd.tenant_id, wd.attestation_id FROM webhook_deliveries wd
         JOIN attestations a ON a.id = wd.attestation_id WHERE a.batch_id = $1`,
      [batchId],
    );
    expect(rows.map((r) => r.tenant_id)).toEqual([withHook.id]);
    expect(
      await stack.conn.db.query("SELECT 1 FROM webhook_deliveries WHERE tenant_id = $1", [withHook.id]),
    ).toMatchObject({ rowCount: 1 });
    // A second run certifies nothing and records nothing; recording again adds nothing.
    expect(await attestAgain()).toBe(false);
    const again = await inTransaction(stack.conn.db, (client) =>
      recordDeliveries(client, batchId, rows[0]!.attestation_id),
    );
    expect(again).toEqual([]);

    expect(await webhookJobs()).toEqual([]);
    expect((await sweepNow()).webhooks).toBe(1);
    expect(await sweepNow()).toMatchObject({ webhooks: 1 });
    expect(await webhookJobs()).toEqual([{ deliveryId: rows[0]!.id }]); // de-duplicated
  });

  test("the sweeper leaves deliveries with their attempts spent, older than a day, or of a removed webhook", async () => {
    const t = await stack.tenant();
    await registerWebhook(stack.conn.db, t.id, "http://127.0.0.1:9/never-called");
    await certify([t]);
    const [{ id }] = (
      await stack.conn.db.query<{ id: number }>("SELECT id FROM webhook_deliveries WHERE tenant_id = $1", [
        t.id,
      ])
    ).rows as [{ id: number }];
    const resent = async () => {
      await stack.conn.queues.queues.webhook.obliterate({ force: true });
      await sweepNow();
      return (await webhookJobs()).some((j) => j.deliveryId === id);
    };
    expect(await resent()).toBe(true);
    await stack.conn.db.query("UPDATE webhook_deliveries SET attempts = $2 WHERE id = $1", [
      id,
      WEBHOOK_ATTEMPTS,
    ]);
    expect(await resent()).toBe(false);
    await stack.conn.db.query(
      "UPDATE webhook_deliveries SET attempts = 0, created_at = now() - interval '25 hours' WHERE id = $1",
      [id],
    );
    expect(await resent()).toBe(false);
    await stack.conn.db.query("UPDATE webhook_deliveries SET created_at = now() WHERE id = $1", [id]);
    expect(await resent()).toBe(true);
    expect(await removeWebhook(stack.conn.db, t.id)).toBe(true);
    expect(await resent()).toBe(false);
    expect(await removeWebhook(stack.conn.db, t.id)).toBe(false);
  });
});
