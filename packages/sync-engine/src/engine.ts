import { safeException, SpanStatusCode, trace, withSpan, type Logger, type Tracer } from '@intellifin/core';
import {
  parseCurrency,
  reusableReauthLink,
  scopeCovers,
  shouldRunSync,
  ZERO_COUNTS,
  type AccountRef,
  type BackoffPolicy,
  type RunOutcome,
} from '@intellifin/domain';
import { syncCommandCodec, type HandlerContext, type HandlerDecision, type SyncCommand } from '@intellifin/messaging';
import {
  beginRun,
  getAccount,
  markDeadLettered,
  RedisLeases,
  type AccountRecord,
  type Lease,
  type RerunRoute,
} from '@intellifin/persistence';
import { coalesce } from './coalescing';
import type { EngineCore } from './engine-core';
import { PRIORITY_TRIGGERS, type SyncEngineOptions } from './engine-options';
import { runFailed } from './failures';
import { InfrastructureError, onServer } from './infra';
import { executeRun } from './run';
import { RunRequestLog } from './request-log';
import { runWithFence } from './run-context';
import { LeaseLostError, RunTimeoutError, type RunState } from './run-state';

export type { ConsentProbe, SyncEngineOptions } from './engine-options';

const DEFAULT_MAX_RUN_MS = 10 * 60_000;

/**
 * One run of one account (ARCHITECTURE §3), shared by every provider worker: admission (is the
 * command still owed?) → lease → fence → provider delta page by page (each page's rows and cursor
 * committed in one fenced statement) → outcome, account status and events in one fenced statement
 * (the outbox relay publishes the events) → ack. `handle` is a consumer-runner handler and returns
 * the runner's decision. Provider specifics live behind the provider port.
 */
export class SyncEngine implements EngineCore {
  readonly o: SyncEngineOptions;
  readonly tracer: Tracer;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** Leases of the runs in flight in this process (released on shutdown). */
  private readonly running = new Set<Lease>();

  constructor(opts: SyncEngineOptions) {
    this.o = opts;
    this.log = opts.logger.child({ component: 'sync-engine', provider: opts.provider });
    this.now = opts.clock ?? (() => new Date());
    this.tracer = opts.tracer ?? trace.getTracer('@intellifin/sync-engine');
  }

  clock(): Date {
    return this.now();
  }

  backoff(): { policy?: BackoffPolicy } {
    return this.o.backoff ? { policy: this.o.backoff } : {};
  }

  /** Accounts with a run in flight in this process. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Releases every lease this process still holds (shutdown, after the runner stopped). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.running].map((l) => l.release().catch(() => false)));
    this.running.clear();
  }

  /** For the runner's onDeadLetter: the account shows `error` with the reason. */
  async onDeadLetter(accountId: string | undefined, code: string, reason: string): Promise<void> {
    if (accountId) await markDeadLettered(this.o.pool, accountId, code, reason);
  }

  commandRoute(accountId: string): RerunRoute {
    const { topology, provider } = this.o;
    return {
      bulkSubject: topology.commandSubject(provider, accountId),
      prioritySubject: topology.commandSubject(provider, accountId, 'priority'),
      priorityTriggers: PRIORITY_TRIGGERS,
      headers: { 'Content-Type': syncCommandCodec.contentType },
    };
  }

  readonly handle = async (_msg: unknown, ctx: HandlerContext<SyncCommand>): Promise<HandlerDecision> => {
    try {
      return await this.admit(ctx);
    } catch (err) {
      if (!(err instanceof InfrastructureError)) throw err;
      this.o.onInfrastructureError?.(err);
      ctx.logger.warn({ server: err.server }, 'our own server failed before the run started; command handed back');
      return this.retryLater(ctx, this.o.outageNakDelayMs ?? 5_000, `${err.server}_unavailable`);
    }
  };

  private async admit(ctx: HandlerContext<SyncCommand>): Promise<HandlerDecision> {
    const cmd = ctx.payload;
    const { provider } = this.o;
    const address = this.o.topology.tryParseCommandSubject(ctx.subject);
    if (cmd.provider !== provider || (address && (address.accountId !== cmd.accountId || address.provider !== provider))) {
      return { deadLetter: `command for ${cmd.provider}/${cmd.accountId} arrived on ${ctx.subject}`, code: 'command_mismatch' };
    }
    const account = await onServer('postgres', () => getAccount(this.o.pool, cmd.accountId));
    if (!account) {
      ctx.logger.warn({ accountId: cmd.accountId }, 'command for an unknown account; dropped');
      this.countRun(cmd, 'skipped');
      return { term: 'unknown_account' };
    }
    if (account.provider !== provider || account.orgId !== cmd.orgId) {
      return { deadLetter: `command does not match account ${cmd.accountId} (provider/org)`, code: 'command_mismatch' };
    }
    if (!shouldRunSync(account.status, cmd.trigger) || alreadySatisfied(account, cmd) || cancelledBeforeRun(account, cmd)) {
      // auth_required accounts are not touched by timers until repaired; disabled ones never; a
      // command a later covering run already satisfied (a redelivery, a stale duplicate) is done;
      // and a cancel requested after the command was issued cancels it while it is still queued.
      this.countRun(cmd, 'skipped');
      return { ack: true };
    }
    const leases = new RedisLeases(this.o.redis, { ttlMs: this.o.leaseTtlMs, keyPrefix: this.o.keyPrefix ?? '', owner: this.o.workerId });
    const lease = await onServer('redis', () => leases.acquire(account.id));
    if (!lease) return coalesce(this, cmd, ctx);
    return this.withLease(account, lease, ctx);
  }

  /**
   * Runs the account under its lease: a heartbeat extends the lease, and the run is aborted when
   * the lease is lost, the worker stops, or the maximum run duration passes. At that deadline the
   * command is handed back even if the run is stuck in a call that ignores the abort (a hung query):
   * the stuck call's later writes are fenced off by the next run.
   */
  private async withLease(account: AccountRecord, lease: Lease, ctx: HandlerContext<SyncCommand>): Promise<HandlerDecision> {
    const { provider } = this.o;
    const maxRunMs = this.o.maxRunMs ?? DEFAULT_MAX_RUN_MS;
    this.running.add(lease);
    const stop = new AbortController();
    const heartbeat = setInterval(
      () => {
        lease.extend().then(
          (ok) => {
            if (!ok && !stop.signal.aborted) {
              this.o.metrics?.leaseLost.inc({ provider });
              stop.abort(new LeaseLostError(account.id));
            }
          },
          (err: unknown) => ctx.logger.warn({ err }, 'lease extend failed'),
        );
      },
      Math.max(50, Math.floor(this.o.leaseTtlMs / 4)),
    );
    let deadlineTimer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      deadlineTimer = setTimeout(() => {
        stop.abort(new RunTimeoutError(maxRunMs));
        resolve('deadline');
      }, maxRunMs);
    });
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    try {
      const run = this.traced(account, ctx, signal);
      const first = await Promise.race([run, deadline]);
      if (first !== 'deadline') return first;
      run.catch(() => undefined);
      this.o.metrics?.runTimeouts?.inc({ provider });
      ctx.logger.warn({ accountId: account.id, maxRunMs }, 'run exceeded its maximum duration; command handed back');
      return this.retryLater(ctx, 0, 'run_timeout');
    } finally {
      clearInterval(heartbeat);
      clearTimeout(deadlineTimer);
      this.running.delete(lease);
      await lease.release().catch((err: unknown) => ctx.logger.warn({ err }, 'lease release failed'));
    }
  }

  private traced(account: AccountRecord, ctx: HandlerContext<SyncCommand>, signal: AbortSignal): Promise<HandlerDecision> {
    const cmd = ctx.payload;
    const attributes = {
      'sync.provider': this.o.provider,
      'sync.account_id': account.id,
      'sync.trigger': cmd.trigger,
      'sync.mode': cmd.mode,
    };
    return this.tracer.startActiveSpan('sync.run', { attributes }, ctx.traceContext, async (span) => {
      try {
        const decision = await this.run(account, ctx, signal);
        span.setAttribute('sync.decision', Object.keys(decision)[0] ?? 'ack');
        return decision;
      } catch (err) {
        span.recordException(safeException(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async run(account: AccountRecord, ctx: HandlerContext<SyncCommand>, signal: AbortSignal): Promise<HandlerDecision> {
    const { provider, pool } = this.o;
    const cmd = ctx.payload;
    const startedMs = performance.now();
    const start = await withSpan(this.tracer, 'db.begin_run', {}, () =>
      onServer('postgres', () =>
        beginRun(pool, {
          orgId: account.orgId,
          accountId: account.id,
          provider,
          trigger: cmd.trigger,
          mode: cmd.mode,
          realtime: cmd.realtime,
          commandId: cmd.commandId,
          traceId: trace.getActiveSpan()?.spanContext().traceId ?? null,
          worker: this.o.workerId,
          statusSubject: this.o.topology.eventSubject('status', provider, account.id),
        }),
      ),
    );
    if (!start) return { term: 'unknown_account' };
    const ref: AccountRef = {
      id: account.id,
      orgId: account.orgId,
      provider,
      type: account.type,
      currency: parseCurrency(account.currency),
      providerAccountId: account.providerAccountId,
      status: start.status,
      ...(account.credentialId ? { credentialId: account.credentialId } : {}),
    };
    const log = ctx.logger.child({ accountId: account.id, runId: start.runId, fence: start.fence.toString() });
    if (start.abandonedRuns) log.warn({ abandoned: start.abandonedRuns }, 'closed run rows an earlier run left running');
    const rs: RunState = {
      account,
      cmd,
      ctx,
      start,
      ref,
      log,
      signal,
      startedMs,
      pages: 0,
      counts: ZERO_COUNTS,
      window: undefined,
      initialStatus: start.status,
      requests: new RunRequestLog(),
    };
    return runWithFence(
      start.fence,
      async () => {
        try {
          return await executeRun(this, rs);
        } catch (err) {
          return runFailed(this, rs, err);
        }
      },
      rs.requests,
    );
  }

  /**
   * Hands the command back after `delayMs`. On its last delivery a nak would dead-letter it and mark
   * a healthy account `error` because a long run was in flight, a deploy happened or a server was
   * out: the runner requeues it instead as a fresh message, only while it is still the account's
   * newest command on its subject (a newer one is never overwritten).
   */
  async retryLater(_ctx: HandlerContext<SyncCommand>, delayMs: number, reason: string): Promise<HandlerDecision> {
    return { nak: delayMs, reason, requeueIfLast: true };
  }

  async reauthLink(rs: RunState): Promise<{ url: string; expiresAt: Date | null } | null> {
    const { account } = rs;
    // The link the user already has still works: asking the provider again would only churn it.
    const reusable = reusableReauthLink(account, this.clock());
    if (reusable) return reusable;
    if (!this.o.adapter.requestReauthLink) return null;
    try {
      const link = await this.o.adapter.requestReauthLink({
        account: rs.ref,
        ...(this.o.reauthRedirectUrl ? { redirectUrl: this.o.reauthRedirectUrl } : {}),
        signal: AbortSignal.timeout(15_000),
      });
      return { url: link.url, expiresAt: link.expiresAt ?? null };
    } catch (err) {
      rs.log.warn({ err }, 'could not obtain a re-link URL; the account is marked auth_required without one');
      return null;
    }
  }

  countRun(cmd: SyncCommand, outcome: RunOutcome | 'skipped'): void {
    this.o.metrics?.runs.inc({ provider: this.o.provider, trigger: cmd.trigger, outcome });
  }
}

/** A cancel (sync-api) requested at or after the command was issued: the queued command is dropped. */
export function cancelledBeforeRun(account: AccountRecord, cmd: SyncCommand): boolean {
  return account.cancelRequestedAt !== null && account.cancelRequestedAt.getTime() >= Date.parse(cmd.issuedAt);
}

/**
 * A command is already satisfied only by a successful run that covered its mode and real-time flag
 * and started after the command was issued. Both instants come from Postgres' clock: the run's
 * start is the database's, and publishers stamp `issuedAt` from the database too.
 */
export function alreadySatisfied(account: AccountRecord, cmd: SyncCommand): boolean {
  if (!account.lastSuccessStartedAt || !account.lastSuccessMode) return false;
  if (account.lastSuccessStartedAt.getTime() <= Date.parse(cmd.issuedAt)) return false;
  return scopeCovers(
    { mode: account.lastSuccessMode, realtime: account.lastSuccessRealtime === true },
    { mode: cmd.mode, realtime: cmd.realtime },
  );
}
