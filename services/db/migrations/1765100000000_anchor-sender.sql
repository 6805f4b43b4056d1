-- Up Migration

-- One sender per anchoring key: a pass of the sender holds this lease (per chain) while it
-- runs, so two processes never decide nonces and replacements at the same time. A lease whose
-- time ran out (its holder died) is taken over.
CREATE TABLE anchor_sender (
  chain_id  bigint PRIMARY KEY,
  holder    text NOT NULL,
  until     timestamptz NOT NULL
);

-- A transaction signed by a key no longer in use, stuck unmined: given up, its batch signed
-- anew by the current key.
ALTER TABLE anchor_attempts DROP CONSTRAINT anchor_attempts_state_check;
ALTER TABLE anchor_attempts ADD CONSTRAINT anchor_attempts_state_check
  CHECK (state IN ('sent', 'replaced', 'mined', 'reverted', 'dropped', 'abandoned'));

-- Down Migration
ALTER TABLE anchor_attempts DROP CONSTRAINT anchor_attempts_state_check;
ALTER TABLE anchor_attempts ADD CONSTRAINT anchor_attempts_state_check
  CHECK (state IN ('sent', 'replaced', 'mined', 'reverted', 'dropped'));
DROP TABLE anchor_sender;
