import type { CanonicalTransaction, CanonicalTransactionJson } from '@intellifin/domain';
import type { Queryable } from './db';

export interface UpsertCounts {
  added: number;
  modified: number;
  unchanged: number;
}

export interface AccountScope {
  orgId: string;
  accountId: string;
}

/** Rows per statement of the unguarded upsert (a sync run's page is one statement: `commitPage`). */
export const UPSERT_BATCH_SIZE = 1000;

const jsonReplacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/**
 * Set-based upsert of canonical transactions keyed by `(account_id, provider_txn_id)`.
 *
 * One `INSERT … SELECT FROM jsonb_to_recordset(...) ON CONFLICT DO UPDATE … WHERE <canonical fields differ>`
 * per batch: a new id is *added*, a known id whose canonical fields changed (pending → posted, a
 * corrected amount) is *modified* and gets a new `change_version` and `change_xid` (the writing
 * transaction, which orders the delta feed: migration 0019), anything else is *unchanged*
 * and not written at all. Counts are over distinct ids: an id repeated within the input is folded
 * to its last occurrence. Rows are written in id order so two concurrent writers of overlapping
 * sets take row locks in the same order and cannot deadlock; the unique key means they can never
 * duplicate a row.
 *
 * Sync runs write pages with `commitPage` (the same upsert behind a fence guard, in one
 * statement); this unguarded form is for callers that own the account outright.
 */
export async function upsertTransactions(
  db: Queryable,
  scope: AccountScope,
  txns: readonly CanonicalTransaction[],
  batchSize = UPSERT_BATCH_SIZE,
): Promise<UpsertCounts> {
  const distinct = distinctById(txns);
  const counts: UpsertCounts = { added: 0, modified: 0, unchanged: 0 };
  for (let i = 0; i < distinct.length; i += batchSize) {
    const batch = distinct.slice(i, i + batchSize);
    const { rows } = await db.query<{ added: number; modified: number }>({
      name: 'persistence.upsert-transactions',
      text: upsertStatement(undefined),
      values: [scope.orgId, scope.accountId, transactionsDocument(batch)],
    });
    const { added, modified } = rows[0]!;
    counts.added += added;
    counts.modified += modified;
    counts.unchanged += batch.length - added - modified;
  }
  return counts;
}

/** The input folded to the last occurrence of each provider id, in id order (the lock order). */
export function distinctById(txns: readonly CanonicalTransaction[]): CanonicalTransaction[] {
  const byId = new Map<string, CanonicalTransaction>();
  for (const t of txns) byId.set(t.providerTxnId, t);
  return [...byId.values()].sort((a, b) => (a.providerTxnId < b.providerTxnId ? -1 : a.providerTxnId > b.providerTxnId ? 1 : 0));
}

/**
 * One JSON document for a batch: V8's native JSON.stringify and Postgres' jsonb parser are far
 * cheaper than the driver's per-element array-literal escaping of a dozen parallel arrays.
 */
export function transactionsDocument(batch: readonly CanonicalTransaction[]): string {
  return JSON.stringify(
    batch.map((t) => ({
      i: t.providerTxnId,
      a: t.amount.minor.toString(),
      c: t.amount.currency,
      d: t.direction,
      s: t.status,
      b: t.bookedAt.toISOString(),
      n: t.narration,
      p: t.counterparty ?? null,
      r: t.reference ?? null,
      x: t.secondaryId ?? null,
      ba: t.balanceAfter ? t.balanceAfter.minor.toString() : null,
      raw: t.raw ?? null,
    })),
    jsonReplacer,
  );
}

/**
 * The upsert statement: `$1` org, `$2` account, `$3` the document. With a `guard` (a CTE named
 * `guard` over further parameters) rows are written only if the guard returned a row, and the
 * result also reports `guarded` (whether it did) and the guard's `cancel` column.
 */
export function upsertStatement(guard: string | undefined): string {
  return `WITH ${guard ? `guard AS (${guard}), ` : ''}input AS (
         SELECT i AS provider_txn_id, a AS amount_minor, c AS currency, d AS direction, s AS status, b AS booked_at,
                n AS narration, p AS counterparty, r AS reference, x AS secondary_id, ba AS balance_after_minor, raw
           FROM jsonb_to_recordset($3::jsonb)
             AS i(i text, a bigint, c text, d text, s text, b timestamptz, n text, p jsonb, r text, x text, ba bigint, raw jsonb)
       ), written AS (
         INSERT INTO transactions AS t (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status,
                                        booked_at, narration, counterparty, reference, secondary_id, balance_after_minor, raw)
         SELECT $1, $2, provider_txn_id, amount_minor, currency, direction, status,
                booked_at, narration, counterparty, reference, secondary_id, balance_after_minor, raw
           FROM input${guard ? ' WHERE EXISTS (SELECT 1 FROM guard)' : ''}
         ON CONFLICT (account_id, provider_txn_id) DO UPDATE SET
           amount_minor = EXCLUDED.amount_minor, currency = EXCLUDED.currency, direction = EXCLUDED.direction,
           status = EXCLUDED.status, booked_at = EXCLUDED.booked_at, narration = EXCLUDED.narration,
           counterparty = EXCLUDED.counterparty, reference = EXCLUDED.reference, secondary_id = EXCLUDED.secondary_id,
           balance_after_minor = EXCLUDED.balance_after_minor, raw = EXCLUDED.raw,
           updated_at = now(), change_version = nextval('transactions_change_seq'), change_xid = pg_current_xact_id()
         WHERE (t.amount_minor, t.currency, t.direction, t.status, t.booked_at, t.narration, t.counterparty,
                t.reference, t.secondary_id, t.balance_after_minor)
               IS DISTINCT FROM
               (EXCLUDED.amount_minor, EXCLUDED.currency, EXCLUDED.direction, EXCLUDED.status, EXCLUDED.booked_at,
                EXCLUDED.narration, EXCLUDED.counterparty, EXCLUDED.reference, EXCLUDED.secondary_id,
                EXCLUDED.balance_after_minor)
         RETURNING (xmax = 0) AS inserted
       )
       SELECT count(*) FILTER (WHERE inserted)::int AS added, count(*) FILTER (WHERE NOT inserted)::int AS modified${
         guard ? ', EXISTS (SELECT 1 FROM guard) AS guarded, (SELECT bool_or(cancel) FROM guard) AS cancel' : ''
       }
         FROM written`;
}

export interface StoredTransaction extends CanonicalTransactionJson {
  id: string;
  accountId: string;
  changeVersion: string;
  firstSeenAt: string;
  updatedAt: string;
}

interface TransactionRow {
  id: bigint;
  account_id: string;
  provider_txn_id: string;
  amount_minor: bigint;
  currency: string;
  direction: 'debit' | 'credit';
  status: 'pending' | 'posted' | 'failed' | 'reversed' | 'removed';
  booked_at: Date;
  narration: string | null;
  counterparty: CanonicalTransactionJson['counterparty'] | null;
  reference: string | null;
  secondary_id: string | null;
  balance_after_minor: bigint | null;
  raw: unknown;
  change_version: bigint;
  first_seen_at: Date;
  updated_at: Date;
}

function toStored(r: TransactionRow): StoredTransaction {
  return {
    id: r.id.toString(),
    accountId: r.account_id,
    providerTxnId: r.provider_txn_id,
    amount: { minor: r.amount_minor.toString(), currency: r.currency },
    direction: r.direction,
    status: r.status,
    bookedAt: r.booked_at.toISOString(),
    narration: r.narration ?? '',
    ...(r.counterparty ? { counterparty: r.counterparty } : {}),
    ...(r.balance_after_minor !== null ? { balanceAfter: { minor: r.balance_after_minor.toString(), currency: r.currency } } : {}),
    ...(r.reference !== null ? { reference: r.reference } : {}),
    ...(r.secondary_id !== null ? { secondaryId: r.secondary_id } : {}),
    raw: r.raw,
    changeVersion: r.change_version.toString(),
    firstSeenAt: r.first_seen_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  } as StoredTransaction;
}

/** One account's transactions, newest first, keyset-paginated on (booked_at, id). */
export async function listTransactions(
  db: Queryable,
  accountId: string,
  opts: { limit?: number; before?: { bookedAt: Date; id: string } } = {},
): Promise<StoredTransaction[]> {
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  const { rows } = await db.query<TransactionRow>(
    `SELECT * FROM transactions
      WHERE account_id = $1 AND ($2::timestamptz IS NULL OR (booked_at, id) < ($2, $3::bigint))
      ORDER BY booked_at DESC, id DESC LIMIT $4`,
    [accountId, opts.before?.bookedAt ?? null, opts.before?.id ?? null, limit],
  );
  return rows.map(toStored);
}

/** Every transaction of an account keyed by provider id (for reconciliation checks and tests). */
export async function transactionsByProviderId(db: Queryable, accountId: string): Promise<Map<string, StoredTransaction>> {
  const { rows } = await db.query<TransactionRow>('SELECT * FROM transactions WHERE account_id = $1', [accountId]);
  return new Map(rows.map((r) => [r.provider_txn_id, toStored(r)]));
}
