/** Airtel Money simulator state: client credentials, bearer tokens, collections and payouts. */
import { MINUTE } from '../shared/clock';
import { formatMajor } from '../shared/money';
import { alnum, digits, intIn, pick, unit, uuidV4 } from '../shared/prng';
import type { SimulatorCore } from '../shared/server';
import { collectionScript, isFinal, stepAt, type AirtelStep } from './lifecycle';

export const COUNTRY_CURRENCY: Record<string, string> = {
  ZM: 'ZMW',
  UG: 'UGX',
  KE: 'KES',
  TZ: 'TZS',
  MW: 'MWK',
  RW: 'RWF',
  CD: 'CDF',
  NG: 'NGN',
  CG: 'XAF',
  GA: 'XAF',
  NE: 'XOF',
  TD: 'XAF',
  MG: 'MGA',
  SC: 'SCR',
};

export interface AirtelSettings {
  accounts: number;
  referencesPerAccount: number;
  country: string;
  tokenTtlSeconds: number;
  /** Airtel's docs type expires_in as a string; some fixtures show a number. */
  expiresInType: 'string' | 'number';
  /** App-level callback URL (configured in Airtel's partner portal, not per request). */
  callbackUrl: string | undefined;
  callbackPlan: 'realistic' | 'always' | 'never';
  /** HTTP status for an enquiry of an unknown id: 200 with success:false (default) or 404. */
  enquiryNotFoundStatus: 200 | 404;
}

export const AIRTEL_DEFAULTS: AirtelSettings = {
  accounts: 20,
  referencesPerAccount: 6,
  country: 'ZM',
  tokenTtlSeconds: 180,
  expiresInType: 'string',
  callbackUrl: undefined,
  callbackPlan: 'realistic',
  enquiryNotFoundStatus: 200,
};

export interface AirtelAccount {
  index: number;
  /** client_id; doubles as the account id in the control API and logs. */
  id: string;
  clientSecret: string;
  name: string;
  country: string;
  currency: string;
  openingBalance: number;
  revoked: boolean;
}

export interface AirtelTxn {
  id: string;
  kind: 'collection' | 'disbursement';
  account: number;
  reference: string;
  msisdn: string;
  amountMinor: number;
  /** The amount as the client sent it (a JSON number in major units). */
  amountWire: number;
  currency: string;
  createdAt: number;
  steps: AirtelStep[];
  airtelMoneyId: string;
  refunded: boolean;
  callbackDelay: number | undefined;
  /** When the pending callback task is due (a later reschedule supersedes it). */
  callbackAt?: number;
  callbackDone: boolean;
  source: 'seeded' | 'client';
}

const MERCHANTS = ['ACME', 'ZAMBEEF', 'LUSAKA WATER', 'KAFUE STORES', 'MUKUBA MART', 'CHISOKONE TRADERS'] as const;

export class AirtelState {
  settings!: AirtelSettings;
  accounts: AirtelAccount[] = [];
  readonly byId = new Map<string, number>();
  readonly tokens = new Map<string, { account: number; expiresAt: number; revoked: boolean }>();
  readonly txns = new Map<string, AirtelTxn>();
  readonly txnsByAccount = new Map<number, AirtelTxn[]>();
  private seq = 0;

  constructor(
    private readonly core: SimulatorCore,
    settings: AirtelSettings,
  ) {
    this.reinit(settings);
  }

  reinit(settings: AirtelSettings): void {
    this.settings = settings;
    this.byId.clear();
    this.tokens.clear();
    this.txns.clear();
    this.txnsByAccount.clear();
    this.seq = 0;
    const seed = this.core.seed;
    const country = settings.country.toUpperCase();
    const currency = COUNTRY_CURRENCY[country] ?? 'ZMW';
    this.accounts = [];
    for (let k = 0; k < settings.accounts; k++) {
      const a: AirtelAccount = {
        index: k,
        id: uuidV4(seed, 'airtel-client', k),
        clientSecret: uuidV4(seed, 'airtel-secret', k),
        name: pick(MERCHANTS, seed, 'airtel-name', k),
        country,
        currency,
        openingBalance: intIn(1_000, 400_000, seed, 'airtel-open', k) * 100 + intIn(0, 99, seed, 'airtel-open-c', k),
        revoked: false,
      };
      this.accounts.push(a);
      this.byId.set(a.id, k);
      for (let j = 0; j < settings.referencesPerAccount; j++) {
        const age =
          j >= settings.referencesPerAccount - 2
            ? intIn(1, 3, seed, 'airtel-age', k, j) * MINUTE
            : intIn(60, 14 * 24 * 60, seed, 'airtel-age', k, j) * MINUTE;
        const id = alnum(14, seed, 'airtel-ref', k, j).toUpperCase();
        const amountMajor = intIn(5, 3_000, seed, 'airtel-amt', k, j);
        this.addCollection(k, {
          id,
          reference: id,
          msisdn: `${pick(['97', '77'], seed, 'airtel-pfx', k, j)}${digits(7, seed, 'airtel-msisdn', k, j)}`,
          amountMinor: amountMajor * 100,
          amountWire: amountMajor,
          createdAt: Math.floor((this.core.clock.epochMs - age) / 1000) * 1000,
          source: 'seeded',
        });
      }
    }
  }

  find(id: string): number | undefined {
    return this.byId.get(id);
  }

  account(k: number): AirtelAccount {
    return this.accounts[k] as AirtelAccount;
  }

  issueToken(k: number): { token: string; ttl: number } {
    const token = alnum(32, this.core.seed, 'airtel-token', ++this.seq);
    const ttl = this.settings.tokenTtlSeconds;
    this.tokens.set(token, { account: k, expiresAt: this.core.clock.now() + ttl * 1000, revoked: false });
    return { token, ttl };
  }

  tokenAccount(token: string | undefined): number | undefined {
    const t = token === undefined ? undefined : this.tokens.get(token);
    if (!t || t.revoked || t.expiresAt <= this.core.clock.now() || this.account(t.account).revoked) return undefined;
    return t.account;
  }

  expireTokens(k: number | undefined): number {
    let n = 0;
    for (const t of this.tokens.values())
      if (!t.revoked && (k === undefined || t.account === k)) {
        t.revoked = true;
        n++;
      }
    return n;
  }

  addCollection(
    k: number,
    input: {
      id: string;
      reference: string;
      msisdn: string;
      amountMinor: number;
      amountWire: number;
      createdAt: number;
      source: 'seeded' | 'client';
    },
  ): AirtelTxn {
    const seed = this.core.seed;
    const plan = this.settings.callbackPlan;
    const r = unit(seed, 'airtel-cb', k, input.id);
    const callbackDelay =
      plan === 'never'
        ? undefined
        : plan === 'always'
          ? 0
          : r < 0.05
            ? undefined
            : r < 0.1
              ? intIn(2, 15, seed, 'airtel-cb-late', k, input.id) * MINUTE
              : 0;
    const txn: AirtelTxn = {
      ...input,
      kind: 'collection',
      account: k,
      currency: this.account(k).currency,
      steps: collectionScript(seed, k, input.id),
      airtelMoneyId: this.airtelMoneyId(input.createdAt, input.id),
      refunded: false,
      callbackDelay,
      callbackDone: false,
    };
    this.store(txn);
    const final = txn.steps.find((s) => s.status === 'TS' || s.status === 'TF');
    const due = final ? txn.createdAt + final.after + (callbackDelay ?? 0) : undefined;
    if (due !== undefined && (input.source === 'client' || due > this.core.clock.now())) {
      this.scheduleCallbackAt(txn, due);
    } else txn.callbackDone = true;
    return txn;
  }

  addDisbursement(k: number, input: { id: string; reference: string; msisdn: string; amountMinor: number; amountWire: number }): AirtelTxn {
    const now = this.core.clock.now();
    const ok = this.balanceAt(k, now) >= input.amountMinor;
    const txn: AirtelTxn = {
      ...input,
      kind: 'disbursement',
      account: k,
      currency: this.account(k).currency,
      createdAt: now,
      steps: [ok ? { after: 0, status: 'TS', code: 'DP00900001001' } : { after: 0, status: 'TF', code: 'DP00900001007' }],
      airtelMoneyId: this.airtelMoneyId(now, input.id),
      refunded: false,
      callbackDelay: undefined,
      callbackDone: true,
      source: 'client',
    };
    this.store(txn);
    return txn;
  }

  private store(txn: AirtelTxn): void {
    this.txns.set(`${txn.account}:${txn.id}`, txn);
    const list = this.txnsByAccount.get(txn.account) ?? [];
    list.push(txn);
    this.txnsByAccount.set(txn.account, list);
  }

  get(k: number, id: string): AirtelTxn | undefined {
    return this.txns.get(`${k}:${id}`);
  }

  private airtelMoneyId(at: number, id: string): string {
    const d = new Date(at).toISOString();
    return `MP${d.slice(2, 4)}${d.slice(5, 7)}${d.slice(8, 10)}.${d.slice(11, 13)}${d.slice(14, 16)}.${alnum(1, this.core.seed, 'amid-l', id).toUpperCase().replace(/\d/, 'A')}${digits(5, this.core.seed, 'amid', id)}`;
  }

  step(txn: AirtelTxn, t = this.core.clock.now()): AirtelStep {
    return stepAt(txn.steps, txn.createdAt, t);
  }

  message(txn: AirtelTxn, s: AirtelStep): string {
    if (s.status === 'TS')
      return txn.kind === 'collection'
        ? `Paid ${this.account(txn.account).currency} ${formatMajor(txn.amountMinor, txn.currency)} to ${this.account(txn.account).name}`
        : 'Transaction is successful';
    return s.status === 'TIP'
      ? 'In process'
      : s.status === 'TA'
        ? 'Ambiguous'
        : s.status === 'TE'
          ? 'Transaction expired'
          : 'Transaction failed';
  }

  /** The callback plan applies from `at`: on time, late, or recorded as never sent. */
  private scheduleCallbackAt(txn: AirtelTxn, at: number): void {
    txn.callbackAt = at;
    this.core.clock.schedule(at, () => {
      if (txn.callbackAt === at) this.sendCallback(txn, txn.callbackDelay === undefined);
    });
  }

  sendCallback(txn: AirtelTxn, drop: boolean): void {
    if (txn.callbackDone || this.settings.callbackUrl === undefined) return;
    const s = this.step(txn);
    if (s.status !== 'TS' && s.status !== 'TF') return;
    txn.callbackDone = true;
    const transaction: Record<string, unknown> = { id: txn.id, message: this.message(txn, s), status_code: s.status };
    if (s.status === 'TS') transaction.airtel_money_id = txn.airtelMoneyId;
    const item = {
      kind: 'airtel.collection.callback',
      url: this.settings.callbackUrl,
      method: 'POST' as const,
      body: { transaction },
      account: this.account(txn.account).id,
      maxAttempts: 1,
    };
    if (drop) this.core.outbox.drop(item);
    else this.core.outbox.enqueue(item);
  }

  /** Control API: move to the next step now, or force a status. */
  advance(txn: AirtelTxn, to?: AirtelStep['status'], code?: string): AirtelStep {
    const elapsed = this.core.clock.now() - txn.createdAt;
    const done = txn.steps.filter((s) => s.after <= elapsed);
    let next: AirtelStep | undefined;
    if (to) {
      const dflt =
        to === 'TS'
          ? 'DP00800001001'
          : to === 'TF'
            ? 'DP00800001008'
            : to === 'TA'
              ? 'DP00800001000'
              : to === 'TE'
                ? 'DP00800001029'
                : 'DP00800001006';
      next = { after: elapsed, status: to, code: code ?? dflt };
    } else {
      const up = txn.steps.find((s) => s.after > elapsed);
      if (up) next = { ...up, after: elapsed };
    }
    if (next) {
      txn.steps = [...done, next];
      // The transaction's callback plan still holds: on time, late, or never sent.
      if (txn.kind === 'collection' && isFinal(next.status) && !txn.callbackDone)
        this.scheduleCallbackAt(txn, this.core.clock.now() + (txn.callbackDelay ?? 0));
    }
    return this.step(txn);
  }

  balanceAt(k: number, t = this.core.clock.now()): number {
    let bal = this.account(k).openingBalance;
    for (const x of this.txnsByAccount.get(k) ?? []) {
      if (x.createdAt > t || stepAt(x.steps, x.createdAt, t).status !== 'TS') continue;
      bal += x.kind === 'collection' && !x.refunded ? x.amountMinor : x.kind === 'disbursement' ? -x.amountMinor : 0;
    }
    return bal;
  }
}
