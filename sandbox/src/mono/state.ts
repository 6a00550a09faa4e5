/**
 * Mono simulator state: seeded accounts (computed, not stored), per-account runtime state
 * (consent, data status, sync snapshot, real-time jobs) and the overrides the control API applies
 * (added rows, posted rows, removed rows). Rows themselves come from MonoGenerator.
 */
import { HOUR, type SimClock } from '../shared/clock';
import { hex } from '../shared/prng';
import type { SimulatorCore } from '../shared/server';
import { accountProfile, MonoGenerator, type MonoAccountProfile, type MonoTxn } from './data';
import { WebhookDelivery } from './delivery';
import { MonoLinks, reauthorised, repair, revoke, type Consent, type Link } from './linking';
import { seedProcessing } from './readiness';
import { startRealtime, type Job } from './realtime-jobs';
import { autoRefresh, manualSync, scheduledRefresh } from './refresh';
import type { StatementEvent } from './statement-faults';
import * as wh from './webhooks';
import type { DataStatus, SyncStatus, WebhookEvent } from './webhooks';

export * from './settings';
import { validateMonoSettings, type MonoSettings } from './settings';

export type { Consent, Job, Link };

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
  /** What the statement faults did, and the unpaged reads, in order (the truth API's `statementEvents`). */
  statementEvents: StatementEvent[];
  /** When a readiness timeline makes the data AVAILABLE (undefined = none running). */
  readyAt?: number;
  posted: Map<string, number>;
  incompleteStatement: boolean;
}

/**
 * Statement faults armed for the next paginated transactions request of a given page: one kind, or
 * several that fire together in order (e.g. a hold released, then `data: null`).
 */
export interface ArmedPageFault {
  page: number;
  kind: 'null' | 'empty' | 'insert' | 'remove';
  then?: ('null' | 'empty' | 'insert' | 'remove')[];
}

export interface RowView {
  row: MonoTxn;
  pending: boolean;
}

export class MonoState {
  gen!: MonoGenerator;
  count = 0;
  private runtime = new Map<number, Runtime>();
  private readonly linkRegistry = new MonoLinks(this);
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
    this.linkRegistry.clear();
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

  /** The next number of the shared sequence (jobs, links, tokens, events): draws depend on call order. */
  nextSeq(): number {
    return ++this.seq;
  }

  get links(): Map<string, Link> {
    return this.linkRegistry.links;
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
        scheduledRefresh(this, at);
        tick(at + period);
      });
    };
    tick(Math.floor(this.clock.now() / period) * period + period);
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
        statementEvents: [],
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

  runtimes(): IterableIterator<[number, Runtime]> {
    return this.runtime.entries();
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

  /** Whether a row appeared, or posted, in (from, to]: a refresh over that span `hasNewData`. */
  newRowsBetween(k: number, from: number, to: number): boolean {
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
  notifyUpdated(
    k: number,
    sync: SyncStatus,
    hasNewData: boolean,
    extra: { jobId?: string | undefined; retrieved?: string[]; ref?: string | undefined } = {},
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

  // ---- delegates (realtime-jobs.ts, refresh.ts, linking.ts) -------------------------------

  realtime(k: number, name: Job['name']): { job: Job; reused: boolean } {
    return startRealtime(this, k, name);
  }

  manualSync(k: number, allowIncomplete: boolean): { status: number; body: Record<string, unknown> } {
    return manualSync(this, k, allowIncomplete);
  }

  autoRefresh(k: number): void {
    autoRefresh(this, k);
  }

  createLink(scope: 'auth' | 'reauth', k: number | undefined, ref: string | undefined, redirectUrl: string | undefined): Link {
    return this.linkRegistry.create(scope, k, ref, redirectUrl);
  }

  completeLink(code: string): { account: string; exchangeCode?: string } | undefined {
    return this.linkRegistry.complete(code);
  }

  exchangeCode(code: string): string | undefined {
    return this.linkRegistry.exchange(code);
  }

  legacyReauthToken(k: number): string {
    return this.linkRegistry.legacyReauthToken(k);
  }

  completeLegacyReauth(token: string): 'ok' | 'expired' | 'unknown' {
    return this.linkRegistry.completeLegacyReauth(token);
  }

  reauthorised(k: number, ref: string | undefined): void {
    reauthorised(this, k, ref);
  }

  revoke(k: number, mode: 'reauth' | 'unlink', notify: boolean): void {
    revoke(this, k, mode, notify);
  }

  repair(k: number): void {
    repair(this, k);
  }

  setDataStatus(k: number, status: DataStatus, notify: boolean): void {
    const r = this.rt(k);
    r.dataStatus = status;
    if (notify) this.notifyUpdated(k, status === 'UNAVAILABLE' || status === 'FAILED' ? 'FAILED' : 'SUCCESSFUL', false);
  }
}
