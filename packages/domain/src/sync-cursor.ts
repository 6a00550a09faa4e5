import type { ProviderId } from './account';
import { isProviderId } from './account';
import { DomainError } from './errors';
import { type IsoDate, addDays, isIsoDate, maxIsoDate, minIsoDate, toIsoDate } from './iso-date';

/**
 * Where an account's sync stands, stored in `accounts.cursor` (jsonb) and advanced in the same
 * fenced transaction as the rows it covers. Two shapes, because the providers differ in kind:
 *
 * - **Mono** has a statement: the cursor is a high-water date. `highWaterDate` = every row booked
 *   on or before it has been fetched (in a completed run); the next run fetches from
 *   `highWaterDate − overlap` so that late-posting rows and pending → posted changes are caught.
 *   It also carries the pending rows under watch (bounded): the next run reaches back to the
 *   oldest of them (within `pendingWatchDays`), so a hold that posts or is released days later is
 *   seen; a watched row Mono no longer returns for a window covering its date becomes `removed`.
 * - **MoMo / Airtel** have no statement, only the references the merchant created: the cursor is
 *   the set of references not yet terminal, which every run polls until they are.
 */
export const CURSOR_VERSION = 1;

/** A closed date window `[from, to]` (inclusive calendar dates, as Mono's `start`/`end`). */
export interface DateWindow {
  readonly from: IsoDate;
  readonly to: IsoDate;
}

export interface MonoCursor {
  readonly v: typeof CURSOR_VERSION;
  readonly kind: 'mono';
  /** Null until the first run completes. */
  readonly highWaterDate: IsoDate | null;
  /** The window of the last completed run (for diagnostics and the API). */
  readonly lastWindow: DateWindow | null;
  /**
   * Pending rows under watch, newest first (absent = none; cursors stored before it existed have
   * none). Each keeps the provider's row as last served, so a release can be written back as a
   * `removed` modification of exactly what is stored.
   */
  readonly pending?: readonly WatchedPendingRow[];
}

/** A pending row the next Mono runs re-read until it posts, is released, or ages out of the watch. */
export interface WatchedPendingRow {
  /** Provider transaction id. */
  readonly id: string;
  /** Booking instant as ISO-8601 (the row's `date`). */
  readonly at: string;
  /** The provider's row as last served (plain JSON). */
  readonly row: Readonly<Record<string, unknown>>;
}

/** At most this many pending rows are watched per account (the newest are kept). */
export const MAX_WATCHED_PENDING = 500;
/** A watched row's stored payload may not exceed this many characters of JSON. */
export const MAX_WATCHED_ROW_JSON = 4_096;

export interface PendingRefsCursor {
  readonly v: typeof CURSOR_VERSION;
  readonly kind: 'momo' | 'airtel';
  /** Non-terminal references to poll, sorted and unique. */
  readonly pendingRefs: readonly string[];
}

export type SyncCursor = MonoCursor | PendingRefsCursor;

/** Caps a cursor's reference set so a jsonb cursor can never grow without bound. */
export const MAX_PENDING_REFS = 10_000;
export const MAX_REF_LENGTH = 255;

export interface MonoWindowOptions {
  /** Days re-fetched before the high-water date on every incremental run (≥ 0). */
  readonly overlapDays: number;
  /** How far back the first run reaches (≥ 1), e.g. 90. */
  readonly historyDays: number;
  /**
   * How far back (days before today, ≥ 1) a run reaches to re-read the oldest watched pending row;
   * older pending rows leave the watch and stay `pending`. Default 30.
   */
  readonly pendingWatchDays?: number;
}

export const DEFAULT_MONO_WINDOW: MonoWindowOptions = Object.freeze({ overlapDays: 3, historyDays: 90, pendingWatchDays: 30 });
export const DEFAULT_PENDING_WATCH_DAYS = 30;

export function emptyCursor(provider: ProviderId): SyncCursor {
  return provider === 'mono'
    ? { v: CURSOR_VERSION, kind: 'mono', highWaterDate: null, lastWindow: null }
    : { v: CURSOR_VERSION, kind: provider, pendingRefs: [] };
}

/**
 * The window the next Mono run fetches: `[highWater − overlap, today]`, or `[today − history,
 * today]` on the first run. `today` is the UTC date of `now`. A high-water date in the future
 * (clock skew, value-dated rows) never yields an empty or inverted window: `from` is at most today.
 * With pending rows under watch, `from` reaches back to the day before the oldest of them, but
 * never further than `today − pendingWatchDays` for their sake.
 */
export function nextMonoWindow(cursor: MonoCursor, now: Date, options: MonoWindowOptions = DEFAULT_MONO_WINDOW): DateWindow {
  assertWindowOptions(options);
  const today = toIsoDate(now);
  let from = cursor.highWaterDate === null ? addDays(today, -options.historyDays) : addDays(cursor.highWaterDate, -options.overlapDays);
  const oldest = oldestWatchedDate(cursor);
  if (cursor.highWaterDate !== null && oldest !== undefined) {
    const bound = addDays(today, -(options.pendingWatchDays ?? DEFAULT_PENDING_WATCH_DAYS));
    from = minIsoDate(from, maxIsoDate(addDays(oldest, -1), bound));
  }
  return { from: minIsoDate(from, today), to: today };
}

function oldestWatchedDate(cursor: MonoCursor): IsoDate | undefined {
  let oldest: IsoDate | undefined;
  for (const p of cursor.pending ?? []) {
    const d = toIsoDate(new Date(p.at));
    if (oldest === undefined || d < oldest) oldest = d;
  }
  return oldest;
}

/**
 * Whether a complete read of `window` judges a row booked at `at`: its UTC date lies strictly
 * inside the window. The edge days are left to a later run because Mono cuts `start`/`end` at
 * midnight of a time zone it does not document, so a row on an edge day may belong to the next
 * or previous day on Mono's side.
 */
export function windowCovers(window: DateWindow, at: string): boolean {
  const d = toIsoDate(new Date(at));
  return d > window.from && d < window.to;
}

/**
 * The pending watch after a complete read of `window`: `gone` = watched rows the read did not
 * return although the window covers their date (to be written as `removed`); `watch` = the rows
 * still pending (`stillPending`, as just served) plus watched rows the window could not judge,
 * minus rows older than `today − pendingWatchDays`, newest first, at most `MAX_WATCHED_PENDING`.
 */
export function nextPendingWatch(
  previous: readonly WatchedPendingRow[],
  seenIds: ReadonlySet<string>,
  stillPending: readonly WatchedPendingRow[],
  window: DateWindow,
  now: Date,
  options: MonoWindowOptions = DEFAULT_MONO_WINDOW,
): { watch: WatchedPendingRow[]; gone: WatchedPendingRow[] } {
  assertWindow(window);
  const gone: WatchedPendingRow[] = [];
  const keep = new Map<string, WatchedPendingRow>();
  for (const p of stillPending) keep.set(p.id, p);
  for (const p of previous) {
    if (seenIds.has(p.id)) continue;
    if (windowCovers(window, p.at)) gone.push(p);
    else keep.set(p.id, p);
  }
  const bound = addDays(toIsoDate(now), -(options.pendingWatchDays ?? DEFAULT_PENDING_WATCH_DAYS));
  const watch = [...keep.values()]
    .filter((p) => toIsoDate(new Date(p.at)) >= bound)
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, MAX_WATCHED_PENDING);
  return { watch, gone };
}

/**
 * The cursor after a Mono run fetched `window` completely (every page committed). The high-water
 * date only ever moves forward: an older or overlapping window leaves it where it is. Never call
 * this for a run that stopped part-way (cancelled, failed): the next run must fetch that window again.
 */
export function advanceMonoCursor(cursor: MonoCursor, window: DateWindow, pending?: readonly WatchedPendingRow[]): MonoCursor {
  assertWindow(window);
  const highWaterDate = cursor.highWaterDate === null ? window.to : maxIsoDate(cursor.highWaterDate, window.to);
  const watch = pending ?? cursor.pending ?? [];
  return {
    v: CURSOR_VERSION,
    kind: 'mono',
    highWaterDate,
    lastWindow: { from: window.from, to: window.to },
    ...(watch.length > 0 ? { pending: watch.map((p) => ({ id: p.id, at: p.at, row: p.row })) } : {}),
  };
}

/** Adds references to poll (new collections/payouts, callback hints). Keeps the set sorted and unique. */
export function addPendingRefs(cursor: PendingRefsCursor, refs: Iterable<string>): PendingRefsCursor {
  const set = new Set(cursor.pendingRefs);
  for (const ref of refs) set.add(assertRef(ref));
  if (set.size > MAX_PENDING_REFS) {
    throw new DomainError('cursor_too_large', `more than ${MAX_PENDING_REFS} pending references`, { size: set.size });
  }
  return { v: CURSOR_VERSION, kind: cursor.kind, pendingRefs: [...set].sort() };
}

/** Removes references that reached a terminal status. */
export function removePendingRefs(cursor: PendingRefsCursor, refs: Iterable<string>): PendingRefsCursor {
  const drop = new Set(refs);
  return { v: CURSOR_VERSION, kind: cursor.kind, pendingRefs: cursor.pendingRefs.filter((r) => !drop.has(r)) };
}

/**
 * Applies the statuses a poll observed: terminal references leave the set, pending ones stay or
 * join it. `statuses` maps reference → whether it is now terminal.
 */
export function applyPolledStatuses(cursor: PendingRefsCursor, statuses: ReadonlyMap<string, boolean>): PendingRefsCursor {
  const terminal: string[] = [];
  const pending: string[] = [];
  for (const [ref, isTerminal] of statuses) (isTerminal ? terminal : pending).push(ref);
  return removePendingRefs(addPendingRefs(cursor, pending), terminal);
}

/** The JSON stored in `accounts.cursor`. The cursor types are already plain JSON. */
export function cursorToJson(cursor: SyncCursor): Record<string, unknown> {
  assertValidCursor(cursor);
  if (cursor.kind !== 'mono') return { v: cursor.v, kind: cursor.kind, pendingRefs: [...cursor.pendingRefs] };
  return {
    v: cursor.v,
    kind: cursor.kind,
    highWaterDate: cursor.highWaterDate,
    lastWindow: cursor.lastWindow && { ...cursor.lastWindow },
    ...(cursor.pending && cursor.pending.length > 0 ? { pending: cursor.pending.map((p) => ({ id: p.id, at: p.at, row: p.row })) } : {}),
  };
}

/**
 * Reads a stored cursor for an account of `provider`, validating it. `null`/`undefined` (a new
 * account) gives the empty cursor. A JSON string is accepted too. Anything malformed, of another
 * provider or of an unknown version throws `DomainError('invalid_cursor')` — the engine then fails
 * the run rather than guessing (a wrong cursor silently loses or re-fetches data).
 */
export function parseCursor(value: unknown, provider: ProviderId): SyncCursor {
  if (!isProviderId(provider)) throw new DomainError('unknown_provider', `unknown provider: ${String(provider)}`);
  if (value === null || value === undefined) return emptyCursor(provider);
  let v: unknown = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw invalid('not JSON');
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('not an object');
  const o = v as Record<string, unknown>;
  if (o['v'] !== CURSOR_VERSION) throw invalid(`unsupported version ${String(o['v'])}`);
  if (o['kind'] !== provider) throw invalid(`kind ${String(o['kind'])} does not belong to a ${provider} account`);
  let cursor: SyncCursor;
  if (provider === 'mono') {
    const hw = o['highWaterDate'];
    const lw = o['lastWindow'];
    const pending = o['pending'];
    cursor = {
      v: CURSOR_VERSION,
      kind: 'mono',
      highWaterDate: hw as IsoDate | null,
      lastWindow: lw === null || lw === undefined ? null : (lw as DateWindow),
      ...(pending !== undefined ? { pending: pending as WatchedPendingRow[] } : {}),
    };
  } else {
    cursor = { v: CURSOR_VERSION, kind: provider, pendingRefs: o['pendingRefs'] as string[] };
  }
  assertValidCursor(cursor);
  if (cursor.kind !== 'mono') {
    // tolerate an unsorted/duplicated stored set; the in-memory form is canonical
    cursor = { ...cursor, pendingRefs: [...new Set(cursor.pendingRefs)].sort() };
  } else {
    const { pending, ...rest } = cursor;
    cursor = {
      ...rest,
      lastWindow: cursor.lastWindow ? { from: cursor.lastWindow.from, to: cursor.lastWindow.to } : null,
      ...(pending && pending.length > 0 ? { pending: pending.map((p) => ({ id: p.id, at: p.at, row: p.row })) } : {}),
    };
  }
  return cursor;
}

export function assertValidCursor(cursor: SyncCursor): void {
  if (cursor.v !== CURSOR_VERSION) throw invalid(`unsupported version ${String(cursor.v)}`);
  if (cursor.kind === 'mono') {
    if (cursor.highWaterDate !== null && !isIsoDate(cursor.highWaterDate)) throw invalid('highWaterDate is not a YYYY-MM-DD date');
    if (cursor.lastWindow !== null) {
      if (typeof cursor.lastWindow !== 'object') throw invalid('lastWindow is not an object');
      try {
        assertWindow(cursor.lastWindow);
      } catch (err) {
        throw invalid(`lastWindow: ${(err as Error).message}`);
      }
    }
    if (cursor.pending !== undefined) assertWatchedPending(cursor.pending);
    return;
  }
  if (cursor.kind !== 'momo' && cursor.kind !== 'airtel') throw invalid(`unknown kind ${String((cursor as { kind: unknown }).kind)}`);
  if (!Array.isArray(cursor.pendingRefs)) throw invalid('pendingRefs is not an array');
  if (cursor.pendingRefs.length > MAX_PENDING_REFS) throw invalid(`more than ${MAX_PENDING_REFS} pending references`);
  for (const ref of cursor.pendingRefs) {
    if (typeof ref !== 'string' || ref === '' || ref.length > MAX_REF_LENGTH) throw invalid('pendingRefs holds an invalid reference');
  }
}

function assertWatchedPending(pending: unknown): void {
  if (!Array.isArray(pending)) throw invalid('pending is not an array');
  if (pending.length > MAX_WATCHED_PENDING) throw invalid(`pending holds more than ${MAX_WATCHED_PENDING} rows`);
  const ids = new Set<string>();
  for (const p of pending as unknown[]) {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw invalid('pending holds a row that is not an object');
    const { id, at, row } = p as Record<string, unknown>;
    if (typeof id !== 'string' || id === '' || id.length > MAX_REF_LENGTH) throw invalid('pending.id must be a non-empty string');
    if (ids.has(id)) throw invalid(`pending.id ${id.slice(0, 64)} appears twice`);
    ids.add(id);
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) throw invalid('pending.at must be an ISO-8601 instant');
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw invalid('pending.row must be an object');
    if (JSON.stringify(row).length > MAX_WATCHED_ROW_JSON) throw invalid(`pending.row is longer than ${MAX_WATCHED_ROW_JSON} characters`);
  }
}

function assertWindow(window: DateWindow): void {
  if (!isIsoDate(window.from) || !isIsoDate(window.to)) throw new DomainError('invalid_window', 'window dates must be YYYY-MM-DD');
  if (window.from > window.to) throw new DomainError('invalid_window', `window from ${window.from} is after to ${window.to}`);
}

function assertWindowOptions(o: MonoWindowOptions): void {
  if (!Number.isInteger(o.overlapDays) || o.overlapDays < 0)
    throw new DomainError('invalid_window_options', 'overlapDays must be an integer ≥ 0');
  if (!Number.isInteger(o.historyDays) || o.historyDays < 1)
    throw new DomainError('invalid_window_options', 'historyDays must be an integer ≥ 1');
  if (o.pendingWatchDays !== undefined && (!Number.isInteger(o.pendingWatchDays) || o.pendingWatchDays < 1))
    throw new DomainError('invalid_window_options', 'pendingWatchDays must be an integer ≥ 1');
}

function assertRef(ref: string): string {
  if (typeof ref !== 'string' || ref === '' || ref.length > MAX_REF_LENGTH) {
    throw new DomainError('invalid_reference', 'a reference must be a non-empty string of at most 255 characters');
  }
  return ref;
}

function invalid(reason: string): DomainError {
  return new DomainError('invalid_cursor', `invalid sync cursor: ${reason}`);
}
