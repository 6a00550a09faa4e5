-- Issue #14, finding 6: OneSignal's rate limit is per app. After a 429 with Retry-After on a
-- create or a cancel, no notifier replica may send anything to that app until the window ends, so
-- the window is kept here, where every replica reads it (the claim skips due pushes while it is
-- open, and each replica reads it again just before every request). One row per OneSignal app;
-- `held_until` only moves forward (GREATEST), on the notifier's clock. Not tenant data (no org_id):
-- no row-level security, the grant is what limits it.
CREATE TABLE onesignal_holds (
  app_id          uuid PRIMARY KEY,
  held_until      timestamptz NOT NULL,
  retry_after_ms  integer NOT NULL,      -- the Retry-After of the 429 that set the current end
  action          text NOT NULL CHECK (action IN ('create', 'cancel')),
  set_at          timestamptz NOT NULL,  -- when that 429 was answered
  set_by          text NOT NULL          -- the replica (NOTIFIER_INSTANCE_ID) that saw it
);

GRANT SELECT, INSERT, UPDATE ON onesignal_holds TO intellifin_notifier;
