/**
 * Mono simulator state: seeded accounts (computed, not stored), per-account runtime state
 * (consent, data status, sync snapshot, real-time jobs) and the overrides the control API applies
 * (added rows, posted rows, removed rows). Rows themselves come from MonoGenerator.
 */
import { DAY, HOUR, type SimClock } from '../shared/clock';
import { alnum, hex, unit, intIn } from '../shared/prng';
import type { SimulatorCore } from '../shared/server';
import { accountProfile, MonoGenerator, type MonoAccountProfile, type MonoTxn } from './data';
import { WebhookDelivery } from './delivery';
import { seedProcessing, startProcessing } from './readiness';
import * as wh from './webhooks';
import type { DataStatus, SyncStatus, WebhookEvent } from './webhooks';

export * from './settings';
import {
  MANUAL_SYNC_WINDOW_MS,
  REALTIME_WINDOW_MS,
  REAUTH_TOKEN_TTL_MS,
  AUTH_CODE_TTL_MS,
  validateMonoSettings,
  type MonoSettings,
} from './settings';

export type Consent = 'active' | 'reauth_required' | 'unlinked';

export interface Job {
  id: string;
  name: 'jobs.accounts.sync_balance' | 'jobs.accounts.sync_statement';
  account: string;
  status: 'processing' | 'finished' | 'failed';
  /** Why a failed job failed: the account needs re-authorisation, or the bank is unavailable. */
  failure?: 'reauth' | 'unavailable';
  hasNewData: boolean;
  startedAt: number;
  finishAt: number;
}

interface Runtime {
  consent: Consent;
  reauthSince: number | undefined;
  dataStatus: DataStatus;
  lastSyncAt: number | undefined;
  lastManualSyncAt: number | undefined;
  lastRealtime: Job | undefined;
  jobs: Map<string, Job>;
  added: MonoTxn[];
  removed: Set<string>;
  /** Holds released through the statement faults: gone from the statement at once. */
  released: Map<string, number>;
  /** Paginated transaction requests so far (the statement faults' draw number). */
  pageRequests: number;
  /** One-shot page faults armed through the control API. */
  armed: ArmedPageFault[];
  /** When a readiness timeline makes the data AVAILABLE (undefined = none running). */
  readyAt?: number;
  posted: Map<string, number>;
  incompleteStatement: boolean;
}

/** A statement fault armed for the next paginated transactions request of a given page. */
export interface ArmedPageFault {
  page: number;
  kind: 'null' | 'empty' | 'insert' | 'remove';
}

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

export interface RowView {
  row: MonoTxn;
  pending: boolean;
}

export class MonoState {
  gen!: MonoGenerator;
  count = 0;
  private runtime = new Map<number, Runtime>();
  readonly links = new Map<string, Link>();
  private codes = new Map<string, { k: number; expiresAt: number }>();
  private reauthTokens = new Map<string, { k: number; expiresAt: number }>();
  private seq = 0;
  private delivery!: WebhookDelivery;
  /** Bumped by reinit so refresh ticks scheduled before a reset do nothing. */
  private refreshGen = 0;
  business = '';
  app = '';

  constructor(
    private readonly core: SimulatorCore,
    public settings: MonoSettings,
  ) {
    this.reinit(settings);
  }

  /** Forget everything and regenerate from the core's (possibly new) seed and epoch. */
  reinit(settings: MonoSettings): void {
    validateMonoSettings(settings);
    this.settings = settings;
    this.gen = this.makeGenerator();
    this.count = settings.accounts;
    this.runtime.clear();
    this.links.clear();
    this.codes.clear();
    this.reauthTokens.clear();
    this.seq = 0;
    this.delivery ??= new WebhookDelivery(this.core, () => this.settings);
    this.delivery.clear();
    this.business = hex(24, this.core.seed, 'business');
    this.app = hex(24, this.core.seed, 'app');
    this.scheduleAutoRefresh();
    seedProcessing(this);
  }

  get seedValue(): number {
    return this.core.seed;
  }

  /** Bumped by every reset: timers scheduled before it do nothing. */
  get generation(): number {
    return this.refreshGen;
  }

  get clockRef(): SimClock {
    return this.core.clock;
  }

  /**
   * Mono's automatic refresh runs every `autoRefreshHours`, aligned to UTC midnight (providers.md
   * §1.5). Successful refreshes are implicit in snapshotAt(); what needs an event is a failed one:
   * accounts that needed re-authorisation before the refresh get `mono.events.sync_failed`
   * (§1.5, §1.10.5), in account order, at every refresh until they are re-authorised.
   */
  private scheduleAutoRefresh(): void {
    const gen = ++this.refreshGen;
    const period = this.settings.autoRefreshHours * HOUR;
    if (!(period > 0)) return;
    const tick = (at: number): void => {
      this.clock.schedule(at, () => {
        if (gen !== this.refreshGen) return;
        this.scheduledRefresh(at);
        tick(at + period);
      });
    };
    tick(Math.floor(this.clock.now() / period) * period + period);
  }

  private scheduledRefresh(at: number): void {
    const failing: number[] = [];
    for (const [k, r] of this.runtime) if (r.consent === 'reauth_required' && (r.reauthSince ?? -Infinity) < at) failing.push(k);
    failing.sort((a, b) => a - b);
    for (const k of failing) {
      const id = this.profile(k).id;
      this.emit(wh.syncFailed(id), id);
    }
  }

  private get clock(): SimClock {
    return this.core.clock;
  }

  private makeGenerator(): MonoGenerator {
    const s = this.settings;
    return new MonoGenerator({
      seed: this.core.seed,
      epochMs: this.clock.epochMs,
      transactionsPerAccount: s.transactionsPerAccount,
      historyDays: s.historyDays,
      latePercent: s.latePercent,
      pendingPercent: s.pendingPercent,
      lateHoldPercent: s.lateHoldPercent,
      lateHoldDays: s.lateHoldDays,
      holdReleasePercent: s.holdReleasePercent,
      cacheAccounts: s.cacheAccounts,
    });
  }

  // ---- accounts -----------------------------------------------------------------------------

  profile(k: number): MonoAccountProfile {
    return accountProfile(this.core.seed, k, this.clock.epochMs);
  }

  /** Account index for a Mono account id, or undefined. The id's counter bytes hold the index. */
  find(id: string): number | undefined {
    if (!/^[0-9a-f]{24}$/.test(id)) return undefined;
    const k = parseInt(id.slice(18), 16);
    if (k >= this.count) return undefined;
    return this.profile(k).id === id ? k : undefined;
  }

  rt(k: number): Runtime {
    let r = this.runtime.get(k);
    if (!r) {
      r = {
        consent: 'active',
        reauthSince: undefined,
        dataStatus: 'AVAILABLE',
        lastSyncAt: undefined,
        lastManualSyncAt: undefined,
        lastRealtime: undefined,
        jobs: new Map(),
        added: [],
        removed: new Set(),
        released: new Map(),
        pageRequests: 0,
        armed: [],
        posted: new Map(),
        incompleteStatement: false,
      };
      this.runtime.set(k, r);
    }
    return r;
  }

  peekRuntime(k: number): Runtime | undefined {
    return this.runtime.get(k);
  }

  // ---- snapshot and rows --------------------------------------------------------------------

  /** The instant Mono's copy of the statement was last refreshed from the bank. */
  snapshotAt(k: number): number {
    const now = this.clock.now();
    const period = this.settings.autoRefreshHours * HOUR;
    const r = this.runtime.get(k);
    let auto = Math.floor(now / period) * period;
    if (r?.consent === 'reauth_required' && r.reauthSince !== undefined) auto = Math.min(auto, Math.floor(r.reauthSince / period) * period);
    return Math.max(auto, r?.lastSyncAt ?? -Infinity);
  }

  /** All rows with date <= horizon, oldest first, overrides applied, balances consistent. */
  rows(k: number, horizon: number): MonoTxn[] {
    const base = this.gen.rows(this.profile(k), horizon);
    const r = this.runtime.get(k);
    if (!r || (r.added.length === 0 && r.posted.size === 0)) return base;
    const added = r.added.filter((a) => a.date <= horizon);
    const merged = base.map((row) => {
      const p = r.posted.get(row.id);
      return p !== undefined ? { ...row, postedAt: p } : { ...row };
    });
    if (added.length === 0) return merged;
    for (const a of added) {
      const p = r.posted.get(a.id);
      merged.push({ ...a, postedAt: p ?? a.postedAt });
    }
    merged.sort((x, y) => x.date - y.date || (x.source === y.source ? x.index - y.index : x.source === 'generated' ? -1 : 1));
    let bal = this.profile(k).openingBalance;
    for (const row of merged) {
      const after = bal + (row.type === 'credit' ? row.amount : -row.amount);
      if (row.releasedAt === null) bal = after;
      row.balance = after;
    }
    return merged;
  }

  /** Rows Mono would return right now (as of the snapshot), oldest first. */
  visible(k: number): RowView[] {
    const snap = this.snapshotAt(k);
    const r = this.runtime.get(k);
    const out: RowView[] = [];
    for (const row of this.rows(k, snap)) {
      if (row.visibleAt > snap) continue;
      if (r?.removed.has(row.id) || r?.released.has(row.id)) continue;
      if (row.releasedAt !== null && row.releasedAt <= snap) continue;
      out.push({ row, pending: row.postedAt > snap });
    }
    return out;
  }

  /** Ledger balance at an instant: the running balance of the last row dated at or before it. */
  balanceAt(k: number, at: number): number {
    const rows = this.rows(k, at);
    const last = rows[rows.length - 1];
    return last ? last.balance : this.profile(k).openingBalance;
  }

  private newRowsBetween(k: number, from: number, to: number): boolean {
    for (const row of this.rows(k, to)) {
      const appears = Math.max(row.date, row.visibleAt);
      if (appears > from && appears <= to) return true;
      if (row.postedAt > appears && row.postedAt > from && row.postedAt <= to) return true;
    }
    return false;
  }

  // ---- webhooks -----------------------------------------------------------------------------

  /** Send a webhook through the delivery faults (drop, reorder, duplicate): see delivery.ts. */
  emit(event: WebhookEvent, account: string): void {
    this.delivery.emit(event, account);
  }

  /** `mono.events.account_updated` for account k with its current data status. */
  notifyUpdated(k: number, sync: SyncStatus, hasNewData: boolean): void {
    this.updated(k, sync, hasNewData);
  }

  private updated(
    k: number,
    sync: SyncStatus,
    hasNewData: boolean,
    extra: { jobId?: string; retrieved?: string[]; ref?: string } = {},
  ): void {
    const p = this.profile(k);
    const r = this.rt(k);
    const retrieved = extra.retrieved ?? (r.dataStatus === 'PARTIAL' ? ['balance'] : ['identity', 'balance', 'transactions']);
    this.emit(
      wh.accountUpdated(p, this.balanceAt(k, this.snapshotAt(k)), this.clock.iso(), {
        dataStatus: r.dataStatus,
        syncStatus: sync,
        jobId: extra.jobId,
        hasNewData,
        retrieved,
        ref: extra.ref,
      }),
      p.id,
    );
  }

  // ---- real-time data (x-realtime) ----------------------------------------------------------

  /** Start (or reuse, inside the 5-minute window) a real-time job for account k. */
  realtime(k: number, name: Job['name']): { job: Job; reused: boolean } {
    const r = this.rt(k);
    const now = this.clock.now();
    const last = r.lastRealtime;
    if (last && now - last.startedAt < REALTIME_WINDOW_MS) return { job: last, reused: true };
    const p = this.profile(k);
    const n = ++this.seq;
    const job: Job = {
      id: hex(24, this.core.seed, 'job', k, n),
      name,
      account: p.id,
      status: 'processing',
      hasNewData: false,
      startedAt: now,
      finishAt: now,
    };
    r.jobs.set(job.id, job);
    r.lastRealtime = job;
    if (r.consent === 'reauth_required' || r.dataStatus === 'UNAVAILABLE') {
      this.failJob(k, job);
      return { job, reused: false };
    }
    const quick = unit(this.core.seed, 'rt-quick', k, n) * 100 < this.settings.realtimeFinishedPercent;
    const duration = quick ? intIn(2, 25, this.core.seed, 'rt-dur', k, n) * 1000 : intIn(35, 180, this.core.seed, 'rt-dur', k, n) * 1000;
    job.finishAt = now + duration;
    if (quick) this.finishJob(k, job, now);
    else this.clock.schedule(job.finishAt, () => this.finishJob(k, job, job.finishAt));
    return { job, reused: false };
  }

  private failJob(k: number, job: Job): void {
    const r = this.rt(k);
    job.status = 'failed';
    job.failure = r.consent === 'reauth_required' ? 'reauth' : 'unavailable';
    job.finishAt = this.clock.now();
    this.emit(wh.jobUpdate(job, this.business, this.app, this.settings.jobWebhookStatus), job.account);
    const sync: SyncStatus = job.failure === 'reauth' ? 'REAUTHORISATION_REQUIRED' : 'FAILED';
    this.updated(k, sync, false, { jobId: job.id, retrieved: [] });
  }

  private finishJob(k: number, job: Job, at: number): void {
    const r = this.rt(k);
    if (r.consent !== 'active' || r.dataStatus === 'UNAVAILABLE') {
      if (r.consent !== 'unlinked') this.failJob(k, job);
      else job.status = 'failed';
      return;
    }
    const before = this.snapshotAt(k);
    r.lastSyncAt = Math.max(at, r.lastSyncAt ?? -Infinity);
    if (r.dataStatus === 'PROCESSING' || r.dataStatus === 'PARTIAL' || r.dataStatus === 'FAILED') r.dataStatus = 'AVAILABLE';
    job.hasNewData = this.newRowsBetween(k, before, r.lastSyncAt);
    job.status = 'finished';
    this.emit(wh.jobUpdate(job, this.business, this.app, this.settings.jobWebhookStatus), job.account);
    this.updated(k, 'SUCCESSFUL', job.hasNewData, {
      jobId: job.id,
      retrieved: job.name === 'jobs.accounts.sync_balance' ? ['balance'] : ['balance', 'transactions'],
    });
  }

  // ---- legacy manual sync -------------------------------------------------------------------

  manualSync(k: number, allowIncomplete: boolean): { status: number; body: Record<string, unknown> } {
    const r = this.rt(k);
    const now = this.clock.now();
    if (r.lastManualSyncAt !== undefined && now - r.lastManualSyncAt < MANUAL_SYNC_WINDOW_MS) {
      return {
        status: 429,
        body: {
          status: 'failed',
          message: 'Too many requests: one manual sync per account every 2 minutes',
          timestamp: this.clock.iso(),
          data: null,
        },
      };
    }
    r.lastManualSyncAt = now;
    const id = this.profile(k).id;
    if (r.consent === 'reauth_required') {
      this.emit(wh.reauthorisationRequired(id), id);
      return {
        status: 200,
        body: {
          status: 'failed',
          hasNewData: false,
          code: 'REAUTHORISATION_REQUIRED',
          message: 'Account requires re-authorisation before data can be synced',
        },
      };
    }
    if (r.dataStatus === 'UNAVAILABLE') {
      return {
        status: 200,
        body: {
          status: 'failed',
          code: 'SYNC_ERROR',
          message: 'Unable to sync account at the moment, the institution is unavailable. Please retry later',
        },
      };
    }
    if (r.incompleteStatement && !allowIncomplete) {
      return {
        status: 200,
        body: {
          status: 'failed',
          code: 'INCOMPLETE_STATEMENT_ERROR',
          message:
            'The institution returned fewer transactions than previously recorded. Retry later or pass allow_incomplete_statement=true',
        },
      };
    }
    const before = this.snapshotAt(k);
    r.lastSyncAt = now;
    if (r.dataStatus !== 'AVAILABLE') r.dataStatus = 'AVAILABLE';
    const hasNewData = this.newRowsBetween(k, before, now);
    this.updated(k, 'SUCCESSFUL', hasNewData);
    return { status: 200, body: { status: 'successful', hasNewData, code: this.settings.syncSuccessCode, message: null } };
  }

  // ---- re-authorisation and linking ---------------------------------------------------------

  createLink(scope: 'auth' | 'reauth', k: number | undefined, ref: string | undefined, redirectUrl: string | undefined): Link {
    const n = ++this.seq;
    const code = alnum(8, this.core.seed, 'link', n).toUpperCase();
    const link: Link = {
      code,
      scope,
      account: k,
      ref,
      redirectUrl,
      customer: k !== undefined ? this.profile(k).customerId : hex(24, this.core.seed, 'customer', n),
      createdAt: this.clock.now(),
      completedAt: undefined,
    };
    this.links.set(code, link);
    return link;
  }

  /** The user finishes the Connect widget behind a link. Returns the account id and, for auth, an exchange code. */
  completeLink(code: string): { account: string; exchangeCode?: string } | undefined {
    const link = this.links.get(code);
    if (!link || link.completedAt !== undefined) return undefined;
    link.completedAt = this.clock.now();
    if (link.scope === 'reauth' && link.account !== undefined) {
      this.reauthorised(link.account, link.ref);
      return { account: this.profile(link.account).id };
    }
    const k = this.count++;
    link.account = k;
    const r = this.rt(k);
    r.lastSyncAt = this.clock.now();
    const exchangeCode = `code_${alnum(20, this.core.seed, 'xcode', k)}`;
    this.codes.set(exchangeCode, { k, expiresAt: this.clock.now() + AUTH_CODE_TTL_MS });
    const p = this.profile(k);
    this.emit(wh.accountConnected(p.id, p.customerId, link.ref), p.id);
    if (this.settings.processingPercent > 0) startProcessing(this, k, this.clock.now());
    else this.updated(k, 'SUCCESSFUL', true, { ref: link.ref });
    return { account: p.id, exchangeCode };
  }

  exchangeCode(code: string): string | undefined {
    const c = this.codes.get(code);
    if (!c || c.expiresAt < this.clock.now()) return undefined;
    this.codes.delete(code);
    return this.profile(c.k).id;
  }

  legacyReauthToken(k: number): string {
    const token = alnum(20, this.core.seed, 'reauth-token', k, ++this.seq);
    this.reauthTokens.set(token, { k, expiresAt: this.clock.now() + REAUTH_TOKEN_TTL_MS });
    return token;
  }

  completeLegacyReauth(token: string): 'ok' | 'expired' | 'unknown' {
    const t = this.reauthTokens.get(token);
    if (!t) return 'unknown';
    this.reauthTokens.delete(token);
    if (t.expiresAt < this.clock.now()) return 'expired';
    this.reauthorised(t.k, undefined);
    return 'ok';
  }

  /** Consent restored: account_reauthorized, then account_updated once data is re-pulled. */
  reauthorised(k: number, ref: string | undefined): void {
    const r = this.rt(k);
    const before = this.snapshotAt(k);
    r.consent = 'active';
    r.reauthSince = undefined;
    r.lastSyncAt = this.clock.now();
    r.lastRealtime = undefined;
    if (r.dataStatus !== 'AVAILABLE') r.dataStatus = 'AVAILABLE';
    const p = this.profile(k);
    this.emit(wh.accountReauthorized(p.id, this.app, this.business, hex(24, this.core.seed, 'evt', ++this.seq), this.clock.iso()), p.id);
    this.updated(k, 'SUCCESSFUL', this.newRowsBetween(k, before, this.clock.now()), { ref });
  }

  revoke(k: number, mode: 'reauth' | 'unlink', notify: boolean): void {
    const r = this.rt(k);
    const id = this.profile(k).id;
    if (mode === 'unlink') {
      r.consent = 'unlinked';
      if (notify) this.emit(wh.accountUnlinked(id), id);
      return;
    }
    r.consent = 'reauth_required';
    r.reauthSince = this.clock.now();
    if (notify) this.emit(wh.reauthorisationRequired(id), id);
  }

  repair(k: number): void {
    const r = this.rt(k);
    if (r.consent === 'unlinked') {
      r.consent = 'active';
      r.lastSyncAt = this.clock.now();
      const p = this.profile(k);
      this.emit(wh.accountConnected(p.id, p.customerId, undefined), p.id);
      this.updated(k, 'SUCCESSFUL', true);
    } else if (r.consent === 'reauth_required') {
      this.reauthorised(k, undefined);
    }
    r.incompleteStatement = false;
  }

  /** Simulate Mono's automatic refresh now (as if the scheduled sync just ran). */
  autoRefresh(k: number): void {
    const r = this.rt(k);
    if (r.consent === 'reauth_required') {
      const id = this.profile(k).id;
      this.emit(wh.syncFailed(id), id);
      return;
    }
    const before = this.snapshotAt(k);
    r.lastSyncAt = this.clock.now();
    if (r.dataStatus === 'PROCESSING' || r.dataStatus === 'PARTIAL') r.dataStatus = 'AVAILABLE';
    this.updated(k, 'SUCCESSFUL', this.newRowsBetween(k, before, r.lastSyncAt));
  }

  setDataStatus(k: number, status: DataStatus, notify: boolean): void {
    const r = this.rt(k);
    r.dataStatus = status;
    if (notify) this.updated(k, status === 'UNAVAILABLE' || status === 'FAILED' ? 'FAILED' : 'SUCCESSFUL', false);
  }

  // ---- control-API overrides ----------------------------------------------------------------

  addTransaction(
    k: number,
    input: {
      amount: number;
      type: 'debit' | 'credit';
      narration: string;
      category: string;
      date: number;
      visibleAt: number;
      postedAt: number;
      pendingNarration: string | null;
    },
  ): MonoTxn {
    const r = this.rt(k);
    const seq = r.added.length;
    const row: MonoTxn = {
      id: MonoGenerator.addedId(this.core.seed, k, input.date, seq),
      dateIso: new Date(input.date).toISOString(),
      index: -1 - seq,
      date: input.date,
      amount: input.amount,
      type: input.type,
      narration: input.narration,
      pendingNarration: input.pendingNarration,
      category: input.category,
      balance: 0,
      visibleAt: input.visibleAt,
      postedAt: input.postedAt,
      releasedAt: null,
      source: 'added',
    };
    r.added.push(row);
    return row;
  }

  postTransaction(k: number, id: string): boolean {
    const now = this.clock.now();
    const row = this.rows(k, now).find((x) => x.id === id);
    if (!row) return false;
    if (row.postedAt > now) this.rt(k).posted.set(id, now);
    return true;
  }

  removeTransactions(k: number, ids: string[]): number {
    const r = this.rt(k);
    let n = 0;
    for (const id of ids)
      if (!r.removed.has(id)) {
        r.removed.add(id);
        n++;
      }
    return n;
  }

  setIncompleteStatement(k: number, on: boolean): void {
    this.rt(k).incompleteStatement = on;
  }

  /** Rows per day (for docs and the control config). */
  rowsPerDay(): number {
    return this.settings.transactionsPerAccount / this.settings.historyDays;
  }

  static readonly DAY = DAY;
}
