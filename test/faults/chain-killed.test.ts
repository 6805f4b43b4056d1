import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkEvidence,
  expectPromiseKept,
  ingest,
  installation,
  recordCase,
  type Installation,
} from "./harness";
import { eventually } from "../helpers/stack";

// The local chain (anvil, which writes its state to disk once a second) SIGKILLed while
// deposits flow: the blocks of its last second are gone, with whatever anchors they held,
// and later anchors land at the same heights. Afterwards every certified batch's root must be
// on chain at its recorded block and hash — all of them checked, not the newest — and every
// certificate VALID, with no record newer than its block.

jest.setTimeout(300_000);

let inst: Installation;
beforeAll(async () => {
  // The default sweep interval's order of magnitude: later batches anchor before the next sweep.
  inst = await installation({ SWEEP_INTERVAL_MS: "5000" });
  await inst.start();
});
afterAll(async () => inst?.remove());

async function chainCall<T>(method: string, params: unknown[]): Promise<T> {
  const res = await fetch(inst.chainRpc, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(1000),
  });
  return ((await res.json()) as { result: T }).result;
}

const chainAnswers = () =>
  chainCall<string>("eth_blockNumber", []).then(
    () => true,
    () => false,
  );

/** Whether the chain (running again) still has `block`. */
async function chainHas(block: { number: number; hash: string }): Promise<boolean> {
  const found = await chainCall<{ hash: string } | null>("eth_getBlockByNumber", [
    `0x${block.number.toString(16)}`,
    false,
  ]);
  return found?.hash === block.hash;
}

/**
 * Kills the chain with its last blocks unwritten, as a SIGKILL between two of anvil's state
 * writes does, but for certain: the state file is taken right after a write, the chain is
 * killed once a batch anchored after that is recorded by the service, and the older file is
 * put back before the node is started again. Returns the anchor block that is lost.
 */
async function killChainLosingItsLastAnchor(): Promise<{ number: number; hash: string }> {
  const stateFile = join(inst.dataDir, "chain-state.json");
  const writtenAt = () => (existsSync(stateFile) ? statSync(stateFile).mtimeMs : 0);
  const written = writtenAt();
  await eventually(async () => (writtenAt() > written ? true : undefined), 5000, "a state write");
  const older = readFileSync(stateFile);
  JSON.parse(older.toString("utf8")); // a whole write, not one in progress
  const head = Number(BigInt(await chainCall<string>("eth_blockNumber", [])));
  const anchored = await eventually(
    async () =>
      (
        await inst.db.query<{ number: number; hash: string }>(
          `SELECT block_number AS number, '0x' || encode(block_hash, 'hex') AS hash FROM batches
            WHERE block_number > $1 ORDER BY block_number DESC LIMIT 1`,
          [head],
        )
      ).rows[0],
    30_000,
    "an anchor after the state write",
  );
  process.kill(inst.chainPid()!, "SIGKILL");
  writeFileSync(stateFile, older);
  return anchored;
}

test("the chain killed mid-ingest, then the stack restarted: every certified batch on chain, every certificate VALID", async () => {
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, { items: 200, intervalMs: 200 });
  for (let round = 0; round < 2; round++) {
    const lost = await killChainLosingItsLastAnchor();
    await inst.stop();
    await inst.start();
    expect(await chainHas(lost)).toBe(false); // the fault happened: an anchor the service recorded is gone
  }
  await new Promise((r) => setTimeout(r, 3000));
  const report = await load.stop();
  await inst.stop();
  await inst.start();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("chain killed, stack restarted", report, summary, inst);
  expect(summary.deposits).toBeGreaterThan(2000);
  expectPromiseKept(summary);
});

test("the chain killed and left alone: the service restarts it, re-anchors what it lost, and carries on", async () => {
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, { items: 200, intervalMs: 200 });
  for (let round = 0; round < 2; round++) {
    const lost = await killChainLosingItsLastAnchor();
    await eventually(async () => ((await chainAnswers()) ? true : undefined), 10_000, "the chain back");
    expect(await chainHas(lost)).toBe(false);
  }
  await new Promise((r) => setTimeout(r, 3000));
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("chain killed, restarted by the service", report, summary, inst);
  expect(inst.service!.child.exitCode).toBeNull();
  expect(inst.service!.logs().filter((l) => l.msg === "local chain restarted").length).toBe(2);
  expectPromiseKept(summary);
});
