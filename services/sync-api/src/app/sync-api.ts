import { counter, trace, withSpan, type Registry, type Tracer } from '@intellifin/core';
import type { SyncMode } from '@intellifin/domain';
import { withOrgScope, type Pool } from '@intellifin/persistence';
import { accountStatusView, type AccountStatusView } from './account-status';
import { accountVisible, getAccountFacts, listAccountFacts } from './accounts.query';
import { ownerFilter, type Caller } from './caller';
import { decodeRunsCursor, encodeRunsCursor } from './cursor';
import { ConflictError, IdempotencyMismatchError, NotFoundError, RateLimitedError } from './errors';
import type { ManualSyncLimiter } from './manual-sync-limiter';
import {
  cancelPending,
  findCoveringRequest,
  findIdempotent,
  lockAccount,
  queueCommand,
  requestHash,
  storeIdempotent,
  type CancelOutcome,
  type QueuedCommand,
} from './sync-commands';
import { runRequestsView, type RunRequestsView } from './run-requests';
import { getRunRow, listRunRows, type RunFilterStatus, type RunRow } from './sync-runs.query';

/**
 * The application layer of sync-api: every use case the transports (REST now, gRPC later) serve,
 * as plain methods taking the caller and validated input and returning plain data. Every database
 * access of a request runs in one transaction scoped to the caller's organisation (`withOrgScope`).
 */
export interface SyncApiOptions {
  /** A pool connected as `intellifin_api`. */
  pool: Pool;
  limiter: ManualSyncLimiter;
  /** The priority-lane subject of an account's commands (`topology.commandSubjectFor`, trigger manual). */
  commandSubject: (provider: QueuedCommand['provider'], accountId: string) => string;
  /** The account's status-event subject (`topology.eventSubject('status', …)`): where its `queued` event goes. */
  statusEventSubject: (provider: QueuedCommand['provider'], accountId: string) => string;
  /** Called after a command was committed to the outbox (the relay publishes at once). */
  onQueued?: () => void;
  registry?: Registry;
  tracer?: Tracer;
  queuedTtlMs: number;
  historyDays: number;
  consentExpiryWarningDays: number;
}

export interface RunsQuery {
  status?: RunFilterStatus | undefined;
  trigger?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface RunView {
  id: string;
  accountId: string;
  provider: string;
  trigger: string;
  mode: string;
  realtime: boolean;
  commandId: string | null;
  outcome: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  window: { from: string; to: string } | null;
  pages: number;
  counts: { added: number; modified: number; unchanged: number };
  error: { kind: string | null; code: string; hint: string | null } | null;
  traceId: string | null;
}

export interface RunDetailView extends RunView {
  worker: string | null;
  /** The provider requests the run made (bounded summary); null when the worker recorded none. */
  requests: RunRequestsView | null;
}

export interface TriggerInput {
  accountId: string;
  mode: SyncMode;
  realtime: boolean;
  idempotencyKey?: string | undefined;
}

export interface TriggerResult {
  command: QueuedCommand;
  /** The stored answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

export interface CancelResult extends CancelOutcome {
  accountId: string;
}

/** Providers whose data can be fetched in real time on request (Mono's `x-realtime`); others ignore it. */
const REALTIME_PROVIDERS = new Set(['mono']);

class IdempotencyRace extends Error {}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function runView(r: RunRow): RunView {
  return {
    id: r.id,
    accountId: r.accountId,
    provider: r.provider,
    trigger: r.trigger,
    mode: r.mode,
    realtime: r.realtime,
    commandId: r.commandId,
    outcome: r.outcome,
    startedAt: r.startedAt.toISOString(),
    finishedAt: iso(r.finishedAt),
    durationMs: r.durationMs,
    window: r.windowFrom && r.windowTo ? { from: r.windowFrom.toISOString(), to: r.windowTo.toISOString() } : null,
    pages: r.pages,
    counts: { added: r.added, modified: r.modified, unchanged: r.unchanged },
    error: r.errorCode ? { kind: r.errorKind, code: r.errorCode, hint: r.errorHint } : null,
    traceId: r.traceId,
  };
}

export class SyncApi {
  private readonly tracer: Tracer;
  private readonly m;

  constructor(private readonly o: SyncApiOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.m = o.registry
      ? {
          triggers: counter(o.registry, 'intellifin_sync_api_manual_syncs_total', 'Manual sync requests by provider and result', [
            'provider',
            'result',
          ]),
          cancels: counter(o.registry, 'intellifin_sync_api_sync_cancels_total', 'Sync cancel requests by what they cancelled', ['result']),
        }
      : undefined;
  }

  private get statusOptions() {
    return { consentExpiryWarningDays: this.o.consentExpiryWarningDays };
  }

  private get factsOptions() {
    return { historyDays: this.o.historyDays, queuedTtlMs: this.o.queuedTtlMs };
  }

  /** The caller's accounts, each with its sync status. */
  async listAccounts(caller: Caller): Promise<AccountStatusView[]> {
    return withSpan(this.tracer, 'sync-api.list_accounts', {}, async () => {
      const facts = await withOrgScope(this.o.pool, caller.orgId, (db) => listAccountFacts(db, ownerFilter(caller), this.factsOptions));
      const waits = await this.o.limiter.waits(facts.map((f) => f.id));
      return facts.map((f, i) => accountStatusView(f, this.allowedAt(f.dbNow, waits[i]!), this.statusOptions));
    });
  }

  async accountStatus(caller: Caller, accountId: string): Promise<AccountStatusView> {
    return withSpan(this.tracer, 'sync-api.account_status', {}, async () => {
      const f = await withOrgScope(this.o.pool, caller.orgId, (db) =>
        getAccountFacts(db, ownerFilter(caller), accountId, this.factsOptions),
      );
      if (!f) throw new NotFoundError('account');
      const [wait] = await this.o.limiter.waits([f.id]);
      return accountStatusView(f, this.allowedAt(f.dbNow, wait!), this.statusOptions);
    });
  }

  private allowedAt(now: Date, waitMs: number): Date | null {
    return waitMs > 0 ? new Date(now.getTime() + waitMs) : null;
  }

  /** An account's runs, newest first, filtered, one page at a time (`nextCursor` null on the last page). */
  async listRuns(caller: Caller, accountId: string, q: RunsQuery): Promise<{ runs: RunView[]; nextCursor: string | null }> {
    return withSpan(this.tracer, 'sync-api.list_runs', {}, async () => {
      const before = q.cursor === undefined ? null : decodeRunsCursor(q.cursor);
      if (q.cursor !== undefined && before === null) throw new ConflictError('invalid_cursor', 'cursor: not a cursor this API issued');
      return withOrgScope(this.o.pool, caller.orgId, async (db) => {
        if (!(await accountVisible(db, ownerFilter(caller), accountId))) throw new NotFoundError('account');
        const rows = await listRunRows(db, accountId, q, q.limit + 1, before);
        const page = rows.slice(0, q.limit);
        const last = page[page.length - 1];
        const nextCursor = rows.length > q.limit && last ? encodeRunsCursor({ startedAt: last.startedAtText, id: last.id }) : null;
        return { runs: page.map(runView), nextCursor };
      });
    });
  }

  /** One run in full. */
  async getRun(caller: Caller, accountId: string, runId: string): Promise<RunDetailView> {
    return withSpan(this.tracer, 'sync-api.get_run', {}, async () => {
      const row = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        if (!(await accountVisible(db, ownerFilter(caller), accountId))) return null;
        return getRunRow(db, accountId, runId);
      });
      if (!row) throw new NotFoundError('sync run');
      return { ...runView(row), worker: row.worker, requests: runRequestsView(row.requests) };
    });
  }

  /**
   * "Sync now": queues a manual command on the priority lane through the outbox, unless an equal
   * or wider request is already queued (then that one is the answer). Rate-limited per account;
   * an Idempotency-Key makes a repeated request get the first answer.
   */
  async triggerSync(caller: Caller, input: TriggerInput): Promise<TriggerResult> {
    return withSpan(this.tracer, 'sync-api.trigger_sync', { attributes: { 'sync.mode': input.mode } }, async (span) => {
      const hash = requestHash('POST /v1/accounts/:id/sync', { accountId: input.accountId, mode: input.mode, realtime: input.realtime });
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await this.triggerOnce(caller, input, hash);
          span.setAttribute('sync.result', r.replayed ? 'replayed' : r.command.coalesced ? 'coalesced' : 'queued');
          return r;
        } catch (err) {
          if (err instanceof IdempotencyRace && attempt === 0) continue; // the concurrent request's answer is now stored
          throw err;
        }
      }
    });
  }

  private async triggerOnce(caller: Caller, input: TriggerInput, hash: string): Promise<TriggerResult> {
    const key = input.idempotencyKey;
    let slot: { accountId: string; token: string } | undefined;
    try {
      const result = await withOrgScope(this.o.pool, caller.orgId, async (db): Promise<TriggerResult> => {
        if (key !== undefined) {
          const stored = await findIdempotent(db, caller.orgId, caller.userId, key);
          if (stored) {
            if (stored.requestHash !== hash) throw new IdempotencyMismatchError();
            return { command: stored.response as QueuedCommand, replayed: true };
          }
        }
        const account = await lockAccount(db, ownerFilter(caller), input.accountId);
        if (!account) throw new NotFoundError('account');
        if (account.status === 'disabled') throw new ConflictError('account_unlinked', 'account is unlinked; link it again before syncing');
        const realtime = input.realtime && REALTIME_PROVIDERS.has(account.provider);
        const covering = await findCoveringRequest(db, account.id, { mode: input.mode, realtime, lane: 'priority' }, this.o.queuedTtlMs);
        let command: QueuedCommand;
        if (covering) {
          command = {
            commandId: covering.commandId,
            accountId: account.id,
            provider: account.provider,
            trigger: 'manual',
            mode: covering.mode,
            realtime: covering.realtime,
            lane: 'priority',
            issuedAt: covering.issuedAt,
            coalesced: true,
          };
        } else {
          const token = `${caller.userId}:${Date.now()}:${Math.random()}`;
          const taken = await this.o.limiter.take(account.id, token);
          if (!taken.ok) {
            this.m?.triggers.inc({ provider: account.provider, result: 'rate_limited' });
            throw new RateLimitedError(taken.retryAfterMs, new Date(Date.now() + taken.retryAfterMs));
          }
          slot = { accountId: account.id, token };
          command = await queueCommand(db, {
            account,
            requestedBy: caller.userId,
            mode: input.mode,
            realtime,
            subject: this.o.commandSubject(account.provider, account.id),
            statusSubject: this.o.statusEventSubject(account.provider, account.id),
          });
        }
        if (
          key !== undefined &&
          !(await storeIdempotent(db, caller.orgId, caller.userId, key, { requestHash: hash, statusCode: 202, response: command }))
        )
          throw new IdempotencyRace();
        this.m?.triggers.inc({ provider: account.provider, result: command.coalesced ? 'coalesced' : 'queued' });
        return { command, replayed: false };
      });
      if (!result.replayed && !result.command.coalesced) this.o.onQueued?.();
      return result;
    } catch (err) {
      // Nothing was queued: the account's manual-sync slot is given back.
      if (slot) await this.o.limiter.release(slot.accountId, slot.token).catch(() => undefined);
      throw err;
    }
  }

  /** Cancels the account's queued manual requests and asks a running run to stop at its next page. */
  async cancelSync(caller: Caller, accountId: string): Promise<CancelResult> {
    return withSpan(this.tracer, 'sync-api.cancel_sync', {}, async () => {
      const outcome = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const account = await lockAccount(db, ownerFilter(caller), accountId);
        if (!account) throw new NotFoundError('account');
        return cancelPending(db, account.id, this.o.queuedTtlMs);
      });
      const result = outcome.runningCancelRequested ? 'running' : outcome.cancelledQueued > 0 ? 'queued' : 'nothing';
      this.m?.cancels.inc({ result });
      return { accountId, ...outcome };
    });
  }
}
