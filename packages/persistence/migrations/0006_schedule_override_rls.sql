-- Tighten row-level security of sync_schedules for the API role (found in review):
-- * writing: an organisation's override may only name an account of that organisation (the
--   subquery runs under the API role's own RLS, so it sees only the caller's accounts). Before,
--   org A could write an account override (e.g. a kill switch) for org B's account, and use the
--   foreign-key error to probe which account ids exist.
-- * reading: provider-wide defaults (no org, no account) and the caller's own overrides only.
DROP POLICY org_read ON sync_schedules;
DROP POLICY org_write ON sync_schedules;

CREATE POLICY org_read ON sync_schedules FOR SELECT TO intellifin_api
  USING ((org_id IS NULL AND account_id IS NULL) OR org_id = nullif(current_setting('app.org_id', true), '')::uuid);

CREATE POLICY org_write ON sync_schedules FOR ALL TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (
    org_id = nullif(current_setting('app.org_id', true), '')::uuid
    AND (account_id IS NULL OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id))
  );
