import { MerkleTree, sha256, toHex } from "../../services/core";
import {
  CHUNK_WIDTH,
  TILE_WIDTH,
  auditPathFromTiles,
  levelSize,
  pathReads,
  storedLevels,
  tilePlace,
  tileTree,
  tileWidth,
  treeChunks,
  type TileId,
} from "../../services/seal/tiles";

// The stored tree (levels 1, 5, 9, ... in chunks of 256 nodes, read as tiles of 16) must give
// every leaf exactly the audit path MerkleTree gives it: the bytes a certificate carries.

const leavesOf = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => sha256(new TextEncoder().encode(`${seed}:${i}`)));
const hex = (path: Uint8Array[]) => path.map(toHex);

/** What PostgreSQL would hold for `tree` (its chunks), and the paths read back from it as stored-tree.ts reads them. */
function store(tree: MerkleTree) {
  const chunks = new Map<string, Uint8Array>();
  for (const c of treeChunks(tree)) chunks.set(`${c.level}:${c.chunk}`, c.nodes.slice());
  const tile = (id: TileId) => {
    const { level, chunk, at } = tilePlace(id);
    const nodes = chunks.get(`${level}:${chunk}`) as Uint8Array;
    return nodes.subarray(at, at + TILE_WIDTH * 32); // substring(nodes FROM at + 1 FOR 512)
  };
  const leaf = (i: number) => tree.level(0).slice(32 * i, 32 * i + 32);
  return {
    chunks,
    tile,
    path(i: number) {
      const reads = pathReads(i, tree.size);
      return auditPathFromTiles(
        i,
        tree.size,
        reads.siblingLeaf === null ? null : leaf(reads.siblingLeaf),
        reads.tiles.map((id) => tileTree(tree.size, id, tile(id))),
      );
    },
  };
}

test("every leaf of trees of 1 to 70 leaves gets MerkleTree's audit path", () => {
  for (let n = 1; n <= 70; n++) {
    const tree = MerkleTree.fromLeafHashes(leavesOf(n, n));
    const stored = store(tree);
    for (let i = 0; i < n; i++) expect(hex(stored.path(i))).toEqual(hex(tree.auditPath(i)));
  }
});

test("across tile and chunk boundaries, on every stored level", () => {
  // 30..34 leaves: level 1 has 15..17 nodes (a full tile and a short one); 510..516: level 1
  // has 255..258 nodes (a full chunk and a short one); 2^13 + 3: level 9 has 17 nodes; 2^17 + 3:
  // level 9 has 257 nodes (a second chunk there too) and level 13 has 17.
  for (const n of [30, 31, 32, 33, 34, 510, 511, 512, 513, 514, 515, 516, 2 ** 13 + 3, 2 ** 17 + 3]) {
    const tree = MerkleTree.fromLeafHashes(leavesOf(n, n));
    const stored = store(tree);
    const sample = new Set([
      0,
      1,
      15,
      16,
      31,
      32,
      n - 1,
      n - 2,
      510,
      511,
      512,
      513,
      2 ** 13,
      2 ** 17 - 1,
      2 ** 17,
      2 ** 17 + 2,
    ]);
    for (let k = 0; k < 60; k++) sample.add((k * 7919 * 104729) % n);
    for (const i of [...sample].filter((i) => i < n)) {
      expect(hex(stored.path(i))).toEqual(hex(tree.auditPath(i)));
    }
  }
});

test("the stored levels, their chunks, and the tiles a path reads", () => {
  expect(storedLevels(1)).toEqual([]);
  expect(storedLevels(2)).toEqual([]); // level 1 is the root
  expect(storedLevels(3)).toEqual([1]);
  expect(storedLevels(32)).toEqual([1]); // level 5 is the root
  expect(storedLevels(33)).toEqual([1, 5]);
  expect(storedLevels(1_000_000)).toEqual([1, 5, 9, 13, 17]);
  expect(levelSize(1_000_000, 1)).toBe(500_000);
  expect(tileWidth(600, { level: 1, tile: 0 })).toBe(TILE_WIDTH);
  expect(tileWidth(600, { level: 1, tile: 18 })).toBe(300 - 18 * TILE_WIDTH);
  expect(tilePlace({ level: 5, tile: 17 })).toEqual({ level: 5, chunk: 1, at: 512 });

  const tree = MerkleTree.fromLeafHashes(leavesOf(600, 1));
  const chunks = [...treeChunks(tree)];
  expect(chunks.map(({ level, chunk, nodes }) => [level, chunk, nodes.length / 32])).toEqual([
    [1, 0, CHUNK_WIDTH],
    [1, 1, 300 - CHUNK_WIDTH],
    [5, 0, 19],
    [9, 0, 2],
  ]);
  // The stored bytes are the tree's levels, nothing else: about half a hash per leaf.
  expect(Buffer.concat(chunks.filter((c) => c.level === 1).map((c) => c.nodes))).toEqual(
    Buffer.from(tree.level(1)),
  );
  expect(pathReads(599, 600)).toEqual({
    siblingLeaf: 598,
    tiles: [
      { level: 1, tile: 18 },
      { level: 5, tile: 1 },
      { level: 9, tile: 0 },
    ],
  });
  expect(pathReads(0, 1)).toEqual({ siblingLeaf: null, tiles: [] });
  expect(pathReads(600, 601).siblingLeaf).toBe(null);
});

test("parts of the wrong shape are refused, never turned into a path", () => {
  const tree = MerkleTree.fromLeafHashes(leavesOf(600, 2));
  const { tile: slice } = store(tree);
  const leaf1 = tree.level(0).slice(32, 64);
  const tile = (level: number, n: number) => tileTree(600, { level, tile: n }, slice({ level, tile: n }));
  const good = [tile(1, 0), tile(5, 0), tile(9, 0)];
  expect(hex(auditPathFromTiles(0, 600, leaf1, good))).toEqual(hex(tree.auditPath(0)));
  expect(() => auditPathFromTiles(0, 600, null, good)).toThrow(/not the ones it needs/);
  expect(() => auditPathFromTiles(0, 600, leaf1, good.slice(0, 1))).toThrow(/not the ones it needs/);
  expect(() => auditPathFromTiles(0, 600, leaf1, [tile(1, 18), good[1]!, good[2]!])).toThrow(
    /not the ones it needs/,
  );
  const odd = MerkleTree.fromLeafHashes(leavesOf(3, 3));
  expect(() => auditPathFromTiles(2, 3, leaf1, [odd])).toThrow(/not the ones it needs/);
  expect(() => auditPathFromTiles(0, 600, leaf1.subarray(1), good)).toThrow(
    /sibling leaf is not a 32-byte hash/,
  );
  // a tile is only what the tree's layout says it is
  const nodes = slice({ level: 1, tile: 0 });
  expect(() => tileTree(600, { level: 1, tile: 0 }, nodes.subarray(32))).toThrow(
    /tile 0 of level 1 has 480 bytes/,
  );
  expect(() => tileTree(600, { level: 1, tile: 19 }, nodes)).toThrow(/tile 19 of level 1/);
  expect(() => tileTree(600, { level: 1, tile: -1 }, nodes)).toThrow(/tile -1 of level 1/);
  expect(() => tileTree(600, { level: 2, tile: 0 }, nodes)).toThrow(/tile 0 of level 2/);
  expect(() => tileTree(600, { level: 9, tile: 0 }, nodes.subarray(0, 32))).toThrow(/tile 0 of level 9/);
});
