-- Up Migration

-- Operator controls (`tsd admin`, issue 11).

-- Anchoring paused by an operator (`tsd admin pause`): while the row exists, the anchor sender
-- sends no new transaction (what is in flight is still followed to its end). One row at most.
CREATE TABLE anchoring_pause (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  since      timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  reason     text
);

-- The anchoring and certifier keys the workers must use, by address, once an operator rotated
-- one (`tsd admin anchorer|certifier rotate`). Without a row, the configured key is the one.
-- A worker whose key differs waits instead of signing: a key about to be retired or revoked
-- never signs after the switch. The private keys are never stored here.
CREATE TABLE keys_in_use (
  role     text PRIMARY KEY CHECK (role IN ('anchorer', 'certifier')),
  address  text NOT NULL CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
  since    timestamptz NOT NULL DEFAULT now()
);

-- A disabled tenant's API keys are refused (403 TENANT_DISABLED); its deposits and
-- certificates stay as they are, and verifiable.
ALTER TABLE tenants ADD COLUMN disabled_at timestamptz;

-- Down Migration
ALTER TABLE tenants DROP COLUMN disabled_at;
DROP TABLE keys_in_use;
DROP TABLE anchoring_pause;
