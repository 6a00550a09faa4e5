import type { PoolClient } from '@intellifin/persistence';
import type { RunsCursor } from './cursor';

/** Run history reads (org-scoped transaction; the caller checked the account is visible). */
export const RUN_FILTER_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunFilterStatus = (typeof RUN_FILTER_STATUSES)[number];

export interface RunsFilter {
  status?: RunFilterStatus | undefined;
  trigger?: string | undefined;
  /** Runs started at or after this instant. */
  from?: Date | undefined;
  /** Runs started before this instant. */
  to?: Date | undefined;
}

export interface RunRow {
  id: string;
  accountId: string;
  provider: string;
  trigger: string;
  mode: string;
  realtime: boolean;
  commandId: string | null;
  outcome: string;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  windowFrom: Date | null;
  windowTo: Date | null;
  pages: number;
  added: number;
  modified: number;
  unchanged: number;
  errorKind: string | null;
  errorCode: string | null;
  errorHint: string | null;
  traceId: string | null;
  worker: string | null;
  startedAtText: string;
}

/** A run row with its provider request summary (the detail read only; lists stay compact). */
export interface RunDetailRow extends RunRow {
  requests: unknown;
}

const COLUMNS = `id, account_id AS "accountId", provider, trigger, mode, realtime, command_id AS "commandId", outcome,
  started_at AS "startedAt", finished_at AS "finishedAt", duration_ms AS "durationMs", window_from AS "windowFrom", window_to AS "windowTo",
  pages, added, modified, unchanged, error_kind AS "errorKind", error_code AS "errorCode", error_hint AS "errorHint", trace_id AS "traceId",
  worker, started_at::text AS "startedAtText"`;

/** Newest first, keyset-paginated on (started_at, id); returns up to `limit` rows. */
export async function listRunRows(
  db: PoolClient,
  accountId: string,
  f: RunsFilter,
  limit: number,
  before: RunsCursor | null,
): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>({
    name: 'sync-api.runs.list',
    text: `SELECT ${COLUMNS} FROM sync_runs
            WHERE account_id = $1
              AND ($2::text IS NULL OR outcome = $2) AND ($3::text IS NULL OR trigger = $3)
              AND ($4::timestamptz IS NULL OR started_at >= $4) AND ($5::timestamptz IS NULL OR started_at < $5)
              AND ($6::timestamptz IS NULL OR (started_at, id) < ($6::timestamptz, $7::uuid))
            ORDER BY started_at DESC, id DESC LIMIT $8`,
    values: [
      accountId,
      f.status ?? null,
      f.trigger ?? null,
      f.from ?? null,
      f.to ?? null,
      before?.startedAt ?? null,
      before?.id ?? null,
      limit,
    ],
  });
  return rows;
}

export async function getRunRow(db: PoolClient, accountId: string, runId: string): Promise<RunDetailRow | null> {
  const { rows } = await db.query<RunDetailRow>({
    name: 'sync-api.runs.one',
    text: `SELECT ${COLUMNS}, requests FROM sync_runs WHERE account_id = $1 AND id = $2`,
    values: [accountId, runId],
  });
  return rows[0] ?? null;
}
