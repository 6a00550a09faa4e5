import { counter, histogram, METRIC_PREFIX, type Registry } from '@intellifin/core';
import { currentRunRequests } from './run-context';

/**
 * The engine's metrics (prefix `intellifin_sync_`). Queue wait (publish → start) and the DLQ count
 * are the consumer runner's (`queue_wait_seconds`, `dead_letters_total`); provider request counts
 * and latency are recorded by the adapters through `providerRequest`.
 */
export function engineMetrics(registry: Registry) {
  return {
    runs: counter(
      registry,
      `${METRIC_PREFIX}runs_total`,
      'Sync runs by provider, trigger and outcome (succeeded, failed, cancelled, skipped)',
      ['provider', 'trigger', 'outcome'],
    ),
    runDuration: histogram(
      registry,
      `${METRIC_PREFIX}run_duration_seconds`,
      'Duration of a sync run from lease to recorded outcome',
      ['provider', 'outcome'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    ),
    transactions: counter(
      registry,
      `${METRIC_PREFIX}transactions_total`,
      'Transactions written by sync runs, by kind (added, modified, unchanged)',
      ['provider', 'kind'],
    ),
    providerRequests: counter(
      registry,
      `${METRIC_PREFIX}provider_requests_total`,
      'Provider HTTP requests by route and status (0 = no response)',
      ['provider', 'route', 'status'],
    ),
    providerLatency: histogram(
      registry,
      `${METRIC_PREFIX}provider_request_duration_seconds`,
      'Provider HTTP request latency',
      ['provider', 'route'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    leaseContention: counter(
      registry,
      `${METRIC_PREFIX}lease_contention_total`,
      'Commands that found the account lease busy, by decision (rerun_recorded: the request recorded for the running run to honour, the command handed back; deferred: the account row was gone; rerun_queued: turned into a command by the finishing run)',
      ['provider', 'decision'],
    ),
    leaseLost: counter(registry, `${METRIC_PREFIX}lease_lost_total`, 'Runs that lost their lease mid-run', ['provider']),
    fencedRejections: counter(
      registry,
      `${METRIC_PREFIX}fenced_write_rejections_total`,
      'Writes rejected because a newer run holds the account fence',
      ['provider'],
    ),
    runTimeouts: counter(registry, `${METRIC_PREFIX}run_timeouts_total`, 'Runs aborted at the maximum run duration', ['provider']),
    authEvents: counter(registry, `${METRIC_PREFIX}auth_events_total`, 'Auth events committed to the outbox (reauth_required, repaired)', [
      'provider',
      'kind',
    ]),
  };
}

export type EngineMetrics = ReturnType<typeof engineMetrics>;

/**
 * What an adapter reports per provider request: the route template (no ids or query), the HTTP
 * status (0 = no response), the duration, and the provider's Retry-After when it sent one.
 */
export type ProviderRequestObserver = (route: string, status: number, seconds: number, retryAfterMs?: number) => void;

/** Counts the request in the metrics and adds it to the current run's request log (when in a run). */
export function providerRequestObserver(metrics: EngineMetrics | undefined, provider: string): ProviderRequestObserver {
  return (route, status, seconds, retryAfterMs) => {
    currentRunRequests()?.record(route, status, seconds, retryAfterMs);
    if (!metrics) return;
    metrics.providerRequests.inc({ provider, route, status: String(status) });
    metrics.providerLatency.observe({ provider, route }, seconds);
  };
}
