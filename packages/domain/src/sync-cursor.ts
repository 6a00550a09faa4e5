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
}

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
}

export const DEFAULT_MONO_WINDOW: MonoWindowOptions = Object.freeze({ overlapDays: 3, historyDays: 90 });

export function emptyCursor(provider: ProviderId): SyncCursor {
  return provider === 'mono'
    ? { v: CURSOR_VERSION, kind: 'mono', highWaterDate: null, lastWindow: null }
    : { v: CURSOR_VERSION, kind: provider, pendingRefs: [] };
}

/**
 * The window the next Mono run fetches: `[highWater − overlap, today]`, or `[today − history,
 * today]` on the first run. `today` is the UTC date of `now`. A high-water date in the future
 * (clock skew, value-dated rows) never yields an empty or inverted window: `from` is at most today.
 */
export function nextMonoWindow(cursor: MonoCursor, now: Date, options: MonoWindowOptions = DEFAULT_MONO_WINDOW): DateWindow {
  assertWindowOptions(options);
  const today = toIsoDate(now);
  const from = cursor.highWaterDate === null ? addDays(today, -options.historyDays) : addDays(cursor.highWaterDate, -options.overlapDays);
  return { from: minIsoDate(from, today), to: today };
}

/**
 * The cursor after a Mono run fetched `window` completely (every page committed). The high-water
 * date only ever moves forward: an older or overlapping window leaves it where it is. Never call
 * this for a run that stopped part-way (cancelled, failed): the next run must fetch that window again.
 */
export function advanceMonoCursor(cursor: MonoCursor, window: DateWindow): MonoCursor {
  assertWindow(window);
  const highWaterDate = cursor.highWaterDate === null ? window.to : maxIsoDate(cursor.highWaterDate, window.to);
  return { v: CURSOR_VERSION, kind: 'mono', highWaterDate, lastWindow: { from: window.from, to: window.to } };
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
  return cursor.kind === 'mono'
    ? { v: cursor.v, kind: cursor.kind, highWaterDate: cursor.highWaterDate, lastWindow: cursor.lastWindow && { ...cursor.lastWindow } }
    : { v: cursor.v, kind: cursor.kind, pendingRefs: [...cursor.pendingRefs] };
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
    cursor = {
      v: CURSOR_VERSION,
      kind: 'mono',
      highWaterDate: hw as IsoDate | null,
      lastWindow: lw === null || lw === undefined ? null : (lw as DateWindow),
    };
  } else {
    cursor = { v: CURSOR_VERSION, kind: provider, pendingRefs: o['pendingRefs'] as string[] };
  }
  assertValidCursor(cursor);
  if (cursor.kind !== 'mono') {
    // tolerate an unsorted/duplicated stored set; the in-memory form is canonical
    cursor = { ...cursor, pendingRefs: [...new Set(cursor.pendingRefs)].sort() };
  } else if (cursor.lastWindow) {
    cursor = { ...cursor, lastWindow: { from: cursor.lastWindow.from, to: cursor.lastWindow.to } };
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
    return;
  }
  if (cursor.kind !== 'momo' && cursor.kind !== 'airtel') throw invalid(`unknown kind ${String((cursor as { kind: unknown }).kind)}`);
  if (!Array.isArray(cursor.pendingRefs)) throw invalid('pendingRefs is not an array');
  if (cursor.pendingRefs.length > MAX_PENDING_REFS) throw invalid(`more than ${MAX_PENDING_REFS} pending references`);
  for (const ref of cursor.pendingRefs) {
    if (typeof ref !== 'string' || ref === '' || ref.length > MAX_REF_LENGTH) throw invalid('pendingRefs holds an invalid reference');
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
