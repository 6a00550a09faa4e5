-- Events leave only through the transaction that caused them (a transactional outbox), and no
-- accepted sync command is lost to coalescing.
--
-- `outbox`: a run's finish statement inserts its events (run, auth, and the re-run command it owes)
-- here, in the same statement that records the outcome. A relay publishes each row to JetStream
-- with `Nats-Msg-Id` = `event_id` and deletes it only after the PubAck; until then it retries with
-- backoff, for as long as it takes. Several relays may run at once (FOR UPDATE SKIP LOCKED).
CREATE TABLE outbox (
  id               bigserial PRIMARY KEY,
  event_id         text NOT NULL UNIQUE,
  subject          text NOT NULL,
  payload          jsonb NOT NULL,
  headers          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text
);
CREATE INDEX outbox_next ON outbox (next_attempt_at, id);

-- The scope of a run (what it fetched), so that "already satisfied" can compare scopes.
ALTER TABLE sync_runs ADD COLUMN realtime boolean NOT NULL DEFAULT false;

ALTER TABLE accounts
  -- A command that arrived while another run held the account: the widest scope asked for, the
  -- latest issue instant among the merged commands (database clock) and the trigger that decides
  -- its lane. The run that finishes honours it: a successful run that started after the request and
  -- covered its scope satisfies it; otherwise the finish statement turns it into a command.
  ADD COLUMN rerun_mode text CHECK (rerun_mode IN ('transactions', 'balance', 'full')),
  ADD COLUMN rerun_realtime boolean NOT NULL DEFAULT false,
  ADD COLUMN rerun_trigger text,
  -- The last successful run's start (database clock) and scope: a command is skipped as already
  -- satisfied only when such a run covered it and started after it was issued.
  ADD COLUMN last_success_started_at timestamptz,
  ADD COLUMN last_success_mode text CHECK (last_success_mode IN ('transactions', 'balance', 'full')),
  ADD COLUMN last_success_realtime boolean;

-- Whether a run of scope (run_mode, run_realtime) does everything (want_mode, want_realtime) asks
-- for. The same rule as the domain's `scopeCovers` (a test keeps the two equal).
CREATE FUNCTION sync_scope_covers(run_mode text, run_realtime boolean, want_mode text, want_realtime boolean)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (want_mode = 'balance' OR run_mode IN ('transactions', 'full'))
     AND (want_mode = 'transactions' OR run_mode IN ('balance', 'full'))
     AND (NOT want_realtime OR run_realtime)
$$;

-- The smallest mode covering both (the domain's `mergeScopes`).
CREATE FUNCTION sync_mode_merge(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a IS NULL THEN b
    WHEN b IS NULL THEN a
    WHEN a = b THEN a
    ELSE 'full'
  END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO intellifin_worker;
GRANT USAGE ON SEQUENCE outbox_id_seq TO intellifin_worker;
GRANT UPDATE (rerun_requested_at, rerun_mode, rerun_realtime, rerun_trigger, last_success_started_at, last_success_mode,
              last_success_realtime)
  ON accounts TO intellifin_worker;
