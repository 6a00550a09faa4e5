/**
 * Mono linking, re-authorisation and consent (providers.md §1.1, §1.7, §1.10.7): Connect links
 * behind `mono_url` (scope `auth` or `reauth`), exchange codes (single use, 10 min), legacy re-auth
 * tokens (10 min), and the consent changes with their webhooks: re-authorised, revoked (re-auth
 * required or unlinked), repaired.
 */
import { alnum, hex } from '../shared/prng';
import { startProcessing } from './readiness';
import { AUTH_CODE_TTL_MS, REAUTH_TOKEN_TTL_MS } from './settings';
import type { MonoState } from './state';
import * as wh from './webhooks';

export type Consent = 'active' | 'reauth_required' | 'unlinked';

export interface Link {
  code: string;
  scope: 'auth' | 'reauth';
  account: number | undefined;
  ref: string | undefined;
  redirectUrl: string | undefined;
  customer: string;
  createdAt: number;
  completedAt: number | undefined;
}

/** Links, exchange codes and legacy re-auth tokens issued since the last reset. */
export class MonoLinks {
  readonly links = new Map<string, Link>();
  private readonly codes = new Map<string, { k: number; expiresAt: number }>();
  private readonly reauthTokens = new Map<string, { k: number; expiresAt: number }>();

  constructor(private readonly state: MonoState) {}

  clear(): void {
    this.links.clear();
    this.codes.clear();
    this.reauthTokens.clear();
  }

  create(scope: 'auth' | 'reauth', k: number | undefined, ref: string | undefined, redirectUrl: string | undefined): Link {
    const s = this.state;
    const n = s.nextSeq();
    const link: Link = {
      code: alnum(8, s.seedValue, 'link', n).toUpperCase(),
      scope,
      account: k,
      ref,
      redirectUrl,
      customer: k !== undefined ? s.profile(k).customerId : hex(24, s.seedValue, 'customer', n),
      createdAt: s.clockRef.now(),
      completedAt: undefined,
    };
    this.links.set(link.code, link);
    return link;
  }

  /** The user finishes the Connect widget behind a link. Returns the account id and, for auth, an exchange code. */
  complete(code: string): { account: string; exchangeCode?: string } | undefined {
    const s = this.state;
    const link = this.links.get(code);
    if (!link || link.completedAt !== undefined) return undefined;
    const now = s.clockRef.now();
    link.completedAt = now;
    if (link.scope === 'reauth' && link.account !== undefined) {
      reauthorised(s, link.account, link.ref);
      return { account: s.profile(link.account).id };
    }
    const k = s.count++;
    link.account = k;
    s.rt(k).lastSyncAt = now;
    const exchangeCode = `code_${alnum(20, s.seedValue, 'xcode', k)}`;
    this.codes.set(exchangeCode, { k, expiresAt: now + AUTH_CODE_TTL_MS });
    const p = s.profile(k);
    s.emit(wh.accountConnected(p.id, p.customerId, link.ref), p.id);
    if (s.settings.processingPercent > 0) startProcessing(s, k, now);
    else s.notifyUpdated(k, 'SUCCESSFUL', true, { ref: link.ref });
    return { account: p.id, exchangeCode };
  }

  exchange(code: string): string | undefined {
    const c = this.codes.get(code);
    if (!c || c.expiresAt < this.state.clockRef.now()) return undefined;
    this.codes.delete(code);
    return this.state.profile(c.k).id;
  }

  legacyReauthToken(k: number): string {
    const token = alnum(20, this.state.seedValue, 'reauth-token', k, this.state.nextSeq());
    this.reauthTokens.set(token, { k, expiresAt: this.state.clockRef.now() + REAUTH_TOKEN_TTL_MS });
    return token;
  }

  completeLegacyReauth(token: string): 'ok' | 'expired' | 'unknown' {
    const t = this.reauthTokens.get(token);
    if (!t) return 'unknown';
    this.reauthTokens.delete(token);
    if (t.expiresAt < this.state.clockRef.now()) return 'expired';
    reauthorised(this.state, t.k, undefined);
    return 'ok';
  }
}

/** Consent restored: account_reauthorized, then account_updated once data is re-pulled. */
export function reauthorised(s: MonoState, k: number, ref: string | undefined): void {
  const r = s.rt(k);
  const before = s.snapshotAt(k);
  r.consent = 'active';
  r.reauthSince = undefined;
  r.lastSyncAt = s.clockRef.now();
  r.lastRealtime = undefined;
  if (r.dataStatus !== 'AVAILABLE') r.dataStatus = 'AVAILABLE';
  const p = s.profile(k);
  s.emit(wh.accountReauthorized(p.id, s.app, s.business, hex(24, s.seedValue, 'evt', s.nextSeq()), s.clockRef.iso()), p.id);
  s.notifyUpdated(k, 'SUCCESSFUL', s.newRowsBetween(k, before, s.clockRef.now()), { ref });
}

/** Consent revoked: re-authorisation required (the snapshot freezes), or unlinked (data routes 404). */
export function revoke(s: MonoState, k: number, mode: 'reauth' | 'unlink', notify: boolean): void {
  const r = s.rt(k);
  const id = s.profile(k).id;
  if (mode === 'unlink') {
    r.consent = 'unlinked';
    if (notify) s.emit(wh.accountUnlinked(id), id);
    return;
  }
  r.consent = 'reauth_required';
  r.reauthSince = s.clockRef.now();
  if (notify) s.emit(wh.reauthorisationRequired(id), id);
}

/** Undo a revocation: relinked (account_connected + account_updated) or re-authorised. */
export function repair(s: MonoState, k: number): void {
  const r = s.rt(k);
  if (r.consent === 'unlinked') {
    r.consent = 'active';
    r.lastSyncAt = s.clockRef.now();
    const p = s.profile(k);
    s.emit(wh.accountConnected(p.id, p.customerId, undefined), p.id);
    s.notifyUpdated(k, 'SUCCESSFUL', true);
  } else if (r.consent === 'reauth_required') {
    reauthorised(s, k, undefined);
  }
  r.incompleteStatement = false;
}
