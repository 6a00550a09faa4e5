/**
 * Sends due pushes and cancels scheduled ones, on every replica: claims rows from Postgres, asks
 * OneSignal, stores the attempt and the outcome. Retries 5xx and timeouts with full-jitter
 * backoff and 429 after its Retry-After (same idempotency key every time); a 200 reporting a
 * partial failure is `undeliverable` at once. Quiet hours in the user's time zone become
 * `send_after`. Each send is a span continuing the worker's trace stored with the notification.
 */
import { SpanKind, type Tracer } from '@opentelemetry/api';
import { extractTraceContext, withSpan, type Logger } from '@intellifin/core';
import { fullJitterDelayMs, type BackoffPolicy } from '@intellifin/domain';
import type { Pool } from 'pg';
import type { Catalogue, PushKind } from '../domain/catalogue';
import { quietHoursEnd, type QuietHours } from '../domain/quiet-hours';
import { claimDue, finishNotification, loadPushContext, type ClaimedNotification, type FinishInput } from '../store/dispatch';
import { expiryOf } from '../store/expiry';
import type { NotifierMetrics } from './metrics';
import type { OneSignalClient, SendResult } from './onesignal-client';

export interface DispatcherOptions {
  pool: Pool;
  client: OneSignalClient;
  catalogue: Catalogue;
  logger: Logger;
  metrics: NotifierMetrics;
  tracer: Tracer;
  clock: () => Date;
  instanceId: string;
  quietHours: QuietHours;
  defaultTimeZone: string;
  maxAttempts: number;
  backoff: BackoffPolicy;
  pollMs: number;
  claimLeaseMs: number;
  batchSize: number;
}

const DAY = 86_400_000;

export class Dispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Completed passes (tests wait on it instead of on time). */
  passes = 0;

  constructor(private readonly o: DispatcherOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs a pass soon (an event queued work). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pass(), ms);
  }

  private async pass(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = (async () => {
      try {
        for (;;) {
          this.again = false;
          const batch = await claimDue(this.o.pool, {
            me: this.o.instanceId,
            now: this.o.clock(),
            leaseMs: this.o.claimLeaseMs,
            limit: this.o.batchSize,
          });
          await Promise.all(batch.map((n) => this.process(n)));
          if (this.stopped || (batch.length < this.o.batchSize && !this.again)) break;
        }
      } catch (err) {
        this.o.logger.error({ err }, 'notifier dispatch pass failed; retrying at the next poll');
      } finally {
        this.passes++;
        this.running = undefined;
        this.schedule(this.again ? 0 : this.o.pollMs);
      }
    })();
    await this.running;
  }

  private async process(n: ClaimedNotification): Promise<void> {
    const parent = extractTraceContext(n.traceparent ? new Map([['traceparent', n.traceparent]]) : undefined);
    const name = n.status === 'cancelling' ? 'notifier cancel push' : 'notifier send push';
    await withSpan(
      this.o.tracer,
      name,
      { kind: SpanKind.CLIENT, parent, attributes: { 'intellifin.provider': n.provider, 'intellifin.push.kind': n.kind } },
      async (span) => {
        const f = n.status === 'cancelling' ? await this.cancel(n) : await this.send(n);
        span.setAttribute('intellifin.push.outcome', f.status);
        const stored = await finishNotification(this.o.pool, n, f);
        if (stored === undefined) {
          this.o.logger.warn({ notification: n.id }, 'claim lapsed before the outcome was stored; another replica owns this push now');
          return;
        }
        if (stored !== 'pending' && stored !== 'cancelling')
          this.o.metrics.notifications.inc({ provider: n.provider, kind: kindLabel(n.kind), outcome: stored });
        const fields = {
          notification: n.id,
          account: n.accountId,
          provider: n.provider,
          kind: n.kind,
          status: stored,
          attempt: n.attempts + 1,
        };
        if (stored === 'failed') this.o.logger.warn({ ...fields, reason: f.lastError }, 'push settled');
        else this.o.logger.info({ ...fields, ...(f.lastError ? { reason: f.lastError } : {}) }, 'push settled');
      },
    ).catch((err: unknown) =>
      this.o.logger.error({ err, notification: n.id }, 'push processing failed; the claim lapses and it is retried'),
    );
  }

  private retryOrFail(
    n: ClaimedNotification,
    now: Date,
    r: Extract<SendResult, { kind: 'retry' }>,
  ): Pick<FinishInput, 'status' | 'nextAttemptAt' | 'lastError'> {
    if (n.attempts + 1 >= this.o.maxAttempts)
      return { status: 'failed', lastError: `gave up after ${n.attempts + 1} attempts: ${r.reason}` };
    const delay = r.retryAfterMs ?? fullJitterDelayMs(n.attempts + 1, this.o.backoff);
    return { status: n.status, nextAttemptAt: new Date(now.getTime() + Math.max(delay, 0)), lastError: r.reason };
  }

  private async send(n: ClaimedNotification): Promise<FinishInput> {
    const me = this.o.instanceId;
    const now = this.o.clock();
    const ctx = await loadPushContext(this.o.pool, n);
    const settle = (status: FinishInput['status'], lastError: string): FinishInput => ({ me, now, status, lastError });
    if (!ctx) return settle('canceled', 'the account no longer exists');
    if (ctx.episodeClosed) return { ...settle('canceled', 'the account was repaired first'), canceledAt: now };
    if (n.kind === 'expiry_warning' && ctx.accountStatus !== 'active' && ctx.accountStatus !== 'error')
      return { ...settle('canceled', `the account is ${ctx.accountStatus} already`), canceledAt: now };
    if (ctx.optedOut) return settle('suppressed', 'the user opted out of re-auth pushes');
    if (!ctx.externalId) return settle('undeliverable', 'the account has no user to notify');

    const kind: PushKind = n.kind === 'expiry_warning' ? 'expiry_warning' : n.kind.startsWith('reminder_') ? 'reminder' : 'reauth';
    const expiresAt = kind === 'expiry_warning' ? expiryOf(n.episode) : undefined;
    const days = expiresAt ? Math.max(1, Math.ceil((expiresAt.getTime() - now.getTime()) / DAY)) : undefined;
    const text = this.o.catalogue.render(kind, n.provider as 'mono', { account: ctx.displayName, ...(days !== undefined ? { days } : {}) });
    // Mono's own re-link URL while it is valid (it expires in minutes); our web page otherwise.
    const monoLink =
      n.provider === 'mono' && ctx.reauthUrl && (!ctx.reauthUrlExpiresAt || ctx.reauthUrlExpiresAt.getTime() > now.getTime())
        ? ctx.reauthUrl
        : null;
    const sendAfter = quietHoursEnd(now, ctx.timeZone ?? this.o.defaultTimeZone, this.o.quietHours);

    const startedAt = now;
    const t0 = performance.now();
    const r = await this.o.client.send({
      externalId: ctx.externalId,
      headings: text.headings,
      contents: text.contents,
      data: {
        type: kind === 'expiry_warning' ? 'reconnect_soon' : 'reauth_required',
        provider: n.provider,
        account_id: n.accountId,
        kind: n.kind,
      },
      appUrl: n.deepLink,
      webUrl: monoLink ?? n.webUrl,
      idempotencyKey: n.idempotencyKey,
      ...(sendAfter ? { sendAfter } : {}),
    });
    this.o.metrics.requestSeconds.observe({ action: 'create' }, (performance.now() - t0) / 1000);
    this.o.metrics.requests.inc({ provider: n.provider, action: 'create', result: r.kind });
    const attempt = { action: 'create' as const, startedAt, httpStatus: r.status };
    switch (r.kind) {
      case 'created':
        return {
          me,
          now,
          status: sendAfter ? 'scheduled' : 'delivered',
          onesignalId: r.id,
          scheduledFor: sendAfter ?? null,
          sentAt: now,
          attempt: { ...attempt, outcome: sendAfter ? 'scheduled' : 'delivered', onesignalId: r.id, replayed: r.replayed },
        };
      case 'undeliverable':
        return {
          me,
          now,
          status: 'undeliverable',
          onesignalId: r.id,
          lastError: r.reason,
          attempt: { ...attempt, outcome: 'undeliverable', onesignalId: r.id, replayed: r.replayed, error: r.reason },
        };
      case 'retry': {
        const next = this.retryOrFail(n, now, r);
        return {
          me,
          now,
          ...next,
          attempt: { ...attempt, outcome: next.status === 'failed' ? 'failed' : 'retry', retryAfterMs: r.retryAfterMs, error: r.reason },
        };
      }
      case 'failed':
        return { me, now, status: 'failed', lastError: r.reason, attempt: { ...attempt, outcome: 'failed', error: r.reason } };
    }
  }

  private async cancel(n: ClaimedNotification): Promise<FinishInput> {
    const me = this.o.instanceId;
    const now = this.o.clock();
    if (!n.onesignalId) return { me, now, status: 'canceled', canceledAt: now, lastError: 'the account was repaired first' };
    const t0 = performance.now();
    const r = await this.o.client.cancel(n.onesignalId);
    this.o.metrics.requestSeconds.observe({ action: 'cancel' }, (performance.now() - t0) / 1000);
    this.o.metrics.requests.inc({ provider: n.provider, action: 'cancel', result: r.kind });
    const attempt = { action: 'cancel' as const, startedAt: now, httpStatus: r.status, onesignalId: n.onesignalId };
    switch (r.kind) {
      case 'canceled':
        return {
          me,
          now,
          status: 'canceled',
          canceledAt: now,
          lastError: 'the account was repaired first',
          attempt: { ...attempt, outcome: 'canceled' },
        };
      case 'already_delivered':
        return { me, now, status: 'delivered', lastError: null, attempt: { ...attempt, outcome: 'already_delivered', error: r.reason } };
      case 'retry': {
        const next = this.retryOrFail(n, now, r);
        return {
          me,
          now,
          ...next,
          attempt: { ...attempt, outcome: next.status === 'failed' ? 'failed' : 'retry', retryAfterMs: r.retryAfterMs, error: r.reason },
        };
      }
      case 'failed':
        return { me, now, status: 'failed', lastError: r.reason, attempt: { ...attempt, outcome: 'failed', error: r.reason } };
    }
  }
}

function kindLabel(kind: string): string {
  return kind.startsWith('reminder_') ? 'reminder' : kind;
}
