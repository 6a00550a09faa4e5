/**
 * Data readiness after linking (providers.md §1.2, §1.10 scenarios 2, 3): PROCESSING (no rows, no
 * balance), optionally PARTIAL (balance only), then AVAILABLE with `mono.events.account_updated`.
 * Opt-in (`processingPercent`), seeded: which accounts and how long are pure functions of
 * (seed, account). The truth API shows each account's `data_status`; once every timeline ended
 * the simulator has settled.
 */
import { intIn, unit } from '../shared/prng';
import type { MonoState } from './state';

/** Put account k through the readiness timeline starting at `from` (simulator time). */
export function startProcessing(state: MonoState, k: number, from: number): void {
  const s = state.settings;
  const r = state.rt(k);
  const seed = state.seedValue;
  const processing = intIn(1, s.processingSeconds, seed, 'processing-s', k) * 1000;
  const partial = unit(seed, 'partial', k) * 100 < s.partialPercent ? intIn(1, s.processingSeconds, seed, 'partial-s', k) * 1000 : 0;
  r.dataStatus = 'PROCESSING';
  r.readyAt = from + processing + partial;
  const gen = state.generation;
  if (partial > 0) {
    state.clockRef.schedule(from + processing, () => {
      if (gen !== state.generation || r.dataStatus !== 'PROCESSING') return;
      r.dataStatus = 'PARTIAL';
      state.notifyUpdated(k, 'SUCCESSFUL', false);
    });
  }
  state.clockRef.schedule(r.readyAt, () => {
    if (gen !== state.generation || (r.dataStatus !== 'PROCESSING' && r.dataStatus !== 'PARTIAL')) return;
    r.dataStatus = 'AVAILABLE';
    r.lastSyncAt = Math.max(r.readyAt ?? 0, r.lastSyncAt ?? -Infinity);
    state.notifyUpdated(k, 'SUCCESSFUL', true);
  });
}

/** At a (re)start: the seeded share of accounts that were linked just before the epoch. */
export function seedProcessing(state: MonoState): void {
  const s = state.settings;
  if (!(s.processingPercent > 0)) return;
  const now = state.clockRef.now();
  for (let k = 0; k < state.count; k++) {
    if (unit(state.seedValue, 'processing', k) * 100 < s.processingPercent) startProcessing(state, k, now);
  }
}
