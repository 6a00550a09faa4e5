-- Issue #13, operators and run detail.
--
-- 1. `sync_runs.requests`: the compact, bounded summary of the provider requests a run made (the
--    first and last few requests with route template, status, duration and Retry-After, plus totals
--    by route and status). Written by the worker in the statement that finishes the run (or closes
--    an interrupted one); null for runs that never finished in their worker (a crash) and for runs
--    recorded before this migration. Routes are templates (`GET /v2/accounts/:id/transactions`):
--    no ids, query strings, tokens or account numbers. The worker's table grant (0010) covers it.
ALTER TABLE sync_runs ADD COLUMN requests jsonb;

-- 2. `operator_audit`: every operator/admin action of sync-api (dead-letter replay and discard,
--    org-wide sync): who (the token's subject and roles), which organisation, what, on what, when,
--    and how it ended. A dead-letter action's row is written in the same transaction as the
--    outbox row of the replayed command, and `dedup_key` (the DLQ stream, sequence and stored time
--    of the message) makes a second replay or discard of one dead letter a no-op: if the process
--    dies after the commit and before the DLQ message is deleted, the retry finds the row, queues
--    nothing new, and only finishes the deletion.
CREATE TABLE operator_audit (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id        uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  actor         text NOT NULL,                 -- the caller's user id (JWT subject)
  actor_roles   text[] NOT NULL,
  action        text NOT NULL CHECK (action IN ('dead_letter.replay', 'dead_letter.discard', 'sync.org')),
  target        text NOT NULL,                 -- `dead-letter:<seq>`, `provider:<id>` or `provider:all`
  result        text NOT NULL,                 -- replayed, discarded, started, completed, failed
  detail        jsonb NOT NULL DEFAULT '{}',   -- counts, error codes, the replayed command's ids; never secrets
  dedup_key     text UNIQUE,
  at            timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz
);
CREATE INDEX operator_audit_org ON operator_audit (org_id, at DESC);
-- The org-wide sync guard reads the organisation's latest one per scope.
CREATE INDEX operator_audit_org_sync ON operator_audit (org_id, target, at DESC) WHERE action = 'sync.org';

ALTER TABLE operator_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE operator_audit FORCE ROW LEVEL SECURITY;
-- Append-mostly: the API inserts a row and completes it (result, detail, completed_at); no deletes.
GRANT SELECT, INSERT ON operator_audit TO intellifin_api;
GRANT UPDATE (result, detail, completed_at) ON operator_audit TO intellifin_api;
CREATE POLICY org_isolation ON operator_audit TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
