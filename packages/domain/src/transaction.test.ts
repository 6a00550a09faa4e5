import { DomainError } from './errors';
import { moneyFromDecimal, moneyFromMinor } from './money';
import {
  TRANSACTION_COMPARED_FIELDS,
  assertValidTransaction,
  classifyUpsert,
  dedupeByProviderTxnId,
  diffTransaction,
  isModification,
  isTerminalStatus,
  signedAmount,
  splitSignedAmount,
  transactionFromJson,
  transactionIssues,
  transactionToJson,
  type CanonicalTransaction,
} from './transaction';

function txn(overrides: Partial<CanonicalTransaction> = {}): CanonicalTransaction {
  return {
    providerTxnId: 'mono-txn-1',
    amount: moneyFromDecimal('1500.50', 'NGN'),
    direction: 'debit',
    status: 'pending',
    bookedAt: new Date('2025-10-02T14:22:00.000Z'),
    narration: 'POS PURCHASE SHOPRITE',
    counterparty: { name: 'Shoprite', institution: 'GTBank' },
    balanceAfter: moneyFromMinor(4523100n, 'NGN'),
    reference: 'REF-1',
    secondaryId: 'LEDGER-1',
    raw: { _id: 'mono-txn-1', amount: 150050, meta: { a: 1, b: [1, 2] } },
    ...overrides,
  };
}

describe('signed amounts', () => {
  it('splits a signed provider amount into a positive amount and a direction', () => {
    expect(splitSignedAmount(moneyFromMinor(-500n, 'ZMW'))).toEqual({ amount: moneyFromMinor(500n, 'ZMW'), direction: 'debit' });
    expect(splitSignedAmount(moneyFromMinor(500n, 'ZMW'))).toEqual({ amount: moneyFromMinor(500n, 'ZMW'), direction: 'credit' });
    expect(splitSignedAmount(moneyFromMinor(0n, 'ZMW')).direction).toBe('credit');
  });

  it('signs debits negative and credits positive', () => {
    expect(signedAmount(txn()).minor).toBe(-150050n);
    expect(signedAmount(txn({ direction: 'credit' })).minor).toBe(150050n);
  });
});

describe('statuses', () => {
  it('treats only pending as non-terminal', () => {
    expect(isTerminalStatus('pending')).toBe(false);
    expect(isTerminalStatus('posted')).toBe(true);
    expect(isTerminalStatus('failed')).toBe(true);
    expect(isTerminalStatus('reversed')).toBe(true);
    expect(isTerminalStatus('removed')).toBe(true);
  });

  it('accepts removed (a pending row the provider dropped) and a pending → removed change is a modification', () => {
    expect(transactionIssues(txn({ status: 'removed' }))).toEqual([]);
    expect(diffTransaction(txn({ status: 'pending' }), txn({ status: 'removed' }))).toEqual(['status']);
  });
});

describe('validation', () => {
  it('accepts a well-formed transaction', () => {
    expect(transactionIssues(txn())).toEqual([]);
    expect(() => assertValidTransaction(txn(), 'NGN')).not.toThrow();
  });

  it('reports every problem with a path', () => {
    const bad = txn({
      providerTxnId: ' ',
      amount: moneyFromMinor(-1n, 'NGN'),
      direction: 'out' as never,
      status: 'done' as never,
      bookedAt: new Date('garbage'),
      narration: 5 as never,
      balanceAfter: moneyFromMinor(1n, 'USD'),
      reference: 7 as never,
      counterparty: { name: 1 as never },
    });
    expect(
      transactionIssues(bad)
        .map((i) => i.path)
        .sort(),
    ).toEqual(
      [
        'amount',
        'balanceAfter.currency',
        'bookedAt',
        'counterparty.name',
        'direction',
        'narration',
        'providerTxnId',
        'reference',
        'status',
      ].sort(),
    );
  });

  it('checks the account currency when given and rejects over-long ids', () => {
    expect(transactionIssues(txn(), 'ZMW').map((i) => i.path)).toEqual(['amount.currency']);
    expect(transactionIssues(txn({ providerTxnId: 'x'.repeat(256) })).map((i) => i.path)).toEqual(['providerTxnId']);
    expect(transactionIssues(txn({ amount: { minor: 5, currency: 'NGN' } as never })).map((i) => i.path)).toEqual(['amount']);
  });

  it('throws a DomainError carrying the issues', () => {
    try {
      assertValidTransaction(txn({ status: 'x' as never }));
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('invalid_transaction');
      expect((err as DomainError).details?.['issues']).toEqual([expect.objectContaining({ path: 'status' })]);
    }
  });
});

describe('modification detection', () => {
  it('an identical copy (new objects, raw keys reordered) is not a modification', () => {
    const a = txn();
    const b = txn({
      amount: moneyFromMinor(150050n, 'NGN'),
      bookedAt: new Date(a.bookedAt.getTime()),
      counterparty: { institution: 'GTBank', name: 'Shoprite' },
      raw: { meta: { b: [1, 2], a: 1 }, amount: 150050, _id: 'mono-txn-1' },
    });
    expect(diffTransaction(a, b)).toEqual([]);
    expect(isModification(a, b)).toBe(false);
  });

  it('pending → posted is a modification of status', () => {
    expect(diffTransaction(txn(), txn({ status: 'posted' }))).toEqual(['status']);
  });

  it.each([
    ['amount', { amount: moneyFromMinor(150051n, 'NGN') }],
    ['direction', { direction: 'credit' as const }],
    ['bookedAt', { bookedAt: new Date('2025-10-02T14:22:00.001Z') }],
    ['narration', { narration: 'POS PURCHASE SHOPRITE LEKKI' }],
    ['counterparty', { counterparty: { name: 'Shoprite Lekki', institution: 'GTBank' } }],
    ['balanceAfter', { balanceAfter: moneyFromMinor(4523000n, 'NGN') }],
    ['reference', { reference: 'REF-2' }],
    ['secondaryId', { secondaryId: undefined }],
    ['raw', { raw: { _id: 'mono-txn-1', amount: 150050, meta: { a: 1, b: [2, 1] } } }],
  ] as Array<[string, Partial<CanonicalTransaction>]>)('detects a change of %s alone', (field, change) => {
    expect(diffTransaction(txn(), txn(change))).toEqual([field]);
  });

  it('covers every compared field in the cases above', () => {
    expect([...TRANSACTION_COMPARED_FIELDS].sort()).toEqual(
      ['amount', 'direction', 'status', 'bookedAt', 'narration', 'counterparty', 'balanceAfter', 'reference', 'secondaryId', 'raw'].sort(),
    );
  });

  it('treats absent, null and empty optional values alike', () => {
    const a = txn({ counterparty: undefined, balanceAfter: undefined, reference: undefined });
    const b = txn({ counterparty: {}, balanceAfter: null as never, reference: null as never });
    expect(diffTransaction(a, b)).toEqual([]);
    expect(diffTransaction(txn({ counterparty: { name: 'A' } }), txn({ counterparty: { name: 'A', account: undefined } }))).toEqual([]);
  });

  it('same amount in another currency is a change', () => {
    expect(
      diffTransaction(
        txn({ amount: moneyFromMinor(100n, 'USD'), balanceAfter: undefined }),
        txn({ amount: moneyFromMinor(100n, 'EUR'), balanceAfter: undefined }),
      ),
    ).toEqual(['amount']);
  });

  it('can ignore raw on request', () => {
    const changedRaw = txn({ raw: { other: true } });
    expect(isModification(txn(), changedRaw)).toBe(true);
    expect(isModification(txn(), changedRaw, { includeRaw: false })).toBe(false);
  });

  it('refuses to compare two different transactions', () => {
    expect(() => isModification(txn(), txn({ providerTxnId: 'other' }))).toThrow(DomainError);
  });

  it('classifies what an upsert does', () => {
    expect(classifyUpsert(undefined, txn())).toBe('added');
    expect(classifyUpsert(txn(), txn())).toBe('unchanged');
    expect(classifyUpsert(txn(), txn({ status: 'posted' }))).toBe('modified');
  });
});

describe('dedupeByProviderTxnId', () => {
  it('keeps the last version of each id in first-seen order', () => {
    const out = dedupeByProviderTxnId([
      txn({ providerTxnId: 'a', narration: 'a1' }),
      txn({ providerTxnId: 'b' }),
      txn({ providerTxnId: 'a', narration: 'a2' }),
    ]);
    expect(out.map((t) => [t.providerTxnId, t.narration])).toEqual([
      ['a', 'a2'],
      ['b', 'POS PURCHASE SHOPRITE'],
    ]);
  });
});

describe('JSON', () => {
  it('round-trips through JSON.stringify with bigint money intact', () => {
    const t = txn({ amount: moneyFromMinor(9007199254740993n, 'NGN'), balanceAfter: moneyFromMinor(-9007199254740995n, 'NGN') });
    const back = transactionFromJson(JSON.parse(JSON.stringify(transactionToJson(t))));
    expect(back).toEqual(t);
    expect(diffTransaction(t, back)).toEqual([]);
  });

  it('omits absent optionals and round-trips a minimal transaction', () => {
    const t: CanonicalTransaction = {
      providerTxnId: '2c4e1b9a-9f3d-4c1e-9d7a-0f3b8e2a1c55',
      amount: moneyFromDecimal('1500', 'EUR'),
      direction: 'credit',
      status: 'pending',
      bookedAt: new Date('2025-10-02T00:00:00Z'),
      narration: '',
      raw: null,
    };
    const json = transactionToJson(t);
    expect(Object.keys(json).sort()).toEqual(['amount', 'bookedAt', 'direction', 'narration', 'providerTxnId', 'raw', 'status']);
    expect(transactionFromJson(json)).toEqual(t);
  });

  it('rejects malformed JSON', () => {
    const good = transactionToJson(txn());
    expect(() => transactionFromJson([])).toThrow(DomainError);
    expect(() => transactionFromJson({ ...good, bookedAt: 'yesterday' })).toThrow(/bookedAt/);
    expect(() => transactionFromJson({ ...good, status: 'ok' })).toThrow(/status/);
    expect(() => transactionFromJson({ ...good, amount: { minor: 1.5, currency: 'NGN' } })).toThrow(DomainError);
  });
});
