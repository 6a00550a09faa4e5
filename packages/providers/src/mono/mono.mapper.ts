import { z } from 'zod';
import { moneyFromMinor, type CanonicalTransaction, type CurrencyCode } from '@intellifin/domain';
import { malformed } from './mono.errors';

/**
 * Mono v2 shapes (providers.md §1.3–1.4), validated with zod, and their mapping to canonical
 * transactions. Anything that does not match fails the whole page with a `validation` error, so
 * nothing of a malformed page is written.
 */
export const monoRow = z.object({
  id: z.string().min(1).max(255),
  narration: z.string(),
  amount: z.number().int().nonnegative(),
  type: z.enum(['debit', 'credit']),
  balance: z.number().int().nullable().optional(),
  date: z.string().datetime({ offset: true }),
  category: z.string().nullable().optional(),
});
export type MonoRow = z.infer<typeof monoRow>;

export const transactionsPageSchema = z.object({
  status: z.literal('successful'),
  message: z.string().optional(),
  data: z.array(monoRow).nullable(),
  meta: z
    .object({
      total: z.number().int().nonnegative(),
      page: z.number().int().positive(),
      previous: z.string().nullable().optional(),
      next: z.string().nullable().optional(),
    })
    .optional(),
});
export type TransactionsPage = z.infer<typeof transactionsPageSchema>;

export const balanceSchema = z.object({
  status: z.literal('successful'),
  data: z.object({ id: z.string(), balance: z.number().int(), currency: z.string().length(3) }).nullable(),
});

export const initiateSchema = z.object({
  status: z.literal('successful'),
  data: z.object({ mono_url: z.string().url(), expires_at: z.string().datetime({ offset: true }).nullable().optional() }),
});

/** `GET /v2/accounts/{id}`: only what the adapter reads (providers.md §1.3). */
export const accountDetailsSchema = z.object({
  status: z.literal('successful'),
  data: z.object({
    meta: z.object({ data_status: z.string() }).passthrough(),
  }),
});

export const legacySyncSchema = z.object({ status: z.string(), code: z.string().optional() });

export function parseBody<T>(schema: z.ZodType<T>, route: string, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw malformed(route, issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match the expected shape');
}

/**
 * Mono's v2 rows carry no pending flag. A card authorisation hold shows its authorisation
 * narration (`POS AUTH …`, `WEB AUTH …`) until it posts under the same id with the final narration:
 * that is how a pending row is recognised, and its posting is a modification of the same row.
 */
const PENDING_NARRATION = /^(POS|WEB) AUTH\b/;

export function isPendingRow(row: Pick<MonoRow, 'narration'>): boolean {
  return PENDING_NARRATION.test(row.narration);
}

/** `status` overrides the row's own (a watched pending row Mono stopped returning is written back as `removed`). */
export function toCanonical(row: MonoRow, currency: CurrencyCode, status?: CanonicalTransaction['status']): CanonicalTransaction {
  return {
    providerTxnId: row.id,
    amount: moneyFromMinor(BigInt(row.amount), currency),
    direction: row.type,
    status: status ?? (isPendingRow(row) ? 'pending' : 'posted'),
    bookedAt: new Date(row.date),
    narration: row.narration,
    ...(row.balance !== null && row.balance !== undefined ? { balanceAfter: moneyFromMinor(BigInt(row.balance), currency) } : {}),
    raw: row,
  };
}

/** Maps one page; repeated ids within the page keep their last occurrence (the port wants distinct ids). */
export function mapPage(rows: readonly MonoRow[], currency: CurrencyCode): CanonicalTransaction[] {
  const byId = new Map<string, CanonicalTransaction>();
  for (const row of rows) byId.set(row.id, toCanonical(row, currency));
  return [...byId.values()];
}

/** `YYYY-MM-DD` → Mono's `DD-MM-YYYY`. */
export function monoDate(iso: string): string {
  const [y, m, d] = iso.split('-');
  return `${d}-${m}-${y}`;
}
