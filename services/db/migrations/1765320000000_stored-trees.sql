-- Up Migration

-- Proof storage in O(n) (docs/decisions.md, "Proof storage"; services/seal/tiles.ts): each
-- batch's tree is stored once, as levels read by tiles, and a deposit keeps only its place in its batch;
-- audit paths are computed on request, exactly the bytes that were stored per leaf before.

-- The stored levels of each batch's tree (1, 5, 9, ... below the root), each in chunks of up
-- to 256 consecutive nodes: nodes 256 × chunk onwards. Level 0 is the deposits' own
-- leaf_hash, the root the batch's. Written once, by COPY, with the batch; no foreign keys, as
-- for proofs.
CREATE TABLE tree_levels (
  batch_id  bigint NOT NULL,
  level     smallint NOT NULL CHECK (level % 4 = 1),
  chunk     integer NOT NULL CHECK (chunk >= 0),
  nodes     bytea NOT NULL CHECK (length(nodes) BETWEEN 32 AND 8192 AND length(nodes) % 32 = 0),
  PRIMARY KEY (batch_id, level, chunk)
);
-- Hashes do not compress: kept out of line as they are, so a reader's slice of a chunk (a
-- tile of 16 nodes) reads only the part of the chunk it needs.
ALTER TABLE tree_levels ALTER COLUMN nodes SET STORAGE EXTERNAL;

-- The seqs of a batch's first and last leaves (leaf order is seq order): its deposits lie in
-- between, so a tenant's deposits of a batch are one range of the (tenant_id, seq) index.
ALTER TABLE batches ADD COLUMN first_seq bigint, ADD COLUMN last_seq bigint;

-- Every level of one batch's tree, rebuilt from its leaves as the seal builds it: pairs
-- hashed behind 0x01, a level's odd last node promoted unchanged. Returns the root's level.
-- A million leaves make two million nodes: kept in memory while they fit.
SET LOCAL temp_buffers = '256MB';
CREATE TEMPORARY TABLE rebuilt_nodes (
  level  smallint NOT NULL,
  idx    integer NOT NULL,
  hash   bytea NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE FUNCTION pg_temp.rebuild_tree(batch bigint, tree_size integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  height integer := 0;
  nodes integer;
BEGIN
  TRUNCATE rebuilt_nodes;
  INSERT INTO rebuilt_nodes (level, idx, hash)
  SELECT 0, p.leaf_index, d.leaf_hash FROM proofs p JOIN deposits d ON d.seq = p.deposit_seq
   WHERE p.batch_id = batch;
  GET DIAGNOSTICS nodes = ROW_COUNT;
  IF nodes <> tree_size OR EXISTS (SELECT 1 FROM rebuilt_nodes WHERE idx >= tree_size) THEN
    RAISE EXCEPTION 'batch %: % leaves with proofs, not leaves 0 to % of its tree', batch, nodes, tree_size - 1;
  END IF;
  WHILE nodes > 1 LOOP
    INSERT INTO rebuilt_nodes (level, idx, hash)
    SELECT height + 1, parent, CASE WHEN children = 2 THEN sha256('\x01'::bytea || pair) ELSE pair END
      FROM (SELECT idx / 2 AS parent, count(*) AS children, string_agg(hash, ''::bytea ORDER BY idx) AS pair
              FROM rebuilt_nodes WHERE level = height GROUP BY idx / 2) AS pairs;
    height := height + 1;
    nodes := (nodes + 1) / 2;
  END LOOP;
  RETURN height;
END
$$;
-- The audit path of leaf `leaf` in the tree in rebuilt_nodes: each level's sibling, if any, leaf
-- sibling first (one probe of the key per level).
CREATE FUNCTION pg_temp.audit_path(leaf integer, height integer) RETURNS bytea
LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(s.hash, ''::bytea ORDER BY l), ''::bytea)
    FROM generate_series(0, height - 1) AS l
    JOIN rebuilt_nodes s ON s.level = l AND s.idx = (leaf >> l) # 1
$$;

-- Each batch's stored levels, from its tree, once its tree gives the stored root and every stored path
-- again; anything else stops the migration (and rolls it back) before a path is dropped.
DO $$
DECLARE
  b record;
  height integer;
  wrong bigint;
BEGIN
  FOR b IN SELECT id, tree_size, root FROM batches ORDER BY id LOOP
    height := pg_temp.rebuild_tree(b.id, b.tree_size);
    IF (SELECT hash FROM rebuilt_nodes WHERE level = height) IS DISTINCT FROM b.root THEN
      RAISE EXCEPTION 'batch %: its leaves do not give its root', b.id;
    END IF;
    SELECT count(*) INTO wrong FROM proofs p
     WHERE p.batch_id = b.id
       AND p.audit_path IS DISTINCT FROM pg_temp.audit_path(p.leaf_index, height);
    IF wrong > 0 THEN
      RAISE EXCEPTION 'batch %: % stored audit paths differ from its tree''s', b.id, wrong;
    END IF;
    INSERT INTO tree_levels (batch_id, level, chunk, nodes)
    SELECT b.id, level, idx / 256, string_agg(hash, ''::bytea ORDER BY idx)
      FROM rebuilt_nodes WHERE level % 4 = 1 AND level < height GROUP BY level, idx / 256;
    UPDATE batches SET (first_seq, last_seq) = (SELECT min(deposit_seq), max(deposit_seq) FROM proofs WHERE batch_id = b.id)
     WHERE id = b.id;
  END LOOP;
END
$$;

DROP FUNCTION pg_temp.audit_path;
DROP FUNCTION pg_temp.rebuild_tree;
DROP TABLE rebuilt_nodes;

-- proofs without the paths, rewritten (dropping a column frees no space), keyed by deposit:
-- a batch's leaves are found from its seq range.
CREATE TABLE proofs_placed (
  batch_id     bigint NOT NULL,
  leaf_index   integer NOT NULL,
  deposit_seq  bigint NOT NULL PRIMARY KEY
);
INSERT INTO proofs_placed (batch_id, leaf_index, deposit_seq)
SELECT batch_id, leaf_index, deposit_seq FROM proofs ORDER BY deposit_seq;
DROP TABLE proofs;
ALTER TABLE proofs_placed RENAME TO proofs;
ALTER INDEX proofs_placed_pkey RENAME TO proofs_pkey;

-- Written once with their batch, like deposits: the service may add, never change.
GRANT SELECT, INSERT ON proofs, tree_levels TO tsd_service;
REVOKE UPDATE, DELETE, TRUNCATE ON proofs, tree_levels FROM tsd_service;

-- Down Migration

-- Every audit path again, from each batch's leaves (its tree rebuilt as the up migration does).
SET LOCAL temp_buffers = '256MB';
CREATE TEMPORARY TABLE rebuilt_nodes (
  level  smallint NOT NULL,
  idx    integer NOT NULL,
  hash   bytea NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE FUNCTION pg_temp.rebuild_tree(batch bigint, tree_size integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  height integer := 0;
  nodes integer;
BEGIN
  TRUNCATE rebuilt_nodes;
  INSERT INTO rebuilt_nodes (level, idx, hash)
  SELECT 0, p.leaf_index, d.leaf_hash FROM proofs p JOIN deposits d ON d.seq = p.deposit_seq
   WHERE p.batch_id = batch;
  GET DIAGNOSTICS nodes = ROW_COUNT;
  WHILE nodes > 1 LOOP
    INSERT INTO rebuilt_nodes (level, idx, hash)
    SELECT height + 1, parent, CASE WHEN children = 2 THEN sha256('\x01'::bytea || pair) ELSE pair END
      FROM (SELECT idx / 2 AS parent, count(*) AS children, string_agg(hash, ''::bytea ORDER BY idx) AS pair
              FROM rebuilt_nodes WHERE level = height GROUP BY idx / 2) AS pairs;
    height := height + 1;
    nodes := (nodes + 1) / 2;
  END LOOP;
  RETURN height;
END
$$;
-- The audit path of leaf `leaf` in the tree in rebuilt_nodes: each level's sibling, if any, leaf
-- sibling first (one probe of the key per level).
CREATE FUNCTION pg_temp.audit_path(leaf integer, height integer) RETURNS bytea
LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(s.hash, ''::bytea ORDER BY l), ''::bytea)
    FROM generate_series(0, height - 1) AS l
    JOIN rebuilt_nodes s ON s.level = l AND s.idx = (leaf >> l) # 1
$$;

CREATE TABLE proofs_with_paths (
  batch_id     bigint NOT NULL,
  leaf_index   integer NOT NULL,
  deposit_seq  bigint NOT NULL UNIQUE,
  audit_path   bytea NOT NULL CHECK (length(audit_path) % 32 = 0),
  PRIMARY KEY (batch_id, leaf_index)
);
DO $$
DECLARE
  b record;
  height integer;
BEGIN
  FOR b IN SELECT id, tree_size FROM batches ORDER BY id LOOP
    height := pg_temp.rebuild_tree(b.id, b.tree_size);
    INSERT INTO proofs_with_paths (batch_id, leaf_index, deposit_seq, audit_path)
    SELECT p.batch_id, p.leaf_index, p.deposit_seq,
pg_temp.audit_path(p.leaf_index, height)
      FROM proofs p WHERE p.batch_id = b.id ORDER BY p.leaf_index;
  END LOOP;
END
$$;
DROP FUNCTION pg_temp.audit_path;
DROP FUNCTION pg_temp.rebuild_tree;
DROP TABLE rebuilt_nodes;
DROP TABLE proofs;
ALTER TABLE proofs_with_paths RENAME TO proofs;
ALTER INDEX proofs_with_paths_pkey RENAME TO proofs_pkey;
ALTER INDEX proofs_with_paths_deposit_seq_key RENAME TO proofs_deposit_seq_key;
GRANT SELECT, INSERT, UPDATE, DELETE ON proofs TO tsd_service;

ALTER TABLE batches DROP COLUMN last_seq, DROP COLUMN first_seq;
DROP TABLE tree_levels;
