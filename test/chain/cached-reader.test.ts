import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ACTIVE_CERTIFIER_TTL_MS,
  CHAIN_ID_TTL_MS,
  CachingChainReader,
  Lru,
} from "../../services/chain/cached-reader";
import { verifyCertificate, type Certificate, type ChainReader } from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

// The verifier's chain cache: what it keeps (confirmed anchors and blocks, certifier
// registrations), what it never keeps (absent or unconfirmed anchors and blocks, unregistered
// certifiers), how long it uses the chain id, and that the verdict is the core verifier's either way. Pure: the
// chain is a scripted ChainReader, the clock a number.

const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ROOT = `0x${"ab".repeat(32)}`;
const SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const TTL = 600_000;

/** A chain whose answers the test sets, counting how often each question reaches it. */
function scriptedChain() {
  const state = {
    chainId: 31337n,
    head: 100,
    anchor: { timestamp: 0n, blockNumber: 0n, treeSize: 0n, batch: 0n },
    blocks: new Map<number, { hash: string; timestamp: bigint }>(),
    certifier: { since: 0n, until: 0n },
  };
  const calls = { chainId: 0, anchorOf: 0, block: 0, certifier: 0, head: 0 };
  const inner: ChainReader = {
    chainId: async () => (calls.chainId++, state.chainId),
    anchorOf: async () => (calls.anchorOf++, { ...state.anchor }),
    block: async (n) => (calls.block++, state.blocks.get(n) ?? null),
    certifier: async () => (calls.certifier++, { ...state.certifier }),
  };
  const head = async () => (calls.head++, state.head);
  return { state, calls, inner, head };
}

function setup(options: { confirmations?: number; maxEntries?: number; ttlMs?: number } = {}) {
  const chain = scriptedChain();
  let now = 1_000_000;
  const reader = new CachingChainReader(chain.inner, chain.head, {
    confirmations: options.confirmations ?? 3,
    maxEntries: options.maxEntries ?? 100,
    ttlMs: options.ttlMs ?? TTL,
    now: () => now,
  });
  return { ...chain, reader, advance: (ms: number) => (now += ms) };
}

const anchoredAt = (blockNumber: number) => ({
  timestamp: 1_700_000_000n,
  blockNumber: BigInt(blockNumber),
  treeSize: 5n,
  batch: 7n,
});

describe("anchors", () => {
  test("one with CHAIN_CONFIRMATIONS confirmations is kept: asked again, the node is not", async () => {
    const { state, calls, reader } = setup({ confirmations: 3 });
    state.anchor = anchoredAt(98); // head 100: blocks 98, 99, 100 = 3 confirmations
    const first = await reader.anchorOf(REGISTRY, ROOT);
    const second = await reader.anchorOf(REGISTRY.toLowerCase(), ROOT.toUpperCase().replace("0X", "0x"));
    expect(second).toEqual(first);
    expect(first).toEqual(anchoredAt(98));
    expect(calls.anchorOf).toBe(1);
  });

  test("an unconfirmed one is asked every time, and kept once it has its confirmations", async () => {
    const { state, calls, reader } = setup({ confirmations: 3 });
    state.anchor = anchoredAt(99); // 2 confirmations
    await reader.anchorOf(REGISTRY, ROOT);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls.anchorOf).toBe(2);
    state.head = 101;
    await reader.anchorOf(REGISTRY, ROOT);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls.anchorOf).toBe(3);
  });

  test("an absent one (all zero) is never kept: it may be anchored later", async () => {
    const { state, calls, reader } = setup();
    for (let i = 0; i < 3; i++) expect((await reader.anchorOf(REGISTRY, ROOT)).timestamp).toBe(0n);
    expect(calls.anchorOf).toBe(3);
    state.anchor = anchoredAt(50);
    expect(await reader.anchorOf(REGISTRY, ROOT)).toEqual(anchoredAt(50));
  });

  test("another root or registry is another entry", async () => {
    const { state, calls, reader } = setup();
    state.anchor = anchoredAt(10);
    await reader.anchorOf(REGISTRY, ROOT);
    await reader.anchorOf(REGISTRY, `0x${"cd".repeat(32)}`);
    await reader.anchorOf(`0x${"11".repeat(20)}`, ROOT);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls.anchorOf).toBe(3);
  });

  test("an entry expires after VERIFY_CACHE_TTL_MS: a loss deeper than the confirmations shows then", async () => {
    const { state, calls, reader, advance } = setup();
    state.anchor = anchoredAt(10);
    await reader.anchorOf(REGISTRY, ROOT);
    advance(TTL - 1);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls.anchorOf).toBe(1);
    advance(1);
    state.anchor = { timestamp: 0n, blockNumber: 0n, treeSize: 0n, batch: 0n };
    expect((await reader.anchorOf(REGISTRY, ROOT)).timestamp).toBe(0n);
    expect(calls.anchorOf).toBe(2);
  });

  test("a burst of the same question reaches the node once", async () => {
    const { state, calls, reader } = setup();
    state.anchor = anchoredAt(99); // unconfirmed: not kept, but the burst shares one read
    const answers = await Promise.all(Array.from({ length: 10 }, () => reader.anchorOf(REGISTRY, ROOT)));
    expect(new Set(answers.map((a) => a.blockNumber))).toEqual(new Set([99n]));
    expect(calls.anchorOf).toBe(1);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls.anchorOf).toBe(2);
  });

  test("a cached answer cannot be changed by its reader", async () => {
    const { state, reader } = setup();
    state.anchor = anchoredAt(10);
    const first = await reader.anchorOf(REGISTRY, ROOT);
    expect(() => {
      (first as { batch: bigint }).batch = 99n;
    }).toThrow(TypeError);
    expect((await reader.anchorOf(REGISTRY, ROOT)).batch).toBe(7n);
  });
});

describe("blocks", () => {
  const block = { hash: `0x${"0f".repeat(32)}`, timestamp: 1_700_000_000n };

  test("a confirmed block is kept; an unconfirmed one and a missing one are asked every time", async () => {
    const { state, calls, reader } = setup({ confirmations: 1 });
    state.blocks.set(100, block); // the head itself: 1 confirmation
    state.blocks.set(101, block);
    await reader.block(100);
    expect(await reader.block(100)).toEqual(block);
    expect(calls.block).toBe(1);

    await reader.block(101); // above the head as the node reported it: unconfirmed
    await reader.block(101);
    expect(calls.block).toBe(3);

    expect(await reader.block(500)).toBeNull();
    expect(await reader.block(500)).toBeNull();
    expect(calls.block).toBe(5);
  });
});

describe("certifiers", () => {
  test("an unregistered key is asked every time: it may be registered", async () => {
    const { state, calls, reader } = setup();
    await reader.certifier(REGISTRY, SIGNER);
    await reader.certifier(REGISTRY, SIGNER);
    expect(calls.certifier).toBe(2);
    state.certifier = { since: 1_600_000_000n, until: 0n };
    expect(await reader.certifier(REGISTRY, SIGNER)).toEqual(state.certifier);
  });

  test("an active key is kept for at most a minute, so a retirement shows", async () => {
    const { state, calls, reader, advance } = setup();
    state.certifier = { since: 1_600_000_000n, until: 0n };
    await reader.certifier(REGISTRY, SIGNER);
    advance(ACTIVE_CERTIFIER_TTL_MS - 1);
    await reader.certifier(REGISTRY, SIGNER);
    expect(calls.certifier).toBe(1);
    state.certifier = { since: 1_600_000_000n, until: 1_650_000_000n };
    advance(1);
    expect((await reader.certifier(REGISTRY, SIGNER)).until).toBe(1_650_000_000n);
    expect(calls.certifier).toBe(2);
  });

  test("a retired key's period is final: kept for the whole TTL", async () => {
    const { state, calls, reader, advance } = setup();
    state.certifier = { since: 1_600_000_000n, until: 1_650_000_000n };
    await reader.certifier(REGISTRY, SIGNER);
    advance(TTL - 1);
    await reader.certifier(REGISTRY, SIGNER);
    expect(calls.certifier).toBe(1);
  });
});

describe("the chain id", () => {
  test("is asked again once its answer is CHAIN_ID_TTL_MS old, and an answer that differs empties the cache", async () => {
    const { state, calls, reader, advance } = setup();
    state.anchor = anchoredAt(10);
    await reader.chainId();
    await reader.anchorOf(REGISTRY, ROOT);
    advance(CHAIN_ID_TTL_MS - 1);
    expect(await reader.chainId()).toBe(31337n);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls).toMatchObject({ chainId: 1, anchorOf: 1 });
    advance(1);
    await reader.chainId();
    expect(calls).toMatchObject({ chainId: 2, anchorOf: 1 });
    state.chainId = 1n;
    advance(CHAIN_ID_TTL_MS);
    expect(await reader.chainId()).toBe(1n);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls).toMatchObject({ chainId: 3, anchorOf: 2 });
    expect(reader.size).toBe(1);
  });

  test("with chainIdTtlMs 0 it is asked every time; callers asking at once share one question", async () => {
    const chain = scriptedChain();
    const reader = new CachingChainReader(chain.inner, chain.head, {
      confirmations: 1,
      maxEntries: 10,
      ttlMs: TTL,
      chainIdTtlMs: 0,
    });
    await reader.chainId();
    await reader.chainId();
    expect(chain.calls.chainId).toBe(2);
    await Promise.all(Array.from({ length: 5 }, () => reader.chainId()));
    expect(chain.calls.chainId).toBe(3);
  });
});

describe("the head", () => {
  test("reads of several anchors at once ask the node's height once", async () => {
    const { state, calls, reader } = setup({ confirmations: 3 });
    state.anchor = anchoredAt(98);
    const root = (i: number) => `0x${i.toString(16).padStart(64, "0")}`;
    await Promise.all([1, 2, 3].map((i) => reader.anchorOf(REGISTRY, root(i))));
    expect(calls).toMatchObject({ anchorOf: 3, head: 1 });
    expect(reader.size).toBe(3);
  });
});

describe("bounds", () => {
  test("at most VERIFY_CACHE_ENTRIES entries, the least recently used out first", async () => {
    const { state, calls, reader } = setup({ maxEntries: 2 });
    state.anchor = anchoredAt(10);
    const root = (i: number) => `0x${i.toString(16).padStart(64, "0")}`;
    await reader.anchorOf(REGISTRY, root(1));
    await reader.anchorOf(REGISTRY, root(2));
    await reader.anchorOf(REGISTRY, root(1)); // 1 is now the most recently used
    await reader.anchorOf(REGISTRY, root(3)); // evicts 2
    expect(reader.size).toBe(2);
    expect(calls.anchorOf).toBe(3);
    await reader.anchorOf(REGISTRY, root(1));
    expect(calls.anchorOf).toBe(3);
    await reader.anchorOf(REGISTRY, root(2));
    expect(calls.anchorOf).toBe(4);
  });

  test("0 entries: nothing is kept", async () => {
    const { state, calls, reader } = setup({ maxEntries: 0 });
    state.anchor = anchoredAt(10);
    await reader.anchorOf(REGISTRY, ROOT);
    await reader.anchorOf(REGISTRY, ROOT);
    expect(calls.anchorOf).toBe(2);
    expect(reader.size).toBe(0);
  });

  test("Lru: get refreshes, expired entries are gone", () => {
    const lru = new Lru<number>(2);
    lru.set("a", 1, 100);
    lru.set("b", 2, 100);
    expect(lru.get("a", 50)).toBe(1);
    lru.set("c", 3, 100);
    expect(lru.get("b", 50)).toBeUndefined();
    expect(lru.get("a", 100)).toBeUndefined();
    expect(lru.size).toBe(1);
  });
});

describe("the verdict is the core verifier's, cached or not", () => {
  const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "certificate.json"), "utf8")) as {
    certificate: Certificate;
    chain: ChainFacts;
  };

  test("the frozen certificate: VALID twice through the cache, the second time from memory", async () => {
    const inner = memoryChain(vector.chain, vector.certificate.anchor);
    const counted = { anchorOf: 0, block: 0, certifier: 0 };
    const counting: ChainReader = {
      chainId: () => inner.chainId(),
      anchorOf: (r, root) => (counted.anchorOf++, inner.anchorOf(r, root)),
      block: (n) => (counted.block++, inner.block(n)),
      certifier: (r, s) => (counted.certifier++, inner.certifier(r, s)),
    };
    const reader = new CachingChainReader(counting, async () => vector.chain.anchorOf.blockNumber + 5, {
      confirmations: 1,
      maxEntries: 10,
      ttlMs: TTL,
    });
    const direct = await verifyCertificate(vector.certificate, { chain: inner });
    const first = await verifyCertificate(vector.certificate, { chain: reader });
    const second = await verifyCertificate(vector.certificate, { chain: reader });
    expect(direct.outcome).toBe("VALID");
    expect(first).toEqual(direct);
    expect(second).toEqual(direct);
    expect(counted).toEqual({ anchorOf: 1, block: 1, certifier: 1 });

    // A certificate whose block is unconfirmed: the same verdict, and nothing kept.
    const early = new CachingChainReader(counting, async () => vector.chain.anchorOf.blockNumber - 1, {
      confirmations: 1,
      maxEntries: 10,
      ttlMs: TTL,
    });
    expect(await verifyCertificate(vector.certificate, { chain: early })).toEqual(direct);
    expect(early.size).toBe(1); // the certifier's registration only
  });
});
