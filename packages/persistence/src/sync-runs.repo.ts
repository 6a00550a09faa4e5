import type { RunOutcome } from '@intellifin/domain';
import type { ErrorKind } from '@intellifin/core';
import type { Queryable } from './db';

export interface SyncRunRecord {
  id: string;
  orgId: string;
  accountId: string;
  provider: string;
  trigger: string;
  mode: string;
  commandId: string | null;
  fence: bigint;
  outcome: RunOutcome | 'running';
  startedAt: Date;
  finishedAt: Date | null;
  windowFrom: Date | null;
  windowTo: Date | null;
  pages: number;
  added: number;
  modified: number;
  unchanged: number;
  durationMs: number | null;
  errorKind: ErrorKind | null;
  errorCode: string | null;
  errorHint: string | null;
  traceId: string | null;
  worker: string | null;
  /** This run's keyset position in its account's history: pass it as `before` for the next page. */
  cursor: RunsCursor;
}

/**
 * A position in an account's run history. `startedAt` is the database's own text of `started_at`:
 * a JS Date keeps milliseconds, and runs started within one millisecond of the cursor would be
 * skipped by a cursor rounded to it.
 */
export interface RunsCursor {
  startedAt: string;
  id: string;
}

const SELECT_LIST = `id, org_id AS "orgId", account_id AS "accountId", provider, trigger, mode, command_id AS "commandId", fence, outcome,
  started_at AS "startedAt", finished_at AS "finishedAt", window_from AS "windowFrom", window_to AS "windowTo", pages, added, modified,
  unchanged, duration_ms AS "durationMs", error_kind AS "errorKind", error_code AS "errorCode", error_hint AS "errorHint", trace_id AS "traceId", worker`;

export interface NewRun {
  orgId: string;
  accountId: string;
  provider: string;
  trigger: string;
  mode: string;
  fence: bigint;
  commandId?: string | null;
  traceId?: string | null;
  worker?: string | null;
}

export async function insertRun(db: Queryable, r: NewRun): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, command_id, trace_id, worker)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [r.orgId, r.accountId, r.provider, r.trigger, r.mode, r.fence.toString(), r.commandId ?? null, r.traceId ?? null, r.worker ?? null],
  );
  return rows[0]!.id;
}

export interface RunResult {
  outcome: RunOutcome;
  windowFrom?: Date | null;
  windowTo?: Date | null;
  pages: number;
  added: number;
  modified: number;
  unchanged: number;
  errorKind?: ErrorKind | null;
  errorCode?: string | null;
  errorHint?: string | null;
}

export async function finishRun(db: Queryable, runId: string, r: RunResult): Promise<void> {
  await db.query(
    `UPDATE sync_runs SET outcome = $2, finished_at = clock_timestamp(), window_from = $3, window_to = $4, pages = $5, added = $6,
            modified = $7, unchanged = $8, error_code = $9, error_hint = $10, error_kind = $11,
            duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::int
      WHERE id = $1`,
    [
      runId,
      r.outcome,
      r.windowFrom ?? null,
      r.windowTo ?? null,
      r.pages,
      r.added,
      r.modified,
      r.unchanged,
      r.errorCode ?? null,
      r.errorHint ?? null,
      r.errorKind ?? null,
    ],
  );
}

/** An account's run history, newest first, keyset-paginated on (started_at, id). */
export async function listRuns(
  db: Queryable,
  accountId: string,
  opts: { limit?: number; before?: RunsCursor } = {},
): Promise<SyncRunRecord[]> {
  const { rows } = await db.query<Omit<SyncRunRecord, 'cursor'> & { startedAtText: string }>(
    `SELECT ${SELECT_LIST}, started_at::text AS "startedAtText" FROM sync_runs
      WHERE account_id = $1 AND ($2::timestamptz IS NULL OR (started_at, id) < ($2, $3::uuid))
      ORDER BY started_at DESC, id DESC LIMIT $4`,
    [accountId, opts.before?.startedAt ?? null, opts.before?.id ?? null, Math.min(Math.max(opts.limit ?? 50, 1), 500)],
  );
  return rows.map(({ startedAtText, ...r }) => ({ ...r, cursor: { startedAt: startedAtText, id: r.id } }));
}
