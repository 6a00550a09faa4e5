import type { Pool } from 'pg';
import { ValidationError } from '@intellifin/core';
import type { Queryable } from './db';
import { withTransaction } from './db';

/**
 * MoMo/Airtel reference intake and the registry a wallet run pages over (migration 0014). A
 * reference is registered once: its registry row plus a `pending` transaction (provider_txn_id =
 * reference id) in one transaction. Only the fenced sync run changes the transaction afterwards.
 */
export type WalletProviderId = 'momo' | 'airtel';
export type ReferenceKind = 'collection' | 'payout';

export interface WalletReferenceInput {
  accountId: string;
  provider: WalletProviderId;
  referenceId: string;
  kind: ReferenceKind;
  amountMinor: bigint;
  currency: string;
  externalId: string | null;
  /** Already masked by the caller (never the number itself). */
  partyMasked: string | null;
  createdAt: Date;
  /** The pending transaction's narration. */
  narration: string;
}

export interface WalletReference {
  orgId: string;
  accountId: string;
  provider: WalletProviderId;
  referenceId: string;
  kind: ReferenceKind;
  amountMinor: bigint;
  currency: string;
  externalId: string | null;
  partyMasked: string | null;
  createdAt: Date;
}

export type RegisterResult = { outcome: 'registered' | 'unchanged'; reference: WalletReference };

interface RefRow {
  org_id: string;
  account_id: string;
  provider: WalletProviderId;
  reference_id: string;
  kind: ReferenceKind;
  amount_minor: string | bigint;
  currency: string;
  external_id: string | null;
  party_masked: string | null;
  created_at: Date;
}

const toRef = (r: RefRow): WalletReference => ({
  orgId: r.org_id,
  accountId: r.account_id,
  provider: r.provider,
  referenceId: r.reference_id,
  kind: r.kind,
  amountMinor: BigInt(r.amount_minor),
  currency: r.currency,
  externalId: r.external_id,
  partyMasked: r.party_masked,
  createdAt: r.created_at,
});

/** The registered fields that differ between `a` and `b` (empty: the same registration). */
export function referenceDifferences(a: WalletReference, b: Omit<WalletReferenceInput, 'narration'>): string[] {
  const diff: string[] = [];
  if (a.accountId !== b.accountId) diff.push('accountId');
  if (a.kind !== b.kind) diff.push('kind');
  if (a.amountMinor !== b.amountMinor) diff.push('amountMinor');
  if (a.currency !== b.currency) diff.push('currency');
  if ((a.externalId ?? null) !== (b.externalId ?? null)) diff.push('externalId');
  if ((a.partyMasked ?? null) !== (b.partyMasked ?? null)) diff.push('party');
  if (a.createdAt.getTime() !== b.createdAt.getTime()) diff.push('createdAt');
  return diff;
}

/**
 * Registers a reference: idempotent for the same contents; the same reference with different
 * contents (or on another account) throws `ValidationError('reference_conflict')` naming the fields,
 * and nothing changes. The account must exist, belong to `provider` and hold `currency`.
 */
export async function registerWalletReference(pool: Pool, input: WalletReferenceInput): Promise<RegisterResult> {
  return withTransaction(pool, async (db) => {
    const { rows: acct } = await db.query<{ org_id: string; provider: string; currency: string }>(
      'SELECT org_id, provider, currency FROM accounts WHERE id = $1',
      [input.accountId],
    );
    const a = acct[0];
    if (!a)
      throw new ValidationError('unknown_account', `accountId ${input.accountId} names no account`, [
        { path: 'accountId', message: 'unknown' },
      ]);
    if (a.provider !== input.provider)
      throw new ValidationError('provider_mismatch', `accountId ${input.accountId} is a ${a.provider} account, not ${input.provider}`, [
        { path: 'provider', message: `the account is ${a.provider}` },
      ]);
    if (a.currency !== input.currency)
      throw new ValidationError('currency_mismatch', `currency ${input.currency} differs from the account's ${a.currency}`, [
        { path: 'currency', message: `the account holds ${a.currency}` },
      ]);
    const { rows } = await db.query<RefRow>(
      `INSERT INTO wallet_references (org_id, account_id, provider, reference_id, kind, amount_minor, currency, external_id, party_masked, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (provider, reference_id) DO NOTHING
       RETURNING *`,
      [
        a.org_id,
        input.accountId,
        input.provider,
        input.referenceId,
        input.kind,
        input.amountMinor.toString(),
        input.currency,
        input.externalId,
        input.partyMasked,
        input.createdAt,
      ],
    );
    if (rows[0]) {
      await db.query(
        `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, narration,
                                   counterparty, reference, raw)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11)
         ON CONFLICT (account_id, provider_txn_id) DO NOTHING`,
        [
          a.org_id,
          input.accountId,
          input.referenceId,
          input.amountMinor.toString(),
          input.currency,
          input.kind === 'collection' ? 'credit' : 'debit',
          input.createdAt,
          input.narration,
          input.partyMasked ? { account: input.partyMasked } : null,
          input.externalId,
          { registered: { kind: input.kind, externalId: input.externalId } },
        ],
      );
      return { outcome: 'registered', reference: toRef(rows[0]) };
    }
    const existing = await getWalletReference(db, input.provider, input.referenceId);
    if (!existing) throw new Error('wallet reference vanished during registration'); // no DELETE grant exists
    const diff = referenceDifferences(existing, input);
    if (diff.length > 0) {
      throw new ValidationError(
        'reference_conflict',
        `${input.provider} reference ${input.referenceId.slice(0, 64)} is already registered with a different ${diff.join(', ')}; nothing changed`,
        diff.map((path) => ({ path, message: 'differs from the registered value' })),
      );
    }
    return { outcome: 'unchanged', reference: existing };
  });
}

export async function getWalletReference(db: Queryable, provider: WalletProviderId, referenceId: string): Promise<WalletReference | null> {
  const { rows } = await db.query<RefRow>('SELECT * FROM wallet_references WHERE provider = $1 AND reference_id = $2', [
    provider,
    referenceId,
  ]);
  return rows[0] ? toRef(rows[0]) : null;
}

/** A reference a run looks at, with its stored transaction status. */
export interface TrackedReference extends WalletReference {
  status: string;
  secondaryId: string | null;
}

/**
 * One page of an account's pending references, in reference order after `after` (keyset), plus
 * the named `extra` references whatever their status (callback hints).
 */
export async function pendingWalletReferences(
  db: Queryable,
  accountId: string,
  opts: { after?: string; limit: number },
): Promise<TrackedReference[]> {
  const { rows } = await db.query<RefRow & { status: string; secondary_id: string | null }>(
    `SELECT r.*, t.status, t.secondary_id
       FROM transactions t
       JOIN wallet_references r ON r.account_id = t.account_id AND r.reference_id = t.provider_txn_id
      WHERE t.account_id = $1 AND t.status = 'pending' AND ($2::text IS NULL OR t.provider_txn_id > $2)
      ORDER BY t.provider_txn_id
      LIMIT $3`,
    [accountId, opts.after ?? null, opts.limit],
  );
  return rows.map((r) => ({ ...toRef(r), status: r.status, secondaryId: r.secondary_id }));
}

/** The named references of an account with their stored status (callback hints). */
export async function walletReferencesByIds(db: Queryable, accountId: string, ids: readonly string[]): Promise<TrackedReference[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<RefRow & { status: string; secondary_id: string | null }>(
    `SELECT r.*, t.status, t.secondary_id
       FROM wallet_references r
       JOIN transactions t ON t.account_id = r.account_id AND t.provider_txn_id = r.reference_id
      WHERE r.account_id = $1 AND r.reference_id = ANY($2::text[])
      ORDER BY r.reference_id`,
    [accountId, ids],
  );
  return rows.map((r) => ({ ...toRef(r), status: r.status, secondaryId: r.secondary_id }));
}

/** How many references of the account are still pending (the gauge). */
export async function countPendingWalletReferences(db: Queryable, provider: WalletProviderId): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM transactions t JOIN accounts a ON a.id = t.account_id
      WHERE a.provider = $1 AND t.status = 'pending'`,
    [provider],
  );
  return Number(rows[0]?.n ?? 0);
}
