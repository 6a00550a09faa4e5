import { counter, gauge, histogram, METRIC_PREFIX, type Registry } from '@intellifin/core';
import type { SyncTrigger } from '@intellifin/domain';

const P = `${METRIC_PREFIX}scheduler_`;

export function schedulerMetrics(registry: Registry) {
  return {
    published: counter(
      registry,
      `${P}commands_published_total`,
      'Sync commands published, by provider, plan and whether JetStream dropped them as duplicates of the same (account, slot)',
      ['provider', 'plan', 'result'],
    ),
    due: counter(registry, `${P}accounts_due_total`, 'Accounts found due by dispatch passes (compare with commands_published_total)', [
      'provider',
    ]),
    deferred: counter(
      registry,
      `${P}dispatch_deferred_total`,
      'Due accounts left for a later pass: provider budget exhausted or paused, or publish failed',
      ['provider', 'reason'],
    ),
    dropped: counter(
      registry,
      `${P}due_dropped_total`,
      'Pending syncs dispatch found for accounts gone or no longer active/error (normally removed when the status is set), deleted unpublished',
      ['provider'],
    ),
    planStatements: counter(
      registry,
      `${P}plan_mark_statements_total`,
      'Marking statements issued by planning passes, by scope of the groups they mark (org and account groups are batched)',
      ['scope'],
    ),
    planned: counter(registry, `${P}accounts_planned_total`, 'Accounts given a pending sync by an executed slot', ['provider', 'plan']),
    slotsExecuted: counter(registry, `${P}slots_executed_total`, 'Plan slots executed (catch_up=true: executed late, after missed slots)', [
      'plan',
      'provider',
      'catch_up',
    ]),
    slotsSkipped: counter(registry, `${P}slots_skipped_total`, 'Missed slots folded into a later one by catch-up', ['plan', 'provider']),
    slotLag: histogram(
      registry,
      `${P}slot_lag_seconds`,
      'How late a slot was executed after its planned instant',
      ['plan'],
      [0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400],
    ),
    dispatchLag: gauge(
      registry,
      `${P}dispatch_lag_seconds`,
      'Planning lag: age of the oldest due account at the start of the last dispatch pass (0 when none)',
    ),
    passDuration: histogram(
      registry,
      `${P}pass_duration_seconds`,
      'Duration of a planning pass (slots + dispatch)',
      [],
      [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
    ),
    leader: gauge(registry, `${P}leader`, '1 while this replica holds the leader lease'),
    leaderEpoch: gauge(registry, `${P}leader_epoch`, 'Epoch (fencing token) of the lease this replica last held'),
    leaderChanges: counter(registry, `${P}leadership_changes_total`, 'Leadership gained or lost by this replica', ['change']),
    invalidSchedules: gauge(
      registry,
      `${P}invalid_schedules`,
      'Plan groups skipped because their sync_schedules rows are unusable (bad cron, zone or settings)',
    ),
    dlqMessages: gauge(
      registry,
      `${METRIC_PREFIX}dlq_messages`,
      'Messages in the dead-letter stream SYNC_DLQ (measured by the daily maintenance)',
    ),
    pruned: counter(registry, `${P}pruned_rows_total`, 'Rows deleted by retention', ['table']),
  };
}
export type SchedulerMetrics = ReturnType<typeof schedulerMetrics>;

/** The plan a pending sync's trigger came from (`adhoc`: anything the plans do not produce). */
export function planOfTrigger(trigger: SyncTrigger): string {
  switch (trigger) {
    case 'scheduled':
      return 'transactions';
    case 'nightly':
    case 'balance':
    case 'stale':
      return trigger;
    default:
      return 'adhoc';
  }
}
