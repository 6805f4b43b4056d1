import { createHash } from "node:crypto";
import { serveMetrics } from "../../services/metrics/server";
import { eventually, silentLog, startTestStack, type TestStack } from "../helpers/stack";

// /metrics and the queue dashboard on the real stack: the series operators alert on carry
// real values after a deposit has gone the whole way, and nothing opens without the token.

jest.setTimeout(120_000);

const TOKEN = "operator-token-0123456789abcdef";
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ env: { OPERATOR_TOKEN: TOKEN } });
});
afterAll(async () => stack?.close());

const bearer = { authorization: `Bearer ${TOKEN}` };
const basic = { authorization: `Basic ${Buffer.from(`ops:${TOKEN}`).toString("base64")}` };

/** The value of one sample line of Prometheus text, e.g. `tsd_pending_deposits`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${text.slice(0, 2000)}`);
  return Number(line.slice(series.length + 1));
}

test("after a deposit is certified, /metrics shows it accepted, sealed, anchored with its gas, certified, nothing pending", async () => {
  const scrape = async () => {
    const res = await stack.app.inject({ method: "GET", url: "/metrics", headers: bearer });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    return res.body;
  };
  const before = await scrape();
  const tenant = await stack.tenant();
  const digest = createHash("sha256").update("metrics").digest("hex");
  const res = await stack.app.inject({
    method: "POST",
    url: "/v1/deposits",
    headers: { authorization: `Bearer ${tenant.apiKey}` },
    payload: { digest },
  });
  expect(res.statusCode).toBe(202);
  await stack.app.inject({ method: "GET", url: "/no/such/route" });
  await eventually(async () => {
    const got = await stack.app.inject({
      method: "GET",
      url: `/v1/deposits/${res.json().id}/certificate`,
      headers: { authorization: `Bearer ${tenant.apiKey}` },
    });
    return got.statusCode === 200 ? true : undefined;
  });
  // a labelled counter has no line before its first count
  const grown = (text: string, series: string) =>
    text.includes(`\n${series} `)
      ? sample(text, series) - (before.includes(`\n${series} `) ? sample(before, series) : 0)
      : 0;
  // The anchoring and certification counters are counted just after the commits that make the
  // certificate available: scrape until they have caught up.
  const after = await eventually(async () => {
    const text = await scrape();
    return [
      "tsd_anchoring_seconds_count",
      "tsd_anchor_gas_used_count",
      "tsd_certificates_issued_total",
    ].every((series) => grown(text, series) >= 1)
      ? text
      : undefined;
  });
  const grew = (series: string) => {
    sample(after, series); // present, or the sample's error names it
    return grown(after, series);
  };
  expect(grew("tsd_deposits_accepted_total")).toBe(1);
  expect(grew("tsd_batches_sealed_total")).toBeGreaterThanOrEqual(1);
  expect(grew("tsd_batch_size_count")).toBeGreaterThanOrEqual(1);
  expect(grew("tsd_anchoring_seconds_count")).toBeGreaterThanOrEqual(1);
  expect(grew("tsd_anchor_gas_used_count")).toBeGreaterThanOrEqual(1);
  expect(sample(after, "tsd_anchor_gas_used_sum")).toBeGreaterThan(21_000);
  expect(grew("tsd_certificates_issued_total")).toBeGreaterThanOrEqual(1);
  expect(grew('tsd_http_errors_total{code="ROUTE_NOT_FOUND",status="404"}')).toBe(1);
  expect(sample(after, "tsd_pending_deposits")).toBe(0);
  expect(sample(after, "tsd_pending_oldest_age_seconds")).toBe(0);
  expect(sample(after, 'tsd_batches{state="blocked"}')).toBe(0);
  expect(sample(after, "tsd_last_anchor_age_seconds")).toBeGreaterThanOrEqual(0);
  expect(sample(after, 'tsd_queue_jobs{queue="seal",state="failed"}')).toBe(0);
  for (const series of [
    "tsd_verify_outcomes_total",
    "tsd_job_failures_total",
    "tsd_process_resident_memory_bytes",
  ]) {
    expect(after).toContain(`# TYPE ${series}`);
  }
});

test("a pending deposit shows in the backlog gauges, with its age", async () => {
  const unsealed = await startTestStack({ workers: false, env: { OPERATOR_TOKEN: TOKEN } });
  try {
    const tenant = await unsealed.tenant();
    await unsealed.app.inject({
      method: "POST",
      url: "/v1/deposits",
      headers: { authorization: `Bearer ${tenant.apiKey}` },
      payload: { digest: "ab".repeat(32) },
    });
    await new Promise((r) => setTimeout(r, 1100));
    const text = (await unsealed.app.inject({ method: "GET", url: "/metrics", headers: bearer })).body;
    expect(sample(text, "tsd_pending_deposits")).toBe(1);
    expect(sample(text, "tsd_pending_oldest_age_seconds")).toBeGreaterThanOrEqual(1);
  } finally {
    await unsealed.close();
  }
});

test("without the operator token: /metrics and /admin/queues answer 401 in the catalogue's shape; with it they open", async () => {
  for (const headers of [{}, { authorization: "Bearer wrong-token-wrong-token-wrong" }]) {
    const metrics = await stack.app.inject({ method: "GET", url: "/metrics", headers });
    expect(metrics.statusCode).toBe(401);
    expect(metrics.json().error.code).toBe("OPERATOR_UNAUTHENTICATED");
    const board = await stack.app.inject({ method: "GET", url: "/admin/queues", headers });
    expect(board.statusCode).toBe(401);
    expect(board.headers["www-authenticate"]).toContain("Basic");
    const api = await stack.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers });
    expect(api.statusCode).toBe(401);
  }
  const board = await stack.app.inject({ method: "GET", url: "/admin/queues", headers: basic });
  expect(board.statusCode).toBe(200);
  expect(board.headers["content-type"]).toContain("text/html");
  const api = await stack.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: basic });
  expect(api.statusCode).toBe(200);
  expect((api.json() as { queues: { name: string }[] }).queues.map((q) => q.name).sort()).toEqual(
    Object.keys(stack.conn.queues.queues).sort(),
  );
});

test("a worker process's own /metrics: 401 without the token, the same series with it", async () => {
  const server = await serveMetrics(
    0,
    "127.0.0.1",
    { db: stack.conn.db, queues: stack.conn.queues, operatorToken: TOKEN },
    silentLog,
  );
  try {
    const url = `http://127.0.0.1:${server.port}/metrics`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      "OPERATOR_UNAUTHENTICATED",
    );
    const ok = await fetch(url, { headers: bearer });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("tsd_pending_deposits ");
    expect((await fetch(`http://127.0.0.1:${server.port}/other`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
