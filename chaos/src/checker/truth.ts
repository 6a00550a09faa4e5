/**
 * The simulators' truth, as the checker uses it: per provider account id, and what a complete
 * sync that started at a given instant must hold.
 */
import type { MonoTruthAccount, MonoTruthTxn, WalletTruthAccount } from './sources';
import type { DbAccount, DbRun } from './world';
import { lastTransactionsSuccess } from './world';
import { utcDay } from './result';
import type { ProviderName } from './types';

export interface Truth {
  /** The Mono worker's MONO_HISTORY_DAYS. */
  monoHistoryDays: number;
  mono: Map<string, MonoTruthAccount>;
  momo: Map<string, WalletTruthAccount>;
  airtel: Map<string, WalletTruthAccount>;
  /** Simulator time minus wall time (ms), per provider simulator. */
  offsetMs: Record<ProviderName, number>;
}

export function buildTruth(
  mono: MonoTruthAccount[],
  momo: WalletTruthAccount[],
  airtel: WalletTruthAccount[],
  offsetMs: Record<ProviderName, number>,
  monoHistoryDays = DEFAULT_MONO_HISTORY_DAYS,
): Truth {
  return {
    monoHistoryDays,
    mono: new Map(mono.map((a) => [a.id, a])),
    momo: new Map(momo.map((a) => [a.id, a])),
    airtel: new Map(airtel.map((a) => [a.id, a])),
    offsetMs,
  };
}

/** The Mono worker's first-run reach (MONO_HISTORY_DAYS, default 90). */
export const DEFAULT_MONO_HISTORY_DAYS = 90;
const DAY_MS = 86_400_000;

export interface MonoExpectation {
  /** Rows a complete read by the last successful transactions run must have stored. */
  expected: MonoTruthTxn[];
  /** That run's start in simulator time (ms). */
  runStartSim: number;
}

/**
 * What the newest successful transactions run of a Mono account had to store: every row the
 * simulator serves (not removed, not a released hold) that was visible and dated before the run
 * started, no older than the first run's history reach (`historyDays` before the day of the
 * account's first run) or the oldest window a successful run asked for. Undefined when no such run exists (the account never synced; the final-state invariant
 * reports that).
 */
export function monoExpectation(
  t: MonoTruthAccount,
  runs: readonly DbRun[] | undefined,
  offsetMs: number,
  historyDays = DEFAULT_MONO_HISTORY_DAYS,
): MonoExpectation | undefined {
  const last = lastTransactionsSuccess(runs);
  if (!last) return undefined;
  const runStartSim = last.startedAt.getTime() + offsetMs;
  // The first run reaches `historyDays` back from its day; a later run may start from the cursor
  // an interrupted run advanced (its last page committed, its finish not), so the succeeded runs'
  // windows alone would under-state what must be there.
  let floor: string | undefined;
  for (const r of runs ?? []) {
    const reach = utcDay(r.startedAt.getTime() - historyDays * DAY_MS);
    if (floor === undefined || reach < floor) floor = reach;
    if (r.outcome !== 'succeeded' || !r.windowFrom) continue;
    const d = utcDay(r.windowFrom);
    if (d < floor) floor = d;
  }
  const expected = t.transactions.filter(
    (x) =>
      x.servedNow &&
      !x.removed &&
      x.finalStatus !== 'removed' &&
      Date.parse(x.visibleAt) <= runStartSim &&
      Date.parse(x.date) <= runStartSim &&
      (floor === undefined || utcDay(x.date) >= floor),
  );
  return { expected, runStartSim };
}

/** Our status for a wallet provider's status word; `pending|failed` where either is right (MoMo's rejected-after-accept). */
export function walletStatus(provider: 'momo' | 'airtel', word: string): 'posted' | 'failed' | 'pending' | 'pending|failed' {
  if (provider === 'momo') {
    if (word === 'SUCCESSFUL') return 'posted';
    if (word === 'FAILED') return 'failed';
    if (word === 'REJECTED_AFTER_ACCEPT') return 'pending|failed';
    return 'pending';
  }
  if (word === 'TS') return 'posted';
  if (word === 'TF' || word === 'TE') return 'failed';
  return 'pending';
}

export function walletTruthFor(truth: Truth, a: DbAccount): WalletTruthAccount | undefined {
  return a.provider === 'momo'
    ? truth.momo.get(a.providerAccountId)
    : a.provider === 'airtel'
      ? truth.airtel.get(a.providerAccountId)
      : undefined;
}
