import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import type { MerkleTree } from "../core";
import { BinaryCopyWriter } from "../db/binary-copy";
import type { DbClient, Queryable } from "../db/pool";
import {
  CHUNK_WIDTH,
  TILE_HEIGHT,
  TILE_WIDTH,
  auditPathFromTiles,
  pathReads,
  tilePlace,
  tileTree,
  tileWidth,
  treeChunks,
  type TileId,
} from "./tiles";

// A batch's tree in PostgreSQL (tiles.ts says which nodes): table tree_levels, written once
// by the seal, and each deposit's place in its batch in proofs (batch, leaf index, deposit
// seq). Audit paths are computed on request from the leaf's sibling and a few tiles, each a
// slice of a stored chunk (its bytes are stored uncompressed, so PostgreSQL reads only the slice).

/** Writes the stored levels of batch `batchId`'s tree by binary COPY, in the caller's transaction. */
export async function storeTree(client: DbClient, batchId: number, tree: MerkleTree): Promise<void> {
  await pipeline(
    Readable.from(levelRows(batchId, tree)),
    client.query(copyFrom("COPY tree_levels (batch_id, level, chunk, nodes) FROM STDIN (FORMAT binary)")),
  );
}

function* levelRows(batchId: number, tree: MerkleTree): Generator<Buffer> {
  const rows = new BinaryCopyWriter();
  for (const { level, chunk, nodes } of treeChunks(tree)) {
    rows
      .row(4, 12 + 6 + 8 + 4 + CHUNK_WIDTH * 32)
      .int8(batchId)
      .int2(level)
      .int4(chunk)
      .bytea(nodes);
    yield* rows.take();
  }
  yield* rows.end();
}

/**
 * SQL joins that give a query's row what the audit path of one leaf reads, in the same
 * statement: `path_tiles` (the tiles of pathReads, concatenated in order), `path_sibling` and
 * `path_sibling_index` (the sibling leaf's hash and index; null when it has none). The
 * arguments are the query's SQL expressions for the leaf's batch, index and seq and the
 * batch's tree size. auditPathOfRow turns them into the path, checking their shape.
 */
export function pathPartsJoins(q: { batch: string; leaf: string; seq: string; size: string }): string {
  const tileBytes = TILE_WIDTH * 32;
  return `LEFT JOIN LATERAL (
       SELECT string_agg(substring(t.nodes FROM ((${q.leaf} >> l) / ${TILE_WIDTH}) % ${CHUNK_WIDTH / TILE_WIDTH} * ${tileBytes} + 1
                                   FOR ${tileBytes}), ''::bytea ORDER BY l) AS path_tiles
         FROM generate_series(1, 31, ${TILE_HEIGHT}) AS l
         JOIN tree_levels t ON t.batch_id = ${q.batch} AND t.level = l AND t.chunk = (${q.leaf} >> l) / ${CHUNK_WIDTH}
        WHERE (${q.size} - 1) >> l > 0
     ) AS path_tiles ON true
     LEFT JOIN LATERAL (
       SELECT s.leaf_index AS path_sibling_index, sd.leaf_hash AS path_sibling
         FROM ((SELECT q.deposit_seq, q.leaf_index FROM proofs q
                 WHERE ${q.leaf} % 2 = 0 AND ${q.leaf} + 1 < ${q.size} AND q.deposit_seq > ${q.seq} AND q.batch_id = ${q.batch}
                 ORDER BY q.deposit_seq LIMIT 1)
               UNION ALL
               (SELECT q.deposit_seq, q.leaf_index FROM proofs q
                 WHERE ${q.leaf} % 2 = 1 AND q.deposit_seq < ${q.seq} AND q.batch_id = ${q.batch}
                 ORDER BY q.deposit_seq DESC LIMIT 1)) AS s
         JOIN deposits sd ON sd.seq = s.deposit_seq
     ) AS path_sibling ON true`;
}

/** The columns pathPartsJoins adds to a row. */
export interface PathPartsRow {
  path_tiles: Buffer | null;
  path_sibling: Buffer | null;
  path_sibling_index: number | null;
}

/** The audit path of leaf `index` of a tree of `size` leaves from a row's pathPartsJoins columns. */
export function auditPathOfRow(index: number, size: number, row: PathPartsRow): Uint8Array[] {
  const reads = pathReads(index, size);
  if (row.path_sibling_index !== reads.siblingLeaf) {
    throw new Error(`leaf ${index} of ${size}: the deposit next to it is leaf ${row.path_sibling_index}`);
  }
  const tiles = row.path_tiles ?? Buffer.alloc(0);
  let at = 0;
  const trees = reads.tiles.map((id) => {
    const nodes = tiles.subarray(at, at + tileWidth(size, id) * 32);
    at += nodes.length;
    return tileTree(size, id, nodes);
  });
  if (at !== tiles.length) throw new Error(`leaf ${index} of ${size}: its tiles are not the tree's`);
  return auditPathFromTiles(index, size, row.path_sibling, trees);
}

/** A leaf of a batch: its deposit's seq and its index in the tree. */
export interface BatchLeaf {
  seq: number;
  index: number;
}

/**
 * The RFC 9162 audit paths of `leaves` of a batch of `treeSize` leaves, in the order given,
 * from its stored tree: one statement whatever the number of leaves.
 */
export async function storedAuditPaths(
  db: Queryable,
  batch: { id: number; treeSize: number },
  leaves: readonly BatchLeaf[],
): Promise<Uint8Array[][]> {
  const reads = leaves.map((leaf) => pathReads(leaf.index, batch.treeSize));
  const tiles = new Map<string, TileId>();
  for (const { tiles: ids } of reads) for (const id of ids) tiles.set(tileKey(id), id);
  const { stored, siblings } = await readParts(
    db,
    batch.id,
    [...tiles.values()],
    leaves.filter((_, k) => reads[k]?.siblingLeaf !== null),
  );
  // Each tile's subtree is hashed once, however many of the leaves read it.
  const trees = new Map(
    [...tiles].flatMap(([key, id]) => {
      const nodes = stored.get(key);
      return nodes === undefined ? [] : [[key, tileTree(batch.treeSize, id, nodes)] as const];
    }),
  );
  return leaves.map((leaf, k) => {
    const read = reads[k] as ReturnType<typeof pathReads>;
    return auditPathFromTiles(
      leaf.index,
      batch.treeSize,
      read.siblingLeaf === null
        ? null
        : required(siblings.get(leaf.seq), `the sibling of leaf ${leaf.index}`),
      read.tiles.map((id) => required(trees.get(tileKey(id)), `tile ${id.tile} of level ${id.level}`)),
    );
  });
}

function tileKey({ level, tile }: TileId): string {
  return `${level}:${tile}`;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the stored tree lacks ${what}`);
  return value;
}

/**
 * The nodes of tiles `ids` of batch `batchId`, and the leaf hash of each leaf's sibling by the leaf's
 * seq. Leaf order is seq order, so the sibling of an even leaf is the batch's next deposit by
 * seq and that of an odd one the previous: one step along the proofs key (deposits of other
 * batches in between are rare). Each LIMIT keeps a lookup one probe of a key, whatever the
 * planner guesses of the lists.
 */
async function readParts(
  db: Queryable,
  batchId: number,
  ids: readonly TileId[],
  leaves: readonly BatchLeaf[],
): Promise<{ stored: Map<string, Buffer>; siblings: Map<number, Buffer> }> {
  const { rows } = await db.query<{
    level: number;
    tile: number;
    bytes: Buffer;
    seq: number | null;
    index: number;
    leaf_index: number;
  }>(
    `SELECT w.level, w.tile, t.bytes, NULL::bigint AS seq, NULL::integer AS index, NULL::integer AS leaf_index
       FROM unnest($2::smallint[], $3::integer[], $4::integer[], $5::integer[]) AS w (level, tile, chunk, at)
       CROSS JOIN LATERAL (
         SELECT substring(nodes FROM w.at + 1 FOR ${TILE_WIDTH * 32}) AS bytes FROM tree_levels
          WHERE batch_id = $1 AND level = w.level AND chunk = w.chunk LIMIT 1
       ) AS t
     UNION ALL
     SELECT NULL, NULL, d.leaf_hash, x.seq, x.index, s.leaf_index
       FROM unnest($6::bigint[], $7::integer[]) AS x (seq, index)
       CROSS JOIN LATERAL (
         (SELECT p.deposit_seq, p.leaf_index FROM proofs p
           WHERE x.index % 2 = 0 AND p.deposit_seq > x.seq AND p.batch_id = $1
           ORDER BY p.deposit_seq LIMIT 1)
         UNION ALL
         (SELECT p.deposit_seq, p.leaf_index FROM proofs p
           WHERE x.index % 2 = 1 AND p.deposit_seq < x.seq AND p.batch_id = $1
           ORDER BY p.deposit_seq DESC LIMIT 1)
       ) AS s
       JOIN deposits d ON d.seq = s.deposit_seq`,
    [
      batchId,
      ids.map((id) => id.level),
      ids.map((id) => id.tile),
      ids.map((id) => tilePlace(id).chunk),
      ids.map((id) => tilePlace(id).at),
      leaves.map((l) => l.seq),
      leaves.map((l) => l.index),
    ],
  );
  const stored = new Map<string, Buffer>();
  const siblings = new Map<number, Buffer>();
  for (const r of rows) {
    if (r.seq === null) {
      stored.set(tileKey(r), r.bytes);
    } else if (r.leaf_index === (r.index % 2 === 0 ? r.index + 1 : r.index - 1)) {
      siblings.set(r.seq, r.bytes);
    } else {
      throw new Error(`batch ${batchId}: the deposit next to leaf ${r.index} is leaf ${r.leaf_index}`);
    }
  }
  return { stored, siblings };
}
