import { z } from 'zod';
import { PROVIDERS, SYNC_MODES, SYNC_TRIGGERS, ACCOUNT_STATUSES } from '@intellifin/domain';
import { CONNECTION_HEALTH, DATA_COMPLETENESS, RUN_STATUSES, type AccountStatusView } from '../app/account-status';
import { RUN_FILTER_STATUSES } from '../app/sync-runs.query';
import { API_TRIGGERS } from '../app/sync-commands';
import { runRequestsJson } from './run-requests.schema';

/**
 * The REST schemas: fastify validates every request with them and serializes every response
 * through them, and the OpenAPI document is generated from them (one source).
 */
const instant = z.iso.datetime({ offset: true });

export const errorBody = z
  .object({
    error: z.string().meta({ description: 'Machine-readable code' }),
    message: z.string(),
    issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    nextAllowedAt: instant.optional(),
  })
  .meta({ id: 'Error' });

export const accountParams = z.object({ id: z.uuid() });
export const runParams = z.object({ id: z.uuid(), runId: z.uuid() });

export const accountJson = z
  .object({
    id: z.uuid(),
    provider: z.enum(PROVIDERS),
    providerLabel: z.string().meta({ description: 'e.g. "Mono", "MTN MoMo", "Airtel Money": "Last synced via …"' }),
    type: z.enum(['bank', 'mobile_money']),
    displayName: z.string().nullable(),
    status: z.enum(ACCOUNT_STATUSES),
    balance: z
      .object({
        minor: z
          .string()
          .regex(/^-?\d+$/)
          .meta({ description: 'Minor units (integer as a string: int64)' }),
        currency: z.string(),
        asOf: instant.nullable(),
      })
      .nullable(),
    lastSuccessAt: instant.nullable(),
    lastAttemptAt: instant.nullable(),
    lastError: z.object({ code: z.string(), hint: z.string() }).nullable(),
    nextSyncAt: instant.nullable().meta({ description: 'When the next scheduled sync is due' }),
    nextManualSyncAllowedAt: instant.nullable().meta({ description: 'Null: a manual sync is allowed now' }),
    connection: z.object({ health: z.enum(CONNECTION_HEALTH), expiresAt: instant.nullable() }),
    run: z.object({
      status: z.enum(RUN_STATUSES),
      code: z.string().nullable(),
      since: instant.nullable(),
      commandId: z.string().nullable(),
    }),
    data: z.object({ completeness: z.enum(DATA_COMPLETENESS) }),
  })
  .meta({ id: 'AccountSyncStatus' });

export function toAccountJson(v: AccountStatusView): z.infer<typeof accountJson> {
  return { ...v, balance: v.balance ? { ...v.balance, minor: v.balance.minor.toString() } : null };
}

export const accountsResponse = z.object({ accounts: z.array(accountJson) });

export const runsQuery = z
  .object({
    status: z.enum(RUN_FILTER_STATUSES).optional(),
    trigger: z.enum(SYNC_TRIGGERS).optional(),
    from: instant.optional().meta({ description: 'Runs started at or after' }),
    to: instant.optional().meta({ description: 'Runs started before' }),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to), {
    message: 'must be after from',
    path: ['to'],
  });

const runCore = {
  id: z.uuid(),
  accountId: z.uuid(),
  provider: z.string(),
  trigger: z.string(),
  mode: z.string(),
  realtime: z.boolean(),
  commandId: z.string().nullable(),
  outcome: z.string(),
  startedAt: instant,
  finishedAt: instant.nullable(),
  durationMs: z.number().int().nullable(),
  window: z.object({ from: instant, to: instant }).nullable(),
  pages: z.number().int(),
  counts: z.object({ added: z.number().int(), modified: z.number().int(), unchanged: z.number().int() }),
  error: z.object({ kind: z.string().nullable(), code: z.string(), hint: z.string().nullable() }).nullable(),
  traceId: z.string().nullable(),
};
export const runJson = z.object(runCore).meta({ id: 'SyncRun' });
export const runDetailJson = z
  .object({ ...runCore, worker: z.string().nullable(), requests: runRequestsJson.nullable() })
  .meta({ id: 'SyncRunDetail' });
export const runsResponse = z.object({ runs: z.array(runJson), nextCursor: z.string().nullable() });

export const syncBody = z
  .object({
    mode: z
      .enum(SYNC_MODES)
      .default('transactions')
      .meta({ description: 'transactions, balance, or full (a re-sync that resets the cursor)' }),
    realtime: z
      .boolean()
      .default(false)
      .meta({ description: 'Ask the provider for live data where it offers it (Mono); ignored elsewhere' }),
  })
  .strict()
  .nullish()
  // No body at all (fastify gives null) is the default sync.
  .transform((b) => b ?? { mode: 'transactions' as const, realtime: false });

export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
});

export const queuedCommandJson = z
  .object({
    commandId: z.uuid(),
    accountId: z.uuid(),
    provider: z.enum(PROVIDERS),
    trigger: z.enum(API_TRIGGERS),
    mode: z.enum(SYNC_MODES),
    realtime: z.boolean(),
    lane: z.enum(['priority', 'bulk']),
    issuedAt: instant,
    coalesced: z.boolean(),
  })
  .meta({ id: 'QueuedSyncCommand' });

export const cancelResponse = z.object({
  accountId: z.uuid(),
  cancelledQueued: z.number().int(),
  dequeued: z.number().int(),
  runningCancelRequested: z.boolean(),
});
