import { z } from 'zod';
import type { TransactionChange, TransactionChangesPage } from '../app/transaction-changes';

/** REST schemas of the data and settings routes (delta feed, settings, summary, notifications). */
const instant = z.iso.datetime({ offset: true });
const minorUnits = z
  .string()
  .regex(/^-?\d+$/)
  .meta({ description: 'Minor units (integer as a string: int64)' });

export const changesQuery = z
  .object({
    cursor: z
      .string()
      .max(200)
      .optional()
      .meta({ description: 'Opaque: nextCursor of the previous page; empty or absent: from the start' }),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const changeJson = z
  .object({
    id: z.string().meta({ description: "The provider's transaction id, unique within the account" }),
    amount: minorUnits,
    currency: z.string(),
    direction: z.enum(['debit', 'credit']),
    status: z.enum(['pending', 'posted', 'failed', 'reversed']),
    bookedAt: instant,
    narration: z.string().optional(),
    counterparty: z.string().optional(),
    reference: z.string().optional(),
    balanceAfter: minorUnits.optional(),
  })
  .meta({ id: 'TransactionChange' });

export const changesResponse = z
  .object({
    added: z.array(changeJson),
    modified: z.array(changeJson),
    removed: z.array(z.string()).meta({ description: 'Ids of transactions the provider no longer returns' }),
    nextCursor: z.string(),
    hasMore: z.boolean(),
  })
  .meta({ id: 'TransactionChanges' });

function toChangeJson(c: TransactionChange): z.infer<typeof changeJson> {
  const { amount, balanceAfter, ...rest } = c;
  return {
    ...rest,
    amount: amount.minor.toString(),
    currency: amount.currency,
    ...(balanceAfter !== undefined ? { balanceAfter: balanceAfter.toString() } : {}),
  };
}

export function toChangesJson(p: TransactionChangesPage): z.infer<typeof changesResponse> {
  return { ...p, added: p.added.map(toChangeJson), modified: p.modified.map(toChangeJson) };
}

export const summaryResponse = z
  .object({
    providers: z.array(
      z.object({
        provider: z.string(),
        accountsByStatus: z.record(z.string(), z.number().int()),
        last24h: z.object({
          runs: z.number().int(),
          succeeded: z.number().int(),
          failed: z.number().int(),
          successRate: z.number().nullable().meta({ description: 'succeeded / runs (finished runs only), 0–1' }),
          p95DurationMs: z.number().int().nullable(),
        }),
        oldestSuccessAt: instant.nullable().meta({ description: 'The stalest last success among linked accounts' }),
        neverSucceeded: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'SyncSummary' });

export const notificationsQuery = z
  .object({
    cursor: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

const attemptJson = z.object({
  attempt: z.number().int(),
  action: z.string(),
  httpStatus: z.number().int().nullable(),
  outcome: z.string(),
  replayed: z.boolean(),
  retryAfterMs: z.number().int().nullable(),
  error: z.string().nullable(),
  startedAt: instant,
  finishedAt: instant,
});

export const notificationsResponse = z
  .object({
    episodes: z.array(
      z.object({
        id: z.uuid(),
        accountId: z.uuid(),
        provider: z.string(),
        openedAt: instant,
        closedAt: instant.nullable(),
        reason: z.string().nullable(),
        pushes: z.array(
          z.object({
            id: z.uuid(),
            kind: z.string(),
            status: z.string(),
            dueAt: instant,
            scheduledFor: instant.nullable(),
            sentAt: instant.nullable(),
            canceledAt: instant.nullable(),
            attemptCount: z.number().int(),
            lastError: z.string().nullable(),
            attempts: z.array(attemptJson),
          }),
        ),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'ReauthNotifications' });
