import { randomBytes } from "node:crypto";
import { Wallet } from "ethers";
import { JsonRpcProvider, Network } from "ethers";
import { anchorTick, type AnchorContext, type TickReport } from "../../services/anchor/anchor";
import { attestBatch, type AttestContext } from "../../services/attest/attest";
import { registryAt } from "../../services/chain/reader";
import { MerkleTree, verifyCertificate } from "../../services/core";
import { loadCertificate } from "../../services/certificates/certificate";
import { acceptDeposits } from "../../services/deposits/store";
import { sealBatch } from "../../services/seal/seal";
import { storedAuditPaths } from "../../services/seal/stored-tree";
import { reconcileAnchors, type ReconcileContext } from "../../services/anchor/reconcile";
import { JobFailure } from "../../services/jobs/failures";
import { settleFailures } from "../../services/jobs/workers";
import { anchorNow as anchorUntil } from "../helpers/anchor";
import { silentLog, startTestStack, type TestStack } from "../helpers/stack";

// The seal, anchor and attest steps driven by hand (no workers), on a real PostgreSQL and
// anvil, through the faults they must survive: two senders at once, a crash between recording
// and sending, a root already on chain, a paused registry, a nonce taken, a stuck transaction,
// a rotated key, and a chain that loses blocks.

let stack: TestStack;
let anchor: AnchorContext;
let attest: AttestContext;
let tenant: Awaited<ReturnType<TestStack["tenant"]>>;

beforeAll(async () => {
  stack = await startTestStack({ workers: false });
  tenant = await stack.tenant();
  const { conn, deployment, keys } = stack;
  anchor = {
    db: conn.db,
    provider: conn.provider,
    chainId: deployment.chainId,
    registry: deployment.registry,
    anchorer: keys.anchorer,
    confirmations: 1,
    timeoutMs: 20_000,
    maxInFlight: 8,
    log: silentLog,
  };
  attest = {
    db: conn.db,
    provider: conn.provider,
    registry: deployment.registry,
    certifier: keys.certifier,
    log: silentLog,
  };
});
afterAll(async () => stack?.close());

// Deposits here are stamped as received 2 s ago, so they are ready for the seal at once (it
// takes only deposits received before the current second began), and every block is later
// than every deposit, as the time invariant wants.
const seal = async (batchMax: number) => (await sealBatch(stack.conn.db, batchMax)).batch;

/**
 * Loses every block since `snapshot`, as a reorganisation or a killed local node does. anvil's
 * evm_revert also sets its clock back to the snapshot's time, which no real chain does: the
 * next block is given the wall clock's time again.
 */
async function rewind(snapshot: string): Promise<void> {
  await stack.conn.provider.send("evm_revert", [snapshot]);
  await stack.conn.provider.send("evm_setNextBlockTimestamp", [Math.ceil(Date.now() / 1000) + 1]);
}

async function deposit(n: number): Promise<string[]> {
  const items = Array.from({ length: n }, () => ({ digest: randomBytes(32).toString("hex") }));
  const { deposits } = await acceptDeposits(stack.conn.db, tenant, items, {
    bulk: true,
    now: Date.now() - 2000,
  });
  return deposits.map((d) => d.id);
}

interface Sealed {
  id: number;
  root: string;
  tree_size: number;
}

async function sealed(n = 3): Promise<Sealed> {
  await deposit(n);
  const batch = await seal(100_000);
  if (!batch) throw new Error("nothing sealed");
  return { id: batch.id, root: batch.root, tree_size: batch.treeSize };
}

/** Runs sender passes (as the queue does) until the batch is anchored. */
const anchorNow = (batchId: number, ctx: AnchorContext = anchor) => anchorUntil(ctx, batchId);

/** The same node, for a sender whose broadcasts are lost, as when it is killed right after recording. */
function silentProvider(): JsonRpcProvider {
  const p = new JsonRpcProvider(stack.chain.rpcUrl, Network.from(stack.deployment.chainId), {
    staticNetwork: Network.from(stack.deployment.chainId),
    batchMaxCount: 1,
  });
  p.broadcastTransaction = async () => {
    throw new Error("killed before sending");
  };
  return p;
}

/** Reconciliation as the local chain's sweeper runs it (a missing block is lost at once). */
let reconcile: ReconcileContext;
beforeAll(() => {
  reconcile = {
    db: stack.conn.db,
    provider: stack.conn.provider,
    log: silentLog,
    requestAnchor: () => stack.conn.queues.requestAnchorPass(),
    windowMs: 86_400_000,
    missingGraceMs: 0,
  };
});

async function attempts(batchId: number) {
  const { rows } = await stack.conn.db.query<{ state: string; tx: string }>(
    "SELECT state, '0x' || encode(tx_hash, 'hex') AS tx FROM anchor_attempts WHERE batch_id = $1 ORDER BY id",
    [batchId],
  );
  return rows;
}

async function batchRow(batchId: number) {
  const { rows } = await stack.conn.db.query<{
    state: string;
    tx: string | null;
    block_number: number | null;
  }>("SELECT state, '0x' || encode(tx_hash, 'hex') AS tx, block_number FROM batches WHERE id = $1", [
    batchId,
  ]);
  return rows[0]!;
}

async function rootAnchoredEvents(root: string) {
  const registry = registryAt(stack.deployment.registry, stack.conn.provider);
  return registry.queryFilter(registry.filters.RootAnchored!(root), 0);
}

describe("seal", () => {
  test("nothing pending: no batch, and no batch number used up", async () => {
    expect(await seal(10)).toBeNull();
    const first = await sealed(1);
    expect(await seal(10)).toBeNull();
    const second = await sealed(1);
    expect(second.id).toBe(first.id + 1);
  });

  test("BATCH_MAX splits the backlog oldest first; every leaf gets its audit path from the stored tree", async () => {
    const ids = await deposit(25);
    const now = Date.now();
    const outcomes = [
      await sealBatch(stack.conn.db, 10, { now }),
      await sealBatch(stack.conn.db, 10, { now }),
      await sealBatch(stack.conn.db, 10, { now }),
    ];
    expect(outcomes.map((o) => [o.batch?.treeSize, o.again])).toEqual([
      [10, "now"],
      [10, "now"],
      [5, null],
    ]);
    const batches = outcomes.map((o) => o.batch);
    const { rows } = await stack.conn.db.query<{
      id: string;
      seq: number;
      batch_id: number;
      leaf_index: number;
      leaf_hash: Buffer;
    }>(
      `SELECT d.id, d.seq, p.batch_id, p.leaf_index, d.leaf_hash FROM deposits d
         JOIN proofs p ON p.deposit_seq = d.seq
        WHERE d.id = ANY($1::uuid[]) ORDER BY d.seq`,
      [ids],
    );
    expect(rows.map((r) => r.id)).toEqual(ids); // each deposit sealed exactly once, in order
    for (const b of batches) {
      const leaves = rows.filter((r) => r.batch_id === b!.id);
      expect(leaves.map((r) => r.leaf_index)).toEqual([...leaves.keys()]);
      const tree = MerkleTree.fromLeafHashes(leaves.map((r) => r.leaf_hash));
      expect(`0x${Buffer.from(tree.root).toString("hex")}`).toBe(b!.root);
      const paths = await storedAuditPaths(
        stack.conn.db,
        { id: b!.id, treeSize: b!.treeSize },
        leaves.map((r) => ({ seq: r.seq, index: r.leaf_index })),
      );
      leaves.forEach((_, i) => expect(Buffer.concat(paths[i]!)).toEqual(Buffer.concat(tree.auditPath(i))));
      const { rows: bounds } = await stack.conn.db.query(
        "SELECT first_seq, last_seq FROM batches WHERE id = $1",
        [b!.id],
      );
      expect(bounds[0]).toEqual({ first_seq: leaves[0]!.seq, last_seq: leaves[leaves.length - 1]!.seq });
    }
  });

  test("a deposit received in the current second waits for the next (the time invariant)", async () => {
    const [id] = await deposit(1);
    const { rows } = await stack.conn.db.query<{ received_at: number }>(
      "SELECT received_at FROM deposits WHERE id = $1",
      [id],
    );
    const receivedAt = rows[0]!.received_at;
    const secondEnd = Math.floor(receivedAt / 1000) * 1000 + 1000;
    // sealed within its own second: held back, and the sealer is told when to come back
    expect(await sealBatch(stack.conn.db, 10, { now: secondEnd - 1 })).toEqual({
      batch: null,
      again: secondEnd,
    });
    // a margin holds it back longer
    expect(await sealBatch(stack.conn.db, 10, { now: secondEnd, marginMs: 1000 })).toEqual({
      batch: null,
      again: secondEnd + 1000,
    });
    const { batch } = await sealBatch(stack.conn.db, 10, { now: secondEnd });
    expect(batch).toMatchObject({ treeSize: 1, receivedUntil: receivedAt });
  });

  test("two sealers at once never put a deposit in two batches", async () => {
    const ids = await deposit(200);
    const results = await Promise.all([seal(1000), seal(1000)]);
    const { rows } = await stack.conn.db.query<{ n: string }>(
      "SELECT count(DISTINCT p.batch_id) AS n FROM deposits d JOIN proofs p ON p.deposit_seq = d.seq WHERE d.id = ANY($1::uuid[])",
      [ids],
    );
    expect(results.filter((r) => r !== null)).toHaveLength(Number(rows[0]!.n));
  });
});

describe("anchor: one sender, decided from recorded state", () => {
  test("two senders at once send one transaction", async () => {
    const batch = await sealed();
    await Promise.all([anchorNow(batch.id), anchorNow(batch.id, { ...anchor })]);
    expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["mined"]);
    expect(await rootAnchoredEvents(batch.root)).toHaveLength(1);
    expect(await batchRow(batch.id)).toMatchObject({
      state: "anchored",
      tx: (await attempts(batch.id))[0]!.tx,
    });
    expect((await anchorTick(anchor))?.sent).toBe(0); // nothing left: a no-op
  });

  test("killed between recording and sending: the next pass sends the recorded bytes", async () => {
    const batch = await sealed();
    const quiet = silentProvider();
    try {
      expect((await anchorTick({ ...anchor, provider: quiet }))?.sent).toBe(1);
    } finally {
      quiet.destroy();
    }
    const [recorded] = await attempts(batch.id);
    expect(await stack.conn.provider.getTransaction(recorded!.tx)).toBeNull(); // never sent
    expect(await anchorNow(batch.id)).toBe(true);
    expect(await attempts(batch.id)).toEqual([{ state: "mined", tx: recorded!.tx }]);
  });

  test("a root already on chain (sent before a crash, never recorded) is recorded from the chain", async () => {
    const batch = await sealed();
    const registry = registryAt(stack.deployment.registry, stack.keys.anchorer.connect(stack.conn.provider));
    const sent = await (await registry.getFunction("anchor")(batch.root, batch.tree_size, batch.id)).wait();
    expect(await anchorNow(batch.id)).toBe(true);
    expect(await attempts(batch.id)).toEqual([]);
    expect(await batchRow(batch.id)).toMatchObject({
      state: "anchored",
      tx: sent.hash,
      block_number: sent.blockNumber,
    });
  });

  test("the root anchored under other data: that batch is blocked for an operator, the others go on", async () => {
    const batch = await sealed();
    const other = await sealed();
    const registry = registryAt(stack.deployment.registry, stack.keys.anchorer.connect(stack.conn.provider));
    await (await registry.getFunction("anchor")(batch.root, batch.tree_size + 1, batch.id)).wait();
    const report = (await anchorTick(anchor)) as TickReport;
    expect(report.blocked).toEqual([batch.id]);
    expect(await anchorNow(other.id)).toBe(true);
    expect((await batchRow(batch.id)).state).toBe("sealed");
    const { rows } = await stack.conn.db.query("SELECT blocked_reason FROM batches WHERE id = $1", [
      batch.id,
    ]);
    expect(rows[0].blocked_reason).toMatch(/^ANCHOR_CONFLICT: /);
    await stack.conn.db.query("UPDATE batches SET state = 'sealed' WHERE id = $1", [batch.id]); // stays blocked
  });

  test("a paused registry: nothing is sent, the batch waits, and goes through after unpause", async () => {
    const batch = await sealed();
    const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
    await (await admin.getFunction("pause")()).wait();
    try {
      expect(await anchorTick(anchor)).toMatchObject({ paused: true, sent: 0, more: true });
      expect(await attempts(batch.id)).toEqual([]);
    } finally {
      await (await admin.getFunction("unpause")()).wait();
    }
    expect(await anchorNow(batch.id)).toBe(true);
  });

  test("an anchoring key without the role: the pass stops with ANCHORER_UNAUTHORISED, nothing recorded", async () => {
    const batch = await sealed();
    const stranger = new Wallet(Wallet.createRandom().privateKey);
    await stack.conn.provider.send("anvil_setBalance", [stranger.address, "0xDE0B6B3A7640000"]);
    await expect(anchorTick({ ...anchor, anchorer: stranger })).rejects.toMatchObject({
      code: "ANCHORER_UNAUTHORISED",
      policy: "stop",
    });
    expect(await attempts(batch.id)).toEqual([]);
    expect(await anchorNow(batch.id)).toBe(true);
  });

  test("a transaction that reverts when mined is settled as reverted, and a later pass anchors", async () => {
    const batch = await sealed();
    const quiet = silentProvider();
    // estimated fine, recorded...
    expect(await anchorTick({ ...anchor, provider: quiet }).finally(() => quiet.destroy())).toMatchObject({
      sent: 1,
    });
    const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
    await (await admin.getFunction("pause")()).wait(); // ...the registry is paused before it is mined
    try {
      expect(await anchorTick(anchor)).toMatchObject({ sent: 0 }); // re-sent: mined, and reverted
      // the revert settled, and nothing sent again while paused
      expect(await anchorTick(anchor)).toMatchObject({ sent: 0, paused: true });
      expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["reverted"]);
    } finally {
      await (await admin.getFunction("unpause")()).wait();
    }
    expect(await anchorNow(batch.id)).toBe(true);
    expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["reverted", "mined"]);
  });

  test("a recorded transaction whose nonce another transaction took is dropped and signed anew", async () => {
    const batch = await sealed();
    const quiet = silentProvider();
    expect(await anchorTick({ ...anchor, provider: quiet }).finally(() => quiet.destroy())).toMatchObject({
      sent: 1,
    });
    const { rows } = await stack.conn.db.query<{ nonce: number }>(
      "SELECT nonce FROM anchor_attempts WHERE batch_id = $1",
      [batch.id],
    );
    const anchorer = stack.keys.anchorer.connect(stack.conn.provider);
    await (await anchorer.sendTransaction({ to: anchorer.address, value: 0n, nonce: rows[0]!.nonce })).wait();
    expect(await anchorNow(batch.id)).toBe(true);
    const states = await attempts(batch.id);
    expect(states.map((a) => a.state)).toEqual(["dropped", "mined"]);
  });

  describe("with blocks mined by hand", () => {
    beforeEach(async () => stack.conn.provider.send("evm_setAutomine", [false]));
    afterEach(async () => stack.conn.provider.send("evm_setAutomine", [true]));

    test("only the lowest stuck nonce is re-priced; one transaction per batch lands", async () => {
      const batches = [await sealed(1), await sealed(1), await sealed(1)];
      expect(await anchorTick(anchor)).toMatchObject({ sent: 3 });
      await new Promise((r) => setTimeout(r, 300));
      expect(await anchorTick({ ...anchor, timeoutMs: 200 })).toMatchObject({ replaced: 1 });
      await stack.conn.provider.send("evm_mine", []);
      for (const b of batches) expect(await anchorNow(b.id)).toBe(true);
      for (const b of batches) {
        const states = (await attempts(b.id)).map((a) => a.state);
        expect(states.filter((x) => x === "mined")).toHaveLength(1);
        expect(await rootAnchoredEvents(b.root)).toHaveLength(1);
      }
      const first = (await attempts(batches[0]!.id)).map((a) => a.state);
      expect(first.sort()).toEqual(["dropped", "mined"]); // the stuck one and its replacement
    });

    test("at the fee cap a stuck transaction waits instead of being re-priced", async () => {
      const batch = await sealed(1);
      const fees = await stack.conn.provider.getFeeData();
      const cap = fees.maxFeePerGas!; // the first price is the cap: no room for a raise
      expect(await anchorTick({ ...anchor, maxFeePerGas: cap })).toMatchObject({ sent: 1 });
      await new Promise((r) => setTimeout(r, 300));
      expect(await anchorTick({ ...anchor, maxFeePerGas: cap, timeoutMs: 200 })).toMatchObject({
        replaced: 0,
      });
      await stack.conn.provider.send("evm_mine", []);
      expect(await anchorNow(batch.id)).toBe(true);
      expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["mined"]);
    });

    test("a transaction dropped from the node's pool is sent again from its recorded bytes", async () => {
      const batch = await sealed(1);
      expect(await anchorTick(anchor)).toMatchObject({ sent: 1 });
      const [sent] = await attempts(batch.id);
      await stack.conn.provider.send("anvil_dropTransaction", [sent!.tx]);
      expect(await stack.conn.provider.getTransaction(sent!.tx)).toBeNull();
      await anchorTick(anchor); // re-sends it
      await stack.conn.provider.send("evm_mine", []);
      expect(await anchorNow(batch.id)).toBe(true);
      expect(await attempts(batch.id)).toEqual([{ state: "mined", tx: sent!.tx }]);
    });

    test("the anchoring key rotated with a transaction in flight: the old one is sent, never re-signed; then given up", async () => {
      const batch = await sealed(1);
      expect(await anchorTick(anchor)).toMatchObject({ sent: 1 }); // in flight, signed by the old key
      // (out of the pool while the role is granted, which mines a block: the next pass sends it again)
      await stack.conn.provider.send("anvil_dropTransaction", [(await attempts(batch.id))[0]!.tx]);
      const rotated = new Wallet(Wallet.createRandom().privateKey);
      await stack.conn.provider.send("anvil_setBalance", [rotated.address, "0xDE0B6B3A7640000"]);
      const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
      const role = (await admin.getFunction("ANCHORER_ROLE")()) as string;
      await stack.conn.provider.send("evm_setAutomine", [true]);
      await (await admin.getFunction("grantRole")(role, rotated.address)).wait();
      await stack.conn.provider.send("evm_setAutomine", [false]);
      const next = { ...anchor, anchorer: rotated, timeoutMs: 100 };
      expect(await anchorTick({ ...next, timeoutMs: 60_000 })).toMatchObject({ replaced: 0, sent: 0 });
      expect(await stack.conn.provider.getTransaction((await attempts(batch.id))[0]!.tx)).not.toBeNull(); // sent again
      // Past twice the timeout, and evicted from the node's pool meanwhile (a node's estimate
      // would otherwise see its root anchored in the pending block, and rightly send nothing):
      // given up, and signed anew by the current key.
      await stack.conn.provider.send("anvil_dropTransaction", [(await attempts(batch.id))[0]!.tx]);
      await new Promise((r) => setTimeout(r, 300));
      expect(await anchorTick(next)).toMatchObject({ sent: 1 });
      await stack.conn.provider.send("evm_mine", []);
      expect(await anchorNow(batch.id, next)).toBe(true);
      expect(await rootAnchoredEvents(batch.root)).toHaveLength(1);
      const { rows } = await stack.conn.db.query<{ state: string; sender: string }>(
        "SELECT state, sender FROM anchor_attempts WHERE batch_id = $1 ORDER BY id",
        [batch.id],
      );
      expect(rows).toEqual([
        { state: "abandoned", sender: stack.keys.anchorer.address },
        { state: "mined", sender: rotated.address },
      ]);
    });
  });
});

describe("attest and certificate", () => {
  test("attesting twice keeps the first signature; the certificate verifies VALID", async () => {
    const [id] = await deposit(1);
    const batch = (await seal(10))!;
    expect(await anchorNow(batch.id)).toBe(true);
    expect(await attestBatch(attest, batch.id)).toBe(true);
    const first = await loadCertificate(stack.conn.db, tenant.id, id!);
    expect(await attestBatch({ ...attest, now: () => 4_000_000_000 }, batch.id)).toBe(false);
    expect(await loadCertificate(stack.conn.db, tenant.id, id!)).toEqual(first);
    expect(first.attestation.typedData.message.issuedAt).toBeGreaterThanOrEqual(first.anchor.blockTimestamp);
    expect((await verifyCertificate(first, { chain: stack.conn.chain })).outcome).toBe("VALID");
  });

  test("a signature over a block the chain lost while signing is not recorded", async () => {
    const [id] = await deposit(1);
    const batch = (await seal(10))!;
    const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
    expect(await anchorNow(batch.id)).toBe(true);
    const slow = {
      address: stack.keys.certifier.address,
      signTypedData: async (...args: Parameters<Wallet["signTypedData"]>) => {
        const signature = await stack.keys.certifier.signTypedData(...args);
        // meanwhile the block is lost, and the batch is anchored again elsewhere
        await rewind(snapshot);
        await stack.conn.provider.send("anvil_mine", ["0x3"]);
        await reconcileAnchors(reconcile);
        await anchorNow(batch.id);
        return signature;
      },
    };
    expect(await attestBatch({ ...attest, certifier: slow }, batch.id)).toBe(false);
    expect((await batchRow(batch.id)).state).toBe("anchored");
    expect(await attestBatch(attest, batch.id)).toBe(true);
    const certificate = await loadCertificate(stack.conn.db, tenant.id, id!);
    expect((await verifyCertificate(certificate, { chain: stack.conn.chain })).outcome).toBe("VALID");
  });

  test("a retired certifier key refuses to sign", async () => {
    const batch = await sealed(1);
    expect(await anchorNow(batch.id)).toBe(true);
    const retired = new Wallet(Wallet.createRandom().privateKey);
    const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
    await (await admin.getFunction("addCertifier")(retired.address)).wait();
    await (await admin.getFunction("retireCertifier")(retired.address)).wait();
    const refused = attestBatch({ ...attest, certifier: retired }, batch.id);
    await expect(refused).rejects.toBeInstanceOf(JobFailure);
    await expect(refused).rejects.toMatchObject({ code: "CERTIFIER_INACTIVE", policy: "stop" });
    expect((await batchRow(batch.id)).state).toBe("anchored");
  });

  test("a batch whose last deposit is later than the chain's clock is not sent until the chain catches up", async () => {
    // a deposit stamped an hour ahead (an API host whose clock runs fast)
    const items = [{ digest: randomBytes(32).toString("hex") }];
    await acceptDeposits(stack.conn.db, tenant, items, { bulk: true, now: Date.now() + 3_600_000 });
    const batch = (await sealBatch(stack.conn.db, 10, { now: Date.now() + 3_601_000 })).batch!;
    expect(await anchorUntil(anchor, batch.id, 3)).toBe(false);
    expect((await batchRow(batch.id)).state).toBe("sealed");
    const { rows } = await stack.conn.db.query(
      "SELECT count(*)::int AS n FROM anchor_attempts WHERE batch_id = $1",
      [batch.id],
    );
    expect(rows[0].n).toBe(0);
    // (leave nothing waiting for the tests below)
    await stack.conn.db.query("UPDATE batches SET blocked_reason = 'test: from the future' WHERE id = $1", [
      batch.id,
    ]);
  });

  test("attest is the last line: a batch recorded with a deposit newer than its block is blocked, never certified", async () => {
    const batch = await sealed(1);
    expect(await anchorNow(batch.id)).toBe(true);
    // as if a sender without the clock check had sent it a second early
    await stack.conn.db.query(
      "UPDATE batches SET received_until = block_timestamp * 1000 + 1 WHERE id = $1",
      [batch.id],
    );
    await expect(attestBatch(attest, batch.id)).rejects.toBeInstanceOf(JobFailure);
    await expect(
      settleFailures(stack.conn.db, silentLog, () => attestBatch(attest, batch.id)),
    ).rejects.toThrow(/^TIME_INVARIANT: /);
    expect((await batchRow(batch.id)).state).toBe("anchored");
    const { rows } = await stack.conn.db.query("SELECT blocked_reason FROM batches WHERE id = $1", [
      batch.id,
    ]);
    expect(rows[0].blocked_reason).toMatch(/^TIME_INVARIANT: /);
  });
});

describe("reconciliation checks every recorded anchor", () => {
  test("a lost anchor below a newer one that holds is found (the chain rewound and rebuilt past it)", async () => {
    const lost = await sealed(1);
    const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
    expect(await anchorNow(lost.id)).toBe(true);
    expect(await attestBatch(attest, lost.id)).toBe(true);
    await rewind(snapshot); // its block is gone...
    const later = await sealed(1);
    expect(await anchorNow(later.id)).toBe(true); // ...and a newer anchor lands at that height and beyond
    await stack.conn.provider.send("anvil_mine", ["0x2"]);
    expect(await attestBatch(attest, later.id)).toBe(true);
    expect((await batchRow(later.id)).block_number).toBeGreaterThanOrEqual(
      (await batchRow(lost.id)).block_number!,
    );

    expect(await reconcileAnchors(reconcile)).toEqual([lost.id]);
    expect((await batchRow(lost.id)).state).toBe("sealed");
    expect((await batchRow(later.id)).state).toBe("certified");
    expect(await anchorNow(lost.id)).toBe(true);
    expect(await attestBatch(attest, lost.id)).toBe(true);
    expect((await batchRow(lost.id)).state).toBe("certified");
  });

  test("a block above the node's head waits out the grace on an external chain, then counts as lost", async () => {
    const batch = await sealed(1);
    const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
    expect(await anchorNow(batch.id)).toBe(true);
    await rewind(snapshot); // the head is below the anchor block now
    const external = { ...reconcile, missingGraceMs: 60_000 };
    expect(await reconcileAnchors(external)).toEqual([]); // the node may only be behind
    const { rows } = await stack.conn.db.query<{ since: Date | null }>(
      "SELECT chain_missing_since AS since FROM batches WHERE id = $1",
      [batch.id],
    );
    expect(rows[0]!.since).toBeInstanceOf(Date);
    expect((await batchRow(batch.id)).state).toBe("anchored");
    // an hour later, still missing: lost
    await stack.conn.db.query(
      "UPDATE batches SET chain_missing_since = now() - interval '1 hour' WHERE id = $1",
      [batch.id],
    );
    expect(await reconcileAnchors(external)).toEqual([batch.id]);
    expect(await anchorNow(batch.id)).toBe(true);
    expect((await batchRow(batch.id)).state).toBe("anchored");
    expect(await reconcileAnchors(external)).toEqual([]);
  });

  test("anchors older than the window are final and not re-checked", async () => {
    const batch = await sealed(1);
    const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
    expect(await anchorNow(batch.id)).toBe(true);
    await rewind(snapshot);
    await stack.conn.db.query("UPDATE batches SET anchored_at = now() - interval '2 days' WHERE id = $1", [
      batch.id,
    ]);
    expect(await reconcileAnchors(reconcile)).toEqual([]);
    await stack.conn.db.query("UPDATE batches SET anchored_at = now() WHERE id = $1", [batch.id]);
    expect(await reconcileAnchors(reconcile)).toEqual([batch.id]);
    expect(await anchorNow(batch.id)).toBe(true);
  });
});

test("a chain that loses the anchor's block: the batch is anchored again and certificates stay VALID", async () => {
  const [id] = await deposit(1);
  const batch = (await seal(10))!;
  const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
  expect(await anchorNow(batch.id)).toBe(true);
  expect(await attestBatch(attest, batch.id)).toBe(true);
  const before = await loadCertificate(stack.conn.db, tenant.id, id!);

  await rewind(snapshot); // the blocks since the snapshot are gone
  await stack.conn.provider.send("anvil_mine", ["0x3"]); // and others take their heights: a reorganisation
  expect((await verifyCertificate(before, { chain: stack.conn.chain })).code).toBe("NOT_ANCHORED");
  expect(await reconcileAnchors(reconcile)).toContain(batch.id);
  expect((await batchRow(batch.id)).state).toBe("sealed");
  expect(await reconcileAnchors(reconcile)).toEqual([]); // nothing more to undo
  // withdrawn until certified again: the copy fetched before no longer verifies
  await expect(loadCertificate(stack.conn.db, tenant.id, id!)).rejects.toMatchObject({
    code: "CERTIFICATE_WITHDRAWN",
    status: 409,
  });

  expect(await anchorNow(batch.id)).toBe(true);
  expect(await attestBatch(attest, batch.id)).toBe(true);
  const after = await loadCertificate(stack.conn.db, tenant.id, id!);
  expect((await verifyCertificate(after, { chain: stack.conn.chain })).outcome).toBe("VALID");
  expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["dropped", "mined"]);
  // the first attestation stays on record, no longer current
  const { rows } = await stack.conn.db.query<{ current: boolean; block: string }>(
    "SELECT current, '0x' || encode(block_hash, 'hex') AS block FROM attestations WHERE batch_id = $1 ORDER BY id",
    [batch.id],
  );
  expect(rows).toEqual([
    { current: false, block: before.anchor.blockHash },
    { current: true, block: after.anchor.blockHash },
  ]);
});
