-- Up Migration

-- Digest algorithms of record version 1 (DESIGN section 3): SHA-256 or SM3 of a file, or the
-- root of a deposit set. Part of the record, so written once with the deposit.
ALTER TABLE deposits ADD COLUMN digest_alg text NOT NULL DEFAULT 'sha256'
  CHECK (digest_alg IN ('sha256', 'sm3', 'tsd-set/1'));

-- A depositor's labels are searchable by prefix (?label=).
CREATE INDEX deposits_tenant_label ON deposits (tenant_id, label text_pattern_ops) WHERE label IS NOT NULL;

-- Depositor identities: a key two identifiers share when a person could confuse them on paper
-- (services/tenants/identity.ts). Unique, so a look-alike of an existing depositor is refused.
-- Tenants created before this migration get theirs when the next tenant is created.
ALTER TABLE tenants ADD COLUMN depositor_key text UNIQUE;

-- Webhooks: a tenant's URL that gets an HMAC-signed POST when deposits of theirs are certified.
CREATE TABLE webhooks (
  tenant_id    uuid PRIMARY KEY REFERENCES tenants (id),
  url          text NOT NULL,
  -- The HMAC-SHA256 key, shown once to the tenant; kept to sign every delivery.
  secret       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- One delivery per (tenant, attestation): recorded in the attest step's transaction, sent by
-- its own queue, so a slow or dead endpoint never holds up the pipeline.
CREATE TABLE webhook_deliveries (
  id             bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  attestation_id bigint NOT NULL REFERENCES attestations (id),
  attempts       integer NOT NULL DEFAULT 0,
  delivered_at   timestamptz,
  last_error     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, attestation_id)
);
CREATE INDEX webhook_deliveries_undelivered ON webhook_deliveries (id) WHERE delivered_at IS NULL;

-- Down Migration
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
ALTER TABLE tenants DROP COLUMN depositor_key;
DROP INDEX deposits_tenant_label;
ALTER TABLE deposits DROP COLUMN digest_alg;
