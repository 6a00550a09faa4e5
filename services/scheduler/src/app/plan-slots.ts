import type { Logger } from '@intellifin/core';
import { backoffCeilingMs, PROVIDERS, type BackoffPolicy, type ProviderId } from '@intellifin/domain';
import { listSchedules, type Pool } from '@intellifin/persistence';
import { analyzeDue, markGroup } from '../adapters/accounts-plan.repo';
import { withLeaderFence, type Fence } from '../adapters/leader-lease.repo';
import { loadSlotStates, saveSlotState } from '../adapters/slot-state.repo';
import { groupKey, resolvePlanGroups, type GroupScope, type PlanGroup } from '../domain/overrides';
import { dueSlots } from '../domain/slots';
import type { SchedulerMetrics } from './metrics';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Catch-up looks back at most this far (a scheduler down for longer runs each plan once anyway). */
const MAX_LOOKBACK_MS = 35 * DAY;
/** A provider whose groups mark at least this many accounts in a pass refreshes the statistics of `sync_due`. */
const ANALYZE_AFTER_MARKING = 10_000;

export interface ExecutedSlot {
  plan: string;
  provider: string;
  scope: GroupScope;
  slot: Date;
  /** Earlier missed slots folded into this one. */
  skipped: number;
  /** Accounts given a pending sync (0 for a disabled group). */
  planned: number;
  enabled: boolean;
}

export interface PlanSlotsDeps {
  pool: Pool;
  logger: Logger;
  metrics: SchedulerMetrics;
  /** Backoff of `error` accounts (base ≥ a few minutes: it spaces scheduled syncs, not API retries). */
  errorBackoff: BackoffPolicy;
}

/** Element k-1 = the backoff after k consecutive failures (the domain's full-jitter ceiling of attempt k-1). */
export function errorBackoffTable(policy: BackoffPolicy): number[] {
  const out: number[] = [];
  for (let attempt = 0; attempt < 64; attempt++) {
    const v = backoffCeilingMs(attempt, policy);
    out.push(v);
    if (v >= policy.capMs) break;
  }
  return out;
}

const reportedInvalid = new WeakMap<Logger, Set<string>>();

/**
 * Executes every plan slot that came due since the last pass (use case "plan slot" with
 * catch-up): for each plan group, the latest slot in (last executed, now] — missed earlier ones
 * are counted and skipped, never run one by one — marks the group's accounts and records the slot,
 * in one transaction fenced by the leader epoch.
 *
 * A group seen for the first time (new deployment, new override) executes its latest slot only if
 * that slot is still inside its spread window; otherwise it starts from now, so that deploying at
 * noon does not fire the 02:00 nightly.
 */
export async function executeDueSlots(
  deps: PlanSlotsDeps,
  fence: Fence,
  now: Date,
  /** Called as soon as a provider's groups are all executed (its pending syncs are final for this pass). */
  onProviderPlanned?: (provider: ProviderId) => void,
): Promise<ExecutedSlot[]> {
  const [rows, states] = await Promise.all([listSchedules(deps.pool), loadSlotStates(deps.pool)]);
  const groups = resolvePlanGroups(rows);
  const invalid = groups.filter((g) => g.invalid !== undefined);
  deps.metrics.invalidSchedules.set(invalid.length);
  reportInvalid(deps.logger, invalid);
  const backoff = errorBackoffTable(deps.errorBackoff);
  const executed: ExecutedSlot[] = [];
  // Provider by provider (each provider's groups in their order), so that a provider can be
  // dispatched while the next ones are planned: providers' accounts are disjoint.
  for (const provider of PROVIDERS) {
    let planned = 0;
    for (const g of groups) {
      if (g.provider !== provider || g.invalid !== undefined) continue;
      const spreadMs = g.definition.settings.spreadMinutes * MINUTE;
      const spec = { cron: g.definition.cron, timezone: g.definition.timezone, window: g.definition.settings.window };
      const last = states.get(groupKey(g));
      let slot: Date | null;
      let skipped = 0;
      if (last === undefined) {
        slot = dueSlots(spec, new Date(now.getTime() - spreadMs - 1), now).latest;
        if (!slot) {
          await withLeaderFence(deps.pool, fence, (c) =>
            saveSlotState(c, { plan: g.plan, provider: g.provider, scope: g.scope, lastSlot: now, executedAt: now, epoch: fence.epoch }),
          );
          continue;
        }
      } else {
        const after = new Date(Math.max(last.getTime(), now.getTime() - MAX_LOOKBACK_MS));
        const due = dueSlots(spec, after, now);
        slot = due.latest;
        skipped = due.skipped;
        if (!slot) continue;
      }
      const done = await executeSlot(deps, fence, g, slot, skipped, now, spreadMs, backoff);
      planned += done.planned;
      executed.push(done);
    }
    if (planned >= ANALYZE_AFTER_MARKING) {
      // Not fatal: without fresh statistics dispatch is slower, not wrong (and the role may lack the right).
      await analyzeDue(deps.pool).catch((err: unknown) =>
        deps.logger.warn({ err, planned }, 'ANALYZE sync_due failed; dispatch may use a poor plan until autovacuum analyzes it'),
      );
    }
    onProviderPlanned?.(provider);
  }
  return executed;
}

async function executeSlot(
  deps: PlanSlotsDeps,
  fence: Fence,
  g: PlanGroup,
  slot: Date,
  skipped: number,
  now: Date,
  spreadMs: number,
  backoff: number[],
): Promise<ExecutedSlot> {
  const d = g.definition;
  const planned = await withLeaderFence(deps.pool, fence, async (c) => {
    let n = 0;
    if (g.enabled) {
      n = await markGroup(c, {
        group: g,
        slot,
        base: now.getTime() > slot.getTime() ? now : slot,
        spreadMs,
        mode: d.mode,
        trigger: d.trigger,
        ...(g.plan === 'stale' ? { staleBefore: new Date(slot.getTime() - d.settings.staleAfterMinutes * MINUTE) } : {}),
        errorBackoffMs: backoff,
      });
    }
    await saveSlotState(c, { plan: g.plan, provider: g.provider, scope: g.scope, lastSlot: slot, executedAt: now, epoch: fence.epoch });
    return n;
  });
  const lagS = Math.max(0, (now.getTime() - slot.getTime()) / 1000);
  deps.metrics.slotsExecuted.inc({ plan: g.plan, provider: g.provider, catch_up: String(skipped > 0) });
  if (skipped > 0) deps.metrics.slotsSkipped.inc({ plan: g.plan, provider: g.provider }, skipped);
  deps.metrics.slotLag.observe({ plan: g.plan }, lagS);
  deps.metrics.planned.inc({ provider: g.provider, plan: g.plan }, planned);
  deps.logger[skipped > 0 ? 'info' : 'debug'](
    {
      plan: g.plan,
      provider: g.provider,
      orgId: g.scope.orgId ?? undefined,
      accountId: g.scope.accountId ?? undefined,
      slot: slot.toISOString(),
      lagSeconds: lagS,
      skippedSlots: skipped,
      planned,
      enabled: g.enabled,
      ...(g.reason !== undefined ? { reason: g.reason } : {}),
    },
    skipped > 0 ? 'slot executed (catch-up)' : 'slot executed',
  );
  return { plan: g.plan, provider: g.provider, scope: g.scope, slot, skipped, planned, enabled: g.enabled };
}

function reportInvalid(logger: Logger, invalid: PlanGroup[]): void {
  let seen = reportedInvalid.get(logger);
  if (!seen) reportedInvalid.set(logger, (seen = new Set()));
  for (const g of invalid) {
    const k = `${groupKey(g)}|${g.invalid}`;
    if (seen.has(k)) continue;
    seen.add(k);
    logger.error(
      { plan: g.plan, provider: g.provider, orgId: g.scope.orgId, accountId: g.scope.accountId, problem: g.invalid },
      'schedule unusable; its group is skipped',
    );
  }
}
