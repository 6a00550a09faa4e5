-- sync-api (issue #13): manual sync requests and idempotency records, and the grants the API needs
-- to queue a command through the transactional outbox and to run its own outbox relay.
--
-- `sync_requests`: one row per manual sync command the API queued (the command itself goes out
-- through `outbox` in the same transaction, event id `cmd:<command_id>`, so `Nats-Msg-Id` is that
-- too). The API derives the account's "queued" run status from it: a request issued after the
-- account's latest run started, not cancelled, not older than the API's queued-TTL. `issued_at` is
-- the database clock (the engine compares it with `accounts.last_success_started_at`).
CREATE TABLE sync_requests (
  command_id    uuid PRIMARY KEY,
  org_id        uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  account_id    uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  requested_by  text NOT NULL,          -- the caller's user id (JWT subject)
  trigger       text NOT NULL DEFAULT 'manual',
  mode          text NOT NULL CHECK (mode IN ('transactions', 'balance', 'full')),
  realtime      boolean NOT NULL DEFAULT false,
  issued_at     timestamptz NOT NULL DEFAULT now(),
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'cancelled')),
  cancelled_at  timestamptz
);
CREATE INDEX sync_requests_account ON sync_requests (account_id, issued_at DESC);
CREATE INDEX sync_requests_org ON sync_requests (org_id, issued_at);

-- `api_idempotency`: the answer given to a request carrying an `Idempotency-Key`, per organisation
-- and caller: the same key with the same request gets the same answer; with a different request,
-- a 422. `request_hash` is a SHA-256 over method, route and body (no secrets stored).
CREATE TABLE api_idempotency (
  org_id        uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  requested_by  text NOT NULL,
  key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash  text NOT NULL,
  status_code   integer NOT NULL,
  response      jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, requested_by, key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

ALTER TABLE sync_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_requests FORCE ROW LEVEL SECURITY;
ALTER TABLE api_idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_idempotency FORCE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, UPDATE ON sync_requests TO intellifin_api;
GRANT SELECT, INSERT ON api_idempotency TO intellifin_api;
CREATE POLICY org_isolation ON sync_requests TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE POLICY org_isolation ON api_idempotency TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- Retention: the scheduler's maintenance may delete old rows of both (as it does for sync runs).
GRANT SELECT, DELETE ON sync_requests, api_idempotency TO intellifin_scheduler;
CREATE POLICY scheduler_retention ON sync_requests TO intellifin_scheduler USING (true);
CREATE POLICY scheduler_retention ON api_idempotency TO intellifin_scheduler USING (true);

-- The API queues commands through the outbox (insert) and runs a relay (claim, delete, defer).
-- The outbox has no organisation column and no row-level security: it holds commands and events.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO intellifin_api;
GRANT USAGE ON SEQUENCE outbox_id_seq TO intellifin_api;

-- The run history and a run in full are read org-scoped through sync_runs (0002); the API reads
-- the error kind of runs (0004 added the column after 0002's table grant, which covers it).
