/**
 * Faults of a statement read page by page (providers.md §1.6, §1.10 scenarios 8-10): on a
 * paginated transactions request for page ≥ 2, Mono may answer `data: null` (a job still
 * enqueued), answer `data: []` while `meta.total` promises rows, or the statement may move before
 * the answer: a new row inserted (newest first, so every later row shifts down) or a pending hold
 * released (every later row shifts up). Opt-in percentages drawn per (seed, account, request
 * number), or one-shot faults armed through the control API. Inserted rows and released holds are
 * real changes: the truth API shows them.
 */
import { intIn, unit } from '../shared/prng';
import type { MonoState } from './state';

export type PageAnswer = 'null' | 'empty' | undefined;

/** Called before answering a paginated transactions request of account k; may change the statement. */
export function beforePage(state: MonoState, k: number, page: number): PageAnswer {
  const r = state.rt(k);
  const n = ++r.pageRequests;
  const armedAt = r.armed.findIndex((a) => a.page === page);
  if (armedAt >= 0) {
    const [fault] = r.armed.splice(armedAt, 1);
    return apply(state, k, fault!.kind, n);
  }
  if (page < 2) return undefined;
  const s = state.settings;
  const seed = state.seedValue;
  if (s.shiftInsertPercent > 0 && unit(seed, 'shift-insert', k, n) * 100 < s.shiftInsertPercent) apply(state, k, 'insert', n);
  if (s.shiftRemovePercent > 0 && unit(seed, 'shift-remove', k, n) * 100 < s.shiftRemovePercent) apply(state, k, 'remove', n);
  if (s.nullPagePercent > 0 && unit(seed, 'null-page', k, n) * 100 < s.nullPagePercent) return 'null';
  if (s.emptyPagePercent > 0 && unit(seed, 'empty-page', k, n) * 100 < s.emptyPagePercent) return 'empty';
  return undefined;
}

function apply(state: MonoState, k: number, kind: 'null' | 'empty' | 'insert' | 'remove', n: number): PageAnswer {
  if (kind === 'null' || kind === 'empty') return kind;
  if (kind === 'insert') insertRow(state, k, n);
  else releaseNewestHold(state, k);
  return undefined;
}

/** A new credit dated at Mono's snapshot: the newest row, so it pushes every row down one place. */
function insertRow(state: MonoState, k: number, n: number): void {
  const at = state.snapshotAt(k);
  const amount = intIn(10, 5_000, state.seedValue, 'shift-amount', k, n) * 100;
  state.addTransaction(k, {
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
export function releaseNewestHold(state: MonoState, k: number): string | undefined {
  const rows = state.visible(k);
  for (let i = rows.length - 1; i >= 0; i--) {
    const v = rows[i]!;
    if (v.pending && v.row.pendingNarration !== null) {
      state.rt(k).released.set(v.row.id, state.clockRef.now());
      return v.row.id;
    }
  }
  return undefined;
}
