/** Seeded MoMo merchant accounts (API user + key + product subscription keys) and references. */
import { DAY, MINUTE } from '../shared/clock';
import { digits, hex, intIn, pick, unit, uuidV4 } from '../shared/prng';

export const ENVIRONMENT_CURRENCY: Record<string, string> = {
  sandbox: 'EUR',
  mtnzambia: 'ZMW',
  mtnuganda: 'UGX',
  mtnghana: 'GHS',
  mtncameroon: 'XAF',
  mtnivorycoast: 'XOF',
  mtnbenin: 'XOF',
  mtncongo: 'XAF',
  mtnswaziland: 'SZL',
  mtnguineaconakry: 'GNF',
  mtnsouthafrica: 'ZAR',
  mtnliberia: 'LRD',
  mtnrwanda: 'RWF',
};

export interface MomoAccountProfile {
  index: number;
  /** The merchant's primary API user id; doubles as the account id in the control API and logs. */
  id: string;
  apiKey: string;
  collectionKey: string;
  disbursementKey: string;
  name: string;
  targetEnvironment: string;
  currency: string;
  openingBalance: number;
}

const MERCHANTS = [
  'LUSAKA FRESH MART',
  'KABWE AGRO SUPPLIES',
  'CHIPATA HARDWARE',
  'NDOLA SCHOOL FEES',
  'COPPERBELT TAXI CO',
  'MANDA HILL BOUTIQUE',
  'KITWE PHARMACY',
  'LIVINGSTONE TOURS',
] as const;

export function momoProfile(seed: number, k: number, environment: string): MomoAccountProfile {
  return {
    index: k,
    id: uuidV4(seed, 'momo-user', k),
    apiKey: hex(32, seed, 'momo-apikey', k),
    collectionKey: hex(32, seed, 'momo-sub-col', k),
    disbursementKey: hex(32, seed, 'momo-sub-dis', k),
    name: pick(MERCHANTS, seed, 'momo-merchant', k),
    targetEnvironment: environment,
    currency: ENVIRONMENT_CURRENCY[environment] ?? 'EUR',
    openingBalance: intIn(500, 250_000, seed, 'momo-open', k) * 100,
  };
}

/** Zambian MTN numbers (26096…, 26076…) in E.164 digits without '+'. */
export function zambianMsisdn(seed: number, ...keys: (string | number)[]): string {
  return `260${pick(['96', '76'], seed, 'msisdn-pfx', ...keys)}${digits(7, seed, 'msisdn', ...keys)}`;
}

export interface SeededReference {
  id: string;
  kind: 'requesttopay' | 'transfer';
  createdAt: number;
  amountMinor: number;
  externalId: string;
  msisdn: string;
  payerMessage: string;
  payeeNote: string;
}

const NOTES = ['Order payment', 'Monthly subscription', 'School fees T3', 'Stock purchase', 'Delivery fee', 'Invoice settlement'] as const;

export function seededReferences(seed: number, k: number, count: number, epochMs: number): SeededReference[] {
  const out: SeededReference[] = [];
  for (let j = 0; j < count; j++) {
    // Most are days old (terminal by the epoch); the last two are minutes old (still in flight).
    const age =
      j >= count - 2 ? intIn(1, 4, seed, 'momo-ref-age', k, j) * MINUTE : intIn(1, 14 * 24 * 60, seed, 'momo-ref-age', k, j) * MINUTE;
    const kind = unit(seed, 'momo-ref-kind', k, j) < 0.2 ? 'transfer' : 'requesttopay';
    out.push({
      id: uuidV4(seed, 'momo-ref', k, j),
      kind,
      createdAt: Math.floor((epochMs - Math.min(age, 14 * DAY)) / 1000) * 1000,
      amountMinor: intIn(5, 2_500, seed, 'momo-ref-amt', k, j) * 100 + (unit(seed, 'momo-ref-ngwee', k, j) < 0.3 ? 50 : 0),
      externalId: `INV-${digits(6, seed, 'momo-ref-ext', k, j)}`,
      msisdn: zambianMsisdn(seed, 'momo-ref', k, j),
      payerMessage: pick(NOTES, seed, 'momo-ref-msg', k, j),
      payeeNote: `Acct ${digits(4, seed, 'momo-ref-note', k, j)}`,
    });
  }
  return out.sort((a, b) => a.createdAt - b.createdAt);
}
