-- Least-privileged database roles, one per kind of service, and FORCE ROW LEVEL SECURITY on every
-- tenant table (issue #9). Until now every service connected as the cluster superuser, so a query
-- that forgot withOrgScope saw every organisation. Roles (cluster-wide, NOLOGIN here; provisioning
-- makes them LOGIN, with a password in production: packages/persistence/src/roles.ts):
--
--   intellifin_owner      owns the schema; migrations only (the runner does SET ROLE to it for
--                         migrations after this one). BYPASSRLS so that data migrations see every
--                         row while acting as it; a login that merely inherits from it does not.
--   intellifin_worker     the provider workers (mono, momo, airtel): a sync run's writes.
--   intellifin_scheduler  the scheduler: plans, leadership, pending syncs, retention deletes.
--   intellifin_api        the sync API (since 0002): org-scoped through app.org_id, no credentials.
--
-- This migration creates roles and changes ownership, so it runs as the connecting (super)user.
DO $$
BEGIN
  CREATE ROLE intellifin_owner NOLOGIN BYPASSRLS;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;  -- roles are cluster-wide; another database made it
END
$$;
DO $$
BEGIN
  CREATE ROLE intellifin_worker NOLOGIN;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
  CREATE ROLE intellifin_scheduler NOLOGIN;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- The owner creates the schema's objects; nobody else may (PUBLIC had CREATE before Postgres 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO intellifin_owner;
GRANT USAGE ON SCHEMA public TO intellifin_worker, intellifin_scheduler, intellifin_api;

ALTER TABLE organizations OWNER TO intellifin_owner;
ALTER TABLE users OWNER TO intellifin_owner;
ALTER TABLE provider_credentials OWNER TO intellifin_owner;
ALTER TABLE accounts OWNER TO intellifin_owner;
ALTER TABLE transactions OWNER TO intellifin_owner;  -- with its identity sequence
ALTER SEQUENCE transactions_change_seq OWNER TO intellifin_owner;
ALTER TABLE sync_runs OWNER TO intellifin_owner;
ALTER TABLE sync_schedules OWNER TO intellifin_owner;
ALTER TABLE notifications OWNER TO intellifin_owner;
ALTER TABLE webhook_events OWNER TO intellifin_owner;
ALTER TABLE scheduler_leader OWNER TO intellifin_owner;
ALTER TABLE scheduler_slots OWNER TO intellifin_owner;
ALTER TABLE sync_due OWNER TO intellifin_owner;

-- Every table with organisation-owned rows: row-level security applies even to the owner.
-- (webhook_events has no org column yet: with RLS on, only roles with a policy read it at all.)
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE scheduler_slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
ALTER TABLE provider_credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE transactions FORCE ROW LEVEL SECURITY;
ALTER TABLE sync_runs FORCE ROW LEVEL SECURITY;
ALTER TABLE sync_schedules FORCE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
ALTER TABLE scheduler_slots FORCE ROW LEVEL SECURITY;
ALTER TABLE sync_due FORCE ROW LEVEL SECURITY;

-- intellifin_worker: the sync engine's run lifecycle (persistence run-lifecycle.repo.ts) and the
-- account read before a run. A run belongs to whichever organisation owns the account in the
-- command, so the worker processes every organisation BY DESIGN: its policies below are
-- permissive on purpose, and the grants are what limit it.
GRANT SELECT ON accounts TO intellifin_worker;
GRANT UPDATE (fence, last_attempt_at, updated_at, cursor, status, last_success_at, consecutive_failures, last_error_code, last_error,
              reauth_url, reauth_url_expires_at, cancel_requested_at, balance_minor, balance_as_of)
  ON accounts TO intellifin_worker;
GRANT SELECT, INSERT, UPDATE ON transactions TO intellifin_worker;
GRANT USAGE ON SEQUENCE transactions_change_seq TO intellifin_worker;
GRANT SELECT, INSERT, UPDATE ON sync_runs TO intellifin_worker;
-- MoMo and Airtel workers decrypt their merchant's credentials and store refreshed tokens
-- (ARCHITECTURE §4; credentials.repo.ts readCredential / updateCredential). Never insert or delete.
GRANT SELECT ON provider_credentials TO intellifin_worker;
GRANT UPDATE (key_id, nonce, ciphertext, version, updated_at, expires_at) ON provider_credentials TO intellifin_worker;

CREATE POLICY worker_all_orgs ON accounts TO intellifin_worker USING (true) WITH CHECK (true);
CREATE POLICY worker_all_orgs ON transactions TO intellifin_worker USING (true) WITH CHECK (true);
CREATE POLICY worker_all_orgs ON sync_runs TO intellifin_worker USING (true) WITH CHECK (true);
CREATE POLICY worker_all_orgs ON provider_credentials TO intellifin_worker USING (true) WITH CHECK (true);

-- intellifin_scheduler: plans every organisation's accounts BY DESIGN (permissive policies below).
-- Reads plans and accounts; owns the pending-sync queue, its leadership and slot state; deletes
-- old runs and processed webhook events (maintenance). Writes no account, run or transaction.
GRANT SELECT ON accounts, sync_schedules TO intellifin_scheduler;
GRANT SELECT, INSERT, UPDATE, DELETE ON sync_due TO intellifin_scheduler;
GRANT SELECT, INSERT, UPDATE ON scheduler_leader, scheduler_slots TO intellifin_scheduler;
GRANT SELECT, DELETE ON sync_runs, webhook_events TO intellifin_scheduler;

CREATE POLICY scheduler_all_orgs ON accounts FOR SELECT TO intellifin_scheduler USING (true);
CREATE POLICY scheduler_all_orgs ON sync_schedules FOR SELECT TO intellifin_scheduler USING (true);
CREATE POLICY scheduler_all_orgs ON sync_due TO intellifin_scheduler USING (true) WITH CHECK (true);
CREATE POLICY scheduler_all_orgs ON scheduler_slots TO intellifin_scheduler USING (true) WITH CHECK (true);
CREATE POLICY scheduler_retention ON sync_runs TO intellifin_scheduler USING (true);
CREATE POLICY scheduler_retention ON webhook_events TO intellifin_scheduler USING (true);

-- ANALYZE needs the table's owner (Postgres 15 has no MAINTAIN privilege): the scheduler refreshes
-- the statistics of sync_due after a large marking pass through this owner-run function.
CREATE FUNCTION analyze_sync_due() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  ANALYZE public.sync_due;
END
$$;
ALTER FUNCTION analyze_sync_due() OWNER TO intellifin_owner;
REVOKE ALL ON FUNCTION analyze_sync_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_sync_due() TO intellifin_scheduler;

-- intellifin_api keeps its 0002/0005/0006 grants and org-scoped policies; it has no grant and no
-- policy on provider_credentials, webhook_events, scheduler_* (never reads secrets or internals).
