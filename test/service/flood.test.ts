import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Certificate } from "../../services/core";
import { bearer, call, expectError } from "../helpers/api";
import { selfSignedCertificate } from "../helpers/forged";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// Issue 9's done-when: a flood of 600 POST /v1/verify from one address, against the real
// listening server (sockets, not inject), with the default limits, meets 429s and no 5xx, while
// another tenant's GET /v1/deposits keeps answering 200. The suite prints that tenant's list
// latency while idle and during the flood; it asserts behaviour only, never time.

const FLOOD = 600;
const SENDERS = 32;

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.close());

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * (sorted.length - 1)))] as number;
};

test("600 verifications from one address: 429s, no 5xx; another tenant's list answers 200 throughout", async () => {
  // A real certificate (its chain reads confirmed, so cached) and self-signed ones that name
  // this platform's registry (their absent anchors reach the chain every time).
  const depositor = await stack.tenant();
  const deposit = await call(stack.app, {
    method: "POST",
    url: "/v1/deposits",
    headers: bearer(depositor),
    payload: { digest: "5e".repeat(32) },
  });
  expect(deposit.statusCode).toBe(202);
  const real = await eventually(
    async () => {
      const res = await call(stack.app, {
        method: "GET",
        url: `/v1/deposits/${deposit.json().id}/certificate`,
        headers: bearer(depositor),
      });
      if (res.statusCode !== 200) expectError(res, 409, "CERTIFICATE_NOT_READY");
      return res.statusCode === 200 ? (res.json() as Certificate) : undefined;
    },
    30_000,
    "the certificate",
  );
  const forged = await Promise.all(
    Array.from({ length: 50 }, () =>
      selfSignedCertificate(stack.deployment.chainId, stack.deployment.registry),
    ),
  );

  // The other tenant, with something to list.
  const lister = await stack.tenant();
  const seeded = await call(stack.app, {
    method: "POST",
    url: "/v1/deposits/bulk",
    headers: bearer(lister),
    payload: { items: Array.from({ length: 200 }, (_, i) => ({ digest: i.toString(16).padStart(64, "0") })) },
  });
  expect(seeded.statusCode).toBe(202);

  await stack.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = stack.app.server.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;

  const listStatuses: number[] = [];
  /** Lists the tenant's deposits until `until()` is true (at least `min` times), every 20 ms; the latencies, ms. */
  const listWhile = async (until: () => boolean, min: number) => {
    const latencies: number[] = [];
    while (latencies.length < min || !until()) {
      const started = performance.now();
      const res = await fetch(`${base}/v1/deposits?limit=100`, { headers: bearer(lister) });
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      listStatuses.push(res.status);
      await new Promise((r) => setTimeout(r, 20));
    }
    return latencies;
  };

  const idle = await listWhile(() => true, 50);

  // The flood comes from a process of its own (the senders' work stays off the server's loop).
  // Every other request carries the real certificate.
  const bodies = forged.flatMap((f) => [{ certificate: real }, { certificate: f }]);
  const client = spawn(
    process.execPath,
    ["--import", "tsx", join(__dirname, "..", "helpers", "flood-client.ts")],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  client.stdin.end(JSON.stringify({ url: `${base}/v1/verify`, bodies, total: FLOOD, senders: SENDERS }));
  let output = "";
  let started!: () => void;
  const floodStarted = new Promise<void>((r) => (started = r));
  client.stdout.on("data", (d: Buffer) => {
    output += d.toString();
    if (output.startsWith("started\n")) started();
  });
  const exited = new Promise<number | null>((resolve) => client.once("exit", (code) => resolve(code)));
  let flooding = true;
  void exited.finally(() => {
    flooding = false;
    started(); // a client that failed before starting: the assertions below say so
  });
  await floodStarted;
  const during = await listWhile(() => !flooding, 20);
  expect(await exited).toBe(0);
  const answers = (
    JSON.parse(output.split("\n")[1] as string) as {
      body: number;
      status: number;
      code?: string;
      outcome?: string;
      retryAfter: string | null;
    }[]
  ).map((a) => ({ ...a, real: a.body % 2 === 0 }));

  const count = (f: (a: (typeof answers)[number]) => boolean) => answers.filter(f).length;
  const ok = count((a) => a.status === 200);
  const rateLimited = count((a) => a.status === 429 && a.code === "RATE_LIMITED");
  const busy = count((a) => a.status === 429 && a.code === "VERIFY_BUSY");
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(
    [
      `verify flood: ${FLOOD} POST /v1/verify from one address (another process), ${SENDERS} at a time, half a real certificate, half ${forged.length} self-signed ones`,
      `  200: ${ok}   429 RATE_LIMITED: ${rateLimited}   429 VERIFY_BUSY: ${busy}   5xx: ${count((a) => a.status >= 500)}`,
      "another tenant's GET /v1/deposits?limit=100 (200 deposits):",
      "  phase          calls   p50        p95",
      `  idle           ${String(idle.length).padEnd(7)} ${fmt(percentile(idle, 50)).padEnd(10)} ${fmt(percentile(idle, 95))}`,
      `  during flood   ${String(during.length).padEnd(7)} ${fmt(percentile(during, 50)).padEnd(10)} ${fmt(percentile(during, 95))}`,
    ].join("\n"),
  );

  expect(answers).toHaveLength(FLOOD);
  expect(answers.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]); // no 5xx, nothing else
  expect(rateLimited).toBeGreaterThan(0);
  for (const a of answers.filter((x) => x.status === 429)) {
    expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
  }
  // Every verification that ran reached the one verdict it should.
  for (const a of answers.filter((x) => x.status === 200)) {
    expect(a.real ? a.outcome : `${a.outcome} ${a.code}`).toBe(a.real ? "VALID" : "INVALID NOT_ANCHORED");
  }
  expect(listStatuses.length).toBe(idle.length + during.length);
  expect(listStatuses.every((s) => s === 200)).toBe(true);
});
