import { createHash } from 'node:crypto';
import { counter, trace, withSpan, type Registry, type Tracer } from '@intellifin/core';
import type { ProviderId } from '@intellifin/domain';
import { withOrgScope, type Pool, type PoolClient } from '@intellifin/persistence';
import type { ReferenceRegistration } from '@intellifin/wallet-sync';
import { ConflictError, NotFoundError } from './errors';
import { enqueueOutbox } from './ingress.store';
import { findCoveringRequest, lockAccount, queueCommand, type ApiTrigger } from './sync-commands';

/**
 * The use cases of the internal routes (callers holding SERVICE_TOKEN: other IntelliFin services).
 * Each names the organisation it acts for and runs scoped to it, so row-level security still keeps
 * every other organisation out, as for the apps.
 */
export interface InternalApiOptions {
  /** Connected as `intellifin_api`. */
  pool: Pool;
  commandSubject: (provider: ProviderId, accountId: string, trigger: ApiTrigger) => string;
  /** The account's status-event subject (`topology.eventSubject('status', …)`): where its `queued` event goes. */
  statusEventSubject: (provider: ProviderId, accountId: string) => string;
  /** `topology.walletIntakeSubject(provider, 'ref', accountId)`. */
  registrationSubject: (provider: 'momo' | 'airtel', accountId: string) => string;
  onQueued?: () => void;
  queuedTtlMs: number;
  /** Most accounts one background request queues (the rest are reported as `remaining`). */
  maxAccounts: number;
  registry?: Registry;
  tracer?: Tracer;
}

export interface BackgroundInput {
  orgId: string;
  /** These accounts (of the organisation); absent: every schedulable account of it. */
  accountIds?: string[] | undefined;
  provider?: ProviderId | undefined;
  /** Who asks, for the request record (`service:<name>`). */
  requestedBy: string;
}

export interface BackgroundResult {
  queued: number;
  coalesced: number;
  /** Accounts not queued and why: not_found, unlinked, auth_required. */
  skipped: { accountId: string; reason: 'not_found' | 'unlinked' | 'auth_required' }[];
  /** Schedulable accounts beyond `maxAccounts` left for a next request (org-wide requests only). */
  remaining: number;
}

export interface ReferenceInput {
  orgId: string;
  provider: 'momo' | 'airtel';
  registration: ReferenceRegistration & { amountMinor: string };
}

export class InternalApi {
  private readonly tracer: Tracer;
  private readonly m;

  constructor(private readonly o: InternalApiOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.m = o.registry
      ? {
          background: counter(o.registry, 'intellifin_sync_api_background_syncs_total', 'Background sync requests per account, by result', [
            'result',
          ]),
          references: counter(o.registry, 'intellifin_sync_api_reference_registrations_total', 'References handed to the wallet workers', [
            'provider',
          ]),
        }
      : undefined;
  }

  /** Queues background syncs (bulk lane) for the given accounts or the organisation's schedulable ones. */
  async backgroundSync(input: BackgroundInput): Promise<BackgroundResult> {
    return withSpan(this.tracer, 'sync-api.background_sync', {}, async (span) => {
      const r = await withOrgScope(this.o.pool, input.orgId, async (db) => {
        const { ids, remaining } = await this.targets(db, input);
        const out: BackgroundResult = { queued: 0, coalesced: 0, skipped: [], remaining };
        for (const id of ids) {
          const account = await lockAccount(db, null, id);
          if (!account || (input.provider && account.provider !== input.provider)) {
            out.skipped.push({ accountId: id, reason: 'not_found' });
            continue;
          }
          if (account.status === 'disabled' || account.status === 'auth_required') {
            out.skipped.push({ accountId: id, reason: account.status === 'disabled' ? 'unlinked' : 'auth_required' });
            continue;
          }
          const scope = { mode: 'transactions' as const, realtime: false, lane: 'bulk' as const };
          if (await findCoveringRequest(db, id, scope, this.o.queuedTtlMs)) {
            out.coalesced++;
            continue;
          }
          await queueCommand(db, {
            account,
            requestedBy: input.requestedBy,
            trigger: 'background',
            ...scope,
            subject: this.o.commandSubject(account.provider, id, 'background'),
            statusSubject: this.o.statusEventSubject(account.provider, id),
          });
          out.queued++;
        }
        return out;
      });
      span.setAttributes({ 'sync.queued': r.queued, 'sync.coalesced': r.coalesced, 'sync.skipped': r.skipped.length });
      this.m?.background.inc({ result: 'queued' }, r.queued);
      this.m?.background.inc({ result: 'coalesced' }, r.coalesced);
      this.m?.background.inc({ result: 'skipped' }, r.skipped.length);
      if (r.queued > 0) this.o.onQueued?.();
      return r;
    });
  }

  private async targets(db: PoolClient, input: BackgroundInput): Promise<{ ids: string[]; remaining: number }> {
    if (input.accountIds) return { ids: [...new Set(input.accountIds)], remaining: 0 };
    const { rows } = await db.query<{ id: string; total: number }>({
      name: 'sync-api.internal.background_targets',
      text: `SELECT id::text, (count(*) OVER ())::int AS total FROM accounts
              WHERE status IN ('active', 'error') AND ($1::text IS NULL OR provider = $1)
              ORDER BY id LIMIT $2`,
      values: [input.provider ?? null, this.o.maxAccounts],
    });
    return { ids: rows.map((r) => r.id), remaining: Math.max(0, (rows[0]?.total ?? 0) - rows.length) };
  }

  /**
   * Registers a MoMo or Airtel reference the one way the workers take them: the WALLET_INTAKE
   * registration message (`wallet.<provider>.ref.<accountId>`), here through the outbox after the
   * account was found in the caller's organisation. The worker's intake registers it idempotently
   * (a conflicting second registration is refused there) and binds callbacks that came first.
   */
  async registerReference(input: ReferenceInput): Promise<{ accountId: string; provider: string; referenceId: string; accepted: boolean }> {
    return withSpan(this.tracer, 'sync-api.register_reference', { attributes: { 'wallet.provider': input.provider } }, async () => {
      const reg = input.registration;
      const accepted = await withOrgScope(this.o.pool, input.orgId, async (db) => {
        const account = await lockAccount(db, null, reg.accountId);
        if (!account || account.provider !== input.provider) throw new NotFoundError(`${input.provider} account`);
        if (account.status === 'disabled') throw new ConflictError('account_unlinked', 'account is unlinked');
        // The same event id as wallet-sync's publishRegistration: a repeat is dropped (outbox, then Nats-Msg-Id).
        const digest = createHash('sha256').update(JSON.stringify(reg)).digest('hex').slice(0, 24);
        return enqueueOutbox(
          db,
          `ref:${input.provider}:${reg.referenceId}:${digest}`,
          this.o.registrationSubject(input.provider, account.id),
          reg,
        );
      });
      if (accepted) {
        this.m?.references.inc({ provider: input.provider });
        this.o.onQueued?.();
      }
      return { accountId: reg.accountId, provider: input.provider, referenceId: reg.referenceId, accepted: true };
    });
  }
}
