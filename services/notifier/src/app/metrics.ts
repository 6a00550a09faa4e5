import { counter, gauge, histogram, METRIC_PREFIX, type Registry } from '@intellifin/core';

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
    holds: counter(
      registry,
      `${METRIC_PREFIX}notifier_onesignal_holds_total`,
      'Holds of the OneSignal app this replica started (a 429 with Retry-After), by the action refused',
      ['action'],
    ),
    held: counter(
      registry,
      `${METRIC_PREFIX}notifier_onesignal_held_total`,
      'Requests not made because the OneSignal app was held (the push is put back until the hold ends), by action',
      ['action'],
    ),
    holdUntil: gauge(
      registry,
      `${METRIC_PREFIX}notifier_onesignal_hold_until_seconds`,
      'End of the latest OneSignal app hold this replica knows of (Unix seconds; 0: none seen)',
    ),
  };
}

export type NotifierMetrics = ReturnType<typeof notifierMetrics>;

/** The `kind` label: `reminder_<n>` → `reminder` (bounded), others as they are. */
export function kindLabel(kind: string): string {
  return kind.startsWith('reminder_') ? 'reminder' : kind;
}
