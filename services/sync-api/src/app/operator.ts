import { counter, trace, withSpan, type Logger, type Registry, type Tracer } from '@intellifin/core';
import type { ProviderId, SyncMode } from '@intellifin/domain';
import { deleteDeadLetter, getDeadLetter, queueStats, scanDeadLetters, type LaneQueueStats, type Topology } from '@intellifin/messaging';
import { withOrgScope, type Pool } from '@intellifin/persistence';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Caller, Role } from './caller';
import { commandOf, deadLetterView, type DeadLetterView } from './dead-letter-view';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError } from './errors';
import {
  completeAudit,
  findAuditByDedupKey,
  findDeadLetterAudit,
  insertAudit,
  latestOrgSync,
  lockOrgKey,
  type AuditAction,
  type AuditRow,
} from './operator-audit';
import { orgSyncBatch, queueReplay } from './org-sync';
import { lockAccount, queueCommand } from './sync-commands';

/**
 * The operator and admin use cases: queue numbers, dead letters (list, replay, discard) and the
 * org-wide sync. Queue numbers are system-wide (every organisation's commands share the streams),
 * so only operators and admins see them. Dead letters are system-wide too, but each is shown to and
 * acted on by the operators of the organisation its command names (`orgId`) only: another
 * organisation's dead letter answers 404, as its accounts do. Every action is audited
 * (`operator_audit`).
 */
export interface OperatorApiOptions {
  /** Connected as `intellifin_api`. */
  pool: Pool;
  jsm: JetStreamManager;
  topology: Topology;
  logger: Logger;
  /** Called after a command was committed to the outbox (the relay publishes at once). */
  onQueued?: () => void;
  registry?: Registry;
  tracer?: Tracer;
  queuedTtlMs: number;
  /** One org-wide sync per organisation and scope per this interval (else 429). */
  orgSyncIntervalMs: number;
  /** Accounts queued per transaction by the org-wide sync. */
  orgSyncBatchSize: number;
}

export interface DeadLetterActionResult {
  id: number;
  action: 'replay' | 'discard';
  /** The command queued again (replay). */
  commandId: string | null;
  subject: string | null;
  /** True when this dead letter had already been handled by an earlier request (nothing new was queued). */
  alreadyHandled: boolean;
  /** Whether the message is gone from the DLQ now (false: it stays until the next attempt removes it). */
  removed: boolean;
  auditId: string;
}

export interface OrgSyncResult {
  provider: ProviderId | null;
  mode: SyncMode;
  /** Schedulable accounts considered (active or error). */
  accounts: number;
  queued: number;
  coalesced: number;
  batches: number;
  auditId: string;
}

const PAGE_SCAN_LIMIT = 1_000;
const SCAN_BATCH = 200;

function requireRole(caller: Caller, ...roles: Role[]): void {
  if (!roles.some((r) => caller.roles.includes(r))) throw new ForbiddenError(roles.join(' or '));
}

export class OperatorApi {
  private readonly tracer: Tracer;
  private readonly log: Logger;
  private readonly m;

  constructor(private readonly o: OperatorApiOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.log = o.logger.child({ component: 'operator' });
    this.m = o.registry
      ? {
          deadLetters: counter(o.registry, 'intellifin_sync_api_dead_letter_actions_total', 'Dead-letter replays and discards by result', [
            'action',
            'result',
          ]),
          orgSyncs: counter(o.registry, 'intellifin_sync_api_org_syncs_total', 'Org-wide sync requests by result', ['result']),
          orgSyncAccounts: counter(o.registry, 'intellifin_sync_api_org_sync_accounts_total', 'Accounts of org-wide syncs by result', [
            'provider',
            'result',
          ]),
        }
      : undefined;
  }

  /** Per provider lane: pending, in flight, redelivered, DLQ size. System-wide numbers (operators and admins only). */
  async queueStats(caller: Caller): Promise<LaneQueueStats[]> {
    requireRole(caller, 'operator', 'admin');
    return withSpan(this.tracer, 'sync-api.queue_stats', {}, () => queueStats(this.o.jsm, this.o.topology));
  }

  /**
   * The caller organisation's command dead letters, oldest first, from the cursor (a DLQ sequence)
   * on. At most PAGE_SCAN_LIMIT messages are scanned per request: a page may then hold fewer than
   * `limit` and still carry a `nextCursor`.
   */
  async listDeadLetters(
    caller: Caller,
    q: { provider?: ProviderId | undefined; limit: number; cursor?: number | undefined },
  ): Promise<{ deadLetters: DeadLetterView[]; nextCursor: string | null }> {
    requireRole(caller, 'operator', 'admin');
    return withSpan(this.tracer, 'sync-api.list_dead_letters', {}, async (span) => {
      const out: DeadLetterView[] = [];
      let from: number | null = q.cursor ?? 1;
      let scanned = 0;
      while (from !== null && out.length < q.limit && scanned < PAGE_SCAN_LIMIT) {
        const page = await scanDeadLetters(this.o.jsm, this.o.topology, {
          fromSeq: from,
          max: Math.min(SCAN_BATCH, PAGE_SCAN_LIMIT - scanned),
          ...(q.provider ? { provider: q.provider } : {}),
        });
        scanned += page.deadLetters.length;
        from = page.nextSeq;
        for (const dl of page.deadLetters) {
          if (commandOf(dl)?.orgId !== caller.orgId) continue;
          out.push(deadLetterView(dl));
          if (out.length === q.limit) {
            // The page is full: continue right after this one (even if the batch read further).
            from = dl.seq + 1;
            break;
          }
        }
      }
      span.setAttribute('sync.dead_letters.scanned', scanned);
      return { deadLetters: out, nextCursor: from === null ? null : String(from) };
    });
  }

  /** Re-publishes a dead letter's command to its subject through the outbox, then removes it from the DLQ. */
  async replayDeadLetter(caller: Caller, id: number): Promise<DeadLetterActionResult> {
    requireRole(caller, 'operator', 'admin');
    return withSpan(this.tracer, 'sync-api.replay_dead_letter', {}, () => this.act(caller, id, 'replay'));
  }

  /** Removes a dead letter from the DLQ (its command is dropped). */
  async discardDeadLetter(caller: Caller, id: number): Promise<DeadLetterActionResult> {
    requireRole(caller, 'operator', 'admin');
    return withSpan(this.tracer, 'sync-api.discard_dead_letter', {}, () => this.act(caller, id, 'discard'));
  }

  /**
   * One dead-letter action, idempotent across crashes: (1) read the message (gone: the earlier
   * action's answer, or 404); (2) in one transaction, the audit row keyed by the message (stream,
   * sequence, stored time) and, for a replay, the command's outbox row; a key already used means an
   * earlier attempt committed, and nothing new is queued; (3) after the commit, delete the message.
   * If the process dies between (2) and (3), the next attempt finds the message and the row, and
   * only deletes.
   */
  private async act(caller: Caller, id: number, action: 'replay' | 'discard'): Promise<DeadLetterActionResult> {
    const auditAction: AuditAction = action === 'replay' ? 'dead_letter.replay' : 'dead_letter.discard';
    const target = `dead-letter:${id}`;
    const dl = await getDeadLetter(this.o.jsm, this.o.topology, id);
    const cmd = dl ? commandOf(dl) : null;
    if (!dl) {
      // Gone: an earlier action of this organisation on it is the answer (a repeated request).
      const prior = await withOrgScope(this.o.pool, caller.orgId, (db) => findDeadLetterAudit(db, target));
      if (prior) return this.priorAnswer(id, action, prior);
      throw new NotFoundError('dead letter');
    }
    // Another organisation's, or a payload that is no command (nobody's here): 404.
    if (!cmd || cmd.orgId !== caller.orgId) throw new NotFoundError('dead letter');
    const dedupKey = `${this.o.topology.streams.deadLetters.name}:${id}:${dl.storedAt.getTime()}`;
    const subject = dl.originalSubject;
    const addr = this.o.topology.tryParseCommandSubject(subject);
    if (action === 'replay' && (!addr || addr.accountId !== cmd.accountId || addr.provider !== cmd.provider))
      throw new ConflictError('dead_letter_not_replayable', 'the dead letter does not carry a command for its original subject');
    const outcome = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
      const earlier = await findAuditByDedupKey(db, dedupKey);
      if (earlier) return { row: earlier, fresh: false };
      if (action === 'replay' && !(await lockAccount(db, null, cmd.accountId))) throw new NotFoundError('dead letter');
      const row = await insertAudit(db, caller, {
        action: auditAction,
        target,
        result: action === 'replay' ? 'replayed' : 'discarded',
        dedupKey,
        detail: {
          commandId: cmd.commandId,
          accountId: cmd.accountId,
          provider: cmd.provider,
          errorCode: dl.errorCode ?? null,
          ...(action === 'replay' ? { subject, eventId: `replay:${dedupKey}` } : {}),
        },
      });
      if (!row) {
        // A concurrent request on the same dead letter committed first (the insert waited for it): its row is the answer.
        const first = await findAuditByDedupKey(db, dedupKey);
        if (!first) throw new ConflictError('dead_letter_busy', 'another request is handling this dead letter; try again');
        return { row: first, fresh: false };
      }
      if (action === 'replay') await queueReplay(db, { eventId: `replay:${dedupKey}`, subject, payload: cmd });
      return { row, fresh: true };
    });
    if (outcome.fresh && action === 'replay') this.o.onQueued?.();
    if (!outcome.fresh && outcome.row.action !== auditAction) {
      // Handled the other way by an earlier request that died before removing it: finish that.
      await this.remove(caller, id, outcome.row);
      throw new ConflictError(
        'dead_letter_already_handled',
        `this dead letter was already ${outcome.row.action === 'dead_letter.replay' ? 'replayed' : 'discarded'}`,
      );
    }
    const removed = await this.remove(caller, id, outcome.row);
    this.m?.deadLetters.inc({ action, result: outcome.fresh ? 'done' : 'repeated' });
    this.log.info(
      { action, dlqSeq: id, provider: cmd.provider, actor: caller.userId, repeated: !outcome.fresh, removed },
      'dead letter handled',
    );
    return {
      id,
      action,
      commandId: action === 'replay' ? cmd.commandId : null,
      subject: action === 'replay' ? subject : null,
      alreadyHandled: !outcome.fresh,
      removed,
      auditId: outcome.row.id,
    };
  }

  /** Deletes the message; a failure leaves it for the next attempt (which then only deletes). */
  private async remove(caller: Caller, id: number, row: AuditRow): Promise<boolean> {
    try {
      await deleteDeadLetter(this.o.jsm, this.o.topology, id);
    } catch (err) {
      this.log.warn({ err, dlqSeq: id }, 'could not remove the dead letter from the DLQ; a repeated request removes it');
      return false;
    }
    if (!row.completedAt) {
      // Best effort: the row already says what was done; completed_at says the DLQ copy is gone too.
      await withOrgScope(this.o.pool, caller.orgId, (db) => completeAudit(db, row.id, row.result, {}, true)).catch(() => undefined);
    }
    return true;
  }

  private priorAnswer(id: number, action: 'replay' | 'discard', prior: AuditRow): DeadLetterActionResult {
    const wanted: AuditAction = action === 'replay' ? 'dead_letter.replay' : 'dead_letter.discard';
    if (prior.action !== wanted)
      throw new ConflictError(
        'dead_letter_already_handled',
        `this dead letter was already ${prior.action === 'dead_letter.replay' ? 'replayed' : 'discarded'}`,
      );
    const d = prior.detail;
    return {
      id,
      action,
      commandId: action === 'replay' && typeof d.commandId === 'string' ? d.commandId : null,
      subject: action === 'replay' && typeof d.subject === 'string' ? d.subject : null,
      alreadyHandled: true,
      removed: true,
      auditId: prior.id,
    };
  }

  /**
   * Org-wide sync (admins): every schedulable account of the caller's organisation, or of one
   * provider's, gets an `admin` command on the bulk lane through `queueCommand`, in batches of
   * `orgSyncBatchSize` accounts per transaction; accounts with a covering request already queued
   * are coalesced. One per organisation and scope per `orgSyncIntervalMs` (429 with Retry-After).
   * The audit row is written with the first batch and carries the counts of every committed batch.
   */
  async orgSync(caller: Caller, input: { provider?: ProviderId | undefined; mode: SyncMode }): Promise<OrgSyncResult> {
    requireRole(caller, 'admin');
    const provider = input.provider ?? null;
    const target = `provider:${provider ?? 'all'}`;
    return withSpan(this.tracer, 'sync-api.org_sync', { attributes: { 'sync.mode': input.mode, 'sync.scope': target } }, async (span) => {
      const counts = { accounts: 0, queued: 0, coalesced: 0, batches: 0 };
      let auditId: string | null = null;
      let afterId: string | null = null;
      try {
        for (;;) {
          const done: boolean = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
            if (auditId === null) {
              await lockOrgKey(db, caller.orgId, `sync.org:${target}`);
              const last = await latestOrgSync(db, target);
              const waitMs = last ? last.at.getTime() + this.o.orgSyncIntervalMs - last.dbNow.getTime() : 0;
              if (waitMs > 0) {
                this.m?.orgSyncs.inc({ result: 'rate_limited' });
                throw new RateLimitedError(waitMs, new Date(Date.now() + waitMs), `org-wide sync (${target})`);
              }
              const row = await insertAudit(db, caller, { action: 'sync.org', target, result: 'started', detail: { mode: input.mode } });
              auditId = row!.id;
            }
            const batch = await orgSyncBatch(db, {
              provider,
              afterId,
              limit: this.o.orgSyncBatchSize,
              mode: input.mode,
              queuedTtlMs: this.o.queuedTtlMs,
            });
            for (const account of batch) {
              counts.accounts++;
              if (account.covered) {
                counts.coalesced++;
                this.m?.orgSyncAccounts.inc({ provider: account.provider, result: 'coalesced' });
                continue;
              }
              await queueCommand(db, {
                account,
                requestedBy: caller.userId,
                trigger: 'admin',
                mode: input.mode,
                realtime: false,
                subject: this.o.topology.commandSubjectFor({ provider: account.provider, accountId: account.id, trigger: 'admin' }),
                statusSubject: this.o.topology.eventSubject('status', account.provider, account.id),
              });
              counts.queued++;
              this.m?.orgSyncAccounts.inc({ provider: account.provider, result: 'queued' });
            }
            if (batch.length > 0) counts.batches++;
            afterId = batch[batch.length - 1]?.id ?? afterId;
            const last = batch.length < this.o.orgSyncBatchSize;
            await completeAudit(db, auditId!, last ? 'completed' : 'started', { ...counts }, last);
            return last;
          });
          if (counts.queued > 0) this.o.onQueued?.();
          if (done) break;
        }
      } catch (err) {
        if (auditId !== null) {
          const id: string = auditId;
          await withOrgScope(this.o.pool, caller.orgId, (db) => completeAudit(db, id, 'failed', { ...counts }, true)).catch(
            () => undefined,
          );
          this.m?.orgSyncs.inc({ result: 'failed' });
        }
        throw err;
      }
      this.m?.orgSyncs.inc({ result: 'completed' });
      span.setAttribute('sync.queued', counts.queued);
      this.log.info({ scope: target, actor: caller.userId, ...counts }, 'org-wide sync queued');
      return { provider, mode: input.mode, ...counts, auditId: auditId! };
    });
  }
}
