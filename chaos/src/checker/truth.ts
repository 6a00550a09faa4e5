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
): Truth {
  return {
    mono: new Map(mono.map((a) => [a.id, a])),
    momo: new Map(momo.map((a) => [a.id, a])),
    airtel: new Map(airtel.map((a) => [a.id, a])),
    offsetMs,
  };
}

export interface MonoExpectation {
  /** Rows a complete read by the last successful transactions run must have stored. */
  expected: MonoTruthTxn[];
  /** That run's start in simulator time (ms). */
  runStartSim: number;
}

/**
 * What the newest successful transactions run of a Mono account had to store: every row the
 * simulator serves (not removed, not a released hold) that was visible and dated before the run
 * started, no older than the oldest window any successful run asked for (the first run's history
 * reach). Undefined when no such run exists (the account never synced; the final-state invariant
 * reports that).
 */
export function monoExpectation(t: MonoTruthAccount, runs: readonly DbRun[] | undefined, offsetMs: number): MonoExpectation | undefined {
  const last = lastTransactionsSuccess(runs);
  if (!last) return undefined;
  const runStartSim = last.startedAt.getTime() + offsetMs;
  let floor: string | undefined;
  for (const r of runs ?? []) {
    if (r.outcome !== 'succeeded' || !r.windowFrom) continue;
    const d = utcDay(r.windowFrom);
    if (floor === undefined || d < floor) floor = d;
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
