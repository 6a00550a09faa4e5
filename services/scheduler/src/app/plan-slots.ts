import type { Logger } from '@intellifin/core';
import { backoffCeilingMs, PROVIDERS, type BackoffPolicy, type ProviderId } from '@intellifin/domain';
import { listSchedules, type Pool } from '@intellifin/persistence';
import { analyzeDue, markGroup, markGroupBatch } from '../adapters/accounts-plan.repo';
import { withLeaderFence, type Fence } from '../adapters/leader-lease.repo';
import { loadSlotStates, saveSlotStates } from '../adapters/slot-state.repo';
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
  /** Org or account groups marked by one statement at most (default {@link MAX_GROUPS_PER_STATEMENT}; 1 = group by group). */
  maxGroupsPerStatement?: number;
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
 * Overrides do not cost a statement each: the org groups (and the account groups) of a plan whose
 * slots fire together with the same settings are marked by one set-based statement and their slot
 * states saved by another, at most {@link MAX_GROUPS_PER_STATEMENT} groups at a time. The groups
 * of one plan are disjoint; plans are still executed in order (merged marks keep the first
 * plan's trigger), so the result is the same as group by group.
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
    const firstSight: PlanGroup[] = [];
    const due: DueGroup[] = [];
    for (const g of groups) {
      if (g.provider !== provider || g.invalid !== undefined) continue;
      const spreadMs = g.definition.settings.spreadMinutes * MINUTE;
      const spec = { cron: g.definition.cron, timezone: g.definition.timezone, window: g.definition.settings.window };
      const last = states.get(groupKey(g));
      if (last === undefined) {
        const slot = dueSlots(spec, new Date(now.getTime() - spreadMs - 1), now).latest;
        if (slot) due.push({ g, slot, skipped: 0 });
        else firstSight.push(g);
      } else {
        const after = new Date(Math.max(last.getTime(), now.getTime() - MAX_LOOKBACK_MS));
        const { latest, skipped } = dueSlots(spec, after, now);
        if (latest) due.push({ g, slot: latest, skipped });
      }
    }
    let planned = 0;
    const perStatement = Math.max(1, deps.maxGroupsPerStatement ?? MAX_GROUPS_PER_STATEMENT);
    for (const batch of batchDueGroups(due, perStatement)) {
      const done = await executeBatch(deps, fence, batch, now, backoff);
      for (const e of done) planned += e.planned;
      executed.push(...done);
    }
    // New groups with no slot inside their spread window start from now.
    for (let i = 0; i < firstSight.length; i += perStatement) {
      const chunk = firstSight.slice(i, i + perStatement);
      await withLeaderFence(deps.pool, fence, (c) =>
        saveSlotStates(
          c,
          chunk.map((g) => ({ plan: g.plan, provider: g.provider, scope: g.scope, lastSlot: now })),
          { executedAt: now, epoch: fence.epoch },
        ),
      );
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

/** Org or account groups marked (and their slot states saved) by one statement at most. */
export const MAX_GROUPS_PER_STATEMENT = 1_000;

interface DueGroup {
  g: PlanGroup;
  slot: Date;
  skipped: number;
}

type ScopeKind = 'provider' | 'org' | 'account';

interface Batch {
  kind: ScopeKind;
  members: DueGroup[];
}

function scopeKind(g: PlanGroup): ScopeKind {
  return g.scope.accountId !== null ? 'account' : g.scope.orgId !== null ? 'org' : 'provider';
}

/**
 * Splits a provider's due groups (in resolution order) into batches executed one statement each:
 * a provider group alone; the org groups, and the account groups, of one plan grouped by what
 * their mark depends on (slot, spread, mode, trigger, stale cut-off, exclusions) — disabled groups
 * of the segment together (they only record their slot) — at most `perStatement` each.
 * Batches keep the order of the plans.
 */
export function batchDueGroups(due: readonly DueGroup[], perStatement = MAX_GROUPS_PER_STATEMENT): Batch[] {
  const out: Batch[] = [];
  // Exclusion lists compared by content, each list joined once (groups of a plan often share one array).
  const byContent = new Map<string, number>();
  const byArray = new Map<readonly string[], number>();
  const listId = (l: readonly string[]) => {
    let id = byArray.get(l);
    if (id === undefined) {
      const text = l.join(',');
      id = byContent.get(text);
      if (id === undefined) byContent.set(text, (id = byContent.size));
      byArray.set(l, id);
    }
    return id;
  };
  let i = 0;
  while (i < due.length) {
    const first = due[i]!;
    const kind = scopeKind(first.g);
    if (kind === 'provider') {
      out.push({ kind, members: [first] });
      i++;
      continue;
    }
    // The segment: consecutive groups of the same plan and scope kind (disjoint accounts).
    let j = i;
    while (j < due.length && due[j]!.g.plan === first.g.plan && scopeKind(due[j]!.g) === kind) j++;
    const byKey = new Map<string, DueGroup[]>();
    for (const d of due.slice(i, j)) {
      const s = d.g.definition.settings;
      const key = d.g.enabled
        ? [
            d.slot.getTime(),
            s.spreadMinutes,
            d.g.definition.mode,
            d.g.definition.trigger,
            d.g.plan === 'stale' ? s.staleAfterMinutes : '',
            listId(d.g.excludeOrgIds),
            listId(d.g.excludeAccountIds),
          ].join('|')
        : 'off';
      const list = byKey.get(key);
      if (list) list.push(d);
      else byKey.set(key, [d]);
    }
    for (const members of byKey.values()) {
      for (let k = 0; k < members.length; k += perStatement) out.push({ kind, members: members.slice(k, k + perStatement) });
    }
    i = j;
  }
  return out;
}

async function executeBatch(deps: PlanSlotsDeps, fence: Fence, batch: Batch, now: Date, backoff: number[]): Promise<ExecutedSlot[]> {
  const { g, slot } = batch.members[0]!;
  const d = g.definition;
  const spreadMs = d.settings.spreadMinutes * MINUTE;
  const counts = await withLeaderFence(deps.pool, fence, async (c) => {
    let n = new Map<string, number>();
    if (g.enabled) {
      const mark = {
        slot,
        base: now.getTime() > slot.getTime() ? now : slot,
        spreadMs,
        mode: d.mode,
        trigger: d.trigger,
        ...(g.plan === 'stale' ? { staleBefore: new Date(slot.getTime() - d.settings.staleAfterMinutes * MINUTE) } : {}),
        errorBackoffMs: backoff,
      };
      if (batch.kind === 'provider') n.set(memberKey(g), await markGroup(c, { ...mark, group: g }));
      else
        n = await markGroupBatch(c, {
          ...mark,
          group: g,
          members:
            batch.kind === 'org'
              ? { kind: 'org', orgIds: batch.members.map((m) => m.g.scope.orgId!) }
              : { kind: 'account', accountIds: batch.members.map((m) => m.g.scope.accountId!) },
        });
      deps.metrics.planStatements.inc({ scope: batch.kind });
    }
    await saveSlotStates(
      c,
      batch.members.map((m) => ({ plan: m.g.plan, provider: m.g.provider, scope: m.g.scope, lastSlot: m.slot })),
      { executedAt: now, epoch: fence.epoch },
    );
    return n;
  });
  const out: ExecutedSlot[] = [];
  let planned = 0;
  let skippedSlots = 0;
  for (const m of batch.members) {
    const p = counts.get(memberKey(m.g)) ?? 0;
    planned += p;
    skippedSlots += m.skipped;
    const lagS = Math.max(0, (now.getTime() - m.slot.getTime()) / 1000);
    deps.metrics.slotsExecuted.inc({ plan: m.g.plan, provider: m.g.provider, catch_up: String(m.skipped > 0) });
    if (m.skipped > 0) deps.metrics.slotsSkipped.inc({ plan: m.g.plan, provider: m.g.provider }, m.skipped);
    deps.metrics.slotLag.observe({ plan: m.g.plan }, lagS);
    out.push({
      plan: m.g.plan,
      provider: m.g.provider,
      scope: m.g.scope,
      slot: m.slot,
      skipped: m.skipped,
      planned: p,
      enabled: m.g.enabled,
    });
  }
  deps.metrics.planned.inc({ provider: g.provider, plan: g.plan }, planned);
  // One line per batch (a pass may execute thousands of account groups).
  const single = batch.members.length === 1;
  deps.logger[skippedSlots > 0 ? 'info' : 'debug'](
    {
      plan: g.plan,
      provider: g.provider,
      scope: batch.kind,
      groups: batch.members.length,
      ...(single ? { orgId: g.scope.orgId ?? undefined, accountId: g.scope.accountId ?? undefined } : {}),
      slot: slot.toISOString(),
      lagSeconds: Math.max(0, (now.getTime() - slot.getTime()) / 1000),
      skippedSlots,
      planned,
      enabled: g.enabled,
      ...(g.reason !== undefined ? { reason: g.reason } : {}),
    },
    skippedSlots > 0 ? 'slot executed (catch-up)' : 'slot executed',
  );
  return out;
}

/** What a batched mark counts by: the account of an account group, the organisation of an org group. */
function memberKey(g: PlanGroup): string {
  return g.scope.accountId ?? g.scope.orgId ?? '';
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
