-- Up Migration

-- The service's role (issue: nothing lost, nobody let in). Migrations run as the database's
-- owner; the service's connections take this role (`-c role=tsd_service`), so whatever the
-- login, the running service may INSERT and SELECT deposits but never UPDATE or DELETE them:
-- evidence is written once, by rule of the database, not only by habit of the code. The same
-- holds for the audit trail. A production login role is made a member: GRANT tsd_service TO <login>.
DO $$
BEGIN
  CREATE ROLE tsd_service NOLOGIN;
EXCEPTION
  -- roles belong to the whole cluster: another database (or a migration running beside this
  -- one) made it already
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- Administrative actions (tenants, keys, webhooks, pause, rotation, redrive, unblock), written
-- by the operator CLI: who, when, what, on what.
CREATE TABLE audit (
  id       bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,
  action   text NOT NULL,
  subject  text,
  details  jsonb NOT NULL DEFAULT '{}'
);

-- Secrets the service keeps for itself, e.g. the key that makes list cursors opaque.
CREATE TABLE service_secrets (
  name   text PRIMARY KEY,
  value  bytea NOT NULL CHECK (length(value) >= 32)
);
INSERT INTO service_secrets (name, value)
VALUES ('cursor', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

GRANT USAGE ON SCHEMA public TO tsd_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tsd_service;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO tsd_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tsd_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO tsd_service;
REVOKE UPDATE, DELETE, TRUNCATE ON deposits, audit FROM tsd_service;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON service_secrets FROM tsd_service;
REVOKE ALL ON pgmigrations FROM tsd_service;

-- Down Migration
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tsd_service;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM tsd_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM tsd_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM tsd_service;
REVOKE USAGE ON SCHEMA public FROM tsd_service;
DROP TABLE service_secrets;
DROP TABLE audit;
