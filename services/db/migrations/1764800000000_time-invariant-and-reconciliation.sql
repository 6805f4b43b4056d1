-- Up Migration

-- The time invariant (a certificate never carries a record received after its anchor block's
-- time): the seal takes only deposits received before the current second began, so the
-- pending queue carries each deposit's receivedAt, and each batch remembers its latest one
-- for the attest step's last check.
ALTER TABLE pending ADD COLUMN received_at bigint;
UPDATE pending p SET received_at = d.received_at FROM deposits d WHERE d.seq = p.seq;
ALTER TABLE pending ALTER COLUMN received_at SET NOT NULL;

ALTER TABLE batches ADD COLUMN received_until bigint;
UPDATE batches b SET received_until = (
  SELECT max(d.received_at) FROM proofs p JOIN deposits d ON d.seq = p.deposit_seq WHERE p.batch_id = b.id
);
ALTER TABLE batches ALTER COLUMN received_until SET NOT NULL;

-- Reconciliation re-checks every recorded anchor of the last RECONCILE_WINDOW_MS against the
-- chain. A block above the node's head is "missing": the node may be behind, or the chain may
-- have lost it; this is when it was first seen missing, for the grace before it counts as lost.
ALTER TABLE batches ADD COLUMN chain_missing_since timestamptz;
CREATE INDEX batches_anchored_at ON batches (anchored_at) WHERE block_number IS NOT NULL;

-- Down Migration
DROP INDEX batches_anchored_at;
ALTER TABLE batches DROP COLUMN chain_missing_since;
ALTER TABLE batches DROP COLUMN received_until;
ALTER TABLE pending DROP COLUMN received_at;
