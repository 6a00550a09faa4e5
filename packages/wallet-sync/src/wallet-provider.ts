import type { Logger } from '@intellifin/core';
import {
  MAX_PENDING_REFS,
  type AccountRef,
  type BalanceSnapshot,
  type FetchBalanceRequest,
  type FetchDeltaRequest,
  type ProviderPort,
  type ReauthLink,
  type ReauthLinkRequest,
  type TransactionPage,
} from '@intellifin/domain';
import {
  finalCallbacksFor,
  pendingWalletReferences,
  type CredentialsCipher,
  type Pool,
  type RedisTokenCache,
  type StoredCallback,
  type TrackedReference,
} from '@intellifin/persistence';
import type { WalletMetrics } from './metrics';
import { pendingCursor, referenceTransaction, resolve, type Resolution } from './reference-mapping';
import type { StatusLookup, WalletApi, WalletProviderId } from './wallet-api';
import { WalletSession } from './wallet-session';

export interface WalletProviderOptions<C> {
  api: WalletApi<C>;
  /** Postgres as the worker role: credentials, the pending references and stored callbacks. */
  pool: Pool;
  cipher: CredentialsCipher;
  tokens: RedisTokenCache;
  /** References per page; each page is one fenced commit. Default 50. */
  pageSize?: number;
  /** Status lookups in flight per run (each still takes the shared rate budget). Default 4. */
  lookupConcurrency?: number;
  /** A reference the provider still does not know this long after its creation fails with reason `not_found`. Default 15 min. */
  notFoundGraceMs?: number;
  /** Most references looked at per run (oldest reference ids first); the rest wait for the next run. Default 10,000. */
  maxRefsPerRun?: number;
  /** The app screen that repairs the account (MoMo: regenerate the API key; Airtel: re-link), put in the auth event. */
  reauthLink?: (account: AccountRef) => string;
  metrics?: WalletMetrics;
  logger?: Logger;
}

/**
 * The provider port for merchant wallets (MoMo, Airtel) on top of a `WalletApi`: there is no
 * statement, so a delta is the account's own pending references (our `transactions` rows in status
 * `pending`, joined with the registry), resolved one by one — from a stored final callback when
 * there is one (no provider request), else by a status lookup within the shared rate budget — and
 * written as modifications page by page. The cursor after each page is the set still pending, and
 * the table is the truth: a run interrupted after page k loses nothing and repeats nothing final.
 */
export class WalletProvider<C> implements ProviderPort {
  readonly provider: WalletProviderId;
  private readonly pageSize: number;
  private readonly concurrency: number;
  private readonly graceMs: number;
  private readonly maxRefs: number;

  constructor(private readonly o: WalletProviderOptions<C>) {
    this.provider = o.api.provider;
    this.pageSize = Math.max(1, o.pageSize ?? 50);
    this.concurrency = Math.max(1, o.lookupConcurrency ?? 4);
    this.graceMs = o.notFoundGraceMs ?? 15 * 60_000;
    this.maxRefs = Math.min(Math.max(1, o.maxRefsPerRun ?? MAX_PENDING_REFS), MAX_PENDING_REFS);
  }

  private session(account: AccountRef): Promise<WalletSession<C>> {
    return WalletSession.open({ api: this.o.api, pool: this.o.pool, cipher: this.o.cipher, tokens: this.o.tokens }, account);
  }

  async *fetchDelta(req: FetchDeltaRequest): AsyncIterable<TransactionPage> {
    const { account, now, signal } = req;
    const refs = await pendingWalletReferences(this.o.pool, account.id, { limit: this.maxRefs });
    // References a callback named go first, so a callback's run resolves them in its first page.
    const hints = new Set(req.hintRefs ?? []);
    const ordered =
      hints.size === 0 ? refs : [...refs.filter((r) => hints.has(r.referenceId)), ...refs.filter((r) => !hints.has(r.referenceId))];
    const stillPending = new Set(ordered.map((r) => r.referenceId));
    let session: Promise<WalletSession<C>> | undefined;
    if (ordered.length === 0) {
      yield { index: 0, transactions: [], cursorAfter: pendingCursor(this.provider, []) };
      return;
    }
    for (let i = 0, index = 0; i < ordered.length; i += this.pageSize, index++) {
      signal.throwIfAborted();
      const page = ordered.slice(i, i + this.pageSize);
      const callbacks = await finalCallbacksFor(
        this.o.pool,
        account.id,
        page.map((r) => r.referenceId),
      );
      const resolutions = await mapLimit(page, this.concurrency, async (ref): Promise<Resolution> => {
        const cb = callbacks.get(ref.referenceId);
        if (cb) return this.count(resolve(ref, fromCallback(cb), 'callback', now, this.graceMs));
        session ??= this.session(account);
        const s = await session;
        const lookup = await s.call(ref.kind, signal, (call) =>
          this.o.api.lookupStatus(call, { referenceId: ref.referenceId, kind: ref.kind }),
        );
        return this.count(resolve(ref, lookup, 'poll', now, this.graceMs));
      });
      const transactions = page.map((ref, k) => referenceTransaction(ref, resolutions[k]!, account.currency));
      page.forEach((ref, k) => {
        if (resolutions[k]!.status !== 'pending') stillPending.delete(ref.referenceId);
      });
      yield { index, transactions, cursorAfter: pendingCursor(this.provider, stillPending) };
    }
  }

  async fetchBalance(req: FetchBalanceRequest): Promise<BalanceSnapshot> {
    const s = await this.session(req.account);
    const b = await s.call('balance', req.signal, (call) => this.o.api.readBalance(call));
    return { balance: b.balance, ...(b.available ? { available: b.available } : {}), asOf: req.now };
  }

  async requestReauthLink(req: ReauthLinkRequest): Promise<ReauthLink> {
    if (!this.o.reauthLink) throw new Error(`no re-link screen configured for ${this.provider}`);
    return { url: this.o.reauthLink(req.account) };
  }

  private count(r: Resolution): Resolution {
    const status = r.status === 'failed' && r.lookup?.status === 'not_found' ? 'expired' : (r.lookup?.status ?? r.status);
    this.o.metrics?.lookups.inc({ provider: this.provider, source: r.source, status });
    return r;
  }
}

/** A stored final callback as a status lookup. */
function fromCallback(cb: StoredCallback): StatusLookup {
  const body = (cb.payload ?? {}) as { amount?: unknown; currency?: unknown };
  return {
    status: cb.status,
    ...(cb.ledgerId ? { ledgerId: cb.ledgerId } : {}),
    ...(cb.reason ? { reason: cb.reason } : {}),
    ...(typeof body.amount === 'string' ? { amount: body.amount } : {}),
    ...(typeof body.currency === 'string' ? { currency: body.currency } : {}),
    raw: cb.payload,
  };
}

/** Maps `items` with at most `limit` promises in flight, keeping order; the first failure rejects. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const k = next++;
      try {
        out[k] = await fn(items[k]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export type { TrackedReference };
