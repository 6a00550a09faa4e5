/**
 * MoMo simulator state: merchant accounts, API users and keys, tokens, and every reference
 * (seeded or created by the client) with its scripted lifecycle.
 */
import { digits, hex, uuidV4 } from '../shared/prng';
import type { SimulatorCore } from '../shared/server';
import { formatMajor } from '../shared/money';
import { momoProfile, seededReferences, type MomoAccountProfile } from './data';
import {
  callbackDelay,
  collectionScript,
  DEFAULT_MSISDN_SCENARIOS,
  isTerminal,
  statusAt,
  transferScript,
  type CallbackPlan,
  type MomoStatus,
  type Step,
} from './lifecycle';

export interface MomoSettings {
  accounts: number;
  referencesPerAccount: number;
  /** 'sandbox' (EUR) or a production environment such as 'mtnzambia' (ZMW). */
  targetEnvironment: string;
  tokenTtlSeconds: number;
  /** Default callback URL; its host becomes each seeded API user's providerCallbackHost. */
  callbackUrl: string | undefined;
  callbackMethod: 'PUT' | 'POST';
  callbackPlan: CallbackPlan;
  /** Whether POST /apikey invalidates the previous key (undocumented; default yes). */
  revokeOldKeyOnRegenerate: boolean;
  /**
   * Where the /v1_0/apiuser provisioning API exists. MTN offers it in the sandbox only; production
   * API users and keys come from the Partner Portal (providers.md §2.2). 'always' serves it everywhere.
   */
  provisioningApi: 'sandbox-only' | 'always';
  /**
   * Send the callback to `callbackUrl` when a create request has no X-Callback-Url. MTN sends the
   * one callback to X-Callback-Url (providers.md §2.7), so the default is no callback at all.
   */
  callbackWithoutHeader: boolean;
  /** Outside the sandbox, an empty payerMessage/payeeNote answers 500 (providers.md §2.5, laravel-mtn-momo #69). */
  rejectEmptyNotes: boolean;
  msisdnScenarios: Record<string, Step[]>;
}

export const MOMO_DEFAULTS: MomoSettings = {
  accounts: 20,
  referencesPerAccount: 6,
  targetEnvironment: 'mtnzambia',
  tokenTtlSeconds: 3600,
  callbackUrl: undefined,
  callbackMethod: 'PUT',
  callbackPlan: 'realistic',
  revokeOldKeyOnRegenerate: true,
  provisioningApi: 'sandbox-only',
  callbackWithoutHeader: false,
  rejectEmptyNotes: true,
  msisdnScenarios: DEFAULT_MSISDN_SCENARIOS,
};

export type Product = 'collection' | 'disbursement';

export interface ApiUser {
  id: string;
  account: number;
  providerCallbackHost: string | undefined;
  apiKey: string | undefined;
  /** Earlier keys that still log in (only when revokeOldKeyOnRegenerate is false). */
  previousKeys: string[];
  keyVersion: number;
  revoked: boolean;
}

export interface Token {
  account: number;
  product: Product;
  user: string;
  keyVersion: number;
  expiresAt: number;
  revoked: boolean;
}

export interface MomoReference {
  id: string;
  product: Product;
  kind: 'requesttopay' | 'transfer' | 'deposit';
  account: number;
  externalId: string;
  amountMinor: number;
  /** The amount string exactly as the client sent it (or as generated). */
  amount: string;
  currency: string;
  partyRole: 'payer' | 'payee';
  party: { partyIdType: string; partyId: string };
  payerMessage: string | undefined;
  payeeNote: string | undefined;
  createdAt: number;
  steps: Step[];
  financialTransactionId: string;
  /** Accepted with 202 but silently rejected by the wallet: GET answers 404 (sparkplug #84). */
  rejected: boolean;
  callbackUrl: string | undefined;
  callbackDelay: number | undefined;
  /** When the pending callback task is due (a later reschedule supersedes it). */
  callbackAt?: number;
  /** The one callback has been sent (or deliberately dropped). */
  callbackDone: boolean;
  source: 'seeded' | 'client';
}

export class MomoState {
  settings!: MomoSettings;
  count = 0;
  private profiles: MomoAccountProfile[] = [];
  readonly byId = new Map<string, number>();
  readonly subscriptionKeys = new Map<string, { account: number; product: Product }>();
  readonly users = new Map<string, ApiUser>();
  readonly tokens = new Map<string, Token>();
  readonly refs = new Map<string, MomoReference>();
  readonly refsByAccount = new Map<number, MomoReference[]>();
  private seq = 0;

  constructor(
    private readonly core: SimulatorCore,
    settings: MomoSettings,
  ) {
    this.reinit(settings);
  }

  reinit(settings: MomoSettings): void {
    this.settings = settings;
    this.count = settings.accounts;
    this.byId.clear();
    this.subscriptionKeys.clear();
    this.users.clear();
    this.tokens.clear();
    this.refs.clear();
    this.refsByAccount.clear();
    this.seq = 0;
    this.profiles = [];
    const seed = this.core.seed;
    const host = settings.callbackUrl ? new URL(settings.callbackUrl).hostname : undefined;
    for (let k = 0; k < settings.accounts; k++) {
      const p = momoProfile(seed, k, settings.targetEnvironment);
      this.profiles.push(p);
      this.byId.set(p.id, k);
      this.subscriptionKeys.set(p.collectionKey, { account: k, product: 'collection' });
      this.subscriptionKeys.set(p.disbursementKey, { account: k, product: 'disbursement' });
      this.users.set(p.id, {
        id: p.id,
        account: k,
        providerCallbackHost: host,
        apiKey: p.apiKey,
        previousKeys: [],
        keyVersion: 1,
        revoked: false,
      });
      for (const s of seededReferences(seed, k, settings.referencesPerAccount, this.core.clock.epochMs)) {
        const product: Product = s.kind === 'transfer' ? 'disbursement' : 'collection';
        this.addReference({
          id: s.id,
          product,
          kind: s.kind,
          account: k,
          externalId: s.externalId,
          amountMinor: s.amountMinor,
          amount: formatMajor(s.amountMinor, p.currency),
          currency: p.currency,
          partyRole: product === 'collection' ? 'payer' : 'payee',
          party: { partyIdType: 'MSISDN', partyId: s.msisdn },
          payerMessage: s.payerMessage,
          payeeNote: s.payeeNote,
          createdAt: s.createdAt,
          rejected: false,
          callbackUrl: undefined,
          source: 'seeded',
        });
      }
    }
  }

  profile(k: number): MomoAccountProfile {
    return this.profiles[k] as MomoAccountProfile;
  }

  find(id: string): number | undefined {
    return this.byId.get(id);
  }

  // ---- credentials ----------------------------------------------------------------------------

  createUser(id: string, account: number, providerCallbackHost: string): void {
    this.users.set(id, { id, account, providerCallbackHost, apiKey: undefined, previousKeys: [], keyVersion: 0, revoked: false });
  }

  regenerateKey(user: ApiUser): string {
    const key = hex(32, this.core.seed, 'momo-apikey-regen', user.id, ++this.seq);
    if (this.settings.revokeOldKeyOnRegenerate) {
      this.revokeTokens((t) => t.user === user.id);
      user.previousKeys = [];
    } else if (user.apiKey !== undefined) user.previousKeys.push(user.apiKey);
    user.apiKey = key;
    user.keyVersion++;
    user.revoked = false;
    return key;
  }

  /** Whether `key` logs in as `user`: the current key, or (keys not revoked on regeneration) an earlier one. */
  keyMatches(user: ApiUser, key: string): boolean {
    return user.apiKey === key || (!this.settings.revokeOldKeyOnRegenerate && user.previousKeys.includes(key));
  }

  issueToken(user: ApiUser, product: Product): { token: string; ttl: number } {
    const n = ++this.seq;
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = this.core.clock.now();
    const ttl = this.settings.tokenTtlSeconds;
    const token = `${b64({ typ: 'JWT', alg: 'R256' })}.${b64({ clientId: user.id, expires: new Date(now + ttl * 1000).toISOString(), sessionId: uuidV4(this.core.seed, 'momo-session', n) })}.${hex(86, this.core.seed, 'momo-sig', n)}`;
    this.tokens.set(token, {
      account: user.account,
      product,
      user: user.id,
      keyVersion: user.keyVersion,
      expiresAt: now + ttl * 1000,
      revoked: false,
    });
    return { token, ttl };
  }

  tokenValid(t: Token | undefined, product: Product): t is Token {
    if (!t || t.revoked || t.product !== product) return false;
    if (t.expiresAt <= this.core.clock.now()) return false;
    const u = this.users.get(t.user);
    return !!u && !u.revoked && (!this.settings.revokeOldKeyOnRegenerate || u.keyVersion === t.keyVersion);
  }

  revokeTokens(pred: (t: Token) => boolean): number {
    let n = 0;
    for (const t of this.tokens.values())
      if (!t.revoked && pred(t)) {
        t.revoked = true;
        n++;
      }
    return n;
  }

  revokeAccount(k: number): void {
    for (const u of this.users.values()) if (u.account === k) u.revoked = true;
    this.revokeTokens((t) => t.account === k);
  }

  repairAccount(k: number): void {
    for (const u of this.users.values()) if (u.account === k) u.revoked = false;
  }

  // ---- references ------------------------------------------------------------------------------

  addReference(input: Omit<MomoReference, 'steps' | 'financialTransactionId' | 'callbackDelay' | 'callbackDone'>): MomoReference {
    const seed = this.core.seed;
    const env = this.profile(input.account).targetEnvironment;
    const fundsOk = input.kind === 'requesttopay' || this.balanceAt(input.account, input.createdAt) >= input.amountMinor;
    const steps =
      input.kind === 'requesttopay'
        ? collectionScript(seed, input.account, input.id, input.party.partyId, env, this.settings.msisdnScenarios)
        : transferScript(seed, input.account, input.id, input.party.partyId, env, this.settings.msisdnScenarios, fundsOk);
    const ref: MomoReference = {
      ...input,
      steps,
      financialTransactionId: digits(10, seed, 'momo-ftid', input.id).replace(/^0/, '1'),
      callbackDelay: callbackDelay(seed, input.account, input.id, this.settings.callbackPlan),
      callbackDone: false,
    };
    this.refs.set(ref.id, ref);
    const list = this.refsByAccount.get(ref.account) ?? [];
    list.push(ref);
    this.refsByAccount.set(ref.account, list);
    if (ref.callbackUrl !== undefined && !ref.rejected) this.scheduleCallback(ref);
    return ref;
  }

  private scheduleCallback(ref: MomoReference): void {
    const final = ref.steps.find((s) => isTerminal(s.status));
    if (!final) return;
    this.scheduleCallbackAt(ref, ref.createdAt + final.after + (ref.callbackDelay ?? 0));
  }

  /** The callback plan applies from `at`: on time, late, or recorded as never sent. */
  private scheduleCallbackAt(ref: MomoReference, at: number): void {
    ref.callbackAt = at;
    this.core.clock.schedule(at, () => {
      if (ref.callbackAt === at) this.sendCallback(ref, ref.callbackDelay === undefined);
    });
  }

  /** Send (or record as never sent) the reference's single callback, once, if it is terminal. */
  private sendCallback(ref: MomoReference, drop: boolean): void {
    if (ref.callbackDone || ref.callbackUrl === undefined || ref.rejected || !isTerminal(this.current(ref).status)) return;
    ref.callbackDone = true;
    const item = {
      kind: `momo.${ref.kind}.callback`,
      url: ref.callbackUrl,
      method: this.settings.callbackMethod,
      body: this.view(ref),
      account: this.profile(ref.account).id,
      maxAttempts: 1,
    };
    if (drop) this.core.outbox.drop(item);
    else this.core.outbox.enqueue(item);
  }

  current(ref: MomoReference, t = this.core.clock.now()): Step {
    return statusAt(ref.steps, ref.createdAt, t);
  }

  /** The GET status representation (also the callback body). */
  view(ref: MomoReference): Record<string, unknown> {
    const s = this.current(ref);
    const out: Record<string, unknown> = {};
    if (s.status === 'SUCCESSFUL') out.financialTransactionId = ref.financialTransactionId;
    out.externalId = ref.externalId;
    out.amount = ref.amount;
    out.currency = ref.currency;
    out[ref.partyRole] = ref.party;
    if (ref.payerMessage !== undefined) out.payerMessage = ref.payerMessage;
    if (ref.payeeNote !== undefined) out.payeeNote = ref.payeeNote;
    out.status = s.status;
    if (s.status === 'FAILED' && s.reason !== undefined) out.reason = s.reason;
    return out;
  }

  /** Wallet balance at t: opening + successful collections − successful payouts. */
  balanceAt(k: number, t = this.core.clock.now()): number {
    let bal = this.profile(k).openingBalance;
    for (const r of this.refsByAccount.get(k) ?? []) {
      if (r.rejected || r.createdAt > t) continue;
      if (statusAt(r.steps, r.createdAt, t).status !== 'SUCCESSFUL') continue;
      bal += r.kind === 'requesttopay' ? r.amountMinor : -r.amountMinor;
    }
    return bal;
  }

  /** Control API: move a reference to its next step now, or force a status. */
  advance(ref: MomoReference, to?: { status: MomoStatus; reason?: string }): Step {
    const now = this.core.clock.now();
    const elapsed = now - ref.createdAt;
    const done = ref.steps.filter((s) => s.after <= elapsed);
    let next: Step | undefined;
    if (to) next = { after: elapsed, status: to.status, ...(to.reason !== undefined ? { reason: to.reason } : {}) };
    else {
      const upcoming = ref.steps.find((s) => s.after > elapsed);
      if (upcoming) next = { ...upcoming, after: elapsed };
    }
    if (next) {
      ref.steps = [...done, next];
      // The reference's callback plan still holds: on time, late, or never sent.
      if (isTerminal(next.status) && ref.callbackUrl !== undefined && !ref.rejected && !ref.callbackDone)
        this.scheduleCallbackAt(ref, now + (ref.callbackDelay ?? 0));
    }
    return this.current(ref);
  }
}
