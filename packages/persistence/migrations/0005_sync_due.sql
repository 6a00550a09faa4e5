-- Pending scheduled syncs move off the wide `accounts` row into a narrow queue table.
--
-- Every slot used to write each planned account twice (mark: next_sync_at + planned_*; clear after
-- publishing: NULLs). Those were non-HOT updates of the widest, most-indexed table — every index
-- of `accounts` got new entries, twice per account per slot, and the same rows are the ones the
-- workers update after each run. Measured on 100k accounts: mark 2.7 s + clear 2.5 s. Here a
-- mark is one narrow INSERT … ON CONFLICT (0.9 s) and a clear a DELETE (0.07 s).
--
-- `sync_due` is soft state derived by the scheduler from the plans (Postgres stays the truth for
-- accounts): one row per account with a pending scheduled sync — when (`due_at`, already
-- including the account's jitter offset or error backoff), which slot (the Nats-Msg-Id suffix),
-- what (`mode`) and why (`trigger`). No foreign key, on purpose: the check would cost as much as
-- the insert. Dispatch joins `accounts` (so rows of deleted or no-longer-schedulable accounts are
-- never published) and maintenance deletes orphans.
CREATE TABLE sync_due (
  account_id    uuid PRIMARY KEY,
  provider      text NOT NULL CHECK (provider IN ('mono', 'momo', 'airtel')),
  org_id        uuid NOT NULL,
  due_at        timestamptz NOT NULL,
  planned_slot  timestamptz NOT NULL,
  mode          text NOT NULL CHECK (mode IN ('transactions', 'balance', 'full')),
  trigger       text NOT NULL CHECK (trigger IN ('scheduled', 'nightly', 'balance', 'stale'))
);
-- Dispatch: keyset pages over what is due.
CREATE INDEX sync_due_due ON sync_due (due_at, account_id);

INSERT INTO sync_due (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
SELECT id, provider, org_id, next_sync_at, COALESCE(planned_slot, next_sync_at),
       COALESCE(planned_mode, 'transactions'), COALESCE(planned_trigger, 'scheduled')
  FROM accounts
 WHERE next_sync_at IS NOT NULL;

DROP INDEX accounts_due;
ALTER TABLE accounts
  DROP COLUMN next_sync_at,
  DROP COLUMN planned_slot,
  DROP COLUMN planned_mode,
  DROP COLUMN planned_trigger;

-- The API shows an account's next scheduled sync: readable per organisation.
GRANT SELECT ON sync_due TO intellifin_api;
ALTER TABLE sync_due ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON sync_due TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
