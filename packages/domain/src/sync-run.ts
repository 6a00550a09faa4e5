import { DomainError } from './errors';

/**
 * What a run fetches: `transactions` (delta since the cursor, and for MoMo/Airtel the polling of
 * pending references), `balance` (balance only), `full` (both).
 */
export const SYNC_MODES = ['transactions', 'balance', 'full'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export function isSyncMode(value: unknown): value is SyncMode {
  return typeof value === 'string' && (SYNC_MODES as readonly string[]).includes(value);
}

/** How a run ended, as recorded in `sync_runs.outcome` and the run event. */
export const RUN_OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** What a run asks for, the part that matters for coalescing two requests for one account. */
export interface SyncScope {
  readonly mode: SyncMode;
  /** Ask the provider for real-time data (Mono `x-realtime`), not its cached copy. */
  readonly realtime: boolean;
}

function fetchesTransactions(mode: SyncMode): boolean {
  return mode === 'transactions' || mode === 'full';
}

function fetchesBalance(mode: SyncMode): boolean {
  return mode === 'balance' || mode === 'full';
}

/**
 * Whether a run with scope `running` already does everything `incoming` asks for, so that the
 * incoming command can be dropped (acked) while the running one finishes. If not — a manual
 * real-time "Sync now" arriving during a scheduled run, a full sync during a balance refresh — the
 * incoming command must be kept (delayed or folded into a re-run), never lost.
 */
export function scopeCovers(running: SyncScope, incoming: SyncScope): boolean {
  if (fetchesTransactions(incoming.mode) && !fetchesTransactions(running.mode)) return false;
  if (fetchesBalance(incoming.mode) && !fetchesBalance(running.mode)) return false;
  if (incoming.realtime && !running.realtime) return false;
  return true;
}

/** The smallest scope that covers both (for folding a pending request into the next run). */
export function mergeScopes(a: SyncScope, b: SyncScope): SyncScope {
  const tx = fetchesTransactions(a.mode) || fetchesTransactions(b.mode);
  const bal = fetchesBalance(a.mode) || fetchesBalance(b.mode);
  const mode: SyncMode = tx && bal ? 'full' : tx ? 'transactions' : 'balance';
  return { mode, realtime: a.realtime || b.realtime };
}

/** What one run did to the stored transactions. */
export interface SyncCounts {
  readonly added: number;
  readonly modified: number;
  readonly unchanged: number;
}

export const ZERO_COUNTS: SyncCounts = Object.freeze({ added: 0, modified: 0, unchanged: 0 });

export function addCounts(a: SyncCounts, b: SyncCounts): SyncCounts {
  return { added: a.added + b.added, modified: a.modified + b.modified, unchanged: a.unchanged + b.unchanged };
}

export function totalCount(c: SyncCounts): number {
  return c.added + c.modified + c.unchanged;
}

export function assertValidCounts(c: SyncCounts): void {
  for (const key of ['added', 'modified', 'unchanged'] as const) {
    const n = c[key];
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new DomainError('invalid_counts', `count ${key} must be a non-negative integer, got ${String(n)}`);
    }
  }
}
