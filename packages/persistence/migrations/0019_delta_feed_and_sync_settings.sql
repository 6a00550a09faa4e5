-- sync-api data and settings (issue #13): the transactions delta feed, and the organisation's
-- bounds on the sync frequency its users may choose per account.
--
-- Delta feed. `change_version` comes from a sequence, and sequence values are drawn at write time
-- but become visible at commit, out of order: a reader that had already passed version 11 would
-- never see a slower transaction's version 10. The feed therefore orders by the writing
-- transaction's id (`change_xid`, xid8, never wraps) and serves only rows whose change_xid is below
-- the xmin of the reading statement's snapshot: every transaction below xmin has finished, and any
-- later write (in flight now, or not yet begun) has an xid at or above it, so a position below xmin
-- can never be overtaken by a commit. `created_xid` is the transaction that first inserted the row:
-- a row first inserted after the client's position is *added*, otherwise *modified*.
--
-- Both default to the inserting transaction; the upsert (persistence transactions.repo) sets
-- change_xid again whenever it bumps change_version. Existing rows take the migration's own xid
-- (they are all committed, so any position covers them consistently).
ALTER TABLE transactions
  ADD COLUMN change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
  ADD COLUMN created_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX transactions_changes ON transactions (account_id, change_xid, id);

-- The organisation's sync settings beyond the schedule rows: the bounds, in minutes, of the
-- transactions-sync interval a user may choose for one of their accounts (absent row: the API's
-- built-in bounds). The chosen interval itself is an account override in `sync_schedules` (plan
-- 'transactions'), which the scheduler already plans with.
CREATE TABLE org_sync_settings (
  org_id                    uuid PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  account_interval_min_min  integer NOT NULL CHECK (account_interval_min_min BETWEEN 15 AND 1440),
  account_interval_max_min  integer NOT NULL CHECK (account_interval_max_min BETWEEN 15 AND 1440),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  CHECK (account_interval_min_min <= account_interval_max_min)
);
ALTER TABLE org_sync_settings OWNER TO intellifin_owner;
ALTER TABLE org_sync_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_sync_settings FORCE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, UPDATE ON org_sync_settings TO intellifin_api;
CREATE POLICY org_isolation ON org_sync_settings TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
