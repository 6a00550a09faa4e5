import { trace, withSpan, type Tracer } from '@intellifin/core';
import { reusableReauthLink, type ProviderId } from '@intellifin/domain';
import { insertCredential, readCredential, updateCredential, withOrgScope, type PoolClient } from '@intellifin/persistence';
import { airtelCredentialSchema, classifyVerificationFailure, momoCredentialSchema } from '@intellifin/providers';
import type { AccountStatusView } from './account-status';
import type { Caller } from './caller';
import { ConflictError, InvalidInputError, NotFoundError, ProviderUnavailableError } from './errors';
import { accountRefOf, askProvider, linkingMetrics, mutationOwner, viewAccount, type LinkingMetrics, type LinkingOptions } from './linking';
import { lockOwnedAccount, queueRepairedEvent, reactivateAccount, storeReauthLink, unlinkAccount, type LinkTarget } from './linking.store';
import { cancelPending, queueCommand, type QueuedCommand } from './sync-commands';

/**
 * Repair and unlink (transport-free):
 * - `reauthLink` (Mono): the stored re-link URL while it is still valid (the engine's rule,
 *   `reusableReauthLink`), else a new one from Mono `initiate` (scope reauth), stored for the next ask;
 * - `replaceCredentials` (MoMo, Airtel): verified with the provider first (wrong: 400, nothing
 *   changes); then, in one transaction, the credential replaced by compare-and-set on its version,
 *   the account active again, its re-auth episode ended (a `repaired` auth event: the notifier's
 *   one rule) and a sync queued (trigger `repair`);
 * - `unlink`: disabled, queued syncs cancelled, the credential erased; transactions kept unless
 *   `erase` (then erased at once, with the balance).
 * The account's own user may do these; an admin may for any account of the organisation.
 */
export interface MomoRepairInput {
  apiKey?: string | undefined;
  apiUser?: string | undefined;
  subscriptionKeys?: { collection: string; disbursement?: string | undefined } | undefined;
  targetEnvironment?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  country?: string | undefined;
}
export type CredentialsInput = MomoRepairInput;

export interface RepairResult {
  account: AccountStatusView;
  command: QueuedCommand;
  /** The account was `auth_required`: its re-auth episode ends. */
  episodeEnded: boolean;
}

export interface ReauthLinkResult {
  accountId: string;
  url: string;
  expiresAt: string | null;
  /** The link already stored was still valid. */
  reused: boolean;
}

export interface UnlinkResult {
  accountId: string;
  status: 'disabled';
  credentialErased: boolean;
  /** `kept` (default) or `erased` (`erase`: transactions and balance erased now). */
  data: 'kept' | 'erased';
  transactionsErased: number;
  cancelledQueued: number;
}

export class RepairApi {
  private readonly tracer: Tracer;
  private readonly m: LinkingMetrics;

  constructor(private readonly o: LinkingOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.m = linkingMetrics(o.registry);
  }

  private locked(caller: Caller, accountId: string, db: PoolClient): Promise<LinkTarget> {
    return lockOwnedAccount(db, mutationOwner(caller), accountId).then((t) => {
      if (!t) throw new NotFoundError('account');
      if (t.status === 'disabled') throw new ConflictError('account_unlinked', 'account is unlinked; link it again instead');
      return t;
    });
  }

  async reauthLink(caller: Caller, accountId: string): Promise<ReauthLinkResult> {
    return withSpan(this.tracer, 'sync-api.reauth_link', { attributes: { 'provider.name': 'mono' } }, async (span) => {
      const target = await withOrgScope(this.o.pool, caller.orgId, (db) => this.locked(caller, accountId, db));
      if (target.provider !== 'mono')
        throw new ConflictError('reauth_not_supported', 'MoMo and Airtel accounts are repaired with PUT /v1/accounts/:id/credentials');
      const stored = reusableReauthLink(target, target.dbNow);
      if (stored) {
        span.setAttribute('reauth.result', 'reused');
        this.m?.reauthLinks.inc({ result: 'reused' });
        return { accountId, url: stored.url, expiresAt: stored.expiresAt.toISOString(), reused: true };
      }
      let link: { url: string; expiresAt: Date | null };
      try {
        link = await this.o.providers.monoReauthLink(accountRefOf(target), AbortSignal.timeout(this.o.providerTimeoutMs));
      } catch (err) {
        const f = classifyVerificationFailure(err);
        this.m?.reauthLinks.inc({ result: f.kind === 'rejected' ? 'refused' : 'unavailable' });
        if (f.kind === 'rejected') throw new ConflictError('reauth_refused', `Mono refused a re-link for this account: ${f.message}`);
        throw new ProviderUnavailableError(`Mono could not be reached for a re-link URL; try again later (${f.message})`);
      }
      await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        await this.locked(caller, accountId, db);
        await storeReauthLink(db, accountId, link.url, link.expiresAt);
      });
      span.setAttribute('reauth.result', 'issued');
      this.m?.reauthLinks.inc({ result: 'issued' });
      this.o.logger?.info({ account: accountId, provider: 'mono' }, 're-link URL issued');
      return { accountId, url: link.url, expiresAt: link.expiresAt?.toISOString() ?? null, reused: false };
    });
  }

  async replaceCredentials(caller: Caller, accountId: string, input: CredentialsInput): Promise<RepairResult> {
    return withSpan(this.tracer, 'sync-api.replace_credentials', {}, async (span) => {
      const { target, stored } = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const t = await this.locked(caller, accountId, db);
        if (t.provider === 'mono')
          throw new ConflictError('credentials_not_supported', 'Mono accounts are repaired by re-linking: POST /v1/accounts/:id/reauth');
        const c = t.credentialId ? await readCredential<Record<string, unknown>>(db, this.o.cipher, t.credentialId) : null;
        return { target: t, stored: c };
      });
      const provider = target.provider;
      span.setAttribute('provider.name', provider);
      const secret = mergeCredential(target, stored?.secret ?? {}, input);
      await askProvider(
        this.o.providerTimeoutMs,
        (signal) =>
          provider === 'momo'
            ? this.o.providers.verifyMomo(momoCredentialSchema.parse(secret), signal)
            : this.o.providers.verifyAirtel(airtelCredentialSchema.parse(secret), signal),
        (f) => {
          this.m?.repairs.inc({ provider, result: f.kind });
          this.o.logger?.info(
            { account: accountId, provider, result: f.kind, code: f.code },
            'new credentials not verified by the provider',
          );
        },
      );
      const result = await withOrgScope(this.o.pool, caller.orgId, async (db): Promise<RepairResult> => {
        const now = await this.locked(caller, accountId, db);
        let credentialId = now.credentialId;
        if (stored && credentialId === stored.id) {
          const ok = await updateCredential(db, this.o.cipher, {
            id: stored.id,
            orgId: caller.orgId,
            provider,
            expectedVersion: stored.version,
            secret,
          });
          if (!ok) throw new ConflictError('credentials_changed', 'the credentials were changed meanwhile; send the request again');
        } else {
          credentialId = await insertCredential(db, this.o.cipher, { orgId: caller.orgId, provider, secret });
        }
        await reactivateAccount(db, accountId, credentialId);
        const command = await queueCommand(db, {
          account: { id: accountId, orgId: caller.orgId, provider, status: 'active' },
          requestedBy: caller.userId,
          trigger: 'repair',
          // Balance and every pending reference: the new credential is used on real calls at once
          // (a wallet's `transactions` run with nothing pending would ask the provider nothing).
          mode: 'full',
          realtime: false,
          subject: this.o.commandSubject(provider, accountId, 'repair'),
          statusSubject: this.o.statusEventSubject(provider, accountId),
        });
        const episodeEnded = now.status === 'auth_required';
        if (episodeEnded)
          await queueRepairedEvent(db, {
            subject: this.o.authEventSubject(provider, accountId),
            commandId: command.commandId,
            accountId,
            orgId: caller.orgId,
            provider,
          });
        return { account: await viewAccount(db, accountId, this.o), command, episodeEnded };
      }).catch((err: unknown) => {
        if (err instanceof ConflictError) this.m?.repairs.inc({ provider, result: 'conflict' });
        throw err;
      });
      this.m?.repairs.inc({ provider, result: 'repaired' });
      this.o.logger?.info({ account: accountId, provider, episodeEnded: result.episodeEnded, user: caller.userId }, 'credentials repaired');
      span.setAttribute('repair.episode_ended', result.episodeEnded);
      this.o.onQueued?.();
      return result;
    });
  }

  async unlink(caller: Caller, accountId: string, erase: boolean): Promise<UnlinkResult> {
    return withSpan(this.tracer, 'sync-api.unlink', { attributes: { 'unlink.erase': erase } }, async (span) => {
      const r = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const target = await lockOwnedAccount(db, mutationOwner(caller), accountId);
        if (!target) throw new NotFoundError('account');
        const cancelled = await cancelPending(db, accountId, this.o.queuedTtlMs);
        const out = await unlinkAccount(db, target, erase);
        return { provider: target.provider, cancelled: cancelled.cancelledQueued, ...out };
      });
      span.setAttribute('provider.name', r.provider);
      this.m?.unlinks.inc({ provider: r.provider, data: erase ? 'erased' : 'kept' });
      this.o.logger?.info(
        {
          account: accountId,
          provider: r.provider,
          data: erase ? 'erased' : 'kept',
          transactionsErased: r.transactionsErased,
          user: caller.userId,
        },
        'account unlinked',
      );
      return {
        accountId,
        status: 'disabled',
        credentialErased: r.credentialErased,
        data: erase ? 'erased' : 'kept',
        transactionsErased: r.transactionsErased,
        cancelledQueued: r.cancelled,
      };
    });
  }
}

/**
 * The credential to verify and store: the stored one with what the caller sent replacing it. The
 * wallet itself cannot change (its API user / client id is the account): another one is a 400.
 */
export function mergeCredential(target: LinkTarget, stored: Record<string, unknown>, input: CredentialsInput): Record<string, unknown> {
  const p: ProviderId = target.provider;
  const sent = (field: keyof CredentialsInput) => input[field] !== undefined;
  const foreign: (keyof CredentialsInput)[] =
    p === 'momo' ? ['clientId', 'clientSecret', 'country'] : ['apiKey', 'apiUser', 'subscriptionKeys', 'targetEnvironment'];
  for (const f of foreign)
    if (sent(f)) throw new InvalidInputError(`body.${f}`, `not a credential of ${p === 'momo' ? 'a MoMo' : 'an Airtel'} account`);
  if (p === 'momo') {
    if (input.apiKey === undefined) throw new InvalidInputError('body.apiKey', 'required: the regenerated MoMo API key');
    if (input.apiUser !== undefined && input.apiUser !== target.providerAccountId)
      throw new InvalidInputError('body.apiUser', "is another wallet's API user; link that wallet instead");
    const merged = {
      ...stored,
      apiUser: target.providerAccountId,
      apiKey: input.apiKey,
      ...(input.subscriptionKeys ? { subscriptionKeys: input.subscriptionKeys } : {}),
      ...(input.targetEnvironment ? { targetEnvironment: input.targetEnvironment } : {}),
    };
    if (!momoCredentialSchema.safeParse(merged).success)
      throw new InvalidInputError('body.subscriptionKeys', 'required: no stored credential to keep them from');
    return merged;
  }
  if (input.clientSecret === undefined) throw new InvalidInputError('body.clientSecret', 'required: the Airtel client secret');
  if (input.clientId !== undefined && input.clientId !== target.providerAccountId)
    throw new InvalidInputError('body.clientId', "is another wallet's client id; link that wallet instead");
  const merged = {
    ...stored,
    clientId: target.providerAccountId,
    clientSecret: input.clientSecret,
    ...(input.country ? { country: input.country } : {}),
  };
  if (!airtelCredentialSchema.safeParse(merged).success)
    throw new InvalidInputError('body.country', 'required: no stored credential to keep it from');
  return merged;
}
