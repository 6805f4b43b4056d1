import { equalBytes, isBytes } from "./bytes";
import { requireArgument } from "./errors";
import { sha256, sha256One } from "./sha256";

// RFC 9162 section 2.1 Merkle tree (DESIGN section 4): domain-separated leaf and node hashes,
// no sorting of pairs, no duplication of odd nodes.

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
const HASH_SIZE = 32;

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
    const levels = [base];
    let level = base;
    // Siblings lie side by side in a level, so each node hash is one copy into a scratch
    // buffer behind the 0x01 prefix and one one-shot hash: about twice as fast as hashChildren.
    const scratch = new Uint8Array(1 + 2 * HASH_SIZE);
    scratch[0] = NODE_PREFIX[0] as number;
    while (level.length > HASH_SIZE) {
      const count = level.length / HASH_SIZE;
      const next = new Uint8Array(Math.ceil(count / 2) * HASH_SIZE);
      for (let i = 0; i + 1 < count; i += 2) {
        scratch.set(level.subarray(i * HASH_SIZE, (i + 2) * HASH_SIZE), 1);
        next.set(sha256One(scratch), (i / 2) * HASH_SIZE);
      }
      if (count % 2 === 1) next.set(node(level, count - 1), next.length - HASH_SIZE);
      levels.push(next);
      level = next;
    }
    return new MerkleTree(levels);
  }

  /** Number of leaves. */
  get size(): number {
    return (this.levels[0] as Uint8Array).length / HASH_SIZE;
  }

  /** The tree head (32 bytes). */
  get root(): Uint8Array {
    return node(this.levels[this.levels.length - 1] as Uint8Array, 0).slice();
  }

  /**
   * The RFC 9162 audit path of leaf `index`, from the leaf's sibling up. The elements are
   * read-only views into the tree; copy them to keep them beyond the tree.
   */
  auditPath(index: number): Uint8Array[] {
    const path: Uint8Array[] = [];
    this.walkAuditPath(index, (sibling) => path.push(sibling));
    return path;
  }

  /**
   * Writes the audit path of leaf `index` (concatenated 32-byte nodes) into `target` at
   * `offset`, allocating nothing; returns the number of bytes written. For storing every
   * path of a large batch.
   */
  writeAuditPath(index: number, target: Uint8Array, offset: number): number {
    let at = offset;
    this.walkAuditPath(index, (sibling) => {
      target.set(sibling, at);
      at += HASH_SIZE;
    });
    return at - offset;
  }

  private walkAuditPath(index: number, visit: (sibling: Uint8Array) => void): void {
    requireArgument(
      Number.isSafeInteger(index) && index >= 0 && index < this.size,
      "leaf index out of range",
    );
    let i = index;
    for (let depth = 0; depth < this.levels.length - 1; depth++) {
      const level = this.levels[depth] as Uint8Array;
      const sibling = i % 2 === 0 ? i + 1 : i - 1;
      if (sibling < level.length / HASH_SIZE) visit(node(level, sibling));
      i = Math.floor(i / 2);
    }
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
