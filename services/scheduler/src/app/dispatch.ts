import type { Logger } from '@intellifin/core';
import { PROVIDERS, type ProviderId } from '@intellifin/domain';
import type { Publisher, Topology } from '@intellifin/messaging';
import type { Pool } from '@intellifin/persistence';
import { clearDispatched, listDue, type DueCursor, type DueRow } from '../adapters/accounts-plan.repo';
import { withLeaderFence, type Fence } from '../adapters/leader-lease.repo';
import { commandIdFor, scheduledMsgId, syncCommandCodec, type SyncCommand } from '@intellifin/messaging';
import { planOfTrigger, type SchedulerMetrics } from './metrics';

/** Commands written to the socket at once (each burst's PubAcks are awaited together). */
const PUBLISH_BURST = 250;

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
  /** Publishes awaiting their PubAck at once, per provider. */
  maxInFlight: number;
  /** Stop a provider's pass after this many due accounts (the next pass continues). */
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
  /** Pending syncs of accounts gone or no longer `active` / `error` (not published; deleted with the published ones). */
  dropped: number;
  /** Pending syncs cleared in Postgres (published and dropped rows whose due_at did not move meanwhile). */
  cleared: number;
  /** Age of the oldest due account at the start (0 when none): the planning lag. */
  lagSeconds: number;
}

/**
 * Publishes a command for every due account (use case "dispatch"), each provider on its own, all
 * at once. See {@link dispatchProvider}. A scheduler pass overlaps this with planning
 * (`planAndDispatch`); on its own it dispatches what is already due.
 */
export async function dispatchDue(deps: DispatchDeps, fence: Fence, now: Date): Promise<DispatchReport> {
  return combineDispatches(
    deps,
    PROVIDERS.map((provider) => dispatchProvider(deps, fence, now, provider)),
  );
}

/**
 * Waits for providers' dispatches (none is left running), fails with the first failure if any,
 * otherwise sets the dispatch lag gauge from the oldest due account of any provider and returns
 * the summed report.
 */
export async function combineDispatches(
  deps: Pick<DispatchDeps, 'metrics'>,
  dispatches: readonly Promise<DispatchReport>[],
): Promise<DispatchReport> {
  const settled = await Promise.allSettled(dispatches);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const sum: DispatchReport = { due: 0, published: 0, duplicates: 0, deferred: 0, failed: 0, dropped: 0, cleared: 0, lagSeconds: 0 };
  for (const r of settled) {
    const v = (r as PromiseFulfilledResult<DispatchReport>).value;
    sum.due += v.due;
    sum.published += v.published;
    sum.duplicates += v.duplicates;
    sum.deferred += v.deferred;
    sum.failed += v.failed;
    sum.dropped += v.dropped;
    sum.cleared += v.cleared;
    sum.lagSeconds = Math.max(sum.lagSeconds, v.lagSeconds);
  }
  deps.metrics.dispatchLag.set(sum.lagSeconds);
  return sum;
}

/**
 * Publishes a command for every due account of one provider: keyset pages over
 * `sync_due (provider, due_at, account_id)` with `due_at ≤ now`; per page take budget tokens
 * (keeping the reserve) — accounts beyond the budget, or all of a paused provider, stay due for a
 * later pass and end this one; publish in bursts with bounded in-flight PubAcks and
 * `Nats-Msg-Id = <accountId>:<planned slot>` and `issuedAt` = the database's clock when the page
 * was read (the engine compares it with database times, never with this host's clock); then clear
 * the pending sync of what JetStream accepted (new or duplicate) in one fenced, set-based DELETE.
 * A publish that fails leaves its account due: a lost command costs one pass, never the sync. A
 * row whose account is gone or no longer `active` / `error` (normally already deleted by the
 * status trigger of migration 0012; a mark racing the status change can leave one) is not
 * published and is deleted with the page, so no later pass walks it again.
 */
export async function dispatchProvider(deps: DispatchDeps, fence: Fence, now: Date, provider: ProviderId): Promise<DispatchReport> {
  const report: DispatchReport = { due: 0, published: 0, duplicates: 0, deferred: 0, failed: 0, dropped: 0, cleared: 0, lagSeconds: 0 };
  let stopped = false;
  let walked = 0;
  // A page is read, then its budget is taken; what the budget allows is published.
  const prepare = async (after: DueCursor | undefined, limit: number): Promise<PreparedPage> => {
    const page = await listDue(deps.pool, { provider, now, limit, after });
    walked += page.rows.length;
    const rows = page.rows.filter((r) => r.schedulable);
    const dropped = rows.length < page.rows.length ? page.rows.filter((r) => !r.schedulable) : [];
    report.due += rows.length;
    if (dropped.length) {
      report.dropped += dropped.length;
      deps.metrics.dropped.inc({ provider }, dropped.length);
    }
    const last = page.rows[page.rows.length - 1];
    const allowed = await applyBudget(deps, provider, rows, report);
    if (allowed.length < rows.length) stopped = true;
    return {
      allowed,
      dropped,
      issuedAt: page.dbNowMs !== null ? new Date(page.dbNowMs).toISOString() : '',
      next: last && page.rows.length === limit && !stopped ? { dueText: last.dueText, id: last.id } : undefined,
      firstDueMs: rows[0]?.dueMs,
    };
  };
  // Pipelined: while one page is published, the next is read and budgeted and the previous one is
  // cleared (at most one of each in flight), so Postgres, Redis and JetStream work at the same time.
  let current = await prepare(undefined, Math.min(deps.pageSize, deps.maxPerPass));
  report.lagSeconds = current.firstDueMs !== undefined ? Math.max(0, (now.getTime() - current.firstDueMs) / 1000) : 0;
  let clearing: Promise<void> = Promise.resolve();
  try {
    for (;;) {
      const limit = Math.min(deps.pageSize, deps.maxPerPass - walked);
      const upcoming = current.next && limit > 0 ? prepare(current.next, limit) : undefined;
      upcoming?.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      const accepted = await publishAll(deps, current.allowed, current.issuedAt, report);
      await clearing;
      const done = current.dropped.length ? [...accepted, ...current.dropped] : accepted;
      clearing = done.length
        ? withLeaderFence(deps.pool, fence, (c) => clearDispatched(c, done)).then((n) => {
            report.cleared += n;
          })
        : Promise.resolve();
      clearing.catch(() => undefined);
      if (!upcoming) break;
      current = await upcoming;
    }
  } finally {
    await clearing.catch(() => undefined);
  }
  await clearing;
  if (report.due > 0) {
    deps.logger.info({ provider, ...report, now: now.toISOString(), epoch: fence.epoch.toString() }, 'dispatch pass');
  }
  return report;
}

interface PreparedPage {
  /** Rows the budget allowed, to publish. */
  allowed: DueRow[];
  /** Rows of unschedulable accounts, to delete without publishing. */
  dropped: DueRow[];
  /** The database's clock when the page was read (ISO), the commands' `issuedAt`. */
  issuedAt: string;
  /** Keyset cursor after this page when it was full and the budget allowed all of it (more may be due). */
  next: DueCursor | undefined;
  firstDueMs: number | undefined;
}

async function applyBudget(deps: DispatchDeps, provider: ProviderId, rows: DueRow[], report: DispatchReport): Promise<DueRow[]> {
  if (rows.length === 0) return rows;
  deps.metrics.due.inc({ provider }, rows.length);
  if (deps.pauses && (await deps.pauses.pausedFor(provider)) > 0) {
    defer(deps, provider, rows.length, 'paused', report);
    return [];
  }
  if (!deps.budget) return rows;
  const chunk = Math.max(1, deps.budgetChunk ?? 250);
  const reserve = deps.reserve?.[provider] ?? 0;
  let granted = 0;
  while (granted < rows.length) {
    const want = Math.min(chunk, rows.length - granted);
    const t = await deps.budget.take(provider, { cost: want, reserve });
    if (!t.granted) break;
    granted += want;
  }
  // The provider's remaining accounts are left for a later pass, and this pass ends for it.
  if (granted < rows.length) defer(deps, provider, rows.length - granted, 'budget', report);
  return rows.slice(0, granted);
}

function defer(deps: DispatchDeps, provider: ProviderId, n: number, reason: string, report: DispatchReport): void {
  report.deferred += n;
  deps.metrics.deferred.inc({ provider, reason }, n);
  deps.logger.debug({ provider, deferred: n, reason }, 'dispatch deferred');
}

async function publishAll(deps: DispatchDeps, rows: DueRow[], issuedAt: string, report: DispatchReport): Promise<DueRow[]> {
  const accepted: DueRow[] = [];
  // Counted per page and added to the metric once per label set: a labelled inc per message
  // costs more than the rest of the bookkeeping.
  const counts = new Map<string, { provider: ProviderId; plan: string; result: string; n: number }>();
  const count = (provider: ProviderId, plan: string, result: string) => {
    const key = `${provider}|${plan}|${result}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { provider, plan, result, n: 1 });
  };
  // Published in bursts written at once (one socket write per burst), with up to maxInFlight
  // PubAcks outstanding across the bursts in flight.
  const burst = Math.max(1, Math.min(PUBLISH_BURST, deps.maxInFlight));
  let next = 0;
  const lane = async () => {
    while (next < rows.length) {
      const chunk = rows.slice(next, next + burst);
      next += chunk.length;
      const items = chunk.map((r) => {
        const msgId = scheduledMsgId(r.id, r.plannedSlot);
        const cmd: SyncCommand = {
          commandId: commandIdFor(msgId),
          accountId: r.id,
          orgId: r.orgId,
          provider: r.provider,
          trigger: r.trigger,
          mode: r.mode,
          realtime: false,
          plannedSlot: r.plannedSlot.toISOString(),
          issuedAt,
        };
        return { subject: deps.topology.commandSubject(r.provider, r.id), payload: cmd, msgId };
      });
      const results = await deps.publisher.publishBatch(items, syncCommandCodec);
      results.forEach((res, i) => {
        const r = chunk[i]!;
        if (res.status === 'fulfilled') {
          accepted.push(r);
          if (res.value.duplicate) report.duplicates++;
          else report.published++;
          count(r.provider, planOfTrigger(r.trigger), res.value.duplicate ? 'duplicate' : 'published');
        } else {
          report.failed++;
          deps.metrics.deferred.inc({ provider: r.provider, reason: 'publish_error' });
          if (report.failed <= 5) {
            deps.logger.warn(
              { err: res.reason, accountId: r.id, provider: r.provider, msgId: items[i]!.msgId },
              'publishing a sync command failed; the account stays due',
            );
          }
        }
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.ceil(deps.maxInFlight / burst), Math.ceil(rows.length / burst)) }, lane));
  for (const c of counts.values()) deps.metrics.published.inc({ provider: c.provider, plan: c.plan, result: c.result }, c.n);
  return accepted;
}
