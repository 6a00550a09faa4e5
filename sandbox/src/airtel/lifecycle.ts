/**
 * Airtel Money collection lifecycles (providers.md §3.5, §3.9, §3.10): TIP → TS | TF | TA → … | TE,
 * with the DP response codes an enquiry shows at each step. Pure functions of (seed, account, id).
 */
import { MINUTE } from '../shared/clock';
import { intIn, pick, weighted } from '../shared/prng';

export type AirtelStatus = 'TIP' | 'TA' | 'TS' | 'TF' | 'TE';

export interface AirtelStep {
  after: number;
  status: AirtelStatus;
  /** DP code shown in status.response_code while at this step. */
  code: string;
}

export const DP_MESSAGES: Record<string, string> = {
  DP00800001000: 'Transaction is ambiguous, please enquire again',
  DP00800001001: 'Transaction is successful',
  DP00800001002: 'Incorrect pin has been entered',
  DP00800001003: 'The user has exceeded their wallet allowed transaction limit',
  DP00800001004: 'The amount is below the minimum allowed',
  DP00800001005: 'Transaction ID is invalid',
  DP00800001006: 'Transaction in process',
  DP00800001007: 'Not enough balance',
  DP00800001008: 'Refused',
  DP00800001009: 'Do not honor',
  DP00800001010: 'Transaction not permitted to payee',
  DP00800001024: 'Transaction timed out',
  DP00800001025: 'Transaction not found',
  DP00800001029: 'Transaction expired',
  DP00900001001: 'Transaction is successful',
  DP00900001007: 'Insufficient funds',
  DP00900001017: 'Duplicate transaction id',
};

const FAILURES = ['DP00800001002', 'DP00800001003', 'DP00800001007', 'DP00800001008', 'DP00800001009', 'DP00800001024'] as const;

export function collectionScript(seed: number, account: number, id: string): AirtelStep[] {
  const shape = weighted(
    [
      ['success', 70],
      ['fail', 16],
      ['ambiguous', 7],
      ['expired', 5],
      ['slow', 2],
    ] as const,
    seed,
    'airtel-shape',
    account,
    id,
  );
  const d = intIn(5, 120, seed, 'airtel-delay', account, id) * 1000;
  const tip: AirtelStep = { after: 0, status: 'TIP', code: 'DP00800001006' };
  const ts = (after: number): AirtelStep => ({ after, status: 'TS', code: 'DP00800001001' });
  const tf = (after: number, k: string): AirtelStep => ({ after, status: 'TF', code: pick(FAILURES, seed, 'airtel-fail', account, id, k) });
  switch (shape) {
    case 'success':
      return [tip, ts(d)];
    case 'fail':
      return [tip, tf(d, 'f')];
    case 'ambiguous': {
      const later = d + intIn(5, 30, seed, 'airtel-ta', account, id) * MINUTE;
      const resolved = intIn(0, 1, seed, 'airtel-ta-end', account, id) === 0 ? ts(later) : tf(later, 'ta');
      return [tip, { after: d, status: 'TA', code: 'DP00800001000' }, resolved];
    }
    case 'expired':
      return [tip, { after: 5 * MINUTE, status: 'TE', code: 'DP00800001029' }];
    default:
      return [tip, ts(intIn(20, 60, seed, 'airtel-slow', account, id) * MINUTE)];
  }
}

export function stepAt(steps: AirtelStep[], createdAt: number, t: number): AirtelStep {
  let cur = steps[0] as AirtelStep;
  for (const s of steps) if (createdAt + s.after <= t) cur = s;
  return cur;
}

export const isFinal = (s: AirtelStatus) => s === 'TS' || s === 'TF' || s === 'TE';
