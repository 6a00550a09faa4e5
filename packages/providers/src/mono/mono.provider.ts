import { AuthError, PermanentError, UnlinkedError, type Logger, type Tracer } from '@intellifin/core';
import {
  moneyFromMinor,
  type MonoWindowOptions,
  type BalanceSnapshot,
  type FetchBalanceRequest,
  type FetchDeltaRequest,
  type ProviderPort,
  type ReauthLink,
  type ReauthLinkRequest,
  type TransactionPage,
} from '@intellifin/domain';
import type { ConsentProbe } from '@intellifin/sync-engine';
import type { MonoClient } from './mono.client';
import { reauthRequired } from './mono.errors';
import { balanceSchema, initiateSchema, legacySyncSchema, parseBody } from './mono.mapper';
import { noMonoMetrics, type MonoStatementMetrics } from './mono.metrics';
import { readStatement, TX_ROUTE } from './mono.statement';

export interface MonoProviderOptions {
  client: MonoClient;
  logger: Logger;
  /** Rows per page asked of Mono (`limit`). Default 100. */
  pageSize?: number;
  /** Send `x-realtime: true` for manual triggers that ask for it. Default true. */
  realtime?: boolean;
  /** Overlap, first-sync history and pending watch of the statement window (`nextMonoWindow`). */
  window?: MonoWindowOptions;
  /**
   * Lifetime assumed for a re-auth link Mono gives without an expiry (providers.md §1.7 leaves the
   * v2 link's lifetime unsaid; the legacy token lives 10 minutes). Default 10 minutes.
   */
  reauthLinkTtlMs?: number;
  metrics?: MonoStatementMetrics;
  tracer?: Tracer;
  /** Clock for re-auth link expiry (the engine's clock in tests). */
  clock?: () => Date;
}

/** Conservative lifetime of a Mono re-auth link when Mono does not say (same as the legacy re-auth token). */
export const DEFAULT_REAUTH_LINK_TTL_MS = 10 * 60_000;

const BALANCE_ROUTE = 'GET /v2/accounts/:id/balance';
const LEGACY_SYNC_ROUTE = 'POST /accounts/:id/sync';

/**
 * Mono as a `ProviderPort`. The statement window (`nextMonoWindow`: `[cursor − overlap, today]`,
 * reaching back to the oldest watched pending row) is read by `readStatement` so that no row is
 * ever skipped: data not ready, missing pages and a statement moving while paged never advance
 * the cursor (see mono.statement.ts). Manual real-time syncs send `x-realtime` on the first page
 * (Mono allows one session per account per 5 minutes and repeats the last job's headers inside
 * it): a finished job serves fresh data; an enqueued one (`data: null`) is waited for: the cached
 * statement is read but the cursor stays, and the job's webhook triggers the run that advances it; a failed job is explained by the legacy sync endpoint, whose
 * `REAUTHORISATION_REQUIRED` marks the account for re-linking. A data endpoint answering 404 means
 * the account was unlinked (`UnlinkedError`).
 */
export class MonoProvider implements ProviderPort, ConsentProbe {
  readonly provider = 'mono' as const;
  private readonly client: MonoClient;
  private readonly log: Logger;
  private readonly pageSize: number;
  private readonly realtime: boolean;
  private readonly windowOptions: MonoWindowOptions | undefined;
  private readonly reauthLinkTtlMs: number;
  private readonly metrics: MonoStatementMetrics;
  private readonly tracer: Tracer | undefined;
  private readonly clock: () => Date;

  constructor(o: MonoProviderOptions) {
    this.client = o.client;
    this.log = o.logger.child({ component: 'mono-provider' });
    this.pageSize = o.pageSize ?? 100;
    this.realtime = o.realtime ?? true;
    this.windowOptions = o.window;
    this.reauthLinkTtlMs = o.reauthLinkTtlMs ?? DEFAULT_REAUTH_LINK_TTL_MS;
    this.metrics = o.metrics ?? noMonoMetrics;
    this.tracer = o.tracer;
    this.clock = o.clock ?? (() => new Date());
  }

  async *fetchDelta(req: FetchDeltaRequest): AsyncIterable<TransactionPage> {
    const id = req.account.providerAccountId;
    const path = `/v2/accounts/${encodeURIComponent(id)}/transactions`;
    const wantsRealtime = req.realtime && req.trigger === 'manual' && this.realtime;
    try {
      yield* readStatement(
        {
          client: this.client,
          log: this.log,
          metrics: this.metrics,
          ...(this.tracer ? { tracer: this.tracer } : {}),
          pageSize: this.pageSize,
          window: this.windowOptions,
          ...(wantsRealtime
            ? {
                realtimeFirstPage: async (query: Record<string, string>) => {
                  const first = await this.client.get(TX_ROUTE, path, query, req.signal, { 'x-realtime': 'true' });
                  if (first.headers['x-job-status'] !== 'failed') return first;
                  await this.explainFailedJob(id, req.signal);
                  return undefined; // bank-side failure: read the cached statement
                },
              }
            : {}),
        },
        req,
      );
    } catch (err) {
      if (err instanceof UnlinkedError) this.metrics.count('unlinked');
      throw err;
    }
  }

  async fetchBalance(req: FetchBalanceRequest): Promise<BalanceSnapshot> {
    const id = req.account.providerAccountId;
    const path = `/v2/accounts/${encodeURIComponent(id)}/balance`;
    let res = await this.client.get(
      BALANCE_ROUTE,
      path,
      {},
      req.signal,
      req.realtime && this.realtime ? { 'x-realtime': 'true' } : undefined,
    );
    let body = parseBody(balanceSchema, BALANCE_ROUTE, res.body);
    if (res.headers['x-job-status'] === 'failed') await this.explainFailedJob(id, req.signal);
    if (body.data === null) {
      res = await this.client.get(BALANCE_ROUTE, path, {}, req.signal);
      body = parseBody(balanceSchema, BALANCE_ROUTE, res.body);
    }
    if (!body.data)
      throw parseBody(
        balanceSchema.refine(() => false, 'data is null'),
        BALANCE_ROUTE,
        res.body,
      );
    if (body.data.currency !== req.account.currency)
      throw new PermanentError('currency_mismatch', `Mono reports ${body.data.currency} for an account in ${req.account.currency}`);
    return { balance: moneyFromMinor(BigInt(body.data.balance), req.account.currency), asOf: req.now };
  }

  async requestReauthLink(req: ReauthLinkRequest): Promise<ReauthLink> {
    const route = 'POST /v2/accounts/initiate';
    const res = await this.client.post(
      route,
      '/v2/accounts/initiate',
      {
        scope: 'reauth',
        account: req.account.providerAccountId,
        meta: { ref: `reauth-${req.account.id}-${Date.now()}` },
        ...(req.redirectUrl ? { redirect_url: req.redirectUrl } : {}),
      },
      req.signal,
    );
    const data = parseBody(initiateSchema, route, res.body).data;
    const expiresAt = data.expires_at ? new Date(data.expires_at) : new Date(this.clock().getTime() + this.reauthLinkTtlMs);
    return { url: data.mono_url, expiresAt };
  }

  /**
   * Whether a re-auth-required account's consent works again. Mono keeps serving the statement it
   * froze at the revocation, so a successful read proves nothing; the legacy sync does: it reaches
   * the bank with the user's consent (`SYNC_SUCCESSFUL`, which also refreshes Mono's copy) or
   * answers `REAUTHORISATION_REQUIRED`. Its own per-account limit (one per 2 minutes), a bank
   * outage or a transport failure mean "cannot tell".
   */
  async checkConsent(req: { account: { providerAccountId: string }; signal: AbortSignal }): Promise<'valid' | 'unknown'> {
    const answer = await this.legacySync(req.account.providerAccountId, req.signal);
    if (answer?.code === 'REAUTHORISATION_REQUIRED') throw reauthRequired();
    return answer?.status === 'successful' ? 'valid' : 'unknown';
  }

  /**
   * A real-time job failed: consent withdrawn, or the bank is down. Mono's REST answer does not
   * say which; the legacy sync does (`REAUTHORISATION_REQUIRED`). Any other answer (or its own
   * 2-minute limit) means "not an auth problem": the run goes on with the cached statement.
   */
  private async explainFailedJob(providerAccountId: string, signal: AbortSignal): Promise<void> {
    const answer = await this.legacySync(providerAccountId, signal);
    if (answer?.code === 'REAUTHORISATION_REQUIRED') throw reauthRequired();
  }

  /** The legacy sync's answer, or undefined when it gave none (limited, failed, malformed). A 403 is an auth error. */
  private async legacySync(
    providerAccountId: string,
    signal: AbortSignal,
  ): Promise<{ status: string; code?: string | undefined } | undefined> {
    try {
      const res = await this.client.post(LEGACY_SYNC_ROUTE, `/accounts/${encodeURIComponent(providerAccountId)}/sync`, {}, signal, {
        accountLimited: true,
      });
      return parseBody(legacySyncSchema, LEGACY_SYNC_ROUTE, res.body);
    } catch (err) {
      if (signal.aborted || err instanceof AuthError) throw err;
      this.log.debug({ err }, 'legacy sync gave no answer');
      return undefined;
    }
  }
}
