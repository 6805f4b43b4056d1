import { randomBytes } from "node:crypto";
import { Wallet } from "ethers";
import {
  AnchorConflictError,
  anchorBatch,
  prepareAnchorTransaction,
  revertName,
  type AnchorContext,
  type BatchRow,
} from "../../services/anchor/anchor";
import { attestBatch, type AttestContext } from "../../services/attest/attest";
import { registryAt } from "../../services/chain/reader";
import { MerkleTree, verifyCertificate } from "../../services/core";
import { loadCertificate } from "../../services/certificates/certificate";
import { acceptDeposits } from "../../services/deposits/store";
import { sealBatch } from "../../services/seal/seal";
import { reconcileAnchors } from "../../services/jobs/sweeper";
import { silentLog, startTestStack, type TestStack } from "../helpers/stack";

// The seal, anchor and attest steps driven by hand (no workers), on a real PostgreSQL and
// anvil, through the faults they must survive: two runs at once, a crash between recording
// and sending, a root already on chain, a paused registry, and a chain that loses blocks.

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

async function deposit(n: number): Promise<string[]> {
  const items = Array.from({ length: n }, () => ({ digest: randomBytes(32).toString("hex") }));
  const { deposits } = await acceptDeposits(stack.conn.db, tenant, items, { bulk: true });
  return deposits.map((d) => d.id);
}

async function sealed(n = 3): Promise<BatchRow> {
  await deposit(n);
  const batch = await sealBatch(stack.conn.db, 100_000);
  if (!batch) throw new Error("nothing sealed");
  return { id: batch.id, root: batch.root, tree_size: batch.treeSize, state: "sealed" };
}

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
    expect(await sealBatch(stack.conn.db, 10)).toBeNull();
    const first = await sealed(1);
    expect(await sealBatch(stack.conn.db, 10)).toBeNull();
    const second = await sealed(1);
    expect(second.id).toBe(first.id + 1);
  });

  test("BATCH_MAX splits the backlog oldest first; every leaf gets its stored audit path", async () => {
    const ids = await deposit(25);
    const batches = [
      await sealBatch(stack.conn.db, 10),
      await sealBatch(stack.conn.db, 10),
      await sealBatch(stack.conn.db, 10),
    ];
    expect(batches.map((b) => [b?.treeSize, b?.more])).toEqual([
      [10, true],
      [10, true],
      [5, false],
    ]);
    const { rows } = await stack.conn.db.query<{
      id: string;
      batch_id: number;
      leaf_index: number;
      leaf_hash: Buffer;
      audit_path: Buffer;
    }>(
      `SELECT d.id, p.batch_id, p.leaf_index, d.leaf_hash, p.audit_path FROM deposits d
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
      leaves.forEach((r, i) => expect(r.audit_path).toEqual(Buffer.concat(tree.auditPath(i))));
    }
  });

  test("two sealers at once never put a deposit in two batches", async () => {
    const ids = await deposit(200);
    const results = await Promise.all([sealBatch(stack.conn.db, 1000), sealBatch(stack.conn.db, 1000)]);
    const { rows } = await stack.conn.db.query<{ n: string }>(
      "SELECT count(DISTINCT p.batch_id) AS n FROM deposits d JOIN proofs p ON p.deposit_seq = d.seq WHERE d.id = ANY($1::uuid[])",
      [ids],
    );
    expect(results.filter((r) => r !== null)).toHaveLength(Number(rows[0]!.n));
  });
});

describe("anchor", () => {
  test("two runs at once send one transaction", async () => {
    const batch = await sealed();
    await Promise.all([anchorBatch(anchor, batch.id), anchorBatch({ ...anchor }, batch.id)]);
    expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["mined"]);
    expect(await rootAnchoredEvents(batch.root)).toHaveLength(1);
    expect(await batchRow(batch.id)).toMatchObject({
      state: "anchored",
      tx: (await attempts(batch.id))[0]!.tx,
    });
    expect(await anchorBatch(anchor, batch.id)).toBe(false); // already done: a no-op
  });

  test("a crash between recording and sending: the retry sends the recorded bytes", async () => {
    const batch = await sealed();
    const recorded = await prepareAnchorTransaction(anchor, batch);
    expect(await stack.conn.provider.getTransaction(recorded!.tx_hash)).toBeNull(); // never sent
    expect(await anchorBatch(anchor, batch.id)).toBe(true);
    expect(await attempts(batch.id)).toEqual([{ state: "mined", tx: recorded!.tx_hash }]);
  });

  test("a root already on chain (sent before a crash, never recorded) is recorded from the chain", async () => {
    const batch = await sealed();
    const registry = registryAt(stack.deployment.registry, stack.keys.anchorer.connect(stack.conn.provider));
    const sent = await (await registry.getFunction("anchor")(batch.root, batch.tree_size, batch.id)).wait();
    expect(await anchorBatch(anchor, batch.id)).toBe(true);
    expect(await attempts(batch.id)).toEqual([]);
    expect(await batchRow(batch.id)).toMatchObject({
      state: "anchored",
      tx: sent.hash,
      block_number: sent.blockNumber,
    });
  });

  test("the root anchored under other data is a conflict, not a retry", async () => {
    const batch = await sealed();
    const registry = registryAt(stack.deployment.registry, stack.keys.anchorer.connect(stack.conn.provider));
    await (await registry.getFunction("anchor")(batch.root, batch.tree_size + 1, batch.id)).wait();
    await expect(anchorBatch(anchor, batch.id)).rejects.toBeInstanceOf(AnchorConflictError);
    expect((await batchRow(batch.id)).state).toBe("sealed");
    // recorded, so the sweeper stops re-driving it until an operator looks
    const { rows } = await stack.conn.db.query("SELECT blocked_reason FROM batches WHERE id = $1", [
      batch.id,
    ]);
    expect(rows[0].blocked_reason).toEqual(expect.any(String));
  });

  test("a paused registry: nothing is sent, the batch waits, and goes through after unpause", async () => {
    const batch = await sealed();
    const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
    await (await admin.getFunction("pause")()).wait();
    try {
      expect(revertName(await anchorBatch(anchor, batch.id).catch((e: unknown) => e))).toBe("EnforcedPause");
      expect(await attempts(batch.id)).toEqual([]);
    } finally {
      await (await admin.getFunction("unpause")()).wait();
    }
    expect(await anchorBatch(anchor, batch.id)).toBe(true);
  });

  test("an anchoring key without the role is refused by the chain before anything is recorded", async () => {
    const batch = await sealed();
    const stranger = new Wallet(Wallet.createRandom().privateKey);
    await stack.conn.provider.send("anvil_setBalance", [stranger.address, "0xDE0B6B3A7640000"]);
    const refused = await anchorBatch({ ...anchor, anchorer: stranger }, batch.id).catch((e: unknown) => e);
    expect(revertName(refused)).toBe("AccessControlUnauthorizedAccount");
    expect(await attempts(batch.id)).toEqual([]);
  });

  test("a transaction that reverts when mined is settled as reverted, and a later run anchors", async () => {
    const batch = await sealed();
    const recorded = await prepareAnchorTransaction(anchor, batch); // estimated fine, then...
    const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
    await (await admin.getFunction("pause")()).wait(); // ...the registry is paused before it is mined
    try {
      await expect(anchorBatch(anchor, batch.id)).rejects.toThrow(recorded!.tx_hash);
    } finally {
      await (await admin.getFunction("unpause")()).wait();
    }
    expect(await anchorBatch(anchor, batch.id)).toBe(true);
    expect((await attempts(batch.id)).map((a) => a.state)).toEqual(["reverted", "mined"]);
  });

  test("a recorded transaction whose nonce another transaction took is dropped and signed anew", async () => {
    const batch = await sealed();
    const recorded = await prepareAnchorTransaction(anchor, batch);
    const anchorer = stack.keys.anchorer.connect(stack.conn.provider);
    await (
      await anchorer.sendTransaction({ to: anchorer.address, value: 0n, nonce: recorded!.nonce })
    ).wait();
    expect(await anchorBatch(anchor, batch.id)).toBe(true);
    const states = await attempts(batch.id);
    expect(states.map((a) => a.state)).toEqual(["dropped", "mined"]);
    expect(states[1]!.tx).not.toBe(recorded!.tx_hash);
  });

  test("a transaction not mined in time is re-priced at the same nonce; one of them lands", async () => {
    const batch = await sealed();
    await stack.conn.provider.send("evm_setAutomine", [false]);
    try {
      await anchorBatch({ ...anchor, timeoutMs: 300 }, batch.id).catch(() => undefined);
    } finally {
      await stack.conn.provider.send("evm_setAutomine", [true]);
    }
    await stack.conn.provider.send("evm_mine", []);
    expect(await anchorBatch(anchor, batch.id)).toBe(true);
    const states = await attempts(batch.id);
    expect(states.length).toBeGreaterThanOrEqual(2);
    expect(states.filter((a) => a.state === "mined")).toHaveLength(1);
    expect(states.every((a) => a.state === "mined" || a.state === "dropped")).toBe(true);
    expect(await rootAnchoredEvents(batch.root)).toHaveLength(1);
  });
});

describe("attest and certificate", () => {
  test("attesting twice keeps the first signature; the certificate verifies VALID", async () => {
    const [id] = await deposit(1);
    const batch = (await sealBatch(stack.conn.db, 10))!;
    await anchorBatch(anchor, batch.id);
    expect(await attestBatch(attest, batch.id)).toBe(true);
    const first = await loadCertificate(stack.conn.db, tenant.id, id!);
    expect(await attestBatch({ ...attest, now: () => 4_000_000_000 }, batch.id)).toBe(false);
    expect(await loadCertificate(stack.conn.db, tenant.id, id!)).toEqual(first);
    expect(first.attestation.typedData.message.issuedAt).toBeGreaterThanOrEqual(first.anchor.blockTimestamp);
    expect((await verifyCertificate(first, { chain: stack.conn.chain })).outcome).toBe("VALID");
  });

  test("a signature over a block the chain lost while signing is not recorded", async () => {
    const [id] = await deposit(1);
    const batch = (await sealBatch(stack.conn.db, 10))!;
    const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
    await anchorBatch(anchor, batch.id);
    const sweepCtx = {
      db: stack.conn.db,
      provider: stack.conn.provider,
      queues: stack.conn.queues,
      log: silentLog,
    };
    const slow = {
      address: stack.keys.certifier.address,
      signTypedData: async (...args: Parameters<Wallet["signTypedData"]>) => {
        const signature = await stack.keys.certifier.signTypedData(...args);
        // meanwhile the block is lost, and the batch is anchored again elsewhere
        await stack.conn.provider.send("evm_revert", [snapshot]);
        await stack.conn.provider.send("anvil_mine", ["0x3"]);
        await reconcileAnchors(sweepCtx);
        await anchorBatch(anchor, batch.id);
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
    await anchorBatch(anchor, batch.id);
    const retired = new Wallet(Wallet.createRandom().privateKey);
    const admin = registryAt(stack.deployment.registry, stack.keys.admin.connect(stack.conn.provider));
    await (await admin.getFunction("addCertifier")(retired.address)).wait();
    await (await admin.getFunction("retireCertifier")(retired.address)).wait();
    await expect(attestBatch({ ...attest, certifier: retired }, batch.id)).rejects.toBeInstanceOf(Error);
    expect((await batchRow(batch.id)).state).toBe("anchored");
  });
});

test("a chain that loses the anchor's block: the batch is anchored again and certificates stay VALID", async () => {
  const [id] = await deposit(1);
  const batch = (await sealBatch(stack.conn.db, 10))!;
  const snapshot = (await stack.conn.provider.send("evm_snapshot", [])) as string;
  await anchorBatch(anchor, batch.id);
  await attestBatch(attest, batch.id);
  const before = await loadCertificate(stack.conn.db, tenant.id, id!);

  await stack.conn.provider.send("evm_revert", [snapshot]); // the blocks since the snapshot are gone
  await stack.conn.provider.send("anvil_mine", ["0x3"]); // and others take their heights: a reorganisation
  expect((await verifyCertificate(before, { chain: stack.conn.chain })).code).toBe("NOT_ANCHORED");
  const sweepCtx = {
    db: stack.conn.db,
    provider: stack.conn.provider,
    queues: stack.conn.queues,
    log: silentLog,
  };
  expect(await reconcileAnchors(sweepCtx)).toBeGreaterThanOrEqual(1);
  expect((await batchRow(batch.id)).state).toBe("sealed");
  expect(await reconcileAnchors(sweepCtx)).toBe(0); // nothing more to undo

  await anchorBatch(anchor, batch.id);
  await attestBatch(attest, batch.id);
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
