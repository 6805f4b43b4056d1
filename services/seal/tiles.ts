import { MerkleTree } from "../core";

// How a batch's tree is stored (docs/decisions.md, "Proof storage"): once per batch, in the
// manner of Tessera's and Trillian's tiles, never as one audit path per leaf. Levels 1, 5, 9,
// ... are stored, each up to the level below the root, in chunks of 256 nodes; level 0, the
// leaves, is each deposit's own leaf_hash, and the root is the batch's. A tile is 16
// consecutive nodes of a stored level (a slice of one chunk): the bottom row of a subtree 4
// levels high, from which a reader recomputes the 3 levels above it with 15 hashes. An audit
// path reads the leaf's sibling and one tile per stored level. This module is the layout and
// the arithmetic; stored-tree.ts reads and writes it.

/** Levels a tile spans: its nodes and the 3 levels above them. */
export const TILE_HEIGHT = 4;
/** Most nodes in a tile (the last tile of a level may have fewer). */
export const TILE_WIDTH = 2 ** TILE_HEIGHT;
/** Most nodes in a stored chunk (one row): 16 tiles, 8 KB, so a million leaves make a few thousand rows. */
export const CHUNK_WIDTH = 256;
const HASH_SIZE = 32;

/** One tile: nodes TILE_WIDTH × tile onwards of stored level `level`. */
export interface TileId {
  level: number;
  tile: number;
}

/** Number of nodes at `level` of a tree of `size` leaves. */
export function levelSize(size: number, level: number): number {
  return Math.ceil(size / 2 ** level);
}

/** The stored levels of a tree of `size` leaves: 1, 5, 9, ... each below the root. */
export function storedLevels(size: number): number[] {
  const levels: number[] = [];
  for (let level = 1; levelSize(size, level) > 1; level += TILE_HEIGHT) levels.push(level);
  return levels;
}

/** Number of nodes that tile `tile` of `level` holds in a tree of `size` leaves. */
export function tileWidth(size: number, { level, tile }: TileId): number {
  return Math.min(TILE_WIDTH, levelSize(size, level) - tile * TILE_WIDTH);
}

/** Where a tile lies: its level's chunk, and the offset of its first byte in the chunk. */
export function tilePlace({ level, tile }: TileId): { level: number; chunk: number; at: number } {
  const first = tile * TILE_WIDTH;
  return { level, chunk: Math.floor(first / CHUNK_WIDTH), at: (first % CHUNK_WIDTH) * HASH_SIZE };
}

/** Every stored chunk of a built tree with its nodes (views into the tree), in storing order. */
export function* treeChunks(
  tree: MerkleTree,
): Generator<{ level: number; chunk: number; nodes: Uint8Array }> {
  for (const level of storedLevels(tree.size)) {
    const nodes = tree.level(level);
    for (let chunk = 0; chunk * CHUNK_WIDTH * HASH_SIZE < nodes.length; chunk++) {
      const from = chunk * CHUNK_WIDTH * HASH_SIZE;
      yield { level, chunk, nodes: nodes.subarray(from, from + CHUNK_WIDTH * HASH_SIZE) };
    }
  }
}

/** What the audit path of leaf `index` reads: its sibling leaf, if any, and one tile per stored level. */
export function pathReads(index: number, size: number): { siblingLeaf: number | null; tiles: TileId[] } {
  const sibling = index % 2 === 0 ? index + 1 : index - 1;
  return {
    siblingLeaf: sibling < size ? sibling : null,
    tiles: storedLevels(size).map((level) => ({
      level,
      tile: Math.floor(Math.floor(index / 2 ** level) / TILE_WIDTH),
    })),
  };
}

/**
 * The subtree that stored tile `id` is the bottom row of, built once for every path that reads
 * it. Throws when the tile has not the width the tree gives it: the store is not the batch's.
 */
export function tileTree(size: number, id: TileId, nodes: Uint8Array): MerkleTree {
  const width = id.tile >= 0 && storedLevels(size).includes(id.level) ? tileWidth(size, id) : 0;
  if (width <= 0 || nodes.length !== width * HASH_SIZE) {
    throw new Error(`tile ${id.tile} of level ${id.level} has ${nodes.length} bytes, not the tree's`);
  }
  return MerkleTree.fromLeafLevel(nodes);
}

/**
 * The RFC 9162 audit path of leaf `index` in a tree of `size` leaves, leaf sibling first,
 * from what pathReads named: the sibling leaf's hash (null when it has none) and the trees of
 * the tiles (tileTree), in the same order. Each tile's tree gives, as its audit path, exactly
 * the siblings of the levels the tile spans. Throws on parts of the wrong shape.
 */
export function auditPathFromTiles(
  index: number,
  size: number,
  siblingLeaf: Uint8Array | null,
  tiles: readonly MerkleTree[],
): Uint8Array[] {
  const reads = pathReads(index, size);
  if (
    (siblingLeaf === null) !== (reads.siblingLeaf === null) ||
    tiles.length !== reads.tiles.length ||
    reads.tiles.some((id, k) => tiles[k]?.size !== tileWidth(size, id))
  ) {
    throw new Error(`leaf ${index} of ${size}: the stored parts of its audit path are not the ones it needs`);
  }
  if (siblingLeaf !== null && siblingLeaf.length !== HASH_SIZE) {
    throw new Error(`leaf ${index} of ${size}: its sibling leaf is not a 32-byte hash`);
  }
  const path = siblingLeaf === null ? [] : [siblingLeaf];
  reads.tiles.forEach((id, k) => {
    const local = Math.floor(index / 2 ** id.level) - id.tile * TILE_WIDTH;
    path.push(...(tiles[k] as MerkleTree).auditPath(local));
  });
  return path;
}
