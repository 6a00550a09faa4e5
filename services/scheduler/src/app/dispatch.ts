import type { Logger } from '@intellifin/core';
import type { ProviderId } from '@intellifin/domain';
import type { Publisher, Topology } from '@intellifin/messaging';
import type { Pool } from '@intellifin/persistence';
import { clearDispatched, listDue, type DueCursor, type DueRow } from '../adapters/accounts-plan.repo';
import { withLeaderFence, type Fence } from '../adapters/leader-lease.repo';
import { commandIdFor, scheduledMsgId, syncCommandCodec, type SyncCommand } from '@intellifin/messaging';
import { planOfTrigger, type SchedulerMetrics } from './metrics';

/** A provider budget shared by all replicas (`RateBudget` from @intellifin/persistence fits). */
export interface CommandBudget {
  take(provider: string, opts: { cost?: number; reserve?: number }): Promise<{ granted: true } | { granted: false; waitMs: number }>;
}

/** Tells whether a provider is paused (a 429's Retry-After seen by a worker); `RateBudget` fits. */
export interface PauseSource {
  pausedFor(provider: string): Promise<number>;
}

export interface DispatchDeps {
  pool: Pool;
  publisher: Publisher;
  topology: Topology;
  logger: Logger;
  metrics: SchedulerMetrics;
  /** Commands per provider, taken before publishing; absent = unlimited. */
  budget?: CommandBudget;
  /** Tokens each provider's budget keeps back for user-triggered syncs (take with `reserve`). */
  reserve?: Partial<Record<ProviderId, number>>;
  pauses?: PauseSource;
  /** Rows per keyset page. */
  pageSize: number;
  /** Publishes awaiting their PubAck at once. */
  maxInFlight: number;
  /** Stop a pass after this many due accounts (the next pass continues). */
  maxPerPass: number;
  /** Budget tokens asked for at a time. */
  budgetChunk?: number;
}

export interface DispatchReport {
  due: number;
  published: number;
  duplicates: number;
  deferred: number;
  failed: number;
  /** Pending syncs cleared in Postgres (published rows whose due_at did not move meanwhile). */
  cleared: number;
}

/**
 * Publishes a command for every due account (use case "dispatch"): keyset pages over
 * `sync_due.due_at ≤ now`; per page and provider, take budget tokens (keeping the reserve) —
 * accounts beyond the budget, or of a paused provider, stay due for a later pass; publish with
 * bounded in-flight PubAcks and `Nats-Msg-Id = <accountId>:<planned slot>`; then clear the
 * pending sync of what JetStream accepted (new or duplicate) in one fenced, set-based UPDATE.
 * A publish that fails leaves its account due: a lost command costs one pass, never the sync.
 */
export async function dispatchDue(deps: DispatchDeps, fence: Fence, now: Date): Promise<DispatchReport> {
  const report: DispatchReport = { due: 0, published: 0, duplicates: 0, deferred: 0, failed: 0, cleared: 0 };
  const skip = new Set<string>();
  const fetch = (after: DueCursor | undefined, limit: number) => listDue(deps.pool, { now, limit, after, skipProviders: [...skip] });
  // Pipelined: while one page is published, the next is read and the previous one is cleared
  // (at most one read and one clear in flight), so Postgres and JetStream work at the same time.
  let limit = Math.min(deps.pageSize, deps.maxPerPass);
  let page = await fetch(undefined, limit);
  deps.metrics.dispatchLag.set(page.length ? Math.max(0, (now.getTime() - page[0]!.dueAt.getTime()) / 1000) : 0);
  let clearing: Promise<void> = Promise.resolve();
  try {
    while (page.length > 0) {
      const last = page[page.length - 1]!;
      const rows = page.filter((r) => !skip.has(r.provider));
      report.due += rows.length;
      const full = page.length === limit;
      limit = Math.min(deps.pageSize, deps.maxPerPass - report.due);
      const nextPage = full && limit > 0 ? fetch({ dueText: last.dueText, id: last.id }, limit) : Promise.resolve([] as DueRow[]);
      nextPage.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      const allowed = await applyBudget(deps, rows, skip, report);
      const accepted = await publishAll(deps, allowed, now, report);
      await clearing;
      clearing = accepted.length
        ? withLeaderFence(deps.pool, fence, (c) => clearDispatched(c, accepted)).then((n) => {
            report.cleared += n;
          })
        : Promise.resolve();
      clearing.catch(() => undefined);
      page = await nextPage;
    }
  } finally {
    await clearing.catch(() => undefined);
  }
  await clearing;
  if (report.due > 0) {
    deps.logger.info({ ...report, now: now.toISOString(), epoch: fence.epoch.toString() }, 'dispatch pass');
  }
  return report;
}

async function applyBudget(deps: DispatchDeps, page: DueRow[], skip: Set<string>, report: DispatchReport): Promise<DueRow[]> {
  const byProvider = new Map<ProviderId, DueRow[]>();
  for (const r of page) {
    deps.metrics.due.inc({ provider: r.provider });
    let list = byProvider.get(r.provider);
    if (!list) byProvider.set(r.provider, (list = []));
    list.push(r);
  }
  const allowed: DueRow[] = [];
  for (const [provider, rows] of byProvider) {
    if (deps.pauses) {
      const paused = await deps.pauses.pausedFor(provider);
      if (paused > 0) {
        defer(deps, provider, rows.length, 'paused', skip, report);
        continue;
      }
    }
    if (!deps.budget) {
      allowed.push(...rows);
      continue;
    }
    const chunk = Math.max(1, deps.budgetChunk ?? 250);
    const reserve = deps.reserve?.[provider] ?? 0;
    let granted = 0;
    while (granted < rows.length) {
      const want = Math.min(chunk, rows.length - granted);
      const t = await deps.budget.take(provider, { cost: want, reserve });
      if (!t.granted) break;
      granted += want;
    }
    allowed.push(...rows.slice(0, granted));
    if (granted < rows.length) defer(deps, provider, rows.length - granted, 'budget', skip, report);
  }
  return allowed;
}

function defer(deps: DispatchDeps, provider: ProviderId, n: number, reason: string, skip: Set<string>, report: DispatchReport): void {
  // The provider's remaining accounts are left for a later pass; later pages skip the provider.
  skip.add(provider);
  report.deferred += n;
  deps.metrics.deferred.inc({ provider, reason }, n);
  deps.logger.debug({ provider, deferred: n, reason }, 'dispatch deferred');
}

async function publishAll(deps: DispatchDeps, rows: DueRow[], now: Date, report: DispatchReport): Promise<DueRow[]> {
  const accepted: DueRow[] = [];
  const issuedAt = now.toISOString();
  // Counted per page and added to the metric once per label set: a labelled inc per message
  // costs more than the rest of the bookkeeping.
  const counts = new Map<string, { provider: ProviderId; plan: string; result: string; n: number }>();
  const count = (provider: ProviderId, plan: string, result: string) => {
    const key = `${provider}|${plan}|${result}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { provider, plan, result, n: 1 });
  };
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const r = rows[next++]!;
      const slot = r.plannedSlot;
      const msgId = scheduledMsgId(r.id, slot);
      const trigger = r.trigger;
      const cmd: SyncCommand = {
        commandId: commandIdFor(msgId),
        accountId: r.id,
        orgId: r.orgId,
        provider: r.provider,
        trigger,
        mode: r.mode,
        realtime: false,
        plannedSlot: slot.toISOString(),
        issuedAt,
      };
      try {
        const ack = await deps.publisher.publish(deps.topology.commandSubject(r.provider, r.id), cmd, { msgId, codec: syncCommandCodec });
        accepted.push(r);
        if (ack.duplicate) report.duplicates++;
        else report.published++;
        count(r.provider, planOfTrigger(r.trigger), ack.duplicate ? 'duplicate' : 'published');
      } catch (err) {
        report.failed++;
        deps.metrics.deferred.inc({ provider: r.provider, reason: 'publish_error' });
        if (report.failed <= 5) deps.logger.warn({ err, accountId: r.id, provider: r.provider, msgId }, 'publishing a sync command failed; the account stays due');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.maxInFlight, rows.length) }, worker));
  for (const c of counts.values()) deps.metrics.published.inc({ provider: c.provider, plan: c.plan, result: c.result }, c.n);
  return accepted;
}
