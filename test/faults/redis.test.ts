import {
  checkEvidence,
  expectPromiseKept,
  ingest,
  installation,
  recordCase,
  sleep,
  type Installation,
} from "./harness";

// Redis carries triggers only: restarted empty (no persistence), it loses every queue,
// schedule and hint; taken away, the workers cannot be told anything. Deposits must still be
// accepted or refused with 503 SERVICE_UNAVAILABLE (never another error), and once Redis is
// back every accepted deposit must be certified.

jest.setTimeout(180_000);

let inst: Installation | undefined;
afterAll(async () => inst?.remove());

test("Redis restarted empty, then unreachable while deposits arrive: nothing accepted is lost", async () => {
  inst = await installation({ SEAL_INTERVAL_MS: "300" }, { ownRedis: true });
  await inst.start();
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, { items: 20, intervalMs: 300 });
  await sleep(2000);

  await inst.redis!.stop(); // SIGKILL: everything it held is gone
  await inst.redis!.start();
  await sleep(3000);

  await inst.redis!.stop();
  const away = { from: Date.now(), until: 0 };
  await sleep(5000);
  away.until = Date.now();
  await inst.redis!.start();
  await sleep(4000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("Redis restarted, then unreachable", report, summary, inst);
  expect(inst.service!.child.exitCode).toBeNull();
  expectPromiseKept(summary);
  // Deposits kept arriving while Redis was away; each was accepted or refused with 503.
  expect(Object.keys(report.refusals).every((r) => r === "503 SERVICE_UNAVAILABLE")).toBe(true);
  const during = await inst.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM deposits WHERE received_at BETWEEN $1 AND $2",
    [away.from, away.until],
  );
  expect(during.rows[0]!.n + (report.refusals["503 SERVICE_UNAVAILABLE"] ?? 0)).toBeGreaterThan(0);
});
