import { NotReadyError, PermanentError, RetryableError, trace, withSpan, type Logger, type Tracer } from '@intellifin/core';
import {
  advanceMonoCursor,
  MAX_WATCHED_PENDING,
  nextMonoWindow,
  nextPendingWatch,
  type CanonicalTransaction,
  type CurrencyCode,
  type DateWindow,
  type FetchDeltaRequest,
  type MonoCursor,
  type MonoWindowOptions,
  type TransactionPage,
  type WatchedPendingRow,
} from '@intellifin/domain';
import type { MonoClient, MonoResponse } from './mono.client';
import type { MonoStatementMetrics } from './mono.metrics';
import {
  accountDetailsSchema,
  isPendingRow,
  mapPage,
  monoDate,
  monoRow,
  parseBody,
  toCanonical,
  transactionsPageSchema,
  type MonoRow,
} from './mono.mapper';

export const TX_ROUTE = 'GET /v2/accounts/:id/transactions';
const DETAILS_ROUTE = 'GET /v2/accounts/:id';

export interface StatementReaderOptions {
  client: MonoClient;
  log: Logger;
  metrics: MonoStatementMetrics;
  tracer?: Tracer;
  pageSize: number;
  window: MonoWindowOptions | undefined;
  /** Called with the first page's response when the run asked for real-time data; undefined = read the cached statement. */
  realtimeFirstPage?: (query: Record<string, string>) => Promise<MonoResponse | undefined>;
}

/** What one complete read of the window saw: every id, and the rows still pending (as served). */
interface ReadState {
  seen: Set<string>;
  pending: WatchedPendingRow[];
}

/**
 * Reads one Mono statement window so that no row is lost (providers.md §1.4, §1.10 scenarios
 * 2, 3, 8, 9, 10; peers.md §1.2, §1.4):
 *
 * - pages newest first (`page`/`limit`); every page is yielded with the *input* cursor, only the
 *   last page of a complete, consistent read carries the advanced cursor (and the pending watch);
 * - a page with `data: null`, or empty while `meta.total` promises more rows, fails the run as
 *   retryable: nothing after it is skipped, the cursor stays;
 * - the statement moving between page requests (`meta.total` changes, an id repeats across pages,
 *   or fewer distinct ids than `meta.total` at the end) is answered by re-reading the window
 *   unpaged (`paginate=false`, one consistent response) and taking that read as the complete one;
 * - an empty statement is only believed when Mono says the data is there: `data_status`
 *   PROCESSING/PARTIAL is `NotReadyError` (not a failure, retried), FAILED is retryable;
 * - watched pending rows (the cursor's) that a complete read of a window covering their date did
 *   not return are written back as `removed`.
 */
export async function* readStatement(o: StatementReaderOptions, req: FetchDeltaRequest): AsyncGenerator<TransactionPage> {
  if (req.cursor.kind !== 'mono') throw new PermanentError('invalid_request', 'a Mono delta needs a Mono cursor');
  const cursor: MonoCursor = req.cursor;
  const window = nextMonoWindow(cursor, req.now, o.window);
  const id = req.account.providerAccountId;
  const currency = req.account.currency;
  const path = `/v2/accounts/${encodeURIComponent(id)}/transactions`;
  const base = { start: monoDate(window.from), end: monoDate(window.to) };
  const query = (page: number) => ({ ...base, paginate: 'true', limit: String(o.pageSize), page: String(page) });
  // `alsoWatched`: pending rows written by this run's earlier pages (a read that was then redone).
  const finish = (
    state: ReadState,
    alsoWatched: readonly WatchedPendingRow[] = [],
  ): { cursorAfter: MonoCursor; removed: CanonicalTransaction[] } => {
    // An enqueued real-time job's read of the cached statement moves nothing, but what it wrote is watched.
    if (hold) return { cursorAfter: watching([...alsoWatched, ...state.pending]), removed: [] };
    const known = new Map((cursor.pending ?? []).map((p) => [p.id, p]));
    for (const p of alsoWatched) known.set(p.id, p);
    const { watch, gone } = nextPendingWatch([...known.values()], state.seen, state.pending, window, req.now, o.window);
    const removed = gone.flatMap((g) => removedRow(g, currency, o.log));
    if (removed.length > 0) o.metrics.count('pending_removed', removed.length);
    return { cursorAfter: advanceMonoCursor(cursor, window, watch), removed };
  };

  // The cursor a page before the last commits: unchanged, except that the pending rows written so
  // far join the watch, so that a run failing after this page leaves none of them unwatched (a hold
  // released later is then still found and written back as `removed`).
  const watching = (written: readonly WatchedPendingRow[]): MonoCursor => {
    const known = new Map((cursor.pending ?? []).map((p) => [p.id, p]));
    const before = known.size;
    for (const p of written) if (!known.has(p.id)) known.set(p.id, p);
    if (known.size === before) return cursor;
    const pending = [...known.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, MAX_WATCHED_PENDING);
    return { ...cursor, pending };
  };

  let index = 0;
  const state: ReadState = { seen: new Set(), pending: [] };
  let total: number | undefined;
  let shifted = false;
  let first = o.realtimeFirstPage ? await o.realtimeFirstPage(query(1)) : undefined;
  // An enqueued real-time job (`data: null`): Mono's cached statement is read now, but the run
  // moves nothing (cursor and pending watch stay where they were): the sync its completion
  // webhook triggers reads the fresh statement and advances them. So the run waits for the job
  // without holding a worker, and never counts a stale copy as a complete read.
  let hold = false;
  if (first && (first.headers['x-job-status'] === 'processing' || (first.body as { data?: unknown } | null)?.data === null)) {
    o.metrics.count('realtime_enqueued');
    first = undefined;
    hold = true;
  }

  let confirmedAvailable = false;
  for (let page = 1; ; page++) {
    const res = page === 1 && first ? first : await o.client.get(TX_ROUTE, path, query(page), req.signal);
    const body = parseBody(transactionsPageSchema, TX_ROUTE, res.body);
    if (body.data === null) {
      o.metrics.count('null_page');
      throw new RetryableError('mono_page_missing', `Mono ${TX_ROUTE} page ${page} answered data: null; the window is read again later`);
    }
    const rows = body.data;
    const pageTotal = body.meta?.total;
    if (page === 1 && rows.length === 0 && !confirmedAvailable) {
      await ensureDataAvailable(o, id, req.signal);
      // The data may have become available between the read and Mono's answer: the empty read is
      // not believed; page 1 is read again now that Mono says the statement is there (it never goes back).
      confirmedAvailable = true;
      first = undefined;
      page = 0;
      continue;
    }
    if (total === undefined) total = pageTotal;
    else if (pageTotal !== undefined && pageTotal !== total) shifted = true;
    if (!shifted && rows.length === 0 && pageTotal !== undefined && (page - 1) * o.pageSize < pageTotal) {
      o.metrics.count('empty_page');
      throw new RetryableError(
        'mono_page_missing',
        `Mono ${TX_ROUTE} page ${page} is empty while meta.total promises ${pageTotal} rows; the window is read again later`,
      );
    }
    for (const row of rows) if (state.seen.has(row.id)) shifted = true;
    record(state, rows);
    const last = rows.length === 0 || rows.length < o.pageSize || (pageTotal !== undefined && page * o.pageSize >= pageTotal);
    if (last && pageTotal !== undefined && state.seen.size !== pageTotal) shifted = true;
    if (last && !shifted) {
      const { cursorAfter, removed } = finish(state);
      yield { index, transactions: [...mapPage(rows, currency), ...removed], cursorAfter, window };
      return;
    }
    // Rows read from a shifting statement are still real rows: keep them, the cursor stays.
    yield { index: index++, transactions: mapPage(rows, currency), cursorAfter: watching(state.pending), window };
    if (shifted) break;
  }

  // The statement moved while it was paged: read the whole window in one response.
  o.metrics.count('shift_detected');
  o.log.info({ window }, 'Mono statement moved between page requests: re-reading the window unpaged');
  const res = await withSpan(o.tracer ?? trace.getTracer('mono-worker'), 'provider.unpaged_reread', {}, () =>
    o.client.get(TX_ROUTE, path, { ...base, paginate: 'false' }, req.signal),
  );
  o.metrics.count('unpaged_reread');
  const body = parseBody(transactionsPageSchema, TX_ROUTE, res.body);
  if (body.data === null) {
    o.metrics.count('null_page');
    throw new RetryableError('mono_page_missing', `Mono ${TX_ROUTE} (paginate=false) answered data: null; the window is read again later`);
  }
  const rows = body.data;
  if (body.meta?.total !== undefined && body.meta.total !== new Set(rows.map((r) => r.id)).size) {
    throw new RetryableError(
      'mono_statement_moving',
      `Mono ${TX_ROUTE} (paginate=false) returned ${rows.length} rows for meta.total ${body.meta.total}`,
    );
  }
  if (rows.length === 0) await ensureDataAvailable(o, id, req.signal);
  const fresh: ReadState = { seen: new Set(), pending: [] };
  record(fresh, rows);
  const { cursorAfter, removed } = finish(fresh, state.pending);
  for (let i = 0; i < Math.max(rows.length, 1); i += o.pageSize) {
    const chunk = rows.slice(i, i + o.pageSize);
    const lastChunk = i + o.pageSize >= rows.length;
    yield {
      index: index++,
      transactions: lastChunk ? [...mapPage(chunk, currency), ...removed] : mapPage(chunk, currency),
      cursorAfter: lastChunk ? cursorAfter : watching([...state.pending, ...fresh.pending]),
      window,
    };
  }
}

function record(state: ReadState, rows: readonly MonoRow[]): void {
  for (const row of rows) {
    state.seen.add(row.id);
    if (isPendingRow(row)) state.pending.push({ id: row.id, at: row.date, row: { ...row } });
  }
}

/** A watched pending row Mono no longer returns, as a `removed` modification of what is stored. */
function removedRow(w: WatchedPendingRow, currency: CurrencyCode, log: Logger): CanonicalTransaction[] {
  const parsed = monoRow.safeParse(w.row);
  if (!parsed.success) {
    log.warn({ providerTxnId: w.id }, 'a watched pending row has an unreadable payload: left as it is');
    return [];
  }
  return [toCanonical(parsed.data, currency, 'removed')];
}

/**
 * An empty statement is believed only if Mono says its data is there (providers.md §1.2, §1.3):
 * PROCESSING and PARTIAL (balance only) mean "not yet", FAILED is Mono's own error (retry).
 */
async function ensureDataAvailable(o: StatementReaderOptions, id: string, signal: AbortSignal): Promise<void> {
  const res = await withSpan(o.tracer ?? trace.getTracer('mono-worker'), 'provider.data_status', {}, () =>
    o.client.get(DETAILS_ROUTE, `/v2/accounts/${encodeURIComponent(id)}`, {}, signal),
  );
  const status = parseBody(accountDetailsSchema, DETAILS_ROUTE, res.body).data.meta.data_status;
  if (status === 'PROCESSING' || status === 'PARTIAL') {
    o.metrics.count('not_ready');
    throw new NotReadyError(`Mono data_status is ${status}: the statement is not available yet`);
  }
  if (status === 'FAILED') throw new RetryableError('mono_data_failed', 'Mono data_status is FAILED: the statement is read again later');
}

export type { DateWindow };
