import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet, type JsonRpcProvider } from "ethers";
import { CachingChainReader } from "../../services/chain/cached-reader";
import { ensureDeployment } from "../../services/chain/deployment";
import { EthersChainReader, createProvider, registryAt } from "../../services/chain/reader";
import { startChain, type TestChain } from "../faults/chain";
import { silentLog } from "../helpers/stack";

// The chain cache against a real node that reorganises (anvil_reorg, as the chain fault cases
// do): what a reorganisation can still change is never served from memory. An anchor in a
// block shallower than the confirmations, and that block's hash, are read again each time, so
// when the block is replaced the reader says so at once; an anchor the registry does not hold is
// never kept, so the same root anchored again is found.

jest.setTimeout(120_000);

const CONFIRMATIONS = 3;
let dir: string;
let chain: TestChain;
let provider: JsonRpcProvider;
let registry: string;
let anchorer: Wallet;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tsd-reorg-"));
  chain = await startChain(join(dir, "state.json"));
  provider = createProvider(chain.rpcUrl, 31337, 100, 10_000, true);
  anchorer = new Wallet(Wallet.createRandom().privateKey);
  const deployment = await ensureDeployment({
    provider,
    rpcUrl: chain.rpcUrl,
    dataDir: dir,
    admin: new Wallet(Wallet.createRandom().privateKey),
    anchorer: anchorer.address,
    certifier: new Wallet(Wallet.createRandom().privateKey).address,
    local: true,
    log: silentLog,
  });
  registry = deployment.registry;
});
afterAll(async () => {
  provider?.destroy();
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cachingReader(): CachingChainReader {
  const inner = new EthersChainReader(provider);
  return new CachingChainReader(inner, () => inner.blockNumber(), {
    confirmations: CONFIRMATIONS,
    maxEntries: 100,
    ttlMs: 600_000,
  });
}

async function anchor(root: string, batch: number): Promise<number> {
  const tx = await registryAt(registry, anchorer.connect(provider)).getFunction("anchor")(root, 4, batch);
  const receipt = await (tx as { wait(): Promise<{ blockNumber: number } | null> }).wait();
  return receipt!.blockNumber;
}

test("an anchor and a block not yet final are read again: a reorganisation shows at once", async () => {
  const reader = cachingReader();
  const root = `0x${"a1".repeat(32)}`;
  const at = await anchor(root, 1);
  const before = await reader.anchorOf(registry, root);
  expect(before.blockNumber).toBe(BigInt(at));
  const hash = (await reader.block(at))?.hash;
  expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
  await chain.mine(CONFIRMATIONS - 2); // one confirmation short
  expect((await reader.anchorOf(registry, root)).blockNumber).toBe(BigInt(at));
  expect(reader.size).toBe(0);

  // The anchor's block and the one after it are replaced by empty blocks.
  await chain.reorg(CONFIRMATIONS - 1);
  expect((await reader.anchorOf(registry, root)).timestamp).toBe(0n);
  const replaced = await reader.block(at);
  expect(replaced?.hash).not.toBe(hash);
  expect(reader.size).toBe(0);

  // The answer "not anchored" was not kept: anchored again, the root is found.
  const again = await anchor(root, 1);
  expect((await reader.anchorOf(registry, root)).blockNumber).toBe(BigInt(again));
});

test("an anchor and a block with CHAIN_CONFIRMATIONS are kept, and a shallower reorganisation does not reach them", async () => {
  const reader = cachingReader();
  const root = `0x${"b2".repeat(32)}`;
  const at = await anchor(root, 2);
  await chain.mine(CONFIRMATIONS - 1); // head - at + 1 = CONFIRMATIONS
  const kept = await reader.anchorOf(registry, root);
  const block = await reader.block(at);
  expect(reader.size).toBe(2);

  await chain.reorg(CONFIRMATIONS - 1); // the blocks after the anchor's
  expect(await reader.anchorOf(registry, root)).toEqual(kept);
  expect(await reader.block(at)).toEqual(block);
  // What the cache answers is what the node says.
  const fresh = new EthersChainReader(provider);
  expect(await fresh.anchorOf(registry, root)).toEqual(kept);
  expect(await fresh.block(at)).toEqual(block);
});
