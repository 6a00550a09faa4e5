import type { ErrorKind } from '@intellifin/core';
import type { AccountStatus, CanonicalTransaction, RunOutcome, SyncCounts } from '@intellifin/domain';
import type { Queryable } from './db';
import { FencedWriteError } from './fence';
import { safeHint, type RerunRoute } from './run-finish.repo';
import type { NewRun } from './sync-runs.repo';
import { distinctById, transactionsDocument, upsertStatement, type UpsertCounts } from './transactions.repo';

/**
 * A sync run's writes (the sync engine's): run start, fenced page commit, run finish, balance.
 * Start, page commit and finish are single statements (atomic without BEGIN/COMMIT round trips)
 * and the page commit's fence guard also answers the cancel check.
 * None of them touches `sync_due`: the scheduler owns it.
 */

export interface RunStart {
  fence: bigint;
  cursor: unknown;
  status: AccountStatus;
  runId: string;
  /** Database time of the fence bump: a cancel requested at or after it applies to this run. */
  startedAt: Date;
  /** Older runs of the account left `running` (crashed workers) that this start closed as abandoned. */
  abandonedRuns: number;
}

export interface BeginRun extends Omit<NewRun, 'fence'> {
  realtime?: boolean;
  /** The account's status-event subject (`topology.eventSubject('status', …)`): where its `run_started` event goes. */
  statusSubject: string;
}

/**
 * Bumps the fence, closes run rows an older fence left `running` (a crashed worker's), records
 * this run's `running` row and puts its `run_started` status event in the outbox (event id
 * `started:<runId>`): one statement, so one round trip and atomic. Null if the account is gone.
 */
export async function beginRun(db: Queryable, run: BeginRun): Promise<RunStart | null> {
  const { rows } = await db.query<{
    fence: bigint;
    cursor: unknown;
    status: AccountStatus;
    started_at: Date;
    run_id: string;
    abandoned: number;
  }>({
    name: 'sync-engine.begin-run',
    text: `WITH f AS (
       UPDATE accounts SET fence = fence + 1, last_attempt_at = now(), updated_at = now() WHERE id = $1
       RETURNING fence, cursor, status, last_attempt_at
     ), orphans AS (
       -- A run row still running under an older fence belongs to a run that can no longer write
       -- (its process died, or it lost the account). Served by the partial index sync_runs_running.
       UPDATE sync_runs SET outcome = 'failed', finished_at = clock_timestamp(), error_kind = 'retryable', error_code = 'abandoned',
              error_hint = 'the run never finished (worker crashed or lost the account); a newer run took over',
              duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::int
        WHERE account_id = $1 AND outcome = 'running' AND fence < (SELECT fence FROM f)
       RETURNING 1
     ), r AS (
       INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, command_id, trace_id, worker, realtime)
       SELECT $2, $1, $3, $4, $5, f.fence, $6, $7, $8, $9 FROM f
       RETURNING id
     ), started AS (
       INSERT INTO outbox (event_id, subject, payload)
       SELECT 'started:' || r.id::text, $10,
              jsonb_build_object('kind', 'run_started', 'runId', r.id::text, 'commandId', $6::text, 'accountId', $1::text, 'orgId', $2::text,
                                 'provider', $3::text, 'trigger', $4::text, 'mode', $5::text, 'realtime', $9::boolean,
                                 'startedAt', to_char(f.last_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
         FROM f, r
     )
     SELECT f.fence, f.cursor, f.status, f.last_attempt_at AS started_at, r.id AS run_id, (SELECT count(*)::int FROM orphans) AS abandoned FROM f, r`,
    values: [
      run.accountId,
      run.orgId,
      run.provider,
      run.trigger,
      run.mode,
      run.commandId ?? null,
      run.traceId ?? null,
      run.worker ?? null,
      run.realtime ?? false,
      run.statusSubject,
    ],
  });
  const row = rows[0];
  if (!row) return null;
  return {
    fence: row.fence,
    cursor: row.cursor,
    status: row.status,
    runId: row.run_id,
    startedAt: row.started_at,
    abandonedRuns: row.abandoned,
  };
}

export interface PageCommit {
  orgId: string;
  accountId: string;
  fence: bigint;
  /** The run's start (database time): a cancel requested at or after it applies to the run. Without it no cancel applies. */
  startedAt?: Date;
  cursor: unknown;
  transactions: readonly CanonicalTransaction[];
}

/**
 * One page of a run, in one statement (atomic, one round trip): the fence guard writes the cursor
 * and takes the account row lock, and the set-based upsert writes rows only if the guard matched.
 * A stale fence matches no row → `FencedWriteError`, nothing written; under READ COMMITTED a fence
 * bump committed while this waited for the row lock is re-checked and also matches nothing. The
 * guard also reports whether a cancel was requested for this run, so the page boundary check costs
 * no extra round trip.
 */
export async function commitPage(db: Queryable, p: PageCommit): Promise<{ counts: UpsertCounts; cancelRequested: boolean }> {
  const distinct = distinctById(p.transactions);
  const { rows } = await db.query<{ added: number; modified: number; guarded: boolean; cancel: boolean | null }>({
    name: 'sync-engine.commit-page',
    text: upsertStatement(
      'UPDATE accounts SET cursor = $5, updated_at = now() WHERE id = $2 AND fence = $4 RETURNING cancel_requested_at >= $6 AS cancel',
    ),
    values: [p.orgId, p.accountId, transactionsDocument(distinct), p.fence.toString(), JSON.stringify(p.cursor), p.startedAt ?? null],
  });
  const r = rows[0]!;
  if (!r.guarded) throw new FencedWriteError(p.accountId, p.fence);
  return {
    counts: { added: r.added, modified: r.modified, unchanged: distinct.length - r.added - r.modified },
    cancelRequested: r.cancel === true,
  };
}

/**
 * Closes a run row the run could not finish under its fence (it lost the account, was interrupted,
 * or a server failed): only a run still `running`, and the account's status is not touched. A
 * re-run request recorded meanwhile is turned into a command (covering this run's own scope too),
 * through the outbox in the same statement, so it never waits on a command that may be gone.
 */
export async function abandonRun(
  db: Queryable,
  a: {
    runId: string;
    outcome: RunOutcome;
    errorKind: ErrorKind;
    code: string;
    hint: string;
    pages: number;
    counts: SyncCounts;
    /** The bounded summary of the provider requests the run made (`sync_runs.requests`). */
    requests?: object | null;
    route: RerunRoute;
  },
): Promise<{ rerunQueued: boolean }> {
  const { rows } = await db.query<{ queued: number }>({
    name: 'sync-engine.abandon-run',
    text: `WITH run AS (
       UPDATE sync_runs SET outcome = $2, finished_at = clock_timestamp(), pages = $3, added = $4, modified = $5, unchanged = $6,
              error_kind = $7, error_code = $8, error_hint = $9, requests = $14::jsonb,
              duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::int
        WHERE id = $1 AND outcome = 'running'
       RETURNING id, account_id, mode, realtime
     ), old AS (
       SELECT a.id, a.org_id, a.provider, a.rerun_mode, a.rerun_realtime, a.rerun_trigger, run.id AS run_id, run.mode AS run_mode,
              run.realtime AS run_realtime
         FROM accounts a JOIN run ON a.id = run.account_id
        WHERE a.rerun_requested_at IS NOT NULL
          FOR UPDATE OF a
     ), cleared AS (
       UPDATE accounts SET rerun_requested_at = NULL, rerun_mode = NULL, rerun_realtime = false, rerun_trigger = NULL, updated_at = now()
         FROM old WHERE accounts.id = old.id
       RETURNING 1
     ), queued AS (
       INSERT INTO outbox (event_id, subject, payload, headers)
       SELECT 'rerun:' || old.run_id::text, CASE WHEN old.rerun_trigger = ANY($12::text[]) THEN $11::text ELSE $10::text END,
              jsonb_build_object(
                'commandId', gen_random_uuid()::text, 'accountId', old.id::text, 'orgId', old.org_id::text, 'provider', old.provider,
                'trigger', old.rerun_trigger, 'mode', sync_mode_merge(old.rerun_mode, old.run_mode),
                'realtime', old.rerun_realtime OR old.run_realtime, 'triggerId', 'rerun:' || old.run_id::text,
                'issuedAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
              $13::jsonb
         FROM old WHERE EXISTS (SELECT 1 FROM cleared)
       ON CONFLICT (event_id) DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM queued)::int AS queued`,
    values: [
      a.runId,
      a.outcome,
      a.pages,
      a.counts.added,
      a.counts.modified,
      a.counts.unchanged,
      a.errorKind,
      a.code,
      safeHint(a.hint),
      a.route.bulkSubject,
      a.route.prioritySubject,
      a.route.priorityTriggers,
      JSON.stringify(a.route.headers ?? {}),
      a.requests == null ? null : JSON.stringify(a.requests),
    ],
  });
  return { rerunQueued: (rows[0]?.queued ?? 0) > 0 };
}

/** Stores a balance under the run's fence (one guarded statement). */
export async function storeBalance(db: Queryable, accountId: string, fence: bigint, minor: bigint, asOf: Date): Promise<void> {
  const res = await db.query(
    'UPDATE accounts SET balance_minor = $3, balance_as_of = $4, updated_at = now() WHERE id = $1 AND fence = $2',
    [accountId, fence.toString(), minor.toString(), asOf],
  );
  if (res.rowCount !== 1) throw new FencedWriteError(accountId, fence);
}

/**
 * A dead-lettered command whose run never recorded an outcome (crash loop, poison): the account
 * shows `error` with the reason. Not fenced (no run owns it); never overrides `auth_required`
 * or `disabled`.
 */
export async function markDeadLettered(db: Queryable, accountId: string, code: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE accounts SET status = 'error', last_error_code = $2, last_error = $3, updated_at = now()
      WHERE id = $1 AND status IN ('active', 'error')`,
    [accountId, code, safeHint(reason)],
  );
}
