import { createHash } from 'node:crypto';
import { counter, trace, withSpan, type Logger, type Registry, type Tracer } from '@intellifin/core';
import type { AccountRef, CurrencyCode, ProviderId } from '@intellifin/domain';
import { insertCredential, withOrgScope, type CredentialsCipher, type Pool, type PoolClient } from '@intellifin/persistence';
import { classifyVerificationFailure, type VerificationFailure } from '@intellifin/providers';
import { accountStatusView, type AccountStatusView } from './account-status';
import { getAccountFacts } from './accounts.query';
import type { Caller } from './caller';
import { ConflictError, CredentialsRejectedError, ForbiddenError, NotFoundError, ProviderUnavailableError } from './errors';
import type { LinkProviders } from './link-providers';
import { ensureUser, insertLinkedAccount, isUniqueViolation, lockByProviderAccount, reactivateAccount } from './linking.store';
import type { LinkTarget } from './linking.store';
import { findIdempotent, queueCommand, storeIdempotent, type QueuedCommand } from './sync-commands';

/**
 * Linking (the application layer, transport-free): the provider proves what the caller sent
 * (Mono's code exchange, a MoMo or Airtel token request) BEFORE anything is stored; then one
 * transaction stores the credential encrypted, creates the caller's `users` row if missing and the
 * account, and queues its first sync (trigger `link`, mode `full`) through the outbox.
 *
 * Linking the same provider account again answers the existing account (200, outcome `existing`,
 * nothing changed, no sync queued); an unlinked one is linked again (200, `relinked`). A provider
 * account linked by another user (of this or another organisation) is a 409 `already_linked`.
 */
export interface LinkingOptions {
  /** A pool connected as `intellifin_api`. */
  pool: Pool;
  cipher: CredentialsCipher;
  providers: LinkProviders;
  /** The account's command subject for a trigger's lane (`topology.commandSubjectFor`). */
  commandSubject: (provider: ProviderId, accountId: string, trigger: 'link' | 'repair') => string;
  /** The account's auth-event subject (`topology.eventSubject('auth', …)`). */
  authEventSubject: (provider: ProviderId, accountId: string) => string;
  /** The account's status-event subject (`topology.eventSubject('status', …)`): where its `queued` event goes. */
  statusEventSubject: (provider: ProviderId, accountId: string) => string;
  /** Called after a commit that put something in the outbox (the relay publishes at once). */
  onQueued?: () => void;
  registry?: Registry;
  /** Link, repair and unlink outcomes (account id, provider, outcome; never a credential). */
  logger?: Logger;
  tracer?: Tracer;
  /** Each provider request's deadline. */
  providerTimeoutMs: number;
  queuedTtlMs: number;
  historyDays: number;
  consentExpiryWarningDays: number;
}

export type LinkOutcome = 'created' | 'existing' | 'relinked';

export interface LinkResult {
  outcome: LinkOutcome;
  account: AccountStatusView;
  /** The first sync (null when the account already existed). */
  command: QueuedCommand | null;
}

export interface MonoLinkInput {
  code: string;
  displayName?: string | undefined;
}

export interface MomoLinkInput {
  apiUser: string;
  apiKey: string;
  subscriptionKeys: { collection: string; disbursement?: string | undefined };
  targetEnvironment?: string | undefined;
  currency: CurrencyCode;
  displayName?: string | undefined;
}

export interface AirtelLinkInput {
  clientId: string;
  clientSecret: string;
  country: string;
  currency: CurrencyCode;
  displayName?: string | undefined;
}

interface LinkSpec {
  provider: ProviderId;
  providerAccountId: string;
  currency: string;
  displayName: string | null;
  /** The credential to store encrypted (MoMo, Airtel); Mono accounts use the app's secret key. */
  secret: object | null;
  /** Remembered with the account it linked (`api_idempotency`). */
  idempotencyKey?: string;
}

/** Who may change an account: its own user (role `user`), or an admin (any account of the organisation). Null: any. */
export function mutationOwner(caller: Caller): string | null {
  if (caller.roles.includes('admin')) return null;
  if (caller.roles.includes('user')) return caller.userId;
  throw new ForbiddenError('user or admin');
}

export function linkingMetrics(registry: Registry | undefined) {
  if (!registry) return undefined;
  return {
    links: counter(registry, 'intellifin_sync_api_links_total', 'Account links by provider and result', ['provider', 'result']),
    repairs: counter(
      registry,
      'intellifin_sync_api_credential_repairs_total',
      'Credential repairs (PUT credentials) by provider and result',
      ['provider', 'result'],
    ),
    reauthLinks: counter(registry, 'intellifin_sync_api_reauth_links_total', 'Re-link URLs asked for (Mono) by result', ['result']),
    unlinks: counter(registry, 'intellifin_sync_api_unlinks_total', 'Accounts unlinked by provider and retention (kept, erased)', [
      'provider',
      'data',
    ]),
  };
}
export type LinkingMetrics = ReturnType<typeof linkingMetrics>;

/** Runs a provider request under the configured deadline; its failure becomes a 400 (rejected) or a 503. */
export async function askProvider<T>(
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  onFailure: (f: VerificationFailure) => void,
): Promise<T> {
  try {
    return await fn(AbortSignal.timeout(timeoutMs));
  } catch (err) {
    const f = classifyVerificationFailure(err);
    onFailure(f);
    if (f.kind === 'rejected') throw new CredentialsRejectedError(`the provider refused them: ${f.message}`);
    throw new ProviderUnavailableError(`the provider could not be reached; nothing was stored, try again later (${f.message})`);
  }
}

export class LinkingApi {
  private readonly tracer: Tracer;
  private readonly m: LinkingMetrics;

  constructor(private readonly o: LinkingOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.m = linkingMetrics(o.registry);
  }

  /**
   * Mono: the Connect code exchanged for the account id (`POST /v2/accounts/auth`), then linked.
   * Mono's codes are single use, so the account a code linked is remembered with it (its hash, in
   * `api_idempotency`): the same request again (a retry after a lost answer) answers that account
   * instead of a 400 for a spent code.
   */
  async linkMono(caller: Caller, input: MonoLinkInput): Promise<LinkResult> {
    const codeKey = `link:mono:${createHash('sha256').update(input.code).digest('hex')}`;
    return this.link(caller, 'mono', async () => {
      const prior = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const stored = await findIdempotent(db, caller.orgId, caller.userId, codeKey);
        return stored ? viewAccount(db, (stored.response as { accountId: string }).accountId, this.o) : null;
      });
      if (prior) return { replay: prior };
      const a = await this.ask('mono', (signal) => this.o.providers.exchangeMonoCode(input.code, signal));
      return {
        provider: 'mono',
        providerAccountId: a.id,
        currency: a.currency,
        displayName: input.displayName ?? a.institution,
        secret: null,
        idempotencyKey: codeKey,
      };
    });
  }

  /** A MoMo merchant wallet: its API user is the provider account; a token request proves the key. */
  async linkMomo(caller: Caller, input: MomoLinkInput): Promise<LinkResult> {
    return this.link(caller, 'momo', async () => {
      const secret = {
        apiUser: input.apiUser,
        apiKey: input.apiKey,
        subscriptionKeys: {
          collection: input.subscriptionKeys.collection,
          ...(input.subscriptionKeys.disbursement ? { disbursement: input.subscriptionKeys.disbursement } : {}),
        },
        ...(input.targetEnvironment ? { targetEnvironment: input.targetEnvironment } : {}),
      };
      await this.ask('momo', (signal) => this.o.providers.verifyMomo(secret, signal));
      return {
        provider: 'momo',
        providerAccountId: input.apiUser,
        currency: input.currency,
        displayName: input.displayName ?? null,
        secret,
      };
    });
  }

  /** An Airtel merchant wallet: its client id is the provider account; a token request proves the secret. */
  async linkAirtel(caller: Caller, input: AirtelLinkInput): Promise<LinkResult> {
    return this.link(caller, 'airtel', async () => {
      const secret = { clientId: input.clientId, clientSecret: input.clientSecret, country: input.country };
      await this.ask('airtel', (signal) => this.o.providers.verifyAirtel(secret, signal));
      return {
        provider: 'airtel',
        providerAccountId: input.clientId,
        currency: input.currency,
        displayName: input.displayName ?? null,
        secret,
      };
    });
  }

  private ask<T>(provider: ProviderId, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return askProvider(this.o.providerTimeoutMs, fn, (f) => {
      this.m?.links.inc({ provider, result: f.kind });
      this.o.logger?.info({ provider, result: f.kind, code: f.code }, 'link not verified by the provider');
    });
  }

  private async link(
    caller: Caller,
    provider: ProviderId,
    verify: () => Promise<LinkSpec | { replay: AccountStatusView }>,
  ): Promise<LinkResult> {
    return withSpan(this.tracer, 'sync-api.link_account', { attributes: { 'provider.name': provider } }, async (span) => {
      if (!caller.roles.includes('user')) throw new ForbiddenError('user');
      const spec = await verify();
      if ('replay' in spec) {
        span.setAttribute('link.outcome', 'existing');
        this.m?.links.inc({ provider, result: 'existing' });
        return { outcome: 'existing', account: spec.replay, command: null };
      }
      let result: LinkResult;
      try {
        result = await this.store(caller, spec).catch((err: unknown) => {
          // Two links of the same provider account at once: the loser finds the winner's row on a second try.
          if (isUniqueViolation(err)) return this.store(caller, spec);
          throw err;
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          this.m?.links.inc({ provider, result: 'conflict' });
          throw new ConflictError('already_linked', 'this provider account is already linked by another user');
        }
        if (err instanceof ConflictError) this.m?.links.inc({ provider, result: 'conflict' });
        throw err;
      }
      span.setAttribute('link.outcome', result.outcome);
      this.m?.links.inc({ provider, result: result.outcome });
      this.o.logger?.info({ account: result.account.id, provider, outcome: result.outcome, user: caller.userId }, 'account linked');
      if (result.command) this.o.onQueued?.();
      return result;
    });
  }

  private store(caller: Caller, spec: LinkSpec): Promise<LinkResult> {
    const { orgId } = caller;
    return withOrgScope(this.o.pool, orgId, async (db) => {
      const userId = await ensureUser(db, orgId, caller.userId);
      const existing = await lockByProviderAccount(db, spec.provider, spec.providerAccountId);
      if (existing && existing.ownerExternalId !== caller.userId)
        throw new ConflictError('already_linked', 'this provider account is already linked by another user');
      const remember = async (accountId: string, statusCode: number) => {
        if (spec.idempotencyKey)
          await storeIdempotent(db, orgId, caller.userId, spec.idempotencyKey, {
            requestHash: spec.idempotencyKey,
            statusCode,
            response: { accountId },
          });
      };
      if (existing && existing.status !== 'disabled') {
        await remember(existing.id, 200);
        return { outcome: 'existing', account: await this.view(db, existing.id), command: null };
      }
      const credentialId = spec.secret
        ? await insertCredential(db, this.o.cipher, { orgId, provider: spec.provider, secret: spec.secret })
        : null;
      let accountId: string;
      if (existing) {
        accountId = existing.id;
        await reactivateAccount(db, accountId, credentialId);
      } else {
        accountId = await insertLinkedAccount(db, { orgId, userId, ...spec, credentialId });
      }
      const command = await queueCommand(db, {
        account: { id: accountId, orgId, provider: spec.provider, status: 'active' },
        requestedBy: caller.userId,
        trigger: 'link',
        mode: 'full',
        realtime: false,
        subject: this.o.commandSubject(spec.provider, accountId, 'link'),
        statusSubject: this.o.statusEventSubject(spec.provider, accountId),
      });
      await remember(accountId, existing ? 200 : 201);
      return { outcome: existing ? 'relinked' : 'created', account: await this.view(db, accountId), command };
    });
  }

  private view(db: PoolClient, accountId: string): Promise<AccountStatusView> {
    return viewAccount(db, accountId, this.o);
  }
}

/** The account's status as the reads show it, inside the caller's transaction (what it just wrote included). */
export async function viewAccount(
  db: PoolClient,
  accountId: string,
  o: Pick<LinkingOptions, 'historyDays' | 'queuedTtlMs' | 'consentExpiryWarningDays'>,
): Promise<AccountStatusView> {
  const f = await getAccountFacts(db, null, accountId, { historyDays: o.historyDays, queuedTtlMs: o.queuedTtlMs });
  if (!f) throw new NotFoundError('account');
  return accountStatusView(f, null, { consentExpiryWarningDays: o.consentExpiryWarningDays });
}

/** The engine's view of an account, for the provider clients (Mono's re-auth link). */
export function accountRefOf(t: LinkTarget): AccountRef {
  return {
    id: t.id,
    orgId: t.orgId,
    provider: t.provider,
    type: t.provider === 'mono' ? 'bank' : 'mobile_money',
    currency: t.currency as CurrencyCode,
    providerAccountId: t.providerAccountId,
    status: t.status,
  };
}
