-- Up Migration

-- Tenants are the depositing enterprises. depositor is the public identifier written into every
-- deposit record; each deposit keeps its own copy, so a record never changes under a leaf.
CREATE TABLE tenants (
  id          uuid PRIMARY KEY,
  name        text NOT NULL,
  depositor   text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 of the whole key: keys are 256-bit random, so a fast hash
-- is enough and lookups stay one index probe.
CREATE TABLE api_keys (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  key_hash    bytea NOT NULL UNIQUE,
  prefix      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- One row per sealed batch. state is the batch's place in the flow; the anchor columns are
-- filled by the anchor job, the attestation lives in its own table.
CREATE TABLE batches (
  id               bigint PRIMARY KEY,
  tree_size        integer NOT NULL CHECK (tree_size > 0),
  root             bytea NOT NULL UNIQUE CHECK (length(root) = 32),
  state            text NOT NULL CHECK (state IN ('sealed', 'anchored', 'certified')),
  sealed_at        timestamptz NOT NULL DEFAULT now(),
  chain_id         bigint,
  registry         text,
  tx_hash          bytea,
  block_number     bigint,
  block_hash       bytea,
  block_timestamp  bigint,
  anchored_at      timestamptz,
  certified_at     timestamptz,
  -- Set when anchoring met something retrying cannot mend (the root on chain under other
  -- data); the sweeper leaves the batch alone until an operator clears it.
  blocked_reason   text,
  CHECK (state = 'sealed' OR (tx_hash IS NOT NULL AND block_hash IS NOT NULL AND block_number IS NOT NULL
                              AND block_timestamp IS NOT NULL AND chain_id IS NOT NULL AND registry IS NOT NULL))
);
CREATE SEQUENCE batches_id_seq START 1 OWNED BY batches.id;
-- The sweeper and the reconciler look only at unfinished or recent batches.
CREATE INDEX batches_unfinished ON batches (id) WHERE state <> 'certified';
CREATE INDEX batches_block ON batches (block_number DESC) WHERE block_number IS NOT NULL;

-- Deposits: the source of truth for everything accepted, written once and never updated
-- (evidence should not change, and a million-row UPDATE per batch would dominate sealing).
-- The record of DESIGN section 3 is (id, depositor, digest, salt, received_at, prev);
-- leaf_hash is kept so sealing never re-serialises a million records.
CREATE TABLE deposits (
  id               uuid PRIMARY KEY,
  seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  depositor        text NOT NULL,
  digest           bytea NOT NULL CHECK (length(digest) = 32),
  salt             bytea NOT NULL CHECK (length(salt) = 32),
  received_at      bigint NOT NULL,
  prev             uuid,
  label            text,
  idempotency_key  text,
  leaf_hash        bytea NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE INDEX deposits_tenant_seq ON deposits (tenant_id, seq);
CREATE INDEX deposits_tenant_digest ON deposits (tenant_id, digest);
CREATE UNIQUE INDEX deposits_idempotency ON deposits (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Deposits waiting for a batch: a narrow queue, written with the deposit in one statement
-- and emptied by the seal job in the transaction that writes the batch.
CREATE TABLE pending (
  seq        bigint PRIMARY KEY,
  leaf_hash  bytea NOT NULL
);

-- A deposit's place in its batch and its audit path: every path of a batch, computed in one
-- pass by the seal job and written with binary COPY (the concatenated 32-byte nodes, leaf
-- sibling first). One row per leaf, never one value per batch. No foreign keys here: rows
-- come a million at a time, in the same transaction as their batch and the pending rows
-- they replace.
CREATE TABLE proofs (
  batch_id     bigint NOT NULL,
  leaf_index   integer NOT NULL,
  deposit_seq  bigint NOT NULL UNIQUE,
  audit_path   bytea NOT NULL CHECK (length(audit_path) % 32 = 0),
  PRIMARY KEY (batch_id, leaf_index)
);

-- Every attestation ever signed: the anchor it attests (copied, so a row is the complete
-- signed message even if the chain later loses that block), the certifier and the signature.
-- Certificates use the current one; one a lost block made obsolete stays, as history.
CREATE TABLE attestations (
  id               bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  batch_id         bigint NOT NULL REFERENCES batches (id),
  chain_id         bigint NOT NULL,
  registry         text NOT NULL,
  tx_hash          bytea NOT NULL,
  block_number     bigint NOT NULL,
  block_hash       bytea NOT NULL,
  block_timestamp  bigint NOT NULL,
  signer           text NOT NULL,
  signature        bytea NOT NULL CHECK (length(signature) = 65),
  issued_at        bigint NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  current          boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX attestations_current ON attestations (batch_id) WHERE current;

-- Anchoring transactions, recorded (signed, with their nonce) before they are sent, so a
-- crash between signing and sending loses nothing and a retry re-sends the same bytes.
CREATE TABLE anchor_attempts (
  id          bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  batch_id    bigint NOT NULL REFERENCES batches (id),
  chain_id    bigint NOT NULL,
  sender      text NOT NULL,
  nonce       bigint NOT NULL,
  tx_hash     bytea NOT NULL,
  raw_tx      bytea NOT NULL,
  state       text NOT NULL DEFAULT 'sent' CHECK (state IN ('sent', 'replaced', 'mined', 'reverted', 'dropped')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  settled_at  timestamptz
);
-- No two transactions in flight with one nonce. Settled attempts keep their nonce for the
-- record, and a chain that rolled back may hand the same nonce out again.
CREATE UNIQUE INDEX anchor_attempts_nonce ON anchor_attempts (chain_id, sender, nonce) WHERE state = 'sent';
-- A chain that rolled back can make the same signed bytes (same nonce, data and fees) valid
-- again, so a tx hash may recur in history; only in flight must it be unique.
CREATE UNIQUE INDEX anchor_attempts_tx ON anchor_attempts (tx_hash) WHERE state = 'sent';
CREATE INDEX anchor_attempts_batch ON anchor_attempts (batch_id);
-- At most one transaction in flight per batch: a second worker re-sends it instead of signing another.
CREATE UNIQUE INDEX anchor_attempts_live ON anchor_attempts (batch_id) WHERE state = 'sent';

-- Down Migration
DROP TABLE anchor_attempts;
DROP TABLE attestations;
DROP TABLE proofs;
DROP TABLE pending;
DROP TABLE deposits;
DROP TABLE batches;
DROP TABLE api_keys;
DROP TABLE tenants;
