import { counter, histogram, METRIC_PREFIX, type Registry } from '@intellifin/core';

/** Notifier metrics. Labels are bounded: provider, push kind, outcome, HTTP status class. */
export function notifierMetrics(registry: Registry) {
  return {
    episodes: counter(
      registry,
      `${METRIC_PREFIX}notifier_episodes_total`,
      'Auth events handled: episode opened, already open, repaired, stale',
      ['provider', 'event'],
    ),
    notifications: counter(registry, `${METRIC_PREFIX}notifier_notifications_total`, 'Pushes settled, by provider, kind and outcome', [
      'provider',
      'kind',
      'outcome',
    ]),
    requests: counter(registry, `${METRIC_PREFIX}notifier_onesignal_requests_total`, 'Requests to OneSignal by action and result', [
      'provider',
      'action',
      'result',
    ]),
    requestSeconds: histogram(
      registry,
      `${METRIC_PREFIX}notifier_onesignal_request_seconds`,
      'OneSignal request duration',
      ['action'],
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
  };
}

export type NotifierMetrics = ReturnType<typeof notifierMetrics>;

/** The `kind` label: `reminder_<n>` → `reminder` (bounded), others as they are. */
export function kindLabel(kind: string): string {
  return kind.startsWith('reminder_') ? 'reminder' : kind;
}
