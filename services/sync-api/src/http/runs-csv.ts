import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import type { Caller } from '../app/caller';
import type { RunsQuery, RunView, SyncApi } from '../app/sync-api';

/**
 * `GET /v1/accounts/:id/sync-runs` with `Accept: text/csv`: the same filters, every matching run
 * (newest first, from `cursor` if given) as CSV, streamed page by page (each page its own
 * org-scoped read) and bounded to {@link CSV_MAX_ROWS} rows; narrow `from`/`to` to export more.
 */
export const CSV_MAX_ROWS = 10_000;
const PAGE = 100;

const COLUMNS = [
  'id',
  'started_at',
  'finished_at',
  'trigger',
  'mode',
  'realtime',
  'outcome',
  'duration_ms',
  'pages',
  'added',
  'modified',
  'unchanged',
  'window_from',
  'window_to',
  'error_kind',
  'error_code',
  'error_hint',
  'trace_id',
  'command_id',
];

/** Whether the client asked for CSV (a media range in Accept naming text/csv). */
export function wantsCsv(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((t) => t.split(';')[0]!.trim().toLowerCase() === 'text/csv');
}

/** A spreadsheet would evaluate a cell starting with = + - @ (or a tab/CR) as a formula: quote it. */
const cell = (v: string | null): string => (v === null ? '' : /^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

function row(r: RunView): (string | number | boolean)[] {
  return [
    r.id,
    r.startedAt,
    r.finishedAt ?? '',
    r.trigger,
    r.mode,
    r.realtime,
    r.outcome,
    r.durationMs ?? '',
    r.pages,
    r.counts.added,
    r.counts.modified,
    r.counts.unchanged,
    r.window?.from ?? '',
    r.window?.to ?? '',
    cell(r.error?.kind ?? null),
    cell(r.error?.code ?? null),
    cell(r.error?.hint ?? null),
    r.traceId ?? '',
    r.commandId ?? '',
  ];
}

export async function sendRunsCsv(
  reply: FastifyReply,
  o: { api: SyncApi; caller: Caller; accountId: string; query: Omit<RunsQuery, 'limit'>; log: FastifyBaseLogger; maxRows?: number },
): Promise<FastifyReply> {
  const max = o.maxRows ?? CSV_MAX_ROWS;
  // The first page is read before anything is sent: an unknown account or a bad cursor is still a 404 / 400.
  const first = await o.api.listRuns(o.caller, o.accountId, { ...o.query, limit: Math.min(PAGE, max) });
  async function* rows() {
    let page = first;
    let n = 0;
    for (;;) {
      for (const r of page.runs) {
        if (n++ >= max) return;
        yield row(r);
      }
      if (!page.nextCursor || n >= max) return;
      page = await o.api.listRuns(o.caller, o.accountId, { ...o.query, limit: Math.min(PAGE, max - n), cursor: page.nextCursor });
    }
  }
  const csv = stringify({ header: true, columns: COLUMNS, cast: { boolean: (v) => (v ? 'true' : 'false') } });
  pipeline(Readable.from(rows()), csv, (err) => {
    // Headers are gone: the response ends early (the client sees a truncated transfer, not a complete file).
    if (err) o.log.warn({ err: { message: err.message } }, 'sync-runs CSV export failed mid-stream');
  });
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="sync-runs-${o.accountId}.csv"`)
    .header('cache-control', 'private, no-store')
    .send(csv);
}
