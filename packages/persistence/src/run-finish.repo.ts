import { maskSecrets, type ErrorKind } from '@intellifin/core';
import type { AccountStatus, RunOutcome, SyncCounts, SyncScope } from '@intellifin/domain';
import type { Queryable } from './db';
import { FencedWriteError } from './fence';

/**
 * How a run ends, in ONE statement: the account's status, the run row, the events the run caused
 * (into `outbox`, published by the relay after the commit) and the re-run it owes. Nothing is
 * published outside this transaction, and nothing after it can rewrite the run: the run row is
 * written only while it is still `running` and the account still carries the run's fence.
 */

/** A message to publish after the commit, with `Nats-Msg-Id` = `eventId`. */
export interface OutboxEvent {
  eventId: string;
  subject: string;
  payload: unknown;
  headers?: Record<string, string>;
}

/** Where a re-run command for this account goes: its lane is chosen by the requesting trigger. */
export interface RerunRoute {
  bulkSubject: string;
  prioritySubject: string;
  /** Triggers that take the priority lane (manual, webhook). */
  priorityTriggers: readonly string[];
  /** Headers of the re-run command (content type, trace context). */
  headers?: Record<string, string>;
}

export interface RunFailure {
  kind: ErrorKind;
  code: string;
  hint: string;
}

export interface RunFinish {
  accountId: string;
  fence: bigint;
  runId: string;
  outcome: RunOutcome;
  status: AccountStatus;
  /** What this run fetched: a re-run request it covers (and that predates its start) is satisfied. */
  scope: SyncScope;
  counts: SyncCounts;
  pages: number;
  windowFrom: Date | null;
  windowTo: Date | null;
  failure: RunFailure | null;
  /**
   * `count`: a failure of the account (consecutive failures, last error). `none`: not the account's
   * fault (data not ready yet): status and failure counters stay as they are.
   */
  blame?: 'count' | 'none';
  /** A re-link URL for the notifier (auth failures); `null` clears it. Untouched when absent. */
  reauth?: { url: string | null; expiresAt: Date | null };
  /**
   * What happens to a re-run request recorded while this run held the account:
   * `honour`: satisfied (a successful run that started after it and covered it), or else turned into
   * a command now — after a failure, one that also covers this run's own scope, so the caller acks
   * its own command instead of nak-ing it (a nak-ed command waiting in the stream could be replaced
   * by a newer one on its subject); `drop` (cancel, auth failure: the user must act first); `keep`
   * (dead-lettered: the account's next run honours it).
   */
  rerun: 'honour' | 'drop' | 'keep';
  route: RerunRoute;
  events: readonly OutboxEvent[];
  /** The bounded summary of the provider requests the run made (`sync_runs.requests`); JSON, nothing secret. */
  requests?: object | null;
}

export interface RunFinished {
  /** The re-run command this finish queued (through the outbox), if any. */
  rerunQueued: boolean;
}

/** Stored error hints never carry secrets, MSISDNs or account numbers (the logger's masking rules). */
export function safeHint(hint: string | null | undefined): string | null {
  return hint == null ? null : maskSecrets(hint).slice(0, 500);
}

function accountSet(f: RunFinish): string {
  if (f.outcome === 'succeeded' && f.status === 'auth_required') {
    // Read the provider's cached data, but consent is not proven to work: the account keeps its
    // re-link state (URL, error) and its last success (the data is as old as the revocation).
    return 'status = $3';
  }
  if (f.outcome === 'succeeded') {
    return `status = $3, last_success_at = now(), consecutive_failures = 0, last_error_code = NULL, last_error = NULL,
            reauth_url = NULL, reauth_url_expires_at = NULL, last_success_started_at = old.run_started,
            last_success_mode = $15, last_success_realtime = $16`;
  }
  if (f.outcome === 'cancelled') return 'status = $3, cancel_requested_at = NULL';
  if (f.blame === 'none') return 'status = $3';
  return `status = $3, consecutive_failures = consecutive_failures + 1, last_error_code = $12, last_error = $13,
          reauth_url = CASE WHEN $19::boolean THEN $20 ELSE reauth_url END,
          reauth_url_expires_at = CASE WHEN $19::boolean THEN $21 ELSE reauth_url_expires_at END`;
}

const CLEAR_RERUN = 'rerun_requested_at = NULL, rerun_mode = NULL, rerun_realtime = false, rerun_trigger = NULL';

export async function finishRunFenced(db: Queryable, f: RunFinish): Promise<RunFinished> {
  const hint = safeHint(f.failure?.hint);
  const params: unknown[] = [
    f.accountId, // $1
    f.fence.toString(), // $2
    f.status, // $3
    f.runId, // $4
    f.outcome, // $5
    f.windowFrom, // $6
    f.windowTo, // $7
    f.pages, // $8
    f.counts.added, // $9
    f.counts.modified, // $10
    f.counts.unchanged, // $11
    f.failure?.code ?? null, // $12
    hint, // $13
    f.failure?.kind ?? null, // $14
    f.scope.mode, // $15
    f.scope.realtime, // $16
    JSON.stringify(f.events.map((e) => ({ event_id: e.eventId, subject: e.subject, payload: e.payload, headers: e.headers ?? {} }))), // $17
    f.rerun === 'honour', // $18
    f.reauth !== undefined, // $19
    f.reauth?.url ?? null, // $20
    f.reauth?.expiresAt ?? null, // $21
    f.route.bulkSubject, // $22
    f.route.prioritySubject, // $23
    f.route.priorityTriggers, // $24
    JSON.stringify(f.route.headers ?? {}), // $25
    f.requests == null ? null : JSON.stringify(f.requests), // $26
  ];
  const set = accountSet(f) + (f.rerun === 'keep' ? '' : `, ${CLEAR_RERUN}`);
  // The statement text depends only on (outcome, blame, rerun): named, so prepared once per connection.
  const variant = `${f.outcome}.${f.status === 'auth_required' && f.outcome === 'succeeded' ? 'cached' : (f.blame ?? 'count')}.${f.rerun}`;
  const { rows } = await db.query<{ finished: number; reruns: number }>({
    name: `sync-engine.finish-run.${variant}`,
    text: `WITH old AS (
       -- Locks the account (a concurrent re-run request waits for this commit and is then seen as
       -- recorded after the run ended) and reads the request this run must honour.
       SELECT a.id AS account_id, r.id AS run_id, a.rerun_requested_at, a.rerun_mode, a.rerun_realtime, a.rerun_trigger, a.org_id,
              a.provider, r.started_at AS run_started
         FROM accounts a JOIN sync_runs r ON r.id = $4 AND r.outcome = 'running'
        WHERE a.id = $1 AND a.fence = $2
          FOR UPDATE OF a
     ), acc AS (
       UPDATE accounts SET ${set}, updated_at = now() FROM old WHERE accounts.id = $1 AND accounts.fence = $2 RETURNING accounts.id
     ), run AS (
       UPDATE sync_runs SET outcome = $5, finished_at = clock_timestamp(), window_from = $6, window_to = $7, pages = $8, added = $9,
              modified = $10, unchanged = $11, error_code = $12, error_hint = $13, error_kind = $14, requests = $26::jsonb,
              duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::int
        WHERE id = $4 AND outcome = 'running' AND EXISTS (SELECT 1 FROM acc)
       RETURNING id
     ), rerun AS (
       -- A request the run does not satisfy (it was recorded after the run started, or asks for
       -- more than the run fetched, or the run did not succeed) becomes a command now.
       SELECT old.run_id, CASE WHEN old.rerun_trigger = ANY($24::text[]) THEN $23::text ELSE $22::text END AS subject,
              jsonb_build_object(
                'commandId', gen_random_uuid()::text, 'accountId', old.account_id::text, 'orgId', old.org_id::text, 'provider', old.provider,
                -- a run that did not succeed still owes its own scope too: the command covers both
                'trigger', old.rerun_trigger,
                'mode', CASE WHEN $5 = 'succeeded' THEN old.rerun_mode ELSE sync_mode_merge(old.rerun_mode, $15) END,
                'realtime', old.rerun_realtime OR ($5 <> 'succeeded' AND $16),
                'triggerId', 'rerun:' || old.run_id::text,
                'issuedAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS payload
         FROM old
        WHERE $18::boolean AND old.rerun_requested_at IS NOT NULL AND EXISTS (SELECT 1 FROM run)
          AND NOT ($5 = 'succeeded' AND old.rerun_requested_at < old.run_started
                   AND sync_scope_covers($15, $16, old.rerun_mode, old.rerun_realtime))
     ), queued AS (
       INSERT INTO outbox (event_id, subject, payload, headers)
       SELECT e.event_id, e.subject, e.payload, e.headers
         FROM jsonb_to_recordset($17::jsonb) AS e(event_id text, subject text, payload jsonb, headers jsonb)
        WHERE EXISTS (SELECT 1 FROM run)
       UNION ALL
       SELECT 'rerun:' || rerun.run_id::text, rerun.subject, rerun.payload, $25::jsonb FROM rerun
       ON CONFLICT (event_id) DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM run)::int AS finished, (SELECT count(*) FROM rerun)::int AS reruns, (SELECT count(*) FROM queued)::int AS queued,
            -- every parameter typed, whichever variant of the SET uses it
            $19::boolean AS has_reauth, $20::text AS reauth_url, $21::timestamptz AS reauth_expires`,
    values: params,
  });
  const r = rows[0]!;
  if (r.finished !== 1) throw new FencedWriteError(f.accountId, f.fence);
  return { rerunQueued: r.reruns > 0 };
}
