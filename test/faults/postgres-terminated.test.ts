import {
  checkEvidence,
  databaseOf,
  expectPromiseKept,
  ingest,
  installation,
  recordCase,
  terminateBackends,
  type Installation,
} from "./harness";

// A database failover, an idle-session timeout or an operator's pg_terminate_backend kill the
// service's PostgreSQL connections while deposits flow and the seal, anchor and attest jobs
// hold connections. The process must stay up, answer 503 meanwhile, recover by itself, and
// lose nothing: every deposit answered 2xx is certified, every certificate VALID.

jest.setTimeout(300_000);

let inst: Installation;
beforeAll(async () => {
  inst = await installation();
  await inst.start();
});
afterAll(async () => inst?.remove());

test("PostgreSQL backends terminated during ingest: no crash, nothing lost, every certificate VALID", async () => {
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, { items: 150, intervalMs: 200 });
  await new Promise((r) => setTimeout(r, 2000));

  // Terminate every backend of the service's database, over and over, for 10 s: each round
  // finds connections in every state (idle, running a query, idle in a transaction).
  let terminated = 0;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    terminated += await terminateBackends(databaseOf(inst.env.DATABASE_URL!));
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 300));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const report = await load.stop();

  expect(inst.service!.child.exitCode).toBeNull(); // still running
  expect(terminated).toBeGreaterThan(5); // how many depends on the machine's speed; some, during the load
  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase(`postgres terminated (${terminated} backends)`, report, summary, inst);
  expect(summary.deposits).toBeGreaterThan(3000);
  expectPromiseKept(summary);
  // the refusals were the database being away (503), nothing else
  expect(Object.keys(report.refusals).every((r) => r === "503 SERVICE_UNAVAILABLE")).toBe(true);
  expect(inst.service!.child.exitCode).toBeNull();
});
