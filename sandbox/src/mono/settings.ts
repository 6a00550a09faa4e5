/** Mono simulator settings: defaults, validation and the fixed limits of the Mono API. */
import { MINUTE } from '../shared/clock';
import { isTimeZone } from './dates';

export interface MonoSettings {
  accounts: number;
  transactionsPerAccount: number;
  historyDays: number;
  latePercent: number;
  pendingPercent: number;
  secretKey: string;
  webhookUrl: string | undefined;
  webhookSecret: string;
  /** Deterministic share of webhook deliveries sent twice / never sent (0-100). */
  webhookDuplicatePercent: number;
  webhookDropPercent: number;
  /**
   * Deterministic share (0-100) of webhook deliveries held back and sent after the account's next
   * webhook (out-of-order delivery, providers.md §1.10.12); drawn from (seed, account, the account's
   * delivery number).
   */
  webhookReorderPercent: number;
  /** A held delivery with no later webhook for its account is sent this long (simulator time) after it was held. */
  webhookReorderHoldSeconds: number;
  defaultPageSize: number;
  /** 'api' = working absolute next link; 'doc-quirk' = the published sample's link without /accounts/. */
  nextLink: 'api' | 'doc-quirk';
  unlinkedStatus: 403 | 404;
  syncSuccessCode: 'SYNC_SUCCESSFUL' | 'SYNCED_SUCCESSFUL';
  autoRefreshHours: number;
  /** Share of real-time jobs that finish within the request (the rest are enqueued). */
  realtimeFinishedPercent: number;
  /** Reject the support article's from/to parameters with 400 instead of ignoring them. */
  rejectFromTo: boolean;
  cacheAccounts: number;
  /**
   * Status words of the `mono.accounts.jobs.update` webhook (providers.md §1.6, §7: the docs conflict).
   * 'realtime-doc' = `finished|failed` as on the real-time data page (headers and the jobs endpoint
   * always use these); 'changelog' = `SUCCESSFUL|FAILED|REAUTHORISATION_REQUIRED` as in Mono's changelog.
   */
  jobWebhookStatus: 'realtime-doc' | 'changelog';
  /**
   * Time zone whose midnights cut the `start`/`end` days of the transactions window (providers.md
   * §1.4 leaves it unsaid): 'UTC' (default) or an IANA name such as 'Africa/Lagos' (WAT, UTC+1).
   */
  windowTimeZone: string;
  /**
   * Readiness after linking (providers.md §1.2, §1.10 scenarios 2, 3): share (0-100) of seeded
   * accounts that were just linked at the epoch, and every account linked through a link, serve
   * `data_status: PROCESSING` with no rows for a seeded delay of 1..`processingSeconds`, then
   * (for `partialPercent` of them) `PARTIAL` (balance only) for as long again, then `AVAILABLE`
   * with `mono.events.account_updated`. 0 = off.
   */
  processingPercent: number;
  processingSeconds: number;
  partialPercent: number;
  /**
   * Statement faults on paginated transaction requests for page ≥ 2 (§1.6, §1.10.8-9), drawn per
   * (seed, account, request number), each a share 0-100: answer `data: null`; answer `data: []`
   * with the real `meta.total`; insert a new row before answering; release a pending hold before
   * answering (the statement shrinks between page requests). 0 = off.
   */
  nullPagePercent: number;
  emptyPagePercent: number;
  shiftInsertPercent: number;
  shiftRemovePercent: number;
  /**
   * Holds (§1.10.10): share (0-100) of pending rows that post `4..lateHoldDays` days after their
   * date instead of within 3 days, and share that are released instead of posting (they vanish
   * from the statement at the end of the hold). 0 = off.
   */
  lateHoldPercent: number;
  lateHoldDays: number;
  holdReleasePercent: number;
}

export const MONO_DEFAULTS: MonoSettings = {
  accounts: 50,
  transactionsPerAccount: 100,
  historyDays: 90,
  latePercent: 4,
  pendingPercent: 30,
  secretKey: 'test_sk_sandbox_mono',
  webhookUrl: undefined,
  webhookSecret: 'sandbox-mono-webhook-secret',
  webhookDuplicatePercent: 0,
  webhookDropPercent: 0,
  webhookReorderPercent: 0,
  webhookReorderHoldSeconds: 30,
  defaultPageSize: 20,
  nextLink: 'api',
  unlinkedStatus: 404,
  syncSuccessCode: 'SYNC_SUCCESSFUL',
  autoRefreshHours: 24,
  realtimeFinishedPercent: 75,
  rejectFromTo: false,
  cacheAccounts: 500,
  jobWebhookStatus: 'realtime-doc',
  windowTimeZone: 'UTC',
  processingPercent: 0,
  processingSeconds: 120,
  partialPercent: 0,
  nullPagePercent: 0,
  emptyPagePercent: 0,
  shiftInsertPercent: 0,
  shiftRemovePercent: 0,
  lateHoldPercent: 0,
  lateHoldDays: 10,
  holdReleasePercent: 0,
};

export const JOB_WEBHOOK_STATUS_MODES: MonoSettings['jobWebhookStatus'][] = ['realtime-doc', 'changelog'];

/** A settings value the simulator cannot honour (a control-API reset answers 400). */
export class MonoSettingsError extends Error {
  readonly statusCode = 400;
}

/** Reject settings values the simulator cannot honour (thrown at start and on reset). */
export function validateMonoSettings(s: MonoSettings): void {
  if (!JOB_WEBHOOK_STATUS_MODES.includes(s.jobWebhookStatus)) {
    throw new MonoSettingsError(
      `jobWebhookStatus must be one of ${JOB_WEBHOOK_STATUS_MODES.join(', ')}, got ${String(s.jobWebhookStatus)}`,
    );
  }
  for (const key of [
    'processingPercent',
    'partialPercent',
    'nullPagePercent',
    'emptyPagePercent',
    'shiftInsertPercent',
    'shiftRemovePercent',
    'lateHoldPercent',
    'holdReleasePercent',
  ] as const) {
    const v = s[key];
    if (typeof v !== 'number' || !(v >= 0 && v <= 100))
      throw new MonoSettingsError(`${key} must be a number from 0 to 100, got ${String(v)}`);
  }
  if (!Number.isInteger(s.processingSeconds) || s.processingSeconds < 1)
    throw new MonoSettingsError(`processingSeconds must be an integer ≥ 1, got ${String(s.processingSeconds)}`);
  if (!Number.isInteger(s.lateHoldDays) || s.lateHoldDays < 4)
    throw new MonoSettingsError(`lateHoldDays must be an integer ≥ 4, got ${String(s.lateHoldDays)}`);
  if (!isTimeZone(s.windowTimeZone)) {
    throw new MonoSettingsError(
      `windowTimeZone must be 'UTC' or an IANA time zone such as 'Africa/Lagos', got ${String(s.windowTimeZone)}`,
    );
  }
}

export const REALTIME_WINDOW_MS = 5 * MINUTE;
export const MANUAL_SYNC_WINDOW_MS = 2 * MINUTE;
export const REAUTH_TOKEN_TTL_MS = 10 * MINUTE;
export const AUTH_CODE_TTL_MS = 10 * MINUTE;
