import { Wallet } from "ethers";
import { createProvider, registryAt } from "../../services/chain/reader";
import { eventually } from "../helpers/stack";
import { miner } from "./chain";
import {
  attempts,
  checkEvidence,
  expectPromiseKept,
  ingest,
  installation,
  logged,
  recordCase,
  sleep,
  type Installation,
} from "./harness";

// The chain misbehaving under the service: down at send, restarted with its state, a
// transaction dropped from the pool, a reorganisation before finality, a node behind, the
// lowest nonce stuck, the anchoring key rotated with a transaction in flight. The test holds
// the chain (an anvil of its own, mined by hand where it matters); the service reaches it
// through CHAIN_RPC_URL as it would a real node.

jest.setTimeout(180_000);

let inst: Installation | undefined;
afterEach(async () => {
  await inst?.remove();
  inst = undefined;
});

/** Deposits of one bulk request every 300 ms: a few hundred in a case. */
const LOAD = { items: 20, intervalMs: 300 };

async function receipt(
  i: Installation,
  hash: string,
): Promise<{ blockNumber: string; blockHash: string } | null> {
  return i.chain!.call("eth_getTransactionReceipt", [hash]);
}

/** The batches' transactions in flight, once at least `n` of them wait in the node's pool. */
async function inPool(i: Installation, n: number) {
  return eventually(
    async () => {
      const sent = await attempts(i, "state = 'sent'");
      const pool = new Set(await i.chain!.pool());
      return sent.length >= n && sent.every((a) => pool.has(a.tx_hash)) ? sent : undefined;
    },
    30_000,
    `${n} anchor transactions in the pool`,
  );
}

test("the chain down at send, then restarted with its state: everything anchors once", async () => {
  inst = await installation({ SEAL_INTERVAL_MS: "300" }, { ownChain: true });
  const chain = inst.chain!;
  await inst.start();
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, LOAD);
  await eventually(
    async () =>
      (await inst!.db.query("SELECT 1 FROM batches WHERE state = 'certified'")).rowCount ? true : undefined,
    30_000,
    "a certified batch",
  );

  const head = await chain.head();
  const blockAt = async (n: number) =>
    (await chain.call<{ hash: string } | null>("eth_getBlockByNumber", [`0x${n.toString(16)}`, false]))?.hash;
  const headHash = await blockAt(head);
  await chain.stop(); // SIGTERM: anvil writes its state on the way out
  const failedBefore = logged(inst, "job failed").length;
  // Batches are sealed meanwhile, and the sender fails to reach the node for them.
  const down = await eventually(
    async () => {
      const { rows } = await inst!.db.query<{ id: number }>(
        "SELECT id FROM batches WHERE state = 'sealed' ORDER BY id",
      );
      const failures = logged(inst!, "job failed")
        .slice(failedBefore)
        .filter((l) => l.queue === "anchor");
      return rows.length >= 2 && failures.length >= 1 ? rows.map((r) => r.id) : undefined;
    },
    30_000,
    "sealed batches the sender could not send",
  );
  await chain.start();
  // The same chain, from its state file: the old head is there with its hash. The service may
  // already have anchored on top of it, so the head itself can be higher.
  expect(await chain.head()).toBeGreaterThanOrEqual(head);
  expect(await blockAt(head)).toBe(headHash);
  await sleep(3000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("chain down at send, restarted with its state", report, summary, inst);
  expectPromiseKept(summary);
  expect(summary.withdrawn).toBe(0);
  for (const id of down)
    expect((await attempts(inst, `batch_id = ${id} AND state = 'mined'`)).length).toBe(1);
});

test("a transaction dropped from the pool: its recorded bytes are sent again, nothing signed twice", async () => {
  // Longer than the case: a transaction is sent again as it is, never re-priced here.
  inst = await installation({ SEAL_INTERVAL_MS: "300", ANCHOR_TIMEOUT_MS: "60000" }, { ownChain: true });
  const chain = inst.chain!;
  await inst.start();
  const tenant = await inst.tenant();
  await chain.automine(false);
  const load = ingest(inst.api, tenant.apiKey, LOAD);
  const inFlight = await inPool(inst, 2);

  // The lowest nonce leaves the pool: the ones above it cannot be mined until it is back.
  const lowest = inFlight.reduce((a, b) => (a.nonce < b.nonce ? a : b));
  await chain.call("anvil_dropTransaction", [lowest.tx_hash]);
  await chain.mine();
  // Nothing above the missing nonce is mined without it. (The service re-sends what it has in
  // flight on every pass: the lowest may be back, and mined, already.)
  const lowestMined = (await receipt(inst, lowest.tx_hash)) !== null;
  for (const a of inFlight) expect((await receipt(inst, a.tx_hash)) === null).toBe(!lowestMined);
  await eventually(
    async () =>
      (await chain.pool()).includes(lowest.tx_hash) || (await receipt(inst!, lowest.tx_hash))
        ? true
        : undefined,
    10_000,
    "the dropped transaction sent again",
  );
  await chain.automine(true);
  await chain.mine();
  await sleep(2000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("transaction dropped from the pool", report, summary, inst);
  expectPromiseKept(summary);
  for (const a of inFlight) {
    expect(await attempts(inst, `batch_id = ${a.batch_id}`)).toEqual([{ ...a, state: "mined" }]);
  }
});

test("a reorganisation after the first confirmation: nothing certified until final, the vanished transaction sent again", async () => {
  inst = await installation(
    { SEAL_INTERVAL_MS: "300", CHAIN_CONFIRMATIONS: "2", ANCHOR_TIMEOUT_MS: "60000" },
    { ownChain: true },
  );
  const chain = inst.chain!;
  await inst.start();
  const tenant = await inst.tenant();
  await chain.automine(false);
  const load = ingest(inst.api, tenant.apiKey, LOAD);
  const inFlight = await inPool(inst, 1);

  await chain.mine(); // one confirmation
  const first = (await receipt(inst, inFlight[0]!.tx_hash))!;
  expect(first).not.toBeNull();
  await sleep(2000); // several passes of the sender and sweeps
  const batchIds = inFlight.map((a) => a.batch_id);
  const early = await inst.db.query(`SELECT id FROM batches WHERE id = ANY($1) AND state <> 'sealed'`, [
    batchIds,
  ]);
  expect(early.rows).toEqual([]); // one confirmation of two: not anchored, not certified

  await chain.reorg(1); // that block replaced by an empty one
  for (const a of inFlight) expect(await receipt(inst, a.tx_hash)).toBeNull();
  await eventually(
    async () => ((await chain.pool()).includes(inFlight[0]!.tx_hash) ? true : undefined),
    10_000,
    "the vanished transaction sent again",
  );
  const blocks = miner(chain, 300);
  await sleep(3000);
  const report = await load.stop();
  const summary = await checkEvidence(inst, tenant.id, report.accepted).finally(() => blocks.stop());
  recordCase("reorg after the first confirmation", report, summary, inst);
  expectPromiseKept(summary);
  expect(summary.withdrawn).toBe(0); // nothing was certified on the block that went away
  const { rows } = await inst.db.query<{ block_hash: string }>(
    "SELECT '0x' || encode(block_hash, 'hex') AS block_hash FROM batches WHERE id = $1",
    [inFlight[0]!.batch_id],
  );
  expect(rows[0]!.block_hash).not.toBe(first.blockHash);
});

test("a node that falls behind: no certified batch is rolled back", async () => {
  inst = await installation(
    { SEAL_INTERVAL_MS: "300", ANCHOR_LOSS_GRACE_MS: "60000" },
    { ownChain: true, proxy: true },
  );
  await inst.start();
  const tenant = await inst.tenant();
  const load = ingest(inst.api, tenant.apiKey, LOAD);
  const before = await eventually(
    async () => {
      const { rows } = await inst!.db.query<{ id: number; block_number: number; block_hash: string }>(
        `SELECT id, block_number, encode(block_hash, 'hex') AS block_hash FROM batches
          WHERE state = 'certified' ORDER BY id`,
      );
      return rows.length >= 2 ? rows : undefined;
    },
    30_000,
    "two certified batches",
  );

  // The node is stuck below every certified anchor, for several sweeps, while deposits flow.
  inst.proxy!.fallBehind(before[0]!.block_number - 1);
  await eventually(
    async () =>
      logged(inst!, "anchor block not on the node (behind, or the chain lost it); waiting").length > 0
        ? true
        : undefined,
    10_000,
    "the reconciler finding anchors above the node's head",
  );
  await sleep(4000);
  inst.proxy!.catchUp();
  await sleep(3000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("node lagging", report, summary, inst);
  expect(inst.proxy!.errors).toEqual([]);
  expectPromiseKept(summary);
  expect(inst.proxy!.staleAnswers).toBeGreaterThan(0);
  expect(summary.withdrawn).toBe(0);
  expect(
    logged(inst, "anchor block no longer on chain: certificates withdrawn, batches will be anchored again"),
  ).toEqual([]);
  const { rows: after } = await inst.db.query<{ id: number; block_number: number; block_hash: string }>(
    `SELECT id, block_number, encode(block_hash, 'hex') AS block_hash FROM batches WHERE id = ANY($1) ORDER BY id`,
    [before.map((b) => b.id)],
  );
  expect(after).toEqual(before.map(({ id, block_number, block_hash }) => ({ id, block_number, block_hash })));
});

test("a stuck lowest nonce with batches waiting behind it: only it is re-priced, then all land", async () => {
  inst = await installation({ SEAL_INTERVAL_MS: "300", ANCHOR_TIMEOUT_MS: "3000" }, { ownChain: true });
  const chain = inst.chain!;
  await inst.start();
  const tenant = await inst.tenant();
  await chain.automine(false);
  const load = ingest(inst.api, tenant.apiKey, LOAD);
  const [stuck] = await inPool(inst, 1);

  // The base fee jumps above what the first transaction offers: it cannot be mined, and every
  // later one (priced at the new fees) waits behind its nonce.
  await chain.call("anvil_setNextBlockBaseFeePerGas", ["0x2e90edd000"]); // 200 gwei
  await chain.mine();
  expect(await receipt(inst, stuck!.tx_hash)).toBeNull();
  // A batch sent while the jump was being made is priced below it too, like the stuck one.
  // An attempt is recorded as soon as it is signed: after a second, those after `mark` were
  // priced at the new fees.
  await sleep(1000);
  const mark = (await inst.db.query<{ id: string }>("SELECT max(id) AS id FROM anchor_attempts")).rows[0]!.id;
  const cheap = new Set((await attempts(inst, `id <= ${mark}`)).map((a) => a.nonce));
  const blocks = miner(chain, 500); // empty blocks lower the base fee by 1/8 each: ~15 s to reach it
  const behind = await eventually(
    async () => {
      const sent = await attempts(inst!, `state = 'sent' AND nonce > ${stuck!.nonce} AND id > ${mark}`);
      return sent.length >= 2 ? sent : undefined;
    },
    30_000,
    "batches waiting behind the stuck nonce",
  );
  await sleep(4000);
  const report = await load.stop();
  const summary = await checkEvidence(inst, tenant.id, report.accepted).finally(() => blocks.stop());
  recordCase("stuck lowest nonce", report, summary, inst);
  expectPromiseKept(summary);

  // The stuck one was replaced at its own nonce, and the replacement was mined, not it.
  const own = await attempts(inst, `batch_id = ${stuck!.batch_id}`);
  expect(own.map((a) => a.nonce)).toEqual(own.map(() => stuck!.nonce));
  expect(own.filter((a) => a.state === "mined")).toHaveLength(1);
  expect(own.find((a) => a.state === "mined")!.tx_hash).not.toBe(stuck!.tx_hash);
  // Nothing priced at the new fees was re-priced: one transaction each for the batches that
  // waited behind it. Only the underpriced ones were replaced, each at its own nonce.
  for (const a of behind)
    expect(await attempts(inst, `batch_id = ${a.batch_id}`)).toEqual([{ ...a, state: "mined" }]);
  const replaced = logged(inst, "anchor transaction replaced");
  expect(replaced.some((l) => l.nonce === stuck!.nonce)).toBe(true);
  expect(replaced.filter((l) => !cheap.has(l.nonce as number) || l.to !== l.nonce)).toEqual([]);
});

test("the anchoring key rotated with a transaction in flight: sent as signed, never re-signed by the new key", async () => {
  inst = await installation({ SEAL_INTERVAL_MS: "300", ANCHOR_TIMEOUT_MS: "60000" }, { ownChain: true });
  const chain = inst.chain!;
  // The operator's part of a rotation: a funded key with ANCHORER_ROLE.
  const rotated = new Wallet(Wallet.createRandom().privateKey);
  await chain.call("anvil_setBalance", [rotated.address, "0x56BC75E2D63100000"]);
  const provider = createProvider(chain.rpcUrl, 31337, 100);
  const registry = registryAt(inst.registry(), inst.keys!.admin.connect(provider));
  const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
  await (await registry.getFunction("grantRole")(role, rotated.address)).wait();
  provider.destroy();

  const [api, old] = await Promise.all([inst.startApi(), inst.startWorkers()]);
  const tenant = await inst.tenant();
  await chain.automine(false);
  const load = ingest(api.url, tenant.apiKey, LOAD);
  const inFlight = await inPool(inst, 2);
  expect(await old.stop()).toBe(0);
  const fresh = await inst.startWorkers({ ANCHORER_PRIVATE_KEY: rotated.privateKey });
  // The new key sends new batches while the old key's transactions still wait in the pool.
  await eventually(
    async () => ((await attempts(inst!, `sender = '${rotated.address}'`)).length >= 2 ? true : undefined),
    30_000,
    "batches sent by the new key",
  );
  for (const a of inFlight) expect(await attempts(inst, `batch_id = ${a.batch_id}`)).toEqual([a]);
  await chain.automine(true);
  await chain.mine();
  await sleep(2000);
  const report = await load.stop();

  const summary = await checkEvidence(inst, tenant.id, report.accepted);
  recordCase("anchoring key rotated, transaction in flight", report, summary, inst);
  expect(fresh.child.exitCode).toBeNull();
  expectPromiseKept(summary);
  for (const a of inFlight)
    expect(await attempts(inst, `batch_id = ${a.batch_id}`)).toEqual([{ ...a, state: "mined" }]);
  // Every attempt names the key that signed it, and the chain agrees.
  const all = await attempts(inst);
  for (const a of all.filter((x) => x.state === "mined")) {
    const tx = await chain.call<{ from: string; nonce: string }>("eth_getTransactionByHash", [a.tx_hash]);
    expect({ from: tx.from.toLowerCase(), nonce: Number(BigInt(tx.nonce)) }).toEqual({
      from: a.sender.toLowerCase(),
      nonce: a.nonce,
    });
  }
  expect(new Set(all.map((a) => a.sender))).toEqual(new Set([inst.keys!.anchorer.address, rotated.address]));
});
