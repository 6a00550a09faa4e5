-- Scheduler (services/scheduler): leader lease with fencing, last executed slot per plan group,
-- the pending scheduled sync of each account, and the provider-level default plans.

-- One row per leadership (name 'scheduler'). Taken and renewed by conditional UPDATE using the
-- database clock; `epoch` grows by one on every change of holder and fences every write of the
-- planner (slot state, account marks, dispatch bookkeeping).
CREATE TABLE scheduler_leader (
  name         text PRIMARY KEY,
  holder       text NOT NULL,
  epoch        bigint NOT NULL,
  acquired_at  timestamptz NOT NULL,
  renewed_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);

-- The last slot executed for each plan group: the provider default (org_id and account_id null),
-- an organisation override or an account override, mirroring sync_schedules. Catch-up after
-- downtime runs only the latest missed slot and moves last_slot past the others.
-- provider is '*' for plans that are not per provider (maintenance).
CREATE TABLE scheduler_slots (
  plan         text NOT NULL,
  provider     text NOT NULL,
  org_id       uuid REFERENCES organizations(id) ON DELETE CASCADE,
  account_id   uuid REFERENCES accounts(id) ON DELETE CASCADE,
  last_slot    timestamptz NOT NULL,
  executed_at  timestamptz NOT NULL,
  epoch        bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (plan, provider, org_id, account_id)
);

-- The pending scheduled sync of an account: next_sync_at (already in 0001) says when, these say
-- which planned slot it belongs to (the Nats-Msg-Id suffix), what it fetches and why. Several
-- plans firing for one account merge into one pending sync (modes merge: transactions + balance
-- = full). The scheduler clears all four when it has published the command.
ALTER TABLE accounts
  ADD COLUMN planned_slot     timestamptz,
  ADD COLUMN planned_mode     text CHECK (planned_mode IN ('transactions', 'balance', 'full')),
  ADD COLUMN planned_trigger  text CHECK (planned_trigger IN ('scheduled', 'nightly', 'balance', 'stale'));

-- Provider-level default plans (org_id and account_id null). Edit these rows to change a
-- provider's plan; add rows with org_id / account_id for overrides; plan '*' with enabled = false
-- switches every plan off for its scope (a provider kill switch). Settings absent from a row
-- take the scheduler's built-in defaults.
INSERT INTO sync_schedules (provider, plan, cron, timezone, enabled, settings)
SELECT p.provider, d.plan, d.cron, 'Africa/Lusaka', true, d.settings::jsonb
  FROM (VALUES ('mono'), ('momo'), ('airtel')) AS p(provider)
 CROSS JOIN (VALUES
   ('transactions', '0 * * * *',   '{"window": {"start": "08:00", "end": "20:00"}, "spreadMinutes": 20}'),
   ('balance',      '*/30 * * * *', '{"window": {"start": "08:00", "end": "20:00"}, "spreadMinutes": 10}'),
   ('nightly',      '0 2 * * *',   '{"spreadMinutes": 120}'),
   ('stale',        '0 */4 * * *', '{"spreadMinutes": 30, "staleAfterMinutes": 360}')
 ) AS d(plan, cron, settings)
ON CONFLICT DO NOTHING;
