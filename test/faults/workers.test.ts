import {
  attempts,
  checkEvidence,
  expectPromiseKept,
  ingest,
  installation,
  recordCase,
  sleep,
  type Installation,
} from "./harness";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUE_NAMES } from "../../services/jobs/queues";
import { eventually } from "../helpers/stack";

// Worker processes killed, raced and stopped: the API and the workers run as separate
// processes (services/api/server.ts, services/jobs/worker-process.ts) on a chain the test holds.

jest.setTimeout(180_000);

let inst: Installation | undefined;
afterEach(async () => {
  await inst?.remove();
  inst = undefined;
});

/** Deposits of one bulk request every 300 ms: a few hundred in a case. */
const LOAD = { items: 20, intervalMs: 300 };

/** No pass of the sender is running (its lease is released at the end of each pass). */
async function senderIdle(i: Installation): Promise<true | undefined> {
  const { rows } = await i.db.query<{ idle: boolean }>("SELECT until <= now() AS idle FROM anchor_sender");
  return rows.every((r) => r.idle) ? true : undefined;
}

test("a worker SIGKILLed with transactions sent but not recorded: each mined once, none signed again", async () => {
  // Longer than the workers stay away: the recorded transaction is sent again, not re-priced.
  inst = await installation({ SEAL_INTERVAL_MS: "300", ANCHOR_TIMEOUT_MS: "60000" }, { ownChain: true });
  const chain = inst.chain!;
  const [api, doomed] = await Promise.all([inst.startApi(), inst.startWorkers()]);
  const tenant = await inst.tenant();
  await chain.automine(false);
  const load = ingest(api.url, tenant.apiKey, LOAD);

  // Two batches' transactions signed, recorded and sent, waiting in the node's pool.
  const inFlight = await eventually(
    async () => {
      const sent = await attempts(inst!, "state = 'sent'");
      const pool = new Set(await chain.pool());
      return sent.length >= 2 && sent.every((a) => pool.has(a.tx_hash)) ? sent : undefined;
    },
    30_000,
    "two anchor transactions in the pool",
  );
  await eventually(() => senderIdle(inst!), 10_000, "the sender between passes");
  doomed.child.kill("SIGKILL");
  await new Promise((r) => doomed.child.once("exit", r));

  // While no worker runs, the lower transactions are mined (nobody records them), and the
  // highest leaves the pool: the state a crash between recording and sending leaves.
  const highest = inFlight.reduce((a, b) => (a.nonce > b.nonce ? a : b));
  await chain.call("anvil_dropTransaction", [highest.tx_hash]);
  await chain.mine();
  const stillInPool = await chain.pool();
  expect(stillInPool).not.toContain(highest.tx_hash);

  await new Promise((r) => setTimeout(r, 2000)); // deposits keep arriving at the API
  await inst.startWorkers();
  await chain.automine(true);
  await chain.mine();
  await new Promise((r) => setTimeout(r, 2000));
  const report = await load.stop();
  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("worker SIGKILL after send, before record", report, summary, inst);
  expectPromiseKept(summary);
  // The batches in flight at the kill: one transaction each, the one recorded before the kill.
  for (const a of inFlight) {
    expect(await attempts(inst, `batch_id = ${a.batch_id}`)).toEqual([{ ...a, state: "mined" }]);
  }
});

test("two worker processes racing over one database and one Redis prefix: every step done once", async () => {
  inst = await installation({ SEAL_INTERVAL_MS: "300" }, { ownChain: true });
  const api = await inst.startApi();
  const tenant = await inst.tenant();
  // A backlog first, with no worker: both start on the same work at the same moment.
  const load = ingest(api.url, tenant.apiKey, LOAD);
  await sleep(3000);
  const workers = await Promise.all([inst.startWorkers(), inst.startWorkers()]);
  await sleep(4000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("two workers racing", report, summary, inst);
  expectPromiseKept(summary);
  for (const w of workers) expect(w.child.exitCode).toBeNull();
  // One mined transaction per batch, and no nonce mined twice.
  const mined = await attempts(inst, "state = 'mined'");
  expect(new Set(mined.map((a) => a.batch_id)).size).toBe(mined.length);
  expect(new Set(mined.map((a) => a.nonce)).size).toBe(mined.length);
  expect(mined.length).toBe(summary.batches);
  const work = workers.map((w) =>
    ["batch sealed", "anchor transaction signed and recorded", "batch certified"].map(
      (msg) => w.logs().filter((l) => l.msg === msg).length,
    ),
  );
  console.log(`sealed, sent, certified by each worker: ${JSON.stringify(work)}`);
});

test("two API and two worker processes started together on a new database, under load", async () => {
  inst = await installation({ SEAL_INTERVAL_MS: "300" }, { ownChain: true });
  const [api1, api2, ...workers] = await Promise.all([
    inst.startApi(),
    inst.startApi(),
    inst.startWorkers(),
    inst.startWorkers(),
  ]);
  const tenant = await inst.tenant();
  const load = ingest([api1.url, api2.url], tenant.apiKey, { items: 20, intervalMs: 150 });
  await sleep(6000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("2 API + 2 worker processes", report, summary, inst);
  expectPromiseKept(summary);
  expect(report.refusals).toEqual({});
  for (const api of [api1, api2]) {
    const served = api
      .logs()
      .filter((l) => (l.req as { url?: string } | undefined)?.url === "/v1/deposits/bulk");
    expect(served.length).toBeGreaterThan(0);
  }
  // Each stops cleanly within docker's grace.
  for (const p of [api1, api2, ...workers]) {
    const started = Date.now();
    expect(await p.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  }
});

test("SIGTERM under load: npm start stops within 10 s leaving nothing running, and after a restart everything certifies", async () => {
  // The service as docker runs it: npm start's entry point with its local chain.
  inst = await installation({ SEAL_INTERVAL_MS: "300" });
  await inst.start();
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, LOAD);
  await sleep(3000); // requests, seals, anchor passes and attestations under way
  const chainPid = inst.chainPid()!;
  const started = Date.now();
  expect(await inst.stop()).toBe(0);
  const stoppedIn = Date.now() - started;
  expect(stoppedIn).toBeLessThan(10_000); // docker's default grace before SIGKILL

  // Nothing left running: no job active in Redis (it would wait as stalled after the restart),
  // the sender's lease released, the local chain stopped.
  const redis = new Redis(inst.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
  for (const name of QUEUE_NAMES) {
    const queue = new Queue(name, { connection: redis, prefix: inst.env.REDIS_PREFIX! });
    expect({ name, active: await queue.getActiveCount() }).toEqual({ name, active: 0 });
    await queue.close();
  }
  redis.disconnect();
  expect((await inst.db.query("SELECT 1 FROM anchor_sender WHERE until > now()")).rowCount).toBe(0);
  expect(() => process.kill(chainPid, 0)).toThrow();

  await inst.start();
  await sleep(2000);
  const report = await load.stop();
  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase(`SIGTERM under load (stopped in ${stoppedIn} ms)`, report, summary, inst);
  expectPromiseKept(summary);
  // Meanwhile the careful client met a closed port, a connection closed under it (keep-alive's
  // race) or the catalogue's 503 while the API drained, and retried: nothing else.
  const expected = ["ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET", "503 SERVICE_UNAVAILABLE"];
  expect(Object.keys(report.refusals).filter((r) => !expected.includes(r))).toEqual([]);
});
