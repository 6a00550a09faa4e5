import type { Logger } from '@intellifin/core';
import type { Pool } from '@intellifin/persistence';
import { withLeaderFence, type Fence } from '../adapters/leader-lease.repo';
import { deleteOrphanedDue } from '../adapters/accounts-plan.repo';
import { pruneSyncRuns, pruneWebhookEvents } from '../adapters/maintenance.repo';
import { loadSlotStates, saveSlotState } from '../adapters/slot-state.repo';
import { groupKey } from '../domain/overrides';
import { dueSlots, type SlotSpec } from '../domain/slots';
import type { SchedulerMetrics } from './metrics';

export interface MaintenanceSettings {
  cron: string;
  timezone: string;
  syncRunsRetentionDays: number;
  webhookEventsRetentionDays: number;
}

export interface MaintenanceDeps {
  pool: Pool;
  logger: Logger;
  metrics: SchedulerMetrics;
  settings: MaintenanceSettings;
  /** Messages in the dead-letter stream. */
  dlqSize?: () => Promise<number>;
}

export interface MaintenanceReport {
  slot: Date;
  skipped: number;
  syncRunsPruned: number;
  webhookEventsPruned: number;
  /** Pending syncs of accounts deleted since they were planned. */
  orphanedDuePruned: number;
  dlqMessages: number | undefined;
}

const PLAN = 'maintenance';
const PROVIDER = '*';
const DAY = 86_400_000;

/**
 * The daily maintenance slot (use case "maintenance"): prunes finished `sync_runs` and processed
 * `webhook_events` older than their retention (cutoffs from the planner's clock), pending syncs of
 * deleted accounts, and measures the DLQ. Same slot state and catch-up as the account plans; the deletes are idempotent, so a crash
 * before the slot is recorded just repeats them.
 */
export async function runMaintenanceIfDue(deps: MaintenanceDeps, fence: Fence, now: Date): Promise<MaintenanceReport | null> {
  const spec: SlotSpec = { cron: deps.settings.cron, timezone: deps.settings.timezone, window: null };
  const key = groupKey({ plan: PLAN, provider: PROVIDER, scope: { orgId: null, accountId: null } });
  const last = (await loadSlotStates(deps.pool)).get(key);
  const save = (lastSlot: Date) =>
    withLeaderFence(deps.pool, fence, (c) =>
      saveSlotState(c, {
        plan: PLAN,
        provider: PROVIDER,
        scope: { orgId: null, accountId: null },
        lastSlot,
        executedAt: now,
        epoch: fence.epoch,
      }),
    );
  if (last === undefined) {
    // First run of this deployment: start from now (a slot right now still runs).
    const due = dueSlots(spec, new Date(now.getTime() - 60_000), now);
    if (!due.latest) {
      await save(now);
      return null;
    }
  }
  const due = dueSlots(spec, last ?? new Date(now.getTime() - 60_000), now);
  if (!due.latest) return null;

  const syncRunsPruned = await pruneSyncRuns(deps.pool, new Date(now.getTime() - deps.settings.syncRunsRetentionDays * DAY));
  const webhookEventsPruned = await pruneWebhookEvents(deps.pool, new Date(now.getTime() - deps.settings.webhookEventsRetentionDays * DAY));
  const orphanedDuePruned = await deleteOrphanedDue(deps.pool);
  let dlqMessages: number | undefined;
  if (deps.dlqSize) {
    try {
      dlqMessages = await deps.dlqSize();
      deps.metrics.dlqMessages.set(dlqMessages);
    } catch (err) {
      deps.logger.warn({ err }, 'measuring the DLQ failed');
    }
  }
  deps.metrics.pruned.inc({ table: 'sync_runs' }, syncRunsPruned);
  deps.metrics.pruned.inc({ table: 'webhook_events' }, webhookEventsPruned);
  deps.metrics.pruned.inc({ table: 'sync_due' }, orphanedDuePruned);
  deps.metrics.slotsExecuted.inc({ plan: PLAN, provider: PROVIDER, catch_up: String(due.skipped > 0) });
  await save(due.latest);
  const report = { slot: due.latest, skipped: due.skipped, syncRunsPruned, webhookEventsPruned, orphanedDuePruned, dlqMessages };
  deps.logger.info({ plan: PLAN, ...report, slot: due.latest.toISOString() }, 'maintenance done');
  return report;
}
