import hre from "hardhat";
import { type BaseContract } from "ethers";
import { MerkleTree, hashChildren, hashLeaf, sha256, to0xHex, verifyInclusion } from "../../services/core";

// The Solidity RFC 9162 library (contracts/lib/Rfc9162.sol) must hash and verify exactly as the
// TypeScript core does, so an on-chain verifier of certificates stays possible.

/** contracts/test/Rfc9162Harness.sol as these tests call it (the project has no TypeChain). */
interface Harness extends BaseContract {
  leafHash(data: Uint8Array): Promise<string>;
  nodeHash(left: Uint8Array, right: Uint8Array): Promise<string>;
  verifyInclusion(
    leaf: Uint8Array,
    index: bigint,
    size: bigint,
    path: Uint8Array[],
    root: Uint8Array,
  ): Promise<boolean>;
}

let harness: Harness;

beforeAll(async () => {
  const factory = await hre.ethers.getContractFactory("Rfc9162Harness");
  harness = (await factory.deploy()) as unknown as Harness;
});

/** `length` pseudo-random bytes derived from `seed`: random-looking, yet the same on every run. */
function bytesFrom(seed: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let block = 0; block * 32 < length; block++) {
    const chunk = sha256(new TextEncoder().encode(`${seed}/${block}`));
    out.set(chunk.subarray(0, Math.min(32, length - block * 32)), block * 32);
  }
  return out;
}

/** A batch's leaf hashes and the tree over them. */
interface Batch {
  leaves: Uint8Array[];
  tree: MerkleTree;
}

/** A batch of `size` pseudo-random leaves. */
function batchOf(size: number): Batch {
  const leaves = Array.from({ length: size }, (_, i) => hashLeaf(bytesFrom(`tree ${size} leaf ${i}`, 64)));
  return { leaves, tree: MerkleTree.fromLeafHashes(leaves) };
}

/** A copy of `bytes` with the low bit of its last byte flipped. */
function flipBit(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[out.length - 1] = (out[out.length - 1] as number) ^ 1;
  return out;
}

/** The path with one element altered; an empty path gains a made-up element instead. */
function tamperedPath(path: Uint8Array[], index: number): Uint8Array[] {
  if (path.length === 0) return [new Uint8Array(32)];
  const target = index % path.length;
  return path.map((element, i) => (i === target ? flipBit(element) : element));
}

/** The next leaf's index, wrapping; a one-leaf tree has no other leaf, so the index past its end. */
function otherIndex(index: number, size: number): number {
  return size === 1 ? 1 : (index + 1) % size;
}

/** The on-chain verdict, after checking that the core's verifyInclusion reaches the same one. */
async function verdict(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: Uint8Array[],
  root: Uint8Array,
): Promise<boolean> {
  const onChain = await harness.verifyInclusion(leaf, BigInt(index), BigInt(size), path, root);
  expect(onChain).toBe(verifyInclusion(leaf, index, size, path, root));
  return onChain;
}

/** The verdict on each listed leaf's genuine audit path. */
async function genuineVerdicts({ leaves, tree }: Batch, indices: number[]) {
  const results = [];
  for (const index of indices) {
    const leaf = leaves[index] as Uint8Array;
    results.push({
      index,
      verifies: await verdict(leaf, index, leaves.length, tree.auditPath(index), tree.root),
    });
  }
  return results;
}

/** The verdicts on three forgeries of each listed leaf's proof: root, path or index altered. */
async function forgedVerdicts({ leaves, tree }: Batch, indices: number[]) {
  const size = leaves.length;
  const results = [];
  for (const index of indices) {
    const leaf = leaves[index] as Uint8Array;
    const path = tree.auditPath(index);
    results.push({
      index,
      tamperedRoot: await verdict(leaf, index, size, path, flipBit(tree.root)),
      tamperedPath: await verdict(leaf, index, size, tamperedPath(path, index), tree.root),
      wrongIndex: await verdict(leaf, otherIndex(index, size), size, path, tree.root),
    });
  }
  return results;
}

const NO_FORGERY_VERIFIES = { tamperedRoot: false, tamperedPath: false, wrongIndex: false };

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The edges of a tree and of its left subtrees, where RFC 9162's odd-size handling shows. */
function sampleOf(size: number): number[] {
  const candidates = [0, 1, 127, 128, 255, 256, size >> 1, size - 2, size - 1];
  return [...new Set(candidates.filter((i) => i >= 0 && i < size))].sort((a, b) => a - b);
}

describe("Rfc9162 (Solidity) against the TypeScript core", () => {
  test.each([0, 1, 31, 32, 33, 100, 1000])("leafHash of %i bytes equals hashLeaf", async (length) => {
    const data = bytesFrom(`leaf data ${length}`, length);
    expect(await harness.leafHash(data)).toBe(to0xHex(hashLeaf(data)));
  });

  test("nodeHash equals hashChildren, and the order of the children matters", async () => {
    const left = bytesFrom("left", 32);
    const right = bytesFrom("right", 32);
    expect(await harness.nodeHash(left, right)).toBe(to0xHex(hashChildren(left, right)));
    expect(await harness.nodeHash(right, left)).toBe(to0xHex(hashChildren(right, left)));
    expect(await harness.nodeHash(left, right)).not.toBe(await harness.nodeHash(right, left));
  });

  test("a leaf hash cannot pass for a node hash over the same bytes", async () => {
    const left = bytesFrom("left", 32);
    const right = bytesFrom("right", 32);
    const concatenated = new Uint8Array([...left, ...right]);
    expect(await harness.leafHash(concatenated)).not.toBe(await harness.nodeHash(left, right));
  });

  test.each(range(70).map((i) => i + 1))(
    "tree of %i leaves: every audit path verifies on chain, forged ones do not",
    async (size) => {
      const batch = batchOf(size);
      const all = range(size);
      expect(await genuineVerdicts(batch, all)).toEqual(all.map((index) => ({ index, verifies: true })));
      const sample = sampleOf(size);
      expect(await forgedVerdicts(batch, sample)).toEqual(
        sample.map((index) => ({ index, ...NO_FORGERY_VERIFIES })),
      );
    },
  );

  test.each([257, 1000])(
    "tree of %i leaves: sampled audit paths verify, forged ones do not",
    async (size) => {
      const batch = batchOf(size);
      const sample = sampleOf(size);
      expect(await genuineVerdicts(batch, sample)).toEqual(
        sample.map((index) => ({ index, verifies: true })),
      );
      expect(await forgedVerdicts(batch, sample)).toEqual(
        sample.map((index) => ({ index, ...NO_FORGERY_VERIFIES })),
      );
    },
  );

  test("a path that is too long or too short, or a leaf index past the end, never verifies", async () => {
    for (const size of [1, 2, 3, 5, 8, 13, 64, 65]) {
      const { leaves, tree } = batchOf(size);
      const last = size - 1;
      const leaf = leaves[last] as Uint8Array;
      const path = tree.auditPath(last);
      const root = tree.root;
      expect(await verdict(leaf, last, size, [...path, root], root)).toBe(false);
      if (path.length > 0) expect(await verdict(leaf, last, size, path.slice(0, -1), root)).toBe(false);
      expect(await verdict(leaf, size, size, path, root)).toBe(false);
      expect(await verdict(leaf, last, 0, path, root)).toBe(false);
    }
  });

  test("a path checked against a neighbouring tree size: chain and core agree", async () => {
    for (const size of [2, 3, 4, 5, 6, 7, 8, 9, 31, 32, 33, 70]) {
      const { leaves, tree } = batchOf(size);
      for (const index of [0, size >> 1, size - 1]) {
        const leaf = leaves[index] as Uint8Array;
        const path = tree.auditPath(index);
        await verdict(leaf, index, size - 1, path, tree.root);
        await verdict(leaf, index, size + 1, path, tree.root);
      }
    }
  });
});
