import { equalBytes, isBytes } from "./bytes";
import { requireArgument } from "./errors";
import { sha256, sha256One } from "./hashing";

// RFC 9162 section 2.1 Merkle tree (protocol.md section 5): domain-separated leaf and node hashes,
// no sorting of pairs, no duplication of odd nodes.

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
const HASH_SIZE = 32;
/** 0x01 || left || right, rewritten for every inner node (hashPairs). */
const PAIR_SCRATCH = Uint8Array.of(...NODE_PREFIX, ...new Uint8Array(2 * 32));

/** SHA-256(0x00 || data): the hash of one leaf. */
export function hashLeaf(data: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, data);
}

/** SHA-256(0x01 || left || right): the hash of an inner node. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/**
 * A whole batch's tree, built in one pass. Level by level, pairing neighbours and promoting
 * a level's odd last node unchanged, gives exactly RFC 9162's MTH (split at the largest
 * power of two below n). Each level is one contiguous buffer, so a million leaves cost
 * about 64 MB and no per-node objects.
 */
export class MerkleTree {
  private constructor(private readonly levels: readonly Uint8Array[]) {}

  /** Builds the tree over leaf hashes given in leaf-index order (at least one). */
  static fromLeafHashes(leafHashes: readonly Uint8Array[]): MerkleTree {
    requireArgument(leafHashes.length > 0, "an empty tree has no root and is never anchored");
    const base = new Uint8Array(leafHashes.length * HASH_SIZE);
    leafHashes.forEach((leaf, i) => {
      requireArgument(isBytes(leaf, HASH_SIZE), `leaf ${i} is not a 32-byte hash`);
      base.set(leaf, i * HASH_SIZE);
    });
    return MerkleTree.fromLeafLevel(base);
  }

  /**
   * Builds the tree over leaf hashes concatenated in leaf-index order (32 bytes each, at least
   * one). The buffer becomes the tree's leaf level: it is not copied and must not change.
   */
  static fromLeafLevel(leaves: Uint8Array): MerkleTree {
    return new MerkleTree(new GrowingLevels(leaves).finish());
  }

  /**
   * A builder for leaves that arrive a few at a time (read from a database): each pair of
   * nodes is hashed as soon as both exist, so the tree is ready moments after its last leaf.
   */
  static builder(): MerkleTreeBuilder {
    const levels = new GrowingLevels();
    return {
      append: (leafHashes) => levels.append(leafHashes),
      finish: () => new MerkleTree(levels.finish()),
    };
  }

  /** Number of leaves. */
  get size(): number {
    return (this.levels[0] as Uint8Array).length / HASH_SIZE;
  }

  /** Number of levels above the leaves: the length of the longest audit path. */
  get height(): number {
    return this.levels.length - 1;
  }

  /** The tree head (32 bytes). */
  get root(): Uint8Array {
    return node(this.levels[this.levels.length - 1] as Uint8Array, 0).slice();
  }

  /**
   * The nodes of level `depth` (0: the leaves, `height`: the root), concatenated in index
   * order. A read-only view into the tree; copy it to keep it beyond the tree.
   */
  level(depth: number): Uint8Array {
    requireArgument(Number.isSafeInteger(depth) && depth >= 0 && depth <= this.height, "level out of range");
    return this.levels[depth] as Uint8Array;
  }

  /**
   * The RFC 9162 audit path of leaf `index`, from the leaf's sibling up. The elements are
   * read-only views into the tree; copy them to keep them beyond the tree.
   */
  auditPath(index: number): Uint8Array[] {
    requireArgument(
      Number.isSafeInteger(index) && index >= 0 && index < this.size,
      "leaf index out of range",
    );
    const path: Uint8Array[] = [];
    let i = index;
    for (let depth = 0; depth < this.height; depth++) {
      const level = this.levels[depth] as Uint8Array;
      const sibling = i % 2 === 0 ? i + 1 : i - 1;
      if (sibling < level.length / HASH_SIZE) path.push(node(level, sibling));
      i = Math.floor(i / 2);
    }
    return path;
  }
}

/** The tree's leaves as they arrive, in leaf order (MerkleTree.builder). */
export interface MerkleTreeBuilder {
  /** Appends leaf hashes concatenated in leaf-index order (32 bytes each). */
  append(leafHashes: Uint8Array): void;
  /** The tree over every leaf appended (at least one); the builder is then done. */
  finish(): MerkleTree;
}

/**
 * The levels of a tree whose leaves are appended: level d + 1 always holds the hashes of the
 * complete pairs of level d; the odd last nodes are promoted when the leaves are complete.
 * That is the level-by-level build of MerkleTree, in another order.
 */
class GrowingLevels {
  private readonly buffers: Uint8Array[] = [];
  private readonly counts: number[] = [];
  private done = false;

  /** Starts with `leaves` as the leaf level, adopted rather than copied. */
  constructor(leaves?: Uint8Array) {
    if (leaves === undefined) return;
    requireLeafHashes(leaves);
    this.buffers[0] = leaves;
    this.counts[0] = leaves.length / HASH_SIZE;
    this.hashUp(0, 0);
  }

  append(leafHashes: Uint8Array): void {
    requireArgument(!this.done, "the tree is already built");
    requireLeafHashes(leafHashes);
    const from = this.count(0);
    this.put(0, leafHashes);
    this.hashUp(0, from);
  }

  finish(): Uint8Array[] {
    requireArgument(!this.done, "the tree is already built");
    requireArgument(this.count(0) > 0, "an empty tree has no root and is never anchored");
    this.done = true;
    for (let depth = 0; this.count(depth) > 1; depth++) {
      const count = this.count(depth);
      if (count % 2 === 1) {
        const at = this.count(depth + 1);
        this.put(depth + 1, node(this.buffers[depth] as Uint8Array, count - 1));
        this.hashUp(depth + 1, at);
      }
    }
    return this.buffers.map((buffer, depth) => buffer.subarray(0, this.count(depth) * HASH_SIZE));
  }

  private count(depth: number): number {
    return this.counts[depth] ?? 0;
  }

  private put(depth: number, nodes: Uint8Array): void {
    const at = this.count(depth);
    this.reserve(depth, at + nodes.length / HASH_SIZE);
    (this.buffers[depth] as Uint8Array).set(nodes, at * HASH_SIZE);
    this.counts[depth] = at + nodes.length / HASH_SIZE;
  }

  /** Hashes the pairs level `depth` completed since it held `from` nodes, and so on upwards. */
  private hashUp(depth: number, from: number): void {
    for (let d = depth, since = from; ; d++) {
      const first = Math.floor(since / 2);
      const end = Math.floor(this.count(d) / 2);
      if (end === first) return;
      // Room for the odd last node the finish may promote, so a built tree is never regrown.
      this.reserve(d + 1, Math.ceil(this.count(d) / 2));
      hashPairs(this.buffers[d] as Uint8Array, this.buffers[d + 1] as Uint8Array, first, end);
      since = this.count(d + 1);
      this.counts[d + 1] = end;
    }
  }

  /** Makes room for `count` nodes at `depth`, at least doubling a buffer that grows. */
  private reserve(depth: number, count: number): void {
    const buffer = this.buffers[depth];
    if (buffer !== undefined && buffer.length >= count * HASH_SIZE) return;
    const grown = new Uint8Array(Math.max(count, (2 * (buffer?.length ?? 0)) / HASH_SIZE) * HASH_SIZE);
    if (buffer !== undefined) grown.set(buffer.subarray(0, this.count(depth) * HASH_SIZE));
    this.buffers[depth] = grown;
  }
}

function requireLeafHashes(leafHashes: Uint8Array): void {
  requireArgument(leafHashes.length % HASH_SIZE === 0, "leaf hashes come as whole 32-byte hashes");
}

/**
 * Hashes the pairs `from` to `to` (exclusive) of `level` into `next`. Siblings lie side by
 * side in a level, so each node hash is one copy into a scratch buffer behind the 0x01 prefix
 * and one one-shot hash: about twice as fast as hashChildren.
 */
function hashPairs(level: Uint8Array, next: Uint8Array, from: number, to: number): void {
  const scratch = PAIR_SCRATCH;
  for (let pair = from; pair < to; pair++) {
    scratch.set(level.subarray(pair * 2 * HASH_SIZE, (pair + 1) * 2 * HASH_SIZE), 1);
    next.set(sha256One(scratch), pair * HASH_SIZE);
  }
}

function node(level: Uint8Array, index: number): Uint8Array {
  return level.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
}

/**
 * The root that an audit path proves for a leaf (RFC 9162 section 2.1.3.2), or null when the
 * path cannot belong to a tree of that size. Never throws.
 */
export function rootFromAuditPath(
  leafHash: Uint8Array,
  leafIndex: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array | null {
  if (!isBytes(leafHash, HASH_SIZE) || !Array.isArray(proof)) return null;
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize)) return null;
  if (leafIndex < 0 || leafIndex >= treeSize) return null;
  // Arithmetic, not bit operators: sizes may exceed 32 bits.
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0 || !isBytes(p, HASH_SIZE)) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/**
 * True when `proof` is the RFC 9162 audit path binding `leafHash` at `leafIndex` to `root` in a
 * tree of `treeSize` leaves. Returns false, never throws, for any malformed input.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  leafIndex: number,
  treeSize: number,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  const computed = rootFromAuditPath(leafHash, leafIndex, treeSize, proof);
  return computed !== null && isBytes(root, HASH_SIZE) && equalBytes(computed, root);
}
