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
