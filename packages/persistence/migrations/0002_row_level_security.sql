-- Tenancy for the API's database role: `intellifin_api` sees only rows of the organisation named
-- by the transaction-local setting `app.org_id` (set by withOrgScope). Workers and the scheduler
-- connect as the owning role, which row-level security does not restrict.
DO $$
BEGIN
  CREATE ROLE intellifin_api NOLOGIN;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;  -- roles are cluster-wide; another database made it
END
$$;

GRANT SELECT ON organizations, users, accounts, transactions, sync_runs, sync_schedules, notifications TO intellifin_api;
GRANT UPDATE (cancel_requested_at, rerun_requested_at, next_sync_at, status, updated_at) ON accounts TO intellifin_api;
GRANT INSERT, UPDATE, DELETE ON sync_schedules TO intellifin_api;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_credentials ENABLE ROW LEVEL SECURITY;  -- no policy for the API role: it never reads secrets

CREATE POLICY org_isolation ON organizations TO intellifin_api
  USING (id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON users TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON accounts TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON transactions TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON sync_runs TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
-- Provider-wide defaults (org_id null) are readable by every organisation; only its own overrides are writable.
CREATE POLICY org_read ON sync_schedules FOR SELECT TO intellifin_api
  USING (org_id IS NULL OR org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_write ON sync_schedules FOR ALL TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON notifications TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
