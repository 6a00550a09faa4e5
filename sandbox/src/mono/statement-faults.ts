/**
 * Faults of a statement read page by page (providers.md §1.6, §1.10 scenarios 8-10): on a
 * paginated transactions request for page ≥ 2, Mono may answer `data: null` (a job still
 * enqueued), answer `data: []` while `meta.total` promises rows, or the statement may move before
 * the answer: a new row inserted (newest first, so every later row shifts down) or a pending hold
 * released (every later row shifts up). Opt-in percentages drawn per (seed, account, request
 * number), or one-shot faults armed through the control API. Inserted rows and released holds are
 * real changes: the truth API shows them. Every fault, and every unpaged read, is recorded per
 * account with the request's `X-Request-Fence` (truth `statementEvents`), so a test can tell which
 * run saw what.
 */
import { intIn, unit } from '../shared/prng';
import { addTransaction } from './overrides';
import type { MonoState } from './state';

export type PageAnswer = 'null' | 'empty' | undefined;

/** One thing that happened to a transactions read: a fault on a page, or an unpaged read (`page: null`). */
export interface StatementEvent {
  kind: 'null' | 'empty' | 'insert' | 'remove' | 'unpaged';
  page: number | null;
  /** The request's X-Request-Fence header (null when absent). */
  fence: string | null;
  at: string;
  /** insert/remove: the row inserted or released (absent when there was no hold to release). */
  row?: string;
  /** insert/remove: whether that row's date is inside the request's start/end window. */
  inWindow?: boolean;
}

/** The request being answered: its fence and its window (`start` inclusive, `endExclusive`). */
export interface PageRequest {
  fence: string | null;
  start: number | undefined;
  endExclusive: number | undefined;
}

/** Called before answering a paginated transactions request of account k; may change the statement. */
export function beforePage(state: MonoState, k: number, page: number, req: PageRequest): PageAnswer {
  const r = state.rt(k);
  const n = ++r.pageRequests;
  const armedAt = r.armed.findIndex((a) => a.page === page);
  if (armedAt >= 0) {
    const [fault] = r.armed.splice(armedAt, 1);
    let answer = apply(state, k, fault!.kind, n, page, req);
    for (const kind of fault!.then ?? []) answer = apply(state, k, kind, n, page, req) ?? answer;
    return answer;
  }
  if (page < 2) return undefined;
  const s = state.settings;
  const seed = state.seedValue;
  // At most one move per request: an insertion and a release above the page boundary between the
  // same two requests cancel out in meta.total and in the pages (no reader can see it; armed faults can).
  if (s.shiftInsertPercent > 0 && unit(seed, 'shift-insert', k, n) * 100 < s.shiftInsertPercent) apply(state, k, 'insert', n, page, req);
  else if (s.shiftRemovePercent > 0 && unit(seed, 'shift-remove', k, n) * 100 < s.shiftRemovePercent)
    apply(state, k, 'remove', n, page, req);
  if (s.nullPagePercent > 0 && unit(seed, 'null-page', k, n) * 100 < s.nullPagePercent) return apply(state, k, 'null', n, page, req);
  if (s.emptyPagePercent > 0 && unit(seed, 'empty-page', k, n) * 100 < s.emptyPagePercent) return apply(state, k, 'empty', n, page, req);
  return undefined;
}

/** Record an unpaged (`paginate=false`) read of account k. */
export function unpagedRead(state: MonoState, k: number, req: PageRequest): void {
  state.rt(k).statementEvents.push({ kind: 'unpaged', page: null, fence: req.fence, at: state.clockRef.iso() });
}

function apply(state: MonoState, k: number, kind: StatementEvent['kind'], n: number, page: number, req: PageRequest): PageAnswer {
  const event: StatementEvent = { kind, page, fence: req.fence, at: state.clockRef.iso() };
  state.rt(k).statementEvents.push(event);
  if (kind === 'null' || kind === 'empty') return kind;
  const row = kind === 'insert' ? insertRow(state, k, n) : releaseNewestHold(state, k);
  if (row) {
    event.row = row.id;
    event.inWindow = (req.start === undefined || row.date >= req.start) && (req.endExclusive === undefined || row.date < req.endExclusive);
  }
  return undefined;
}

/** A new credit dated at Mono's snapshot: the newest row, so it pushes every row down one place. */
function insertRow(state: MonoState, k: number, n: number): { id: string; date: number } {
  const at = state.snapshotAt(k);
  const amount = intIn(10, 5_000, state.seedValue, 'shift-amount', k, n) * 100;
  return addTransaction(state, k, {
    amount,
    type: 'credit',
    narration: `NIP/INSERTED BETWEEN PAGES/${n}`,
    category: 'transfer',
    date: at,
    visibleAt: at,
    postedAt: at,
    pendingNarration: null,
  });
}

/** Release the newest pending hold still served: it vanishes at once, every older row moves up one place. */
export function releaseNewestHold(state: MonoState, k: number): { id: string; date: number } | undefined {
  const rows = state.visible(k);
  for (let i = rows.length - 1; i >= 0; i--) {
    const v = rows[i]!;
    if (v.pending && v.row.pendingNarration !== null) {
      state.rt(k).released.set(v.row.id, state.clockRef.now());
      return v.row;
    }
  }
  return undefined;
}
