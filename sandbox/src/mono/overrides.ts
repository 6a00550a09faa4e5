/**
 * Changes the control API (and the statement faults) make to a Mono statement: rows added, pending
 * rows posted now, rows removed from the feed (the legacy sync then answers
 * `INCOMPLETE_STATEMENT_ERROR` until repaired). The truth API shows every one of them.
 */
import { MonoGenerator, type MonoTxn } from './data';
import type { MonoState } from './state';

export interface NewRow {
  amount: number;
  type: 'debit' | 'credit';
  narration: string;
  category: string;
  date: number;
  visibleAt: number;
  postedAt: number;
  pendingNarration: string | null;
}

/** Add a row to account k's statement (id and order derived from the seed, account, date and count). */
export function addTransaction(s: MonoState, k: number, input: NewRow): MonoTxn {
  const r = s.rt(k);
  const seq = r.added.length;
  const row: MonoTxn = {
    id: MonoGenerator.addedId(s.seedValue, k, input.date, seq),
    dateIso: new Date(input.date).toISOString(),
    index: -1 - seq,
    date: input.date,
    amount: input.amount,
    type: input.type,
    narration: input.narration,
    pendingNarration: input.pendingNarration,
    category: input.category,
    balance: 0,
    visibleAt: input.visibleAt,
    postedAt: input.postedAt,
    releasedAt: null,
    source: 'added',
  };
  r.added.push(row);
  return row;
}

/** Post a pending row now; false when account k has no such row. */
export function postTransaction(s: MonoState, k: number, id: string): boolean {
  const now = s.clockRef.now();
  const row = s.rows(k, now).find((x) => x.id === id);
  if (!row) return false;
  if (row.postedAt > now) s.rt(k).posted.set(id, now);
  return true;
}

/** Rows vanish from the feed; returns how many were not removed already. */
export function removeTransactions(s: MonoState, k: number, ids: string[]): number {
  const r = s.rt(k);
  let n = 0;
  for (const id of ids)
    if (!r.removed.has(id)) {
      r.removed.add(id);
      n++;
    }
  return n;
}
