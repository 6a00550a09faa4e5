-- intellifin-sync core schema (ARCHITECTURE §5). Postgres is the source of truth: commands on
-- NATS are derived from accounts.next_sync_at, and every sync write is fenced by accounts.fence.

CREATE TABLE organizations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  external_id  text NOT NULL,            -- the IntelliFin user id; OneSignal external_id
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, external_id)
);

-- Per-merchant provider credentials (MoMo API user/key + subscription key, Airtel client id/secret,
-- Mono tokens), AES-256-GCM encrypted. key_id names the key that encrypted the row so keys rotate.
CREATE TABLE provider_credentials (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  provider    text NOT NULL CHECK (provider IN ('mono', 'momo', 'airtel')),
  key_id      text NOT NULL,
  nonce       bytea NOT NULL,
  ciphertext  bytea NOT NULL,            -- GCM ciphertext followed by the 16-byte auth tag
  version     integer NOT NULL DEFAULT 1, -- compare-and-set on every change
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_credentials_org ON provider_credentials (org_id);
CREATE INDEX provider_credentials_key ON provider_credentials (key_id);

CREATE TABLE accounts (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id               uuid REFERENCES users(id) ON DELETE SET NULL,
  provider              text NOT NULL CHECK (provider IN ('mono', 'momo', 'airtel')),
  provider_account_id   text NOT NULL,
  type                  text NOT NULL CHECK (type IN ('bank', 'mobile_money')),
  display_name          text,
  currency              char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  balance_minor         bigint,
  balance_as_of         timestamptz,
  status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'auth_required', 'error', 'disabled')),
  last_success_at       timestamptz,
  last_attempt_at       timestamptz,
  last_error_code       text,
  last_error            text,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  next_sync_at          timestamptz,
  fence                 bigint NOT NULL DEFAULT 0,
  cursor                jsonb NOT NULL DEFAULT '{}'::jsonb,
  credential_id         uuid REFERENCES provider_credentials(id) ON DELETE SET NULL,
  consent_expires_at    timestamptz,
  reauth_url            text,
  reauth_url_expires_at timestamptz,
  rerun_requested_at    timestamptz,     -- a trigger that arrived while a run held the lease
  cancel_requested_at   timestamptz,     -- a cancel the in-flight run honours at its next page
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_account_id)
);
CREATE INDEX accounts_org ON accounts (org_id);
-- The scheduler's due-account query: keyset pages over (next_sync_at, id) of schedulable accounts.
CREATE INDEX accounts_due ON accounts (next_sync_at, id) WHERE status IN ('active', 'error');
-- The stale sweep: schedulable accounts by last success.
CREATE INDEX accounts_stale ON accounts (provider, last_success_at) WHERE status IN ('active', 'error');

CREATE SEQUENCE transactions_change_seq;

CREATE TABLE transactions (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id               uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  provider_txn_id      text NOT NULL,
  amount_minor         bigint NOT NULL CHECK (amount_minor >= 0),
  currency             char(3) NOT NULL,
  direction            text NOT NULL CHECK (direction IN ('debit', 'credit')),
  status               text NOT NULL CHECK (status IN ('pending', 'posted', 'failed', 'reversed')),
  booked_at            timestamptz NOT NULL,
  narration            text,
  counterparty         jsonb,             -- {name, account, institution} as far as the provider tells
  reference            text,
  secondary_id         text,              -- provider ledger id (MoMo financialTransactionId, Airtel airtel_money_id)
  balance_after_minor  bigint,
  raw                  jsonb NOT NULL,
  first_seen_at        timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  change_version       bigint NOT NULL DEFAULT nextval('transactions_change_seq'),
  UNIQUE (account_id, provider_txn_id)
);
CREATE INDEX transactions_history ON transactions (account_id, booked_at DESC, id DESC);
CREATE INDEX transactions_delta ON transactions (account_id, change_version);
CREATE INDEX transactions_org ON transactions (org_id, booked_at DESC);

CREATE TABLE sync_runs (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  provider       text NOT NULL,
  trigger        text NOT NULL,
  mode           text NOT NULL DEFAULT 'transactions',
  command_id     text,
  fence          bigint NOT NULL,
  outcome        text NOT NULL DEFAULT 'running'
                 CHECK (outcome IN ('running', 'succeeded', 'failed', 'auth_required', 'cancelled', 'fenced', 'retrying')),
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  window_from    timestamptz,
  window_to      timestamptz,
  pages          integer NOT NULL DEFAULT 0,
  added          integer NOT NULL DEFAULT 0,
  modified       integer NOT NULL DEFAULT 0,
  unchanged      integer NOT NULL DEFAULT 0,
  duration_ms    integer,
  error_code     text,
  error_hint     text,
  trace_id       text,
  worker         text
);
CREATE INDEX sync_runs_account ON sync_runs (account_id, started_at DESC);
CREATE INDEX sync_runs_org ON sync_runs (org_id, started_at DESC);
CREATE INDEX sync_runs_started ON sync_runs (started_at);

-- Plan settings: per-provider defaults (org_id and account_id null), per-org and per-account overrides.
CREATE TABLE sync_schedules (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider    text NOT NULL CHECK (provider IN ('mono', 'momo', 'airtel')),
  plan        text NOT NULL,
  org_id      uuid REFERENCES organizations(id) ON DELETE CASCADE,
  account_id  uuid REFERENCES accounts(id) ON DELETE CASCADE,
  cron        text,
  timezone    text NOT NULL DEFAULT 'Africa/Lusaka',
  enabled     boolean NOT NULL DEFAULT true,
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (provider, plan, org_id, account_id)
);

-- One row per re-auth episode (the fence of the run that detected it), with delivery attempts.
CREATE TABLE notifications (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  user_id        uuid REFERENCES users(id) ON DELETE SET NULL,
  kind           text NOT NULL,
  episode        text NOT NULL,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
  deep_link      text,
  onesignal_id   text,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  sent_at        timestamptz,
  UNIQUE (account_id, kind, episode)
);

-- Raw provider webhooks and callbacks, deduplicated by the provider's event id.
CREATE TABLE webhook_events (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider      text NOT NULL,
  event_id      text NOT NULL,
  event_type    text NOT NULL,
  account_ref   text,
  payload       jsonb NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  UNIQUE (provider, event_id)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);
