import type { CanonicalTransaction } from '@intellifin/domain';
import { insertAccount, insertOrganization, type AccountRecord, type Queryable } from '../src';

export async function seedAccount(db: Queryable, opts: { orgName?: string; providerAccountId?: string } = {}): Promise<AccountRecord> {
  const orgId = await insertOrganization(db, opts.orgName ?? 'Chanda Hardware Ltd');
  return insertAccount(db, {
    orgId,
    provider: 'mono',
    providerAccountId: opts.providerAccountId ?? `mono_${Math.random().toString(36).slice(2)}`,
    type: 'bank',
    currency: 'ZMW',
  });
}

export function txn(id: string, overrides: Partial<CanonicalTransaction> = {}): CanonicalTransaction {
  return {
    providerTxnId: id,
    amount: { minor: 150_050n, currency: 'ZMW' },
    direction: 'debit',
    status: 'posted',
    bookedAt: new Date('2026-11-02T09:15:00Z'),
    narration: `POS purchase ${id}`,
    counterparty: { name: 'Shoprite Cairo Road' },
    balanceAfter: { minor: 9_000_000n, currency: 'ZMW' },
    raw: { _id: id, amount: 150050 },
    ...overrides,
  };
}
