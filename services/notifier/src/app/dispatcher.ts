/**
 * Sends due pushes, cancels scheduled ones and confirms scheduled ones once their time has passed,
 * on every replica: claims rows from Postgres, asks OneSignal, stores the attempt and the outcome.
 * Retries 5xx and timeouts with full-jitter backoff and 429 after its Retry-After (same idempotency
 * key every time); a 429 with Retry-After on a create or cancel also holds the whole OneSignal app
 * (rate-hold.ts): no replica starts any request to it before the window ends. A 200 reporting a
 * partial failure is `undeliverable` at once. Quiet hours in the user's time zone become
 * `send_after`. At most `sendConcurrency` pushes are handled at once; views (`GET
 * /notifications/:id`, 1 request/s per app) are paced to one per `viewIntervalMs`. Each send is a
 * span continuing the worker's trace stored with the notification.
 */
import { SpanKind, type Tracer } from '@opentelemetry/api';
import { extractTraceContext, withSpan, type Logger } from '@intellifin/core';
import { fullJitterDelayMs, type BackoffPolicy } from '@intellifin/domain';
import type { Pool } from 'pg';
import type { Catalogue, PushKind } from '../domain/catalogue';
import { quietHoursEnd, type QuietHours } from '../domain/quiet-hours';
import {
  claimDue,
  claimScheduledToConfirm,
  finishNotification,
  loadPushContext,
  type ClaimedNotification,
  type FinishInput,
} from '../store/dispatch';
import { expiryOf } from '../store/expiry';
import { confirmOutcome } from './delivery-check';
import { kindLabel, type NotifierMetrics } from './metrics';
import type { OneSignalClient, SendResult } from './onesignal-client';
import { RateHold } from './rate-hold';

/** What a push came to; `held`: no request was made (the app is held), the push is back in the queue until the hold ends. */
type Outcome = FinishInput & { held?: true };

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
  /** Pushes handled at once by this replica (each holds at most one Postgres connection at a time). */
  sendConcurrency: number;
  /** At most one view per this many ms of the clock from this replica (OneSignal: 1 view/s per app). */
  viewIntervalMs?: number;
  /** A scheduled push is first checked this long after its send time, and re-checked this often. */
  confirmDelayMs?: number;
  /** Scheduled pushes are checked up to this long after their send time. */
  confirmWindowMs?: number;
}

const DAY = 86_400_000;
export const VIEW_INTERVAL_MS = 1_000;
export const CONFIRM_DELAY_MS = 60_000;
export const CONFIRM_WINDOW_MS = DAY;

export class Dispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Clock time before which this replica sends no view (pacing and 429 Retry-After). */
  private nextViewAt = 0;
  /** The app-wide hold after a 429 with Retry-After (shared with the other replicas through Postgres). */
  private readonly hold: RateHold;
  /** Completed passes (tests wait on it instead of on time). */
  passes = 0;

  constructor(private readonly o: DispatcherOptions) {
    this.hold = new RateHold({
      pool: o.pool,
      appId: o.client.appId,
      instanceId: o.instanceId,
      logger: o.logger,
      metrics: o.metrics,
      clock: o.clock,
    });
  }

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
      const inFlight = new Set<Promise<void>>();
      const run = (n: ClaimedNotification) => {
        const p: Promise<void> = this.process(n).finally(() => inFlight.delete(p));
        inFlight.add(p);
      };
      const k = Math.max(1, this.o.sendConcurrency);
      try {
        // A sliding window of k pushes: claim as many as there are free slots, claim again as one ends.
        for (;;) {
          this.again = false;
          let free = k - inFlight.size;
          const now = this.o.clock();
          // While the app is held nothing is claimed: this replica's hold here, any replica's in the claims' SQL.
          const held = this.hold.local() !== undefined;
          const appId = this.o.client.appId;
          if (free > 0 && !held && now.getTime() >= this.nextViewAt) {
            const [check] = await claimScheduledToConfirm(this.o.pool, {
              me: this.o.instanceId,
              now,
              leaseMs: this.o.claimLeaseMs,
              limit: 1,
              windowMs: this.o.confirmWindowMs ?? CONFIRM_WINDOW_MS,
              appId,
            });
            if (check) {
              this.nextViewAt = now.getTime() + (this.o.viewIntervalMs ?? VIEW_INTERVAL_MS);
              run(check);
              free--;
            }
          }
          const batch =
            free > 0 && !held
              ? await claimDue(this.o.pool, { me: this.o.instanceId, now, leaseMs: this.o.claimLeaseMs, limit: free, appId })
              : [];
          batch.forEach(run);
          if (this.stopped || (free > 0 && batch.length < free && !this.again)) break;
          if (inFlight.size >= k) await Promise.race(inFlight);
        }
      } catch (err) {
        this.o.logger.error({ err }, 'notifier dispatch pass failed; retrying at the next poll');
      } finally {
        await Promise.all(inFlight);
        this.passes++;
        this.running = undefined;
        this.schedule(this.again ? 0 : this.o.pollMs);
      }
    })();
    await this.running;
  }

  private async process(n: ClaimedNotification): Promise<void> {
    const parent = extractTraceContext(n.traceparent ? new Map([['traceparent', n.traceparent]]) : undefined);
    const name =
      n.status === 'cancelling' ? 'notifier cancel push' : n.status === 'scheduled' ? 'notifier confirm push' : 'notifier send push';
    await withSpan(
      this.o.tracer,
      name,
      { kind: SpanKind.CLIENT, parent, attributes: { 'intellifin.provider': n.provider, 'intellifin.push.kind': n.kind } },
      async (span) => {
        const f = n.status === 'cancelling' ? await this.cancel(n) : n.status === 'scheduled' ? await this.confirm(n) : await this.send(n);
        span.setAttribute('intellifin.push.outcome', f.held ? 'held' : f.status);
        const stored = await finishNotification(this.o.pool, n, f);
        if (stored === undefined) {
          this.o.logger.warn({ notification: n.id }, 'claim lapsed before the outcome was stored; another replica owns this push now');
          return;
        }
        if (f.held) {
          this.o.logger.debug({ notification: n.id, heldUntil: f.nextAttemptAt?.toISOString() }, 'OneSignal app held; push put back');
          return;
        }
        // Counted when it settles; a push back to `scheduled` (cancel refused, not yet confirmed) was counted when it was created.
        if (stored !== 'pending' && stored !== 'cancelling' && !(stored === 'scheduled' && n.status !== 'pending'))
          this.o.metrics.notifications.inc({ provider: n.provider, kind: kindLabel(n.kind), outcome: stored });
        const fields = {
          notification: n.id,
          account: n.accountId,
          provider: n.provider,
          kind: n.kind,
          status: stored,
          attempt: n.attempts + 1,
        };
        if (stored === 'failed' || (stored === 'scheduled' && n.status === 'cancelling'))
          this.o.logger.warn({ ...fields, reason: f.lastError }, 'push settled');
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
    heldUntil: Date | undefined,
  ): Pick<FinishInput, 'status' | 'nextAttemptAt' | 'lastError'> {
    if (n.attempts + 1 >= this.o.maxAttempts)
      return { status: 'failed', lastError: `gave up after ${n.attempts + 1} attempts: ${r.reason}` };
    const delay = r.retryAfterMs ?? fullJitterDelayMs(n.attempts + 1, this.o.backoff);
    const next = Math.max(now.getTime() + Math.max(delay, 0), heldUntil?.getTime() ?? 0);
    return { status: n.status, nextAttemptAt: new Date(next), lastError: r.reason };
  }

  /** A 429 with Retry-After holds the app (every replica); resolves to the hold's end. */
  private async holdAfter(
    r: { kind: string; status: number | null; retryAfterMs?: number },
    action: 'create' | 'cancel',
    n: ClaimedNotification,
  ): Promise<Date | undefined> {
    if (r.kind !== 'retry' || r.status !== 429 || r.retryAfterMs === undefined) return undefined;
    return this.hold.start(r.retryAfterMs, action, n.id);
  }

  /**
   * Checks the app's hold just before a request (nothing but synchronous code may follow before the
   * request starts). Held: the push goes back to its queue until the hold ends, with no request and
   * no attempt.
   */
  private async heldBack(n: ClaimedNotification, action: 'create' | 'cancel' | 'view'): Promise<Outcome | undefined> {
    const until = await this.hold.current();
    if (!until) return undefined;
    this.o.metrics.held.inc({ action });
    return {
      me: this.o.instanceId,
      now: this.o.clock(),
      status: n.status,
      nextAttemptAt: until,
      lastError: `OneSignal rate limit: app held until ${until.toISOString()}`,
      held: true,
    };
  }

  private async send(n: ClaimedNotification): Promise<Outcome> {
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
    if (ctx.invalidTimeZone)
      this.o.logger.warn(
        { notification: n.id, provider: n.provider, fallback: this.o.defaultTimeZone },
        "the user's time zone (users.time_zone) is not a valid IANA zone; quiet hours use the default",
      );
    const sendAfter = quietHoursEnd(now, ctx.timeZone ?? this.o.defaultTimeZone, this.o.quietHours);

    const held = await this.heldBack(n, 'create');
    if (held) return held;
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
          // A scheduled push is confirmed with OneSignal after its send time.
          ...(sendAfter ? { nextAttemptAt: new Date(sendAfter.getTime() + this.confirmDelayMs) } : {}),
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
        const next = this.retryOrFail(n, now, r, await this.holdAfter(r, 'create', n));
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

  private get confirmDelayMs(): number {
    return this.o.confirmDelayMs ?? CONFIRM_DELAY_MS;
  }

  /**
   * Cancels a scheduled push at OneSignal. Only a 200 is a cancel; a 400 means it went out. A
   * retryable failure is retried (however many attempts) until the send time; a cancel refused, or
   * not done by the send time, leaves the push `scheduled`: OneSignal will deliver it, and the
   * check after the send time records what happened.
   */
  private async cancel(n: ClaimedNotification): Promise<Outcome> {
    const me = this.o.instanceId;
    const now = this.o.clock();
    if (!n.onesignalId) return { me, now, status: 'canceled', canceledAt: now, lastError: 'the account was repaired first' };
    const held = await this.heldBack(n, 'cancel');
    if (held) return held;
    const t0 = performance.now();
    const r = await this.o.client.cancel(n.onesignalId);
    this.o.metrics.requestSeconds.observe({ action: 'cancel' }, (performance.now() - t0) / 1000);
    this.o.metrics.requests.inc({ provider: n.provider, action: 'cancel', result: r.kind });
    const attempt = { action: 'cancel' as const, startedAt: now, httpStatus: r.status, onesignalId: n.onesignalId };
    const sendAt = n.scheduledFor?.getTime() ?? now.getTime();
    const stillScheduled = (reason: string, outcome: 'retry' | 'failed'): FinishInput => ({
      me,
      now,
      status: 'scheduled',
      nextAttemptAt: new Date(Math.max(now.getTime(), sendAt) + this.confirmDelayMs),
      lastError: `${reason}; OneSignal will still deliver it`,
      attempt: { ...attempt, outcome, error: reason },
    });
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
        const heldUntil = await this.holdAfter(r, 'cancel', n);
        const delay = r.retryAfterMs ?? fullJitterDelayMs(n.attempts + 1, this.o.backoff);
        if (now.getTime() >= sendAt) return stillScheduled(`cancel not done by the send time: ${r.reason}`, 'failed');
        // Retry until the send time (the last try at that instant: OneSignal may not have sent it yet);
        // a hold past it puts the try back again (heldBack).
        const next = Math.min(Math.max(now.getTime() + Math.max(delay, 0), heldUntil?.getTime() ?? 0), sendAt);
        return {
          me,
          now,
          status: 'cancelling',
          nextAttemptAt: new Date(next),
          lastError: r.reason,
          attempt: { ...attempt, outcome: 'retry', retryAfterMs: r.retryAfterMs, error: r.reason },
        };
      }
      case 'failed':
        return stillScheduled(`cancel refused: ${r.reason}`, 'failed');
    }
  }

  /** Asks OneSignal (a view) whether a scheduled push whose send time has passed went out. */
  private async confirm(n: ClaimedNotification): Promise<Outcome> {
    const held = await this.heldBack(n, 'view');
    if (held) return held;
    const now = this.o.clock();
    const t0 = performance.now();
    const r = await this.o.client.view(n.onesignalId ?? '');
    this.o.metrics.requestSeconds.observe({ action: 'view' }, (performance.now() - t0) / 1000);
    this.o.metrics.requests.inc({ provider: n.provider, action: 'view', result: r.kind });
    if (r.kind === 'retry' && r.retryAfterMs !== undefined) this.nextViewAt = Math.max(this.nextViewAt, now.getTime() + r.retryAfterMs);
    return { me: this.o.instanceId, now, ...confirmOutcome(r, now, this.confirmDelayMs) };
  }
}
