import fc from "fast-check";
import {
  MerkleTree,
  CoreError,
  hashChildren,
  hashLeaf,
  rootFromAuditPath,
  sha256,
  toHex,
  verifyInclusion,
} from "../../services/core";

// Reference implementation written straight from RFC 9162 section 2.1 (recursive MTH and
// PATH), to check the one-pass tree against.
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  const k = largestPowerOfTwoBelow(leaves.length);
  return hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function path(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length === 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}
/** Which side each path element sits on, leaf first: the proof's "shape". */
function shape(m: number, n: number): string {
  if (n === 1) return "";
  const k = largestPowerOfTwoBelow(n);
  return m < k ? `${shape(m, k)}R` : `${shape(m - k, n - k)}L`;
}

const leavesOf = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => sha256(new TextEncoder().encode(`${seed}:${i}`)));
const hex = (b: Uint8Array) => toHex(b);
const flipBit = (b: Uint8Array, bit: number) => {
  const c = b.slice();
  c[bit >> 3] = (c[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return c;
};

describe("hashing", () => {
  test("leaf and node hashes are domain-separated SHA-256", () => {
    const data = new TextEncoder().encode("abc");
    expect(hex(hashLeaf(data))).toBe(hex(sha256(Uint8Array.of(0), data)));
    const l = sha256(data);
    const r = sha256(l);
    expect(hex(hashChildren(l, r))).toBe(hex(sha256(Uint8Array.of(1), l, r)));
    // a leaf can never pass for an inner node over the same 64 bytes
    const both = new Uint8Array([...l, ...r]);
    expect(hex(hashLeaf(both))).not.toBe(hex(hashChildren(l, r)));
  });
});

describe("MerkleTree", () => {
  test("refuses an empty tree and bad leaves", () => {
    expect(() => MerkleTree.fromLeafHashes([])).toThrow(
      expect.objectContaining({
        constructor: CoreError,
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(/empty tree/),
      }),
    );
    expect(() => MerkleTree.fromLeafHashes([new Uint8Array(31)])).toThrow(/leaf 0/);
  });

  test("a single leaf is its own root with an empty path", () => {
    const [leaf] = leavesOf(1, 1) as [Uint8Array];
    const tree = MerkleTree.fromLeafHashes([leaf]);
    expect(tree.size).toBe(1);
    expect(hex(tree.root)).toBe(hex(leaf));
    expect(tree.auditPath(0)).toEqual([]);
    expect(verifyInclusion(leaf, 0, 1, [], tree.root)).toBe(true);
  });

  test("auditPath refuses an index outside the tree", () => {
    const tree = MerkleTree.fromLeafHashes(leavesOf(3, 2));
    for (const bad of [-1, 3, 1.5, Number.NaN]) {
      expect(() => tree.auditPath(bad)).toThrow(
        expect.objectContaining({
          constructor: CoreError,
          code: "INVALID_ARGUMENT",
          message: "leaf index out of range",
        }),
      );
    }
  });

  test("root and every audit path equal RFC 9162's recursive definition (1..130 leaves)", () => {
    for (let n = 1; n <= 130; n++) {
      const leaves = leavesOf(n, n);
      const tree = MerkleTree.fromLeafHashes(leaves);
      expect(hex(tree.root)).toBe(hex(mth(leaves)));
      for (let i = 0; i < n; i++) {
        const expected = path(i, leaves);
        expect(tree.auditPath(i).map(hex)).toEqual(expected.map(hex));
      }
    }
  });

  test("leaves appended a few at a time give the same tree, level by level", () => {
    const levelsOf = (t: MerkleTree) => Array.from({ length: t.height + 1 }, (_, d) => hex(t.level(d)));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1100 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 40 }),
        (n, cuts) => {
          const leaves = leavesOf(n, n);
          const whole = MerkleTree.fromLeafHashes(leaves);
          const builder = MerkleTree.builder();
          const all = new Uint8Array(n * 32);
          leaves.forEach((leaf, i) => all.set(leaf, 32 * i));
          let at = 0;
          for (const cut of cuts) {
            const end = Math.min(n, at + cut);
            builder.append(all.subarray(32 * at, 32 * end)); // empty appends too
            at = end;
          }
          builder.append(all.subarray(32 * at));
          const built = builder.finish();
          expect(built.size).toBe(n);
          expect(built.height).toBe(Math.ceil(Math.log2(n)));
          expect(levelsOf(built)).toEqual(levelsOf(whole));
          expect(hex(built.root)).toBe(hex(mth(leaves)));
        },
      ),
      { numRuns: 120 },
    );
  });

  test("a builder takes whole hashes, at least one, and builds once", () => {
    const builder = MerkleTree.builder();
    expect(() => builder.append(new Uint8Array(33))).toThrow(/whole 32-byte hashes/);
    expect(() => builder.finish()).toThrow(/empty tree/);
    builder.append(new Uint8Array(64));
    const tree = builder.finish();
    expect(tree.size).toBe(2);
    expect(() => builder.append(new Uint8Array(32))).toThrow(/already built/);
    expect(() => builder.finish()).toThrow(/already built/);
    expect(() => MerkleTree.fromLeafLevel(new Uint8Array(0))).toThrow(
      expect.objectContaining({ constructor: CoreError, code: "INVALID_ARGUMENT" }),
    );
  });

  test("level() gives each level's nodes and refuses a level outside the tree", () => {
    const leaves = leavesOf(5, 7);
    const tree = MerkleTree.fromLeafHashes(leaves);
    expect(tree.height).toBe(3);
    expect(hex(tree.level(0))).toBe(leaves.map(hex).join(""));
    expect(hex(tree.level(1))).toBe(
      [hashChildren(leaves[0]!, leaves[1]!), hashChildren(leaves[2]!, leaves[3]!), leaves[4]!]
        .map(hex)
        .join(""),
    );
    expect(hex(tree.level(3))).toBe(hex(tree.root));
    for (const bad of [-1, 4, 0.5]) {
      expect(() => tree.level(bad)).toThrow(
        expect.objectContaining({
          constructor: CoreError,
          code: "INVALID_ARGUMENT",
          message: "level out of range",
        }),
      );
    }
  });

  test("property: every audit path of random trees of 1 to 2,000 leaves verifies", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer(), (n, seed) => {
        const leaves = leavesOf(n, seed);
        const tree = MerkleTree.fromLeafHashes(leaves);
        const root = tree.root;
        leaves.forEach((leaf, i) => {
          if (!verifyInclusion(leaf, i, n, tree.auditPath(i), root)) throw new Error(`leaf ${i} of ${n}`);
        });
      }),
      { numRuns: 60 },
    );
  });

  describe("property: a one-bit change fails", () => {
    const position = fc
      .integer({ min: 1, max: 2000 })
      .chain((n) =>
        fc.record({ n: fc.constant(n), i: fc.integer({ min: 0, max: n - 1 }), seed: fc.integer() }),
      );
    const build = ({ n, i, seed }: { n: number; i: number; seed: number }) => {
      const leaves = leavesOf(n, seed);
      const tree = MerkleTree.fromLeafHashes(leaves);
      return { leaf: leaves[i] as Uint8Array, proof: tree.auditPath(i), root: tree.root };
    };

    test("in the leaf hash", () => {
      fc.assert(
        fc.property(position, fc.integer({ min: 0, max: 255 }), (p, bit) => {
          const { leaf, proof, root } = build(p);
          return !verifyInclusion(flipBit(leaf, bit), p.i, p.n, proof, root);
        }),
      );
    });

    test("in the root", () => {
      fc.assert(
        fc.property(position, fc.integer({ min: 0, max: 255 }), (p, bit) => {
          const { leaf, proof, root } = build(p);
          return !verifyInclusion(leaf, p.i, p.n, proof, flipBit(root, bit));
        }),
      );
    });

    test("in any element of the audit path", () => {
      fc.assert(
        fc.property(
          position.filter((p) => p.n > 1),
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          (p, k, bit) => {
            const { leaf, proof, root } = build(p);
            const at = k % proof.length;
            const bad = proof.map((e, j) => (j === at ? flipBit(e, bit) : e));
            return !verifyInclusion(leaf, p.i, p.n, bad, root);
          },
        ),
      );
    });

    // The audit path alone does not always bind the index and size: leaf 0 of a 5-leaf and of
    // a 7-leaf tree have proofs of the same shape (RFC 9162 binds the size in the signed tree
    // head; tsd binds it in the attestation and the registry). So a changed index or size
    // fails exactly when the proof's shape changes; the certificate tests show that a changed
    // index or size never passes as a whole.
    test("in the index or the size, unless the proof's shape is the same", () => {
      expect(shape(0, 5)).toBe(shape(0, 7));
      fc.assert(
        fc.property(position, fc.boolean(), fc.integer({ min: 0, max: 11 }), (p, onIndex, bit) => {
          const { leaf, proof, root } = build(p);
          const i = onIndex ? p.i ^ (1 << bit) : p.i;
          const n = onIndex ? p.n : p.n ^ (1 << bit);
          const sameShape = i < n && shape(i, n) === shape(p.i, p.n);
          return verifyInclusion(leaf, i, n, proof, root) === sameShape;
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe("verifyInclusion never throws", () => {
  const tree = MerkleTree.fromLeafHashes(leavesOf(5, 5));
  const leaf = leavesOf(5, 5)[2] as Uint8Array;
  const proof = tree.auditPath(2);
  const root = tree.root;

  test.each([
    ["a short leaf hash", () => verifyInclusion(leaf.slice(1), 2, 5, proof, root)],
    ["a long root", () => verifyInclusion(leaf, 2, 5, proof, new Uint8Array(33))],
    ["an index past the size", () => verifyInclusion(leaf, 5, 5, proof, root)],
    ["a negative index", () => verifyInclusion(leaf, -1, 5, proof, root)],
    ["a fractional size", () => verifyInclusion(leaf, 2, 5.5, proof, root)],
    ["an unsafe index", () => verifyInclusion(leaf, 2 ** 53, 2 ** 53 + 2, proof, root)],
    ["an extra path element", () => verifyInclusion(leaf, 2, 5, [...proof, root], root)],
    ["a missing path element", () => verifyInclusion(leaf, 2, 5, proof.slice(1), root)],
    [
      "a short path element",
      () => verifyInclusion(leaf, 2, 5, [proof[0]!.slice(1), ...proof.slice(1)], root),
    ],
    ["a path that is not an array", () => verifyInclusion(leaf, 2, 5, "x" as unknown as Uint8Array[], root)],
    [
      "null arguments",
      () => verifyInclusion(null as unknown as Uint8Array, 2, 5, proof, null as unknown as Uint8Array),
    ],
  ])("false for %s", (_, run) => {
    expect(run()).toBe(false);
  });

  test("rootFromAuditPath gives the root, or null", () => {
    expect(hex(rootFromAuditPath(leaf, 2, 5, proof)!)).toBe(hex(root));
    expect(rootFromAuditPath(leaf, 2, 5, proof.slice(1))).toBeNull();
  });

  test("sizes above 2^32 work (no 32-bit arithmetic)", () => {
    // leaf 2^32 of a tree of 2^32 + 1 leaves: the last leaf, its sibling is the left 2^32 subtree
    const n = 2 ** 32 + 1;
    const left = sha256(new TextEncoder().encode("left"));
    expect(hex(rootFromAuditPath(leaf, n - 1, n, [left])!)).toBe(hex(hashChildren(left, leaf)));
  });
});
