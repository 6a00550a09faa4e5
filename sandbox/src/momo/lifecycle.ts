/**
 * Scripted lifecycles for MoMo references (providers.md §2.5, §2.14, §2.15): which status a
 * request-to-pay or transfer shows at each simulated instant, and when (if ever) its one callback
 * is sent. Scripts are pure functions of (seed, account, reference id).
 */
import { MINUTE } from '../shared/clock';
import { intIn, pick, unit, weighted } from '../shared/prng';

export type MomoStatus = 'PENDING' | 'CREATED' | 'SUCCESSFUL' | 'FAILED';

export interface Step {
  /** Milliseconds after creation. */
  after: number;
  status: MomoStatus;
  reason?: string;
}

export type CallbackPlan = 'realistic' | 'always' | 'never';

/**
 * Sandbox test numbers, defaulting to providers.md §2.14 "Source C": 450/451/452 fail at once,
 * 453 stays PENDING, 454 goes CREATED then SUCCESSFUL after ~25 s.
 */
export const DEFAULT_MSISDN_SCENARIOS: Record<string, Step[]> = {
  '46733123450': [{ after: 0, status: 'FAILED', reason: 'INTERNAL_PROCESSING_ERROR' }],
  '46733123451': [{ after: 0, status: 'FAILED', reason: 'APPROVAL_REJECTED' }],
  '46733123452': [{ after: 0, status: 'FAILED', reason: 'EXPIRED' }],
  '46733123453': [{ after: 0, status: 'PENDING' }],
  '46733123454': [
    { after: 0, status: 'CREATED' },
    { after: 25_000, status: 'SUCCESSFUL' },
  ],
};

const COLLECTION_FAILURES = [
  'NOT_ENOUGH_FUNDS',
  'PAYER_LIMIT_REACHED',
  'INTERNAL_PROCESSING_ERROR',
  'SENDER_ACCOUNT_NOT_ACTIVE',
  'APPROVAL_REJECTED',
] as const;

export function collectionScript(
  seed: number,
  account: number,
  ref: string,
  msisdn: string,
  environment: string,
  scenarios: Record<string, Step[]>,
): Step[] {
  const fixed = scenarios[msisdn];
  if (fixed) return fixed;
  // MTN's own sandbox settles every other number at once (§2.14 Source C).
  if (environment === 'sandbox') return [{ after: 0, status: 'SUCCESSFUL' }];
  const shape = weighted(
    [
      ['success', 72],
      ['fail', 13],
      ['not-approved', 8],
      ['slow-success', 5],
      ['created-success', 2],
    ] as const,
    seed,
    'momo-shape',
    account,
    ref,
  );
  const d = intIn(5, 150, seed, 'momo-delay', account, ref) * 1000;
  switch (shape) {
    case 'success':
      return [
        { after: 0, status: 'PENDING' },
        { after: d, status: 'SUCCESSFUL' },
      ];
    case 'fail':
      return [
        { after: 0, status: 'PENDING' },
        { after: d, status: 'FAILED', reason: pick(COLLECTION_FAILURES, seed, 'momo-reason', account, ref) },
      ];
    case 'not-approved':
      // The customer never approves within the ~5 minute window.
      return [
        { after: 0, status: 'PENDING' },
        { after: 5 * MINUTE, status: 'FAILED', reason: 'COULD_NOT_PERFORM_TRANSACTION' },
      ];
    case 'slow-success':
      return [
        { after: 0, status: 'PENDING' },
        { after: intIn(20, 60, seed, 'momo-slow', account, ref) * MINUTE, status: 'SUCCESSFUL' },
      ];
    default:
      return [
        { after: 0, status: 'PENDING' },
        { after: 2_000, status: 'CREATED' },
        { after: d + 2_000, status: 'SUCCESSFUL' },
      ];
  }
}

export function transferScript(
  seed: number,
  account: number,
  ref: string,
  msisdn: string,
  environment: string,
  scenarios: Record<string, Step[]>,
  fundsOk: boolean,
): Step[] {
  const fixed = scenarios[msisdn];
  if (fixed) return fixed;
  const d = intIn(2, 60, seed, 'momo-tdelay', account, ref) * 1000;
  if (!fundsOk)
    return [
      { after: 0, status: 'PENDING' },
      { after: d, status: 'FAILED', reason: 'NOT_ENOUGH_FUNDS' },
    ];
  if (environment === 'sandbox') return [{ after: 0, status: 'SUCCESSFUL' }];
  if (unit(seed, 'momo-tfail', account, ref) < 0.06)
    return [
      { after: 0, status: 'PENDING' },
      { after: d, status: 'FAILED', reason: 'PAYEE_NOT_ALLOWED_TO_RECEIVE' },
    ];
  return [
    { after: 0, status: 'PENDING' },
    { after: d, status: 'SUCCESSFUL' },
  ];
}

/** When the single callback goes out, relative to the terminal step; undefined = never sent. */
export function callbackDelay(seed: number, account: number, ref: string, plan: CallbackPlan): number | undefined {
  if (plan === 'never') return undefined;
  if (plan === 'always') return 0;
  const r = unit(seed, 'momo-cb', account, ref);
  if (r < 0.05) return undefined;
  if (r < 0.12) return intIn(2, 10, seed, 'momo-cb-late', account, ref) * MINUTE;
  return 0;
}

export function statusAt(steps: Step[], createdAt: number, t: number): Step {
  let cur = steps[0] as Step;
  for (const s of steps) if (createdAt + s.after <= t) cur = s;
  return cur;
}

export function isTerminal(s: MomoStatus): boolean {
  return s === 'SUCCESSFUL' || s === 'FAILED';
}
