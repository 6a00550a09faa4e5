/**
 * Deterministic Mono bank data. Account k and its transaction i are pure functions of
 * (seed, k, i); rows are materialised per account on demand (running balances need the prefix)
 * and kept in a bounded LRU, so memory does not grow with accounts × transactions.
 */
import { DAY, HOUR } from '../shared/clock';
import { digits, hash, hex, intIn, pick, unit, weighted } from '../shared/prng';
import {
  AREAS,
  BILLS,
  EMPLOYERS,
  FIRST_NAMES,
  INSTITUTIONS,
  LAST_NAMES,
  MEMOS,
  MERCHANTS,
  MONTHS,
  ONLINE,
  TELCOS,
  type Institution,
} from './names';

export interface MonoGenOptions {
  seed: number;
  epochMs: number;
  transactionsPerAccount: number;
  historyDays: number;
  /** Percent of rows that reach the feed 1-3 days after their date. */
  latePercent: number;
  /** Percent of card rows that sit pending (authorised, not posted) for 6 h - 3 days. */
  pendingPercent: number;
  cacheAccounts: number;
  /** Percent of pending rows that post 4..lateHoldDays days after their date (default 0). */
  lateHoldPercent?: number;
  lateHoldDays?: number;
  /** Percent of pending rows released at the end of their hold instead of posting (default 0). */
  holdReleasePercent?: number;
}

/** `postedAt` of a row that never posts (a released hold): the largest instant a Date can hold. */
export const NEVER = 8.64e15;

export interface MonoAccountProfile {
  index: number;
  id: string;
  customerId: string;
  name: string;
  accountNumber: string;
  currency: 'NGN' | 'GHS' | 'KES';
  institution: Institution;
  type: 'SAVINGS_ACCOUNT' | 'CURRENT_ACCOUNT' | 'DIGITAL_SAVINGS_ACCOUNT';
  bvn: string;
  authMethod: 'internet_banking' | 'mobile_banking';
  openingBalance: number;
  createdAt: number;
}

export interface MonoTxn {
  id: string;
  /** `date` as ISO-8601, computed once. */
  dateIso: string;
  /** Base index for generated rows; -1 for rows added through the control API. */
  index: number;
  date: number;
  amount: number;
  type: 'debit' | 'credit';
  narration: string;
  /** Narration shown while the row is pending (authorised, not yet posted). */
  pendingNarration: string | null;
  category: string;
  balance: number;
  /** When the row reaches Mono's copy of the statement (late rows: after `date`). */
  visibleAt: number;
  /** When the row posts; equal to `date` for rows that are never pending. */
  postedAt: number;
  /**
   * A released hold: when it leaves the statement (it never posts, `postedAt` = NEVER). It does
   * not count in the running balance of later rows; its own balance shows the hold.
   */
  releasedAt: number | null;
  source: 'generated' | 'added';
}

/** Scale factor from NGN price levels to the account's currency. */
const PRICE_SCALE: Record<string, number> = { NGN: 1, GHS: 0.0095, KES: 0.085 };

function objectId(tsMs: number, random10: string, counter: number): string {
  return (
    Math.floor(tsMs / 1000)
      .toString(16)
      .padStart(8, '0')
      .slice(-8) +
    random10 +
    (counter & 0xffffff).toString(16).padStart(6, '0')
  );
}

export function accountProfile(seed: number, k: number, epochMs: number): MonoAccountProfile {
  const currency = weighted<'NGN' | 'GHS' | 'KES'>(
    [
      ['NGN', 86],
      ['GHS', 7],
      ['KES', 7],
    ],
    seed,
    'cur',
    k,
  );
  const createdAt = epochMs - intIn(120, 900, seed, 'created', k) * DAY + intIn(0, DAY - 1, seed, 'created-ms', k);
  const scale = PRICE_SCALE[currency] ?? 1;
  return {
    index: k,
    id: objectId(createdAt, hex(10, seed, 'acct-rand'), k),
    customerId: objectId(createdAt - 60_000, hex(10, seed, 'cust-rand'), k),
    name: `${pick(FIRST_NAMES, seed, 'fn', k)} ${pick(LAST_NAMES, seed, 'ln', k)}`,
    accountNumber: digits(10, seed, 'nuban', k),
    currency,
    institution: pick(INSTITUTIONS[currency] as readonly Institution[], seed, 'inst', k),
    type: weighted(
      [
        ['SAVINGS_ACCOUNT', 60],
        ['CURRENT_ACCOUNT', 30],
        ['DIGITAL_SAVINGS_ACCOUNT', 10],
      ] as const,
      seed,
      'type',
      k,
    ),
    bvn: digits(4, seed, 'bvn', k),
    authMethod: unit(seed, 'auth', k) < 0.7 ? 'internet_banking' : 'mobile_banking',
    openingBalance: Math.round(intIn(20_000, 2_500_000, seed, 'open', k) * scale) * 100,
    createdAt,
  };
}

type Kind = 'salary' | 'transfer_in' | 'pos' | 'web' | 'transfer_out' | 'airtime' | 'bill' | 'atm' | 'charge';
const KINDS: readonly (readonly [Kind, number])[] = [
  ['salary', 4],
  ['transfer_in', 13],
  ['pos', 24],
  ['web', 8],
  ['transfer_out', 19],
  ['airtime', 10],
  ['bill', 6],
  ['atm', 6],
  ['charge', 10],
];

/** Amount ranges in NGN major units. */
const RANGES: Record<Kind, readonly [number, number]> = {
  salary: [150_000, 1_200_000],
  transfer_in: [2_000, 180_000],
  pos: [1_500, 85_000],
  web: [2_500, 60_000],
  transfer_out: [1_000, 250_000],
  airtime: [100, 5_000],
  bill: [3_600, 44_500],
  atm: [5_000, 40_000],
  charge: [0, 0],
};

const CHARGES = [
  ['SMS ALERT CHARGES', 400],
  ['NIP CHARGE + VAT', 1075],
  ['NIP CHARGE + VAT', 2688],
  ['NIP CHARGE + VAT', 5375],
  ['ELECTRONIC MONEY TRANSFER LEVY', 5000],
  ['CARD MAINTENANCE FEE', 5000],
  ['STAMP DUTY', 5000],
] as const;

const UPPER_BANKS: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(INSTITUTIONS).map(([cur, list]) => [cur, list.map((x) => x.name.toUpperCase())]),
);

function personName(seed: number, ...keys: (string | number)[]): string {
  return `${pick(FIRST_NAMES, seed, 'pf', ...keys)} ${pick(LAST_NAMES, seed, 'pl', ...keys)}`;
}

function roundAmount(naira: number, scale: number, kind: Kind): number {
  const v = naira * scale;
  // Round to a plausible granularity: 50 for big NGN amounts, 1 for small, cents for GHS/KES.
  if (scale === 1) return (kind === 'airtime' ? Math.round(v / 50) * 50 : Math.round(v / 10) * 10) * 100;
  return Math.round(v * 100);
}

export class MonoGenerator {
  private readonly slot: number;
  private readonly start: number;
  private readonly cache = new Map<number, { rows: MonoTxn[]; nextI: number; chainBalance: number; idRandom: string }>();

  constructor(private readonly o: MonoGenOptions) {
    const history = o.historyDays * DAY;
    this.start = o.epochMs - history;
    this.slot = history / Math.max(1, o.transactionsPerAccount);
  }

  get options(): MonoGenOptions {
    return this.o;
  }

  /** Generated rows of account k with date <= horizon, oldest first (shared array: do not mutate). */
  rows(profile: MonoAccountProfile, horizon: number): MonoTxn[] {
    const k = profile.index;
    let entry = this.cache.get(k);
    if (entry) {
      this.cache.delete(k);
      this.cache.set(k, entry);
    } else {
      entry = { rows: [], nextI: 0, chainBalance: profile.openingBalance, idRandom: hex(10, this.o.seed, 'txn-rand', k) };
      this.cache.set(k, entry);
      if (this.cache.size > this.o.cacheAccounts) {
        const oldest = this.cache.keys().next().value as number;
        this.cache.delete(oldest);
      }
    }
    // Extend while the next slot can start at or before the horizon.
    while (this.start + entry.nextI * this.slot <= horizon) {
      const row = this.row(profile, entry.nextI, entry.chainBalance, entry.idRandom);
      entry.nextI++;
      if (row.date > horizon) {
        // Slot starts before the horizon but this row lands after it: generate it later.
        entry.nextI--;
        break;
      }
      const after = entry.chainBalance + (row.type === 'credit' ? row.amount : -row.amount);
      if (row.releasedAt === null) entry.chainBalance = after;
      row.balance = after;
      entry.rows.push(row);
    }
    if (entry.rows.length > 0 && (entry.rows[entry.rows.length - 1] as MonoTxn).date > horizon) {
      // Asked for an earlier horizon than cached: binary search the cut.
      let lo = 0;
      let hi = entry.rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((entry.rows[mid] as MonoTxn).date <= horizon) lo = mid + 1;
        else hi = mid;
      }
      return entry.rows.slice(0, lo);
    }
    return entry.rows;
  }

  private row(p: MonoAccountProfile, i: number, balanceBefore: number, idRandom: string): MonoTxn {
    const { seed } = this.o;
    const k = p.index;
    const date = Math.floor((this.start + i * this.slot + unit(seed, 't', k, i) * this.slot * 0.95) / 1000) * 1000;
    const scale = PRICE_SCALE[p.currency] ?? 1;
    let kind = weighted(KINDS, seed, 'kind', k, i);
    let amount: number;
    if (kind === 'charge') {
      const [, kobo] = pick(CHARGES, seed, 'chg', k, i);
      amount = scale === 1 ? kobo : Math.max(1, Math.round(kobo * scale));
    } else {
      const [lo, hi] = RANGES[kind];
      amount = roundAmount(lo + unit(seed, 'amt', k, i) ** 2 * (hi - lo), scale, kind);
    }
    const isDebit = !(kind === 'salary' || kind === 'transfer_in');
    if (isDebit && amount > balanceBefore) kind = 'transfer_in';
    const type: 'debit' | 'credit' = kind === 'salary' || kind === 'transfer_in' ? 'credit' : 'debit';
    const bank = pick(UPPER_BANKS[p.currency] as readonly string[], seed, 'cpbank', k, i);
    let narration: string;
    let category: string;
    let pendingNarration: string | null = null;
    switch (kind) {
      case 'salary':
        narration = `NIP/${bank}/${pick(EMPLOYERS, seed, 'emp', k)}/SALARY ${MONTHS[new Date(date).getUTCMonth()]}`;
        category = 'salary';
        break;
      case 'transfer_in':
        narration = `NIP/${bank}/${personName(seed, k, i)}/${pick(MEMOS, seed, 'memo', k, i)}`;
        category = 'transfer';
        break;
      case 'pos': {
        narration = `POS PURCHASE ${pick(MERCHANTS, seed, 'mer', k, i)} ${pick(AREAS, seed, 'area', k, i)}`;
        pendingNarration = narration.replace('POS PURCHASE', 'POS AUTH');
        category = 'shopping';
        break;
      }
      case 'web':
        narration = `WEB PURCHASE ${pick(ONLINE, seed, 'web', k, i)}`;
        pendingNarration = narration.replace('WEB PURCHASE', 'WEB AUTH');
        category = 'online_purchase';
        break;
      case 'transfer_out':
        narration = `NIP TRF TO ${personName(seed, k, i, 'to')}/${bank}`;
        category = 'transfer';
        break;
      case 'airtime':
        narration = `AIRTIME ${pick(TELCOS, seed, 'tel', k, i)} 080${digits(8, seed, 'msisdn', k, i)}`;
        category = 'airtime';
        break;
      case 'bill':
        narration = `${pick(BILLS, seed, 'bill', k, i)} ${digits(10, seed, 'billref', k, i)}`;
        category = 'bills';
        break;
      case 'atm':
        narration = `ATM WDL ${bank} ${pick(AREAS, seed, 'atm', k, i)}`;
        category = 'cash_withdrawal';
        break;
      default:
        narration = pick(CHARGES, seed, 'chg', k, i)[0];
        category = 'bank_charges';
    }
    if (unit(seed, 'uncat', k, i) < 0.06) category = 'unknown';
    const late = unit(seed, 'late', k, i) * 100 < this.o.latePercent;
    const visibleAt = late ? date + intIn(24, 72, seed, 'lateh', k, i) * HOUR : date;
    const pending = pendingNarration !== null && unit(seed, 'pend', k, i) * 100 < this.o.pendingPercent;
    let postedAt = pending ? date + intIn(6, 72, seed, 'pendh', k, i) * HOUR : date;
    let releasedAt: number | null = null;
    if (pending && (this.o.lateHoldPercent ?? 0) > 0 && unit(seed, 'hold-late', k, i) * 100 < (this.o.lateHoldPercent ?? 0)) {
      postedAt = date + intIn(4 * 24, (this.o.lateHoldDays ?? 10) * 24, seed, 'hold-late-h', k, i) * HOUR;
    }
    if (pending && (this.o.holdReleasePercent ?? 0) > 0 && unit(seed, 'hold-release', k, i) * 100 < (this.o.holdReleasePercent ?? 0)) {
      releasedAt = postedAt;
      postedAt = NEVER;
    }
    return {
      id: objectId(date, idRandom, i),
      dateIso: new Date(date).toISOString(),
      index: i,
      date,
      amount,
      type,
      narration,
      pendingNarration: pending ? pendingNarration : null,
      category,
      balance: 0,
      visibleAt,
      postedAt,
      releasedAt,
      source: 'generated',
    };
  }

  /** Counter value for added rows: kept clear of generated indexes. */
  static addedId(seed: number, k: number, date: number, seq: number): string {
    return objectId(date, hex(10, seed, 'txn-added', k), 0x800000 + seq);
  }

  cacheSize(): number {
    return this.cache.size;
  }
}

/** Stable hash for a set of rows (used to compute x-has-new-data cheaply). */
export function rowsFingerprint(rows: readonly MonoTxn[]): number {
  let h = rows.length;
  for (const r of rows) h = hash(h, r.id, r.amount, r.date);
  return h;
}
