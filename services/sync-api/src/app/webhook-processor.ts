import { counter, gauge, histogram, maskSecrets, trace, withSpan, type Logger, type Registry, type Tracer } from '@intellifin/core';
import type { ProviderId } from '@intellifin/domain';
import { withTransaction, type Pool, type PoolClient } from '@intellifin/persistence';
import { laneOf } from '@intellifin/messaging';
import { backlog, claimEvent, enqueueOutbox, settleEvent, type ClaimedEvent, type SettleState } from './ingress.store';
import { monoActionOf, shortType, type MonoAction } from './mono-events';
import { findCoveringRequest, lockAccount, queueCommand, type ApiTrigger, type LockedAccount } from './sync-commands';

/**
 * Processes stored Mono webhooks asynchronously, one event per transaction:
 * claim (FOR UPDATE SKIP LOCKED, attempt counted) → scope the transaction to the organisation of
 * the account the event names → act (queue a sync, mark auth_required, disable, repair) → settle.
 * The action and the settle commit together, so an event acts at most once; a crash rolls both back
 * and the event is pending again. An action that throws is rolled back to a savepoint and the event
 * retried with backoff, terminal (`failed`) after `maxAttempts`. An event whose account the database
 * does not know yet is retried with the same backoff for `unknownAccountTtlMs`, then `unmatched`.
 */
export interface WebhookProcessorOptions {
  /** Connected as `intellifin_api`. */
  pool: Pool;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  /** The subject of an account's command for a trigger (`topology.commandSubjectFor`). */
  commandSubject: (provider: ProviderId, accountId: string, trigger: ApiTrigger) => string;
  /** `topology.eventSubject('auth', provider, accountId)`. */
  authEventSubject: (provider: ProviderId, accountId: string) => string;
  /** The account's status-event subject (`topology.eventSubject('status', …)`): where its `queued` event goes. */
  statusEventSubject: (provider: ProviderId, accountId: string) => string;
  /** Called after a commit that put something in the outbox. */
  onQueued?: () => void;
  queuedTtlMs: number;
  pollMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  unknownAccountTtlMs: number;
}

interface Settlement {
  state: SettleState;
  outcome: string;
  error?: string;
  retryInMs?: number;
  queued?: boolean;
}

export class WebhookProcessor {
  private readonly tracer: Tracer;
  private readonly log: Logger;
  private readonly m;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;

  constructor(private readonly o: WebhookProcessorOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.log = o.logger.child({ component: 'webhook-processor' });
    this.m = o.registry
      ? {
          processed: counter(
            o.registry,
            'intellifin_sync_api_webhook_events_processed_total',
            'Stored webhooks processed, by type and outcome',
            ['provider', 'type', 'outcome'],
          ),
          lag: histogram(
            o.registry,
            'intellifin_sync_api_webhook_processing_lag_seconds',
            'From a webhook being stored to its processing settling it',
            ['provider'],
            [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600, 86400],
          ),
          backlog: gauge(
            o.registry,
            'intellifin_sync_api_webhook_events',
            'Stored webhooks needing attention, by state (pending, failed, unmatched)',
            ['provider', 'state'],
          ),
        }
      : undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Process at once (a webhook was just stored). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        while (this.running && (await this.processOne())) {
          /* drain */
        }
        await this.refreshBacklog();
      } catch (err) {
        this.log.warn({ err: maskSecrets(String(err)) }, 'webhook processing round failed; retrying after the poll interval');
      }
      if (!this.running) break;
      if (this.kicked) {
        this.kicked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
      this.kicked = false;
    }
  }

  private async refreshBacklog(): Promise<void> {
    if (!this.m) return;
    const rows = await backlog(this.o.pool);
    this.m.backlog.reset();
    for (const r of rows) this.m.backlog.set({ provider: r.provider, state: r.state }, r.events);
  }

  /** Processes the next due Mono event; false when there was none. */
  async processOne(): Promise<boolean> {
    let queued = false;
    const settled = await withTransaction(this.o.pool, async (db) => {
      await db.query('SET LOCAL ROLE intellifin_api');
      const ev = await claimEvent(db, 'mono');
      if (!ev) return null;
      const type = shortType(ev.eventType);
      return withSpan(
        this.tracer,
        'sync-api.webhook_process',
        { attributes: { 'webhook.provider': 'mono', 'webhook.type': type } },
        async (span) => {
          const s = await this.settle(db, ev);
          await settleEvent(db, ev.id, s);
          queued = s.queued === true;
          span.setAttribute('webhook.outcome', s.outcome);
          return { ev, type, s };
        },
      );
    });
    if (!settled) return false;
    if (queued) this.o.onQueued?.();
    const { ev, type, s } = settled;
    this.m?.processed.inc({ provider: 'mono', type, outcome: s.state === 'done' ? s.outcome : s.state });
    if (s.state !== 'pending') this.m?.lag.observe({ provider: 'mono' }, Math.max(0, Date.now() - ev.receivedAt.getTime()) / 1000);
    const level = s.state === 'failed' || s.state === 'unmatched' ? 'warn' : 'debug';
    this.log[level]({ webhookEvent: ev.id, type, attempts: ev.attempts, state: s.state, outcome: s.outcome }, 'webhook event processed');
    return true;
  }

  private backoffMs(attempts: number): number {
    return Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  /** What the event comes to; its action runs under a savepoint so a failure keeps the claim. */
  private async settle(db: PoolClient, ev: ClaimedEvent): Promise<Settlement> {
    if (ev.accountRef === null) return { state: 'done', outcome: 'no_account' };
    const action = monoActionOf(ev.eventType, ev.payload);
    if (action.kind === 'ignore') return { state: 'done', outcome: `ignored_${action.why}` };
    if (ev.accountId === null || ev.orgId === null) {
      if (Date.now() - ev.receivedAt.getTime() >= this.o.unknownAccountTtlMs)
        return { state: 'unmatched', outcome: 'unknown_account', error: 'the account never became known' };
      return { state: 'pending', outcome: 'unknown_account', retryInMs: this.backoffMs(ev.attempts) };
    }
    await db.query('SAVEPOINT webhook_action');
    try {
      await db.query(`SELECT set_config('app.org_id', $1, true)`, [ev.orgId]);
      const r = await this.act(db, ev, action);
      await db.query('RELEASE SAVEPOINT webhook_action');
      return r;
    } catch (err) {
      await db.query('ROLLBACK TO SAVEPOINT webhook_action');
      const error = maskSecrets(err instanceof Error ? err.message : String(err));
      if (ev.attempts >= this.o.maxAttempts) return { state: 'failed', outcome: 'error', error };
      return { state: 'pending', outcome: 'error', error, retryInMs: this.backoffMs(ev.attempts) };
    }
  }

  private async act(db: PoolClient, ev: ClaimedEvent, action: Exclude<MonoAction, { kind: 'ignore' }>): Promise<Settlement> {
    const account = await lockAccount(db, null, ev.accountId!);
    if (!account) return { state: 'done', outcome: 'account_gone' };
    if (account.status === 'disabled') return { state: 'done', outcome: 'ignored_unlinked' };
    switch (action.kind) {
      case 'sync':
        return this.queueSync(db, account, 'webhook');
      case 'unlink':
        await setStatus(db, account.id, 'disabled');
        return { state: 'done', outcome: 'disabled' };
      case 'reauth': {
        if (account.status === 'auth_required') return { state: 'done', outcome: 'already_auth_required' };
        await setStatus(db, account.id, 'auth_required');
        // The notifier opens the re-auth episode (and pushes) on this event, as after a run.
        await this.authEvent(db, ev, account, 'reauth_required', action.reason);
        return { state: 'done', outcome: 'auth_required', queued: true };
      }
      case 'repair': {
        let outcome = 'queued_sync';
        if (account.status === 'auth_required' || account.status === 'error') {
          await setStatus(db, account.id, 'active');
          // The notifier ends the episode on `repaired` (its one rule), as after a repairing run.
          await this.authEvent(db, ev, account, 'repaired');
          outcome = 'repaired';
        }
        const q = await this.queueSync(db, account, 'repair');
        return { ...q, outcome: q.outcome === 'coalesced' ? `${outcome}_coalesced` : outcome, queued: true };
      }
    }
  }

  /** A `transactions` sync, unless a queued request already covers it. */
  private async queueSync(db: PoolClient, account: LockedAccount, trigger: ApiTrigger): Promise<Settlement> {
    const scope = { mode: 'transactions' as const, realtime: false, lane: laneOf(trigger) };
    if (await findCoveringRequest(db, account.id, scope, this.o.queuedTtlMs)) return { state: 'done', outcome: 'coalesced' };
    await queueCommand(db, {
      account,
      requestedBy: 'webhook:mono',
      trigger,
      ...scope,
      subject: this.o.commandSubject(account.provider, account.id, trigger),
      statusSubject: this.o.statusEventSubject(account.provider, account.id),
    });
    return { state: 'done', outcome: 'queued_sync', queued: true };
  }

  private async authEvent(
    db: PoolClient,
    ev: ClaimedEvent,
    account: LockedAccount,
    kind: 'reauth_required' | 'repaired',
    reason?: string,
  ): Promise<void> {
    // One event per stored occurrence (a re-armed event is a new occurrence: new received_at).
    const runId = `webhook:${ev.id}:${ev.receivedAt.getTime()}`;
    await enqueueOutbox(db, `auth:${runId}`, this.o.authEventSubject(account.provider, account.id), {
      kind,
      runId,
      accountId: account.id,
      orgId: account.orgId,
      provider: account.provider,
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
    });
  }
}

async function setStatus(db: PoolClient, accountId: string, status: 'active' | 'auth_required' | 'disabled'): Promise<void> {
  await db.query({
    name: 'sync-api.webhooks.account_status',
    text: 'UPDATE accounts SET status = $2, updated_at = now() WHERE id = $1',
    values: [accountId, status],
  });
}
