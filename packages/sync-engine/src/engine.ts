import {
  errorCode,
  errorKind,
  retryAfterMs,
  safeException,
  SpanStatusCode,
  trace,
  withSpan,
  type ErrorKind,
  type Logger,
  type Tracer,
} from '@intellifin/core';
import {
  addCounts,
  assertValidTransaction,
  isDomainError,
  isoDateToDate,
  parseCursor,
  parseCurrency,
  retryDelayMs,
  scopeCovers,
  shouldRunSync,
  statusAfterRun,
  ZERO_COUNTS,
  type AccountRef,
  type AccountStatus,
  type BackoffPolicy,
  type DateWindow,
  type FailureKind,
  type ProviderId,
  type ProviderPort,
  type RunOutcome,
  type SyncCounts,
  type SyncCursor,
  type SyncMode,
  type TransactionPage,
} from '@intellifin/domain';
import {
  JS_WRONG_LAST_SEQUENCE,
  PublishRejectedError,
  syncCommandCodec,
  type HandlerContext,
  type HandlerDecision,
  type Publisher,
  type SyncCommand,
  type Topology,
} from '@intellifin/messaging';
import {
  abandonRun,
  beginRun,
  commitPage,
  FencedWriteError,
  finishRunFenced,
  getAccount,
  markDeadLettered,
  RedisLeases,
  storeBalance,
  type AccountRecord,
  type Lease,
  type Pool,
} from '@intellifin/persistence';
import type { Redis } from 'ioredis';
import type { AuthEvent, RunEvent } from './events';
import type { EngineMetrics } from './metrics';
import { runWithFence } from './run-context';

export interface SyncEngineOptions {
  provider: ProviderId;
  adapter: ProviderPort;
  pool: Pool;
  redis: Redis;
  publisher: Publisher;
  topology: Topology;
  logger: Logger;
  /** Identifies this process in lease tokens and run rows. */
  workerId: string;
  /** Lease TTL; keep it ≤ the consumer's AckWait (a redelivered command then finds the lease free). */
  leaseTtlMs: number;
  /** Prefix of the lease keys (tests isolate with it). */
  keyPrefix?: string;
  metrics?: EngineMetrics;
  tracer?: Tracer;
  /** The engine's clock (tests pin it to the provider sandbox's clock). Default: the system clock. */
  clock?: () => Date;
  /** Backoff of retryable failures without Retry-After. Default: the domain's (1 s doubling to 5 min). */
  backoff?: BackoffPolicy;
  /** Base delay of a nak for a busy lease whose run does not cover the command. Default 2 s. */
  leaseBusyDelayMs?: number;
  /** Delay of the nak after a fenced rejection (another run took the account). Default 30 s. */
  fencedNakDelayMs?: number;
  /** Where the provider's re-link widget sends the user back to (the app's deep link). */
  reauthRedirectUrl?: string;
  /**
   * Asks the provider whether an `auth_required` account's consent works again. Without it (or when
   * it cannot tell), a run for such an account may read what the provider still serves, but the
   * account stays `auth_required`: only evidence of working consent repairs it.
   */
  consentProbe?: ConsentProbe;
}

/**
 * Evidence that consent works again, for an account in `auth_required`. A provider's cached data
 * (Mono keeps serving the statement frozen at the revocation) is not such evidence: a run that only
 * read it must not flip the account back to `active`.
 */
export interface ConsentProbe {
  /**
   * `valid`: the provider reached the account with the user's consent just now. `unknown`: it could
   * not tell (rate-limited, institution down). Throws the provider's auth error when consent is
   * still withdrawn.
   */
  checkConsent(req: { account: AccountRef; signal: AbortSignal }): Promise<'valid' | 'unknown'>;
}

class LeaseLostError extends Error {
  constructor(accountId: string) {
    super(`lease of account ${accountId} was lost mid-run`);
    this.name = 'LeaseLostError';
  }
}

class CancelledError extends Error {
  constructor() {
    super('run cancelled at a page boundary');
    this.name = 'CancelledError';
  }
}

const OWNER_SEP = '|';

/** The scope of a running run, recorded in its lease token: `<worker>|<mode>|<rt|cached>:<uuid>`. */
function scopeOfToken(token: string | null): { mode: SyncMode; realtime: boolean } | undefined {
  if (!token) return undefined;
  const owner = token.slice(0, token.lastIndexOf(':'));
  const parts = owner.split(OWNER_SEP);
  const rt = parts.pop();
  const mode = parts.pop();
  if ((mode !== 'transactions' && mode !== 'balance' && mode !== 'full') || (rt !== 'rt' && rt !== 'cached')) return undefined;
  return { mode, realtime: rt === 'rt' };
}

function storedCursor(value: unknown, provider: ProviderId): SyncCursor {
  // A new account's cursor column holds '{}' (the schema default): the empty cursor.
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return parseCursor(null, provider);
  return parseCursor(value, provider);
}

function failureOf(err: unknown): { kind: ErrorKind; code: string; hint: string } {
  if (isDomainError(err)) return { kind: 'validation', code: err.code, hint: err.message.slice(0, 500) };
  const message = err instanceof Error ? err.message : String(err);
  return { kind: errorKind(err), code: errorCode(err), hint: message.slice(0, 500) };
}

/**
 * One run of one account (ARCHITECTURE §3), shared by every provider worker: lease → fence →
 * provider delta page by page (each page's rows and cursor committed in one fenced transaction)
 * → run row + account status (fenced) → run/auth event → ack. `handle` is a consumer-runner
 * handler and returns the runner's decision.
 */
export class SyncEngine {
  private readonly o: SyncEngineOptions;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly tracer: Tracer;
  /** Leases of the runs in flight in this process (released on shutdown). */
  private readonly running = new Set<Lease>();

  constructor(opts: SyncEngineOptions) {
    this.o = opts;
    this.log = opts.logger.child({ component: 'sync-engine', provider: opts.provider });
    this.clock = opts.clock ?? (() => new Date());
    this.tracer = opts.tracer ?? trace.getTracer('@intellifin/sync-engine');
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

  readonly handle = async (_msg: unknown, ctx: HandlerContext<SyncCommand>): Promise<HandlerDecision> => {
    const cmd = ctx.payload;
    const { provider } = this.o;
    const address = this.o.topology.tryParseCommandSubject(ctx.subject);
    if (cmd.provider !== provider || (address && (address.accountId !== cmd.accountId || address.provider !== provider))) {
      return { deadLetter: `command for ${cmd.provider}/${cmd.accountId} arrived on ${ctx.subject}`, code: 'command_mismatch' };
    }
    const account = await getAccount(this.o.pool, cmd.accountId);
    if (!account) {
      ctx.logger.warn({ accountId: cmd.accountId }, 'command for an unknown account; dropped');
      this.countRun(cmd, 'skipped');
      return { term: 'unknown_account' };
    }
    if (account.provider !== provider || account.orgId !== cmd.orgId) {
      return { deadLetter: `command does not match account ${cmd.accountId} (provider/org)`, code: 'command_mismatch' };
    }
    if (!shouldRunSync(account.status, cmd.trigger)) {
      // auth_required accounts are not touched by timers until repaired; disabled ones never.
      this.countRun(cmd, 'skipped');
      return { ack: true };
    }
    if (account.lastSuccessAt && account.lastSuccessAt.getTime() > Date.parse(cmd.issuedAt) && !cmd.realtime) {
      // A redelivery (or a stale duplicate) of a command a later run already satisfied.
      this.countRun(cmd, 'skipped');
      return { ack: true };
    }

    const leases = new RedisLeases(this.o.redis, {
      ttlMs: this.o.leaseTtlMs,
      keyPrefix: this.o.keyPrefix ?? '',
      owner: [this.o.workerId, cmd.mode, cmd.realtime ? 'rt' : 'cached'].join(OWNER_SEP),
    });
    const lease = await leases.acquire(account.id);
    if (!lease) return this.leaseBusy(leases, account.id, cmd, ctx);
    this.running.add(lease);
    const lost = new AbortController();
    const heartbeat = setInterval(
      () => {
        lease.extend().then(
          (ok) => {
            if (!ok && !lost.signal.aborted) {
              this.o.metrics?.leaseLost.inc({ provider });
              lost.abort(new LeaseLostError(account.id));
            }
          },
          (err: unknown) => ctx.logger.warn({ err }, 'lease extend failed'),
        );
      },
      Math.max(50, Math.floor(this.o.leaseTtlMs / 4)),
    );
    try {
      return await this.tracer.startActiveSpan(
        'sync.run',
        { attributes: { 'sync.provider': provider, 'sync.account_id': account.id, 'sync.trigger': cmd.trigger, 'sync.mode': cmd.mode } },
        ctx.traceContext,
        async (span) => {
          try {
            const decision = await this.run(account, cmd, ctx, AbortSignal.any([ctx.signal, lost.signal]));
            span.setAttribute('sync.decision', Object.keys(decision)[0] ?? 'ack');
            return decision;
          } catch (err) {
            span.recordException(safeException(err));
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw err;
          } finally {
            span.end();
          }
        },
      );
    } finally {
      clearInterval(heartbeat);
      this.running.delete(lease);
      await lease.release().catch((err: unknown) => ctx.logger.warn({ err }, 'lease release failed'));
    }
  };

  private async leaseBusy(
    leases: RedisLeases,
    accountId: string,
    cmd: SyncCommand,
    ctx: HandlerContext<SyncCommand>,
  ): Promise<HandlerDecision> {
    const runningScope = scopeOfToken(await leases.holder(accountId));
    if (runningScope && scopeCovers(runningScope, { mode: cmd.mode, realtime: cmd.realtime })) {
      // The run in flight does everything this command asks for: the command is satisfied by it.
      this.o.metrics?.leaseContention.inc({ provider: this.o.provider, decision: 'coalesced' });
      ctx.logger.debug({ accountId }, 'lease busy; command coalesced into the running run');
      return { ack: true };
    }
    // It asks for more (a manual real-time sync during a scheduled run): keep it, retry after the run.
    if (ctx.lastDelivery) return this.requeue(cmd, ctx, 'lease_busy');
    this.o.metrics?.leaseContention.inc({ provider: this.o.provider, decision: 'deferred' });
    const base = this.o.leaseBusyDelayMs ?? 2_000;
    const delay = Math.min(this.o.leaseTtlMs, base * Math.min(ctx.deliveryCount, 8)) + Math.floor(Math.random() * base);
    return { nak: delay, reason: 'lease_busy' };
  }

  /**
   * A command handed back on its last delivery — still waiting for a busy lease, or interrupted by
   * a shutdown: a nak now would dead-letter it and mark a healthy account `error` merely because
   * a long run was in flight or a deploy happened. It is published
   * again as a fresh message (delivery count 1) — only if it is still the account's newest
   * command (`expectLastSubjectSequence`), so a newer command is never overwritten — and this
   * delivery is acked. Any other publish failure is thrown: retryable, handled by the runner.
   */
  private async requeue(cmd: SyncCommand, ctx: HandlerContext<SyncCommand>, why: 'lease_busy' | 'shutdown'): Promise<HandlerDecision> {
    try {
      await this.o.publisher.publish(ctx.subject, cmd, { codec: syncCommandCodec, expectLastSubjectSequence: ctx.streamSeq });
      if (why === 'lease_busy') this.o.metrics?.leaseContention.inc({ provider: this.o.provider, decision: 'requeued' });
      ctx.logger.info({ accountId: cmd.accountId, deliveries: ctx.deliveryCount, why }, 'command requeued on its last delivery');
    } catch (err) {
      if (!(err instanceof PublishRejectedError && err.errCode === JS_WRONG_LAST_SEQUENCE)) throw err;
      // A newer command for the account is already queued: it carries the account's latest ask.
      if (why === 'lease_busy') this.o.metrics?.leaseContention.inc({ provider: this.o.provider, decision: 'superseded' });
    }
    return { ack: true };
  }

  private async run(
    account: AccountRecord,
    cmd: SyncCommand,
    ctx: HandlerContext<SyncCommand>,
    signal: AbortSignal,
  ): Promise<HandlerDecision> {
    const { provider, pool } = this.o;
    const started = performance.now();
    const start = await withSpan(this.tracer, 'db.begin_run', {}, () =>
      beginRun(pool, {
        orgId: account.orgId,
        accountId: account.id,
        provider,
        trigger: cmd.trigger,
        mode: cmd.mode,
        commandId: cmd.commandId,
        traceId: trace.getActiveSpan()?.spanContext().traceId ?? null,
        worker: this.o.workerId,
      }),
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
    let counts: SyncCounts = ZERO_COUNTS;
    let pages = 0;
    let window: DateWindow | undefined;

    const finish = async (
      outcome: RunOutcome,
      status: AccountStatus,
      failure?: { kind: ErrorKind; code: string; hint: string },
      reauthUrl?: string | null,
    ) => {
      await withSpan(this.tracer, 'db.finish_run', {}, () =>
        finishRunFenced(pool, {
          accountId: account.id,
          fence: start.fence,
          runId: start.runId,
          outcome,
          status,
          counts,
          pages,
          windowFrom: window ? isoDateToDate(window.from) : null,
          windowTo: window ? isoDateToDate(window.to) : null,
          errorKind: failure?.kind ?? null,
          errorCode: failure?.code ?? null,
          errorHint: failure?.hint ?? null,
          ...(reauthUrl !== undefined ? { reauthUrl } : {}),
        }),
      );
      const durationMs = Math.round(performance.now() - started);
      this.countRun(cmd, outcome);
      this.o.metrics?.runDuration.observe({ provider, outcome }, durationMs / 1000);
      for (const kind of ['added', 'modified', 'unchanged'] as const)
        if (counts[kind]) this.o.metrics?.transactions.inc({ provider, kind }, counts[kind]);
      const event: RunEvent = {
        runId: start.runId,
        commandId: cmd.commandId,
        accountId: account.id,
        orgId: account.orgId,
        provider,
        trigger: cmd.trigger,
        mode: cmd.mode,
        outcome,
        accountStatus: status,
        pages,
        ...counts,
        ...(failure ? { errorKind: failure.kind, errorCode: failure.code } : {}),
        finishedAt: new Date().toISOString(),
        durationMs,
        ...(trace.getActiveSpan() ? { traceId: trace.getActiveSpan()!.spanContext().traceId } : {}),
      };
      await this.o.publisher.publish(this.o.topology.eventSubject('run', provider, account.id), event, { msgId: `run:${start.runId}` });
    };

    return runWithFence(start.fence, () =>
      this.runFenced(
        account,
        cmd,
        ctx,
        signal,
        start,
        ref,
        log,
        finish,
        () => ({ pages, counts }),
        (p, c) => {
          pages = p;
          counts = c;
        },
        (w) => (window = w),
      ),
    );
  }

  private async runFenced(
    account: AccountRecord,
    cmd: SyncCommand,
    ctx: HandlerContext<SyncCommand>,
    signal: AbortSignal,
    start: { fence: bigint; runId: string; status: AccountStatus; cursor: unknown; startedAt: Date },
    ref: AccountRef,
    log: Logger,
    finish: (
      outcome: RunOutcome,
      status: AccountStatus,
      failure?: { kind: ErrorKind; code: string; hint: string },
      reauthUrl?: string | null,
    ) => Promise<void>,
    progress: () => { pages: number; counts: SyncCounts },
    setProgress: (pages: number, counts: SyncCounts) => void,
    setWindow: (w: DateWindow) => void,
  ): Promise<HandlerDecision> {
    const { provider, pool } = this.o;
    const now = this.clock();
    let { pages, counts } = progress();
    try {
      // An auth_required account runs only for a manual/webhook trigger (shouldRunSync). Whether
      // that run may repair it depends on the provider confirming consent, not on cached data.
      let consent: 'valid' | 'unknown' | 'not_needed' = 'not_needed';
      if (start.status === 'auth_required') {
        consent = this.o.consentProbe
          ? await withSpan(this.tracer, 'provider.consent', {}, () => this.o.consentProbe!.checkConsent({ account: ref, signal }))
          : 'unknown';
        log.info({ consent }, 'consent check for an auth_required account');
      }
      const cursor = storedCursor(start.cursor, provider);
      const wantsTransactions = cmd.mode !== 'balance';
      const wantsBalance = cmd.mode !== 'transactions';
      if (wantsTransactions) {
        const iterable = this.o.adapter.fetchDelta({
          account: ref,
          cursor,
          trigger: cmd.trigger,
          mode: cmd.mode,
          realtime: cmd.realtime,
          now,
          ...(cmd.hintRefs ? { hintRefs: cmd.hintRefs } : {}),
          signal,
        });
        const it = iterable[Symbol.asyncIterator]();
        try {
          // A cancel requested for this run is seen by the next page commit's fence guard; the run
          // then stops before fetching another page.
          let cancel = false;
          for (;;) {
            signal.throwIfAborted();
            if (cancel) throw new CancelledError();
            const next = await withSpan(this.tracer, 'provider.page', { attributes: { 'sync.page': pages } }, () => it.next());
            if (next.done) break;
            const page: TransactionPage = next.value;
            if (page.window) setWindow(page.window);
            for (const t of page.transactions) assertValidTransaction(t, ref.currency);
            signal.throwIfAborted();
            const c = await withSpan(
              this.tracer,
              'db.commit_page',
              { attributes: { 'sync.page': pages, 'sync.rows': page.transactions.length } },
              () =>
                commitPage(pool, {
                  orgId: account.orgId,
                  accountId: account.id,
                  fence: start.fence,
                  startedAt: start.startedAt,
                  cursor: page.cursorAfter,
                  transactions: page.transactions,
                }),
            );
            counts = addCounts(counts, c.counts);
            cancel = c.cancelRequested;
            pages++;
            setProgress(pages, counts);
            ctx.working();
          }
        } finally {
          await it.return?.().catch(() => undefined);
        }
      }
      if (wantsBalance) {
        signal.throwIfAborted();
        const snap = await withSpan(this.tracer, 'provider.balance', {}, () =>
          this.o.adapter.fetchBalance({ account: ref, realtime: cmd.realtime && cmd.mode === 'balance', now, signal }),
        );
        await withSpan(this.tracer, 'db.store_balance', {}, () =>
          storeBalance(pool, account.id, start.fence, snap.balance.minor, snap.asOf),
        );
      }
      // Without evidence of working consent the data read is the provider's cached copy: the run
      // succeeded, the account still needs re-linking.
      const status = consent === 'unknown' ? start.status : statusAfterRun(start.status, { outcome: 'succeeded' });
      await finish('succeeded', status);
      if (start.status === 'auth_required' && status === 'active') await this.publishAuth('repaired', start.runId, account);
      log.debug({ pages, ...counts }, 'run succeeded');
      return { ack: true };
    } catch (err) {
      return this.failed(err, { account, cmd, ctx, start, log, pages, counts, signal, finish, ref });
    }
  }

  private async failed(
    err: unknown,
    r: {
      account: AccountRecord;
      cmd: SyncCommand;
      ctx: HandlerContext<SyncCommand>;
      start: { fence: bigint; runId: string; status: AccountStatus };
      log: Logger;
      pages: number;
      counts: SyncCounts;
      signal: AbortSignal;
      ref: AccountRef;
      finish: (
        outcome: RunOutcome,
        status: AccountStatus,
        failure?: { kind: ErrorKind; code: string; hint: string },
        reauthUrl?: string | null,
      ) => Promise<void>;
    },
  ): Promise<HandlerDecision> {
    const { provider, pool } = this.o;
    const { account, cmd, ctx, start, log } = r;
    try {
      if (err instanceof FencedWriteError) {
        // Another run took the account (our lease expired while we were paused): write nothing more.
        this.o.metrics?.fencedRejections.inc({ provider });
        await abandonRun(pool, start.runId, 'failed', 'retryable', 'fenced', 'a newer run holds the account', r.pages, r.counts);
        this.countRun(cmd, 'failed');
        log.warn('fenced write rejected: a newer run owns the account');
        return { nak: this.o.fencedNakDelayMs ?? 30_000, reason: 'fenced' };
      }
      if (r.signal.aborted) {
        const reason: unknown = r.signal.reason;
        if (reason instanceof LeaseLostError) {
          await abandonRun(pool, start.runId, 'failed', 'retryable', 'lease_lost', reason.message, r.pages, r.counts);
          this.countRun(cmd, 'failed');
          log.warn('lease lost mid-run; stopped at the page boundary');
          return { nak: this.o.fencedNakDelayMs ?? 30_000, reason: 'lease_lost' };
        }
        // Shutdown: stop at the page boundary, hand the command back at once.
        await abandonRun(pool, start.runId, 'cancelled', 'retryable', 'shutdown', 'worker shutting down', r.pages, r.counts);
        this.countRun(cmd, 'cancelled');
        // On its last delivery a nak would dead-letter the command because of a deploy: requeue it.
        return r.ctx.lastDelivery ? this.requeue(cmd, r.ctx, 'shutdown') : { nak: 0, reason: 'shutdown' };
      }
      if (err instanceof CancelledError) {
        await r.finish('cancelled', statusAfterRun(start.status, { outcome: 'cancelled' }));
        log.info({ pages: r.pages }, 'run cancelled');
        return { ack: true };
      }
      const failure = failureOf(err);
      if (failure.kind === 'auth') {
        const status = statusAfterRun(start.status, { outcome: 'failed', failure: 'auth' });
        const link = await this.reauthLink(r.ref, log);
        await r.finish('failed', status, failure, link ?? undefined);
        if (start.status !== 'auth_required') await this.publishAuth('reauth_required', start.runId, account, link, failure.code);
        log.info({ code: failure.code }, 'provider needs re-authorisation');
        return { ack: true };
      }
      if (failure.kind === 'retryable' && !ctx.lastDelivery) {
        await r.finish('failed', statusAfterRun(start.status, { outcome: 'failed', failure: 'retryable' }), failure);
        const delay = retryDelayMs({
          attempt: Math.max(0, ctx.deliveryCount - 1),
          retryAfterMs: retryAfterMs(err),
          ...(this.o.backoff ? { policy: this.o.backoff } : {}),
        });
        log.info({ code: failure.code, delay }, 'retryable failure; nak');
        return { nak: delay, reason: failure.code };
      }
      // permanent, validation, or retryable on the last delivery: error + DLQ.
      const kind: FailureKind = failure.kind === 'retryable' ? 'permanent' : failure.kind;
      await r.finish('failed', statusAfterRun(start.status, { outcome: 'failed', failure: kind }), failure);
      log.warn({ code: failure.code, kind: failure.kind }, 'run failed permanently; dead-lettered');
      return { deadLetter: `${failure.kind} ${failure.code}: ${failure.hint}`, code: failure.code };
    } catch (inner) {
      if (inner instanceof FencedWriteError) {
        this.o.metrics?.fencedRejections.inc({ provider });
        await abandonRun(pool, start.runId, 'failed', 'retryable', 'fenced', 'a newer run holds the account', r.pages, r.counts).catch(
          () => undefined,
        );
        return { nak: this.o.fencedNakDelayMs ?? 30_000, reason: 'fenced' };
      }
      throw inner;
    }
  }

  private async reauthLink(ref: AccountRef, log: Logger): Promise<string | null> {
    if (!this.o.adapter.requestReauthLink) return null;
    try {
      const link = await this.o.adapter.requestReauthLink({
        account: ref,
        ...(this.o.reauthRedirectUrl ? { redirectUrl: this.o.reauthRedirectUrl } : {}),
        signal: AbortSignal.timeout(15_000),
      });
      return link.url;
    } catch (err) {
      log.warn({ err }, 'could not obtain a re-link URL; the account is marked auth_required without one');
      return null;
    }
  }

  private async publishAuth(
    kind: AuthEvent['kind'],
    runId: string,
    account: AccountRecord,
    reauthUrl?: string | null,
    reason?: string,
  ): Promise<void> {
    const event: AuthEvent = {
      kind,
      runId,
      accountId: account.id,
      orgId: account.orgId,
      provider: this.o.provider,
      ...(reauthUrl ? { reauthUrl } : {}),
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
    };
    await this.o.publisher.publish(this.o.topology.eventSubject('auth', this.o.provider, account.id), event, { msgId: `auth:${runId}` });
    this.o.metrics?.authEvents.inc({ provider: this.o.provider, kind });
  }

  private countRun(cmd: SyncCommand, outcome: RunOutcome | 'skipped'): void {
    this.o.metrics?.runs.inc({ provider: this.o.provider, trigger: cmd.trigger, outcome });
  }
}
