-- migrate: as connecting user
-- The notifier (issue #12): re-auth episodes, one row per push (initial, reminders, expiry
-- warnings) in `notifications`, every request to OneSignal in `notification_attempts`, per-provider
-- opt-outs in `notification_preferences`, and the user's time zone for quiet hours.
--
-- Runs as the connecting user because it creates the role `intellifin_notifier` (cluster-wide,
-- NOLOGIN; provisioning makes it a login). The tables it creates are handed to intellifin_owner below.
DO $$
BEGIN
  CREATE ROLE intellifin_notifier NOLOGIN;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;  -- roles are cluster-wide; another database made it
END
$$;
GRANT USAGE ON SCHEMA public TO intellifin_notifier;

-- The user's IANA time zone (quiet hours); null means the notifier's default (Africa/Lusaka).
ALTER TABLE users ADD COLUMN time_zone text;

-- A re-auth episode: opened by the first `reauth_required` of an account, closed by `repaired`.
-- At most one open episode per account, whatever the number of events, replicas or redeliveries.
CREATE TABLE notification_episodes (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  provider        text NOT NULL CHECK (provider IN ('mono', 'momo', 'airtel')),
  opened_run_id   text NOT NULL,
  opened_at       timestamptz NOT NULL,          -- the event's instant
  reason          text,
  closed_at       timestamptz,
  closed_run_id   text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, opened_run_id)
);
CREATE UNIQUE INDEX notification_episodes_open ON notification_episodes (account_id) WHERE closed_at IS NULL;
CREATE INDEX notification_episodes_org ON notification_episodes (org_id, opened_at DESC);

-- One row per push: kind 'reauth' (the episode's first), 'reminder_<n>', 'expiry_warning'
-- (episode = what expires and when). UNIQUE (account_id, kind, episode) from 0001 is the dedup.
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications
  ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'scheduled', 'cancelling', 'delivered', 'undeliverable', 'failed', 'suppressed', 'canceled')),
  ADD COLUMN provider            text CHECK (provider IN ('mono', 'momo', 'airtel')),
  ADD COLUMN idempotency_key     uuid,
  ADD COLUMN web_url             text,
  ADD COLUMN due_at              timestamptz NOT NULL DEFAULT now(),  -- when it should go (reminders: later)
  ADD COLUMN next_attempt_at     timestamptz NOT NULL DEFAULT now(),  -- retries move it
  ADD COLUMN claimed_by          text,
  ADD COLUMN claimed_until       timestamptz,
  ADD COLUMN scheduled_for       timestamptz,                         -- OneSignal send_after (quiet hours)
  ADD COLUMN cancel_requested_at timestamptz,
  ADD COLUMN canceled_at         timestamptz,
  ADD COLUMN traceparent         text,                                -- the worker's trace, continued by the send
  ADD COLUMN updated_at          timestamptz NOT NULL DEFAULT now();
CREATE INDEX notifications_work ON notifications (next_attempt_at) WHERE status IN ('pending', 'cancelling');
CREATE INDEX notifications_episode ON notifications (episode);
CREATE INDEX notifications_org ON notifications (org_id, created_at DESC);

-- Every request made to OneSignal for a notification, and what came of it.
CREATE TABLE notification_attempts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id           uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  notification_id  uuid NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
  attempt          integer NOT NULL,
  action           text NOT NULL CHECK (action IN ('create', 'cancel')),
  idempotency_key  uuid,
  http_status      integer,
  outcome          text NOT NULL
                   CHECK (outcome IN ('delivered', 'scheduled', 'undeliverable', 'retry', 'failed', 'canceled', 'already_delivered')),
  onesignal_id     text,
  replayed         boolean NOT NULL DEFAULT false,
  retry_after_ms   integer,
  error            text,
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, id);
CREATE INDEX notification_attempts_org ON notification_attempts (org_id, started_at DESC);

-- Re-auth push opt-outs, per user and provider (absent = opted in).
CREATE TABLE notification_preferences (
  org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider     text NOT NULL CHECK (provider IN ('mono', 'momo', 'airtel')),
  reauth_push  boolean NOT NULL DEFAULT true,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, provider)
);

ALTER TABLE notification_episodes OWNER TO intellifin_owner;
ALTER TABLE notification_attempts OWNER TO intellifin_owner;
ALTER TABLE notification_preferences OWNER TO intellifin_owner;

ALTER TABLE notification_episodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_episodes FORCE ROW LEVEL SECURITY;
ALTER TABLE notification_attempts FORCE ROW LEVEL SECURITY;
ALTER TABLE notification_preferences FORCE ROW LEVEL SECURITY;

-- intellifin_notifier: notifies every organisation's users BY DESIGN (an auth event names any
-- organisation's account), so its policies are permissive and its grants are what limit it. It reads
-- only the account, user and credential columns a push needs (never ciphertext, cursors or balances)
-- and writes nothing but its own tables; it never deletes.
GRANT SELECT (id, org_id, user_id, provider, type, display_name, status, consent_expires_at, credential_id, reauth_url, reauth_url_expires_at)
  ON accounts TO intellifin_notifier;
GRANT SELECT (id, org_id, external_id, time_zone) ON users TO intellifin_notifier;
GRANT SELECT (id, org_id, provider, expires_at) ON provider_credentials TO intellifin_notifier;
GRANT SELECT ON notification_preferences TO intellifin_notifier;
GRANT SELECT, INSERT, UPDATE ON notification_episodes, notifications TO intellifin_notifier;
GRANT SELECT, INSERT ON notification_attempts TO intellifin_notifier;

CREATE POLICY notifier_all_orgs ON accounts FOR SELECT TO intellifin_notifier USING (true);
CREATE POLICY notifier_all_orgs ON users FOR SELECT TO intellifin_notifier USING (true);
CREATE POLICY notifier_all_orgs ON provider_credentials FOR SELECT TO intellifin_notifier USING (true);
CREATE POLICY notifier_all_orgs ON notification_preferences FOR SELECT TO intellifin_notifier USING (true);
CREATE POLICY notifier_all_orgs ON notification_episodes TO intellifin_notifier USING (true) WITH CHECK (true);
CREATE POLICY notifier_all_orgs ON notifications TO intellifin_notifier USING (true) WITH CHECK (true);
CREATE POLICY notifier_all_orgs ON notification_attempts TO intellifin_notifier USING (true) WITH CHECK (true);

-- intellifin_api (sync-api) reads its organisation's notifications (0002), episodes and attempts, and
-- manages its users' opt-outs.
GRANT SELECT ON notification_episodes, notification_attempts TO intellifin_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_preferences TO intellifin_api;
CREATE POLICY org_isolation ON notification_episodes TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON notification_attempts TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON notification_preferences TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
