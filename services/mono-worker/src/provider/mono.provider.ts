import { AuthError, PermanentError, type Logger } from '@intellifin/core';
import {
  advanceMonoCursor,
  moneyFromMinor,
  nextMonoWindow,
  type MonoWindowOptions,
  type BalanceSnapshot,
  type FetchBalanceRequest,
  type FetchDeltaRequest,
  type MonoCursor,
  type ProviderPort,
  type ReauthLink,
  type ReauthLinkRequest,
  type TransactionPage,
} from '@intellifin/domain';
import type { ConsentProbe } from '@intellifin/sync-engine';
import type { MonoClient, MonoResponse } from './mono.client';
import { reauthRequired } from './mono.errors';
import { balanceSchema, initiateSchema, legacySyncSchema, mapPage, monoDate, parseBody, transactionsPageSchema } from './mono.mapper';

export interface MonoProviderOptions {
  client: MonoClient;
  logger: Logger;
  /** Rows per page asked of Mono (`limit`). Default 100. */
  pageSize?: number;
  /** Send `x-realtime: true` for manual triggers that ask for it. Default true. */
  realtime?: boolean;
  /** Overlap and first-sync history of the statement window (`nextMonoWindow`). */
  window?: MonoWindowOptions;
}

const TX_ROUTE = 'GET /v2/accounts/:id/transactions';
const BALANCE_ROUTE = 'GET /v2/accounts/:id/balance';
const LEGACY_SYNC_ROUTE = 'POST /accounts/:id/sync';

/**
 * Mono as a `ProviderPort`: the statement window `[cursor − overlap, today]` (`nextMonoWindow`) fetched newest first, page by page (`page`/`limit`, next page derived from `meta`, not
 * from Mono's `next` link); the cursor advances only with the last page. Manual real-time syncs
 * send `x-realtime` on the first page (Mono allows one session per account per 5 minutes and
 * repeats the last job's headers inside it): a finished job serves fresh data; an enqueued one
 * means the cached statement is read now and the job's webhook triggers another sync; a failed
 * job is explained by the legacy sync endpoint, whose `REAUTHORISATION_REQUIRED` marks the account
 * for re-linking.
 */
export class MonoProvider implements ProviderPort, ConsentProbe {
  readonly provider = 'mono' as const;
  private readonly client: MonoClient;
  private readonly log: Logger;
  private readonly pageSize: number;
  private readonly realtime: boolean;
  private readonly windowOptions: MonoWindowOptions | undefined;

  constructor(o: MonoProviderOptions) {
    this.client = o.client;
    this.log = o.logger.child({ component: 'mono-provider' });
    this.pageSize = o.pageSize ?? 100;
    this.realtime = o.realtime ?? true;
    this.windowOptions = o.window;
  }

  async *fetchDelta(req: FetchDeltaRequest): AsyncIterable<TransactionPage> {
    if (req.cursor.kind !== 'mono') throw new PermanentError('invalid_request', 'a Mono delta needs a Mono cursor');
    const cursor: MonoCursor = req.cursor;
    const window = nextMonoWindow(cursor, req.now, this.windowOptions);
    const id = req.account.providerAccountId;
    const path = `/v2/accounts/${encodeURIComponent(id)}/transactions`;
    const query = (page: number) => ({
      start: monoDate(window.from),
      end: monoDate(window.to),
      paginate: 'true',
      limit: String(this.pageSize),
      page: String(page),
    });
    const done = advanceMonoCursor(cursor, window);

    let first: MonoResponse | undefined;
    if (req.realtime && req.trigger === 'manual' && this.realtime) {
      first = await this.client.get(TX_ROUTE, path, query(1), req.signal, { 'x-realtime': 'true' });
      const job = first.headers['x-job-status'];
      if (job === 'failed') {
        await this.explainFailedJob(id, req.signal);
        first = undefined; // bank-side failure: read the cached statement
      } else if (job === 'processing' || (first.body as { data?: unknown } | null)?.data === null) {
        first = undefined; // enqueued: read the cached statement now; the job's webhook triggers another sync
      }
    }
    for (let page = 1, index = 0; ; page++, index++) {
      const res = page === 1 && first ? first : await this.client.get(TX_ROUTE, path, query(page), req.signal);
      const body = parseBody(transactionsPageSchema, TX_ROUTE, res.body);
      const rows = body.data ?? [];
      const transactions = mapPage(rows, req.account.currency);
      const total = body.meta?.total;
      const last = rows.length === 0 || rows.length < this.pageSize || (total !== undefined && page * this.pageSize >= total);
      yield { index, transactions, cursorAfter: last ? done : cursor, window };
      if (last) return;
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
    return { url: parseBody(initiateSchema, route, res.body).data.mono_url };
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
