import { counter, METRIC_PREFIX, type Registry } from '@intellifin/core';

/** What the Mono adapter saw of the statement moving or not being ready (labels are fixed words, never ids). */
export type MonoStatementEvent =
  'not_ready' | 'realtime_enqueued' | 'null_page' | 'empty_page' | 'shift_detected' | 'unpaged_reread' | 'pending_removed' | 'unlinked';

export interface MonoStatementMetrics {
  count(event: MonoStatementEvent, n?: number): void;
}

export const noMonoMetrics: MonoStatementMetrics = { count: () => undefined };

/** `intellifin_sync_mono_statement_events_total{event}`. */
export function monoStatementMetrics(registry: Registry): MonoStatementMetrics {
  const c = counter(
    registry,
    `${METRIC_PREFIX}mono_statement_events_total`,
    'Mono statement reads that met data not ready, missing pages, a statement shifting while paged, removed pending rows or an unlinked account',
    ['event'],
  );
  return { count: (event, n = 1) => c.inc({ event }, n) };
}
