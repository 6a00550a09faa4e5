import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import {
  FencedWriteError,
  commitPage,
  getAccount,
  takeFence,
  transactionsByProviderId,
  upsertTransactions,
  withTransaction,
  type Queryable,
} from '../src';
import { seedAccount, txn } from './helpers';

describe('transaction upsert', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('counts added, modified and unchanged, and stores money as exact bigint minor units', async () => {
    const acct = await seedAccount(db.pool);
    const scope = { orgId: acct.orgId, accountId: acct.id };
    const big = { minor: 9_007_199_254_740_993n, currency: 'ZMW' as const }; // > 2^53: a float would round it
    const first = await upsertTransactions(db.pool, scope, [txn('t1'), txn('t2', { status: 'pending' }), txn('t3', { amount: big })]);
    expect(first).toEqual({ added: 3, modified: 0, unchanged: 0 });

    const second = await upsertTransactions(db.pool, scope, [
      txn('t1'),
      txn('t2', { status: 'posted' }), // pending → posted is a modification, not a new row
      txn('t3', { amount: big, raw: { different: 'raw only' } }), // raw alone is not a canonical change
      txn('t4'),
    ]);
    expect(second).toEqual({ added: 1, modified: 1, unchanged: 2 });

    const rows = await transactionsByProviderId(db.pool, acct.id);
    expect(rows.size).toBe(4);
    expect(rows.get('t2')!.status).toBe('posted');
    expect(rows.get('t3')!.amount).toEqual({ minor: '9007199254740993', currency: 'ZMW' });
    expect(BigInt(rows.get('t2')!.changeVersion)).toBeGreaterThan(BigInt(rows.get('t1')!.changeVersion));
  });

  it('folds an id repeated within one input to its last occurrence', async () => {
    const acct = await seedAccount(db.pool);
    const counts = await upsertTransactions(db.pool, { orgId: acct.orgId, accountId: acct.id }, [
      txn('x', { status: 'pending' }),
      txn('x'),
    ]);
    expect(counts).toEqual({ added: 1, modified: 0, unchanged: 0 });
    expect((await transactionsByProviderId(db.pool, acct.id)).get('x')!.status).toBe('posted');
  });

  it("refuses a transaction that names another organisation than its account's, and cascades with the account", async () => {
    const acct = await seedAccount(db.pool);
    const other = await seedAccount(db.pool);
    await expect(upsertTransactions(db.pool, { orgId: other.orgId, accountId: acct.id }, [txn('wrong-org')])).rejects.toMatchObject({
      code: '23503',
      constraint: 'transactions_account_org_fkey',
    });
    expect((await transactionsByProviderId(db.pool, acct.id)).size).toBe(0);
    await upsertTransactions(db.pool, { orgId: acct.orgId, accountId: acct.id }, [txn('right-org')]);
    await db.pool.query('DELETE FROM accounts WHERE id = $1', [acct.id]);
    expect((await transactionsByProviderId(db.pool, acct.id)).size).toBe(0);
  });

  it('never duplicates under two concurrent writers of overlapping sets', async () => {
    const acct = await seedAccount(db.pool);
    const scope = { orgId: acct.orgId, accountId: acct.id };
    const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => txn(`c${String(from + i).padStart(5, '0')}`));
    const a = ids(0, 3000);
    const b = ids(1500, 4500).reverse();
    const [ra, rb] = await Promise.all([
      withTransaction(db.pool, (c) => upsertTransactions(c, scope, a, 500)),
      withTransaction(db.pool, (c) => upsertTransactions(c, scope, b, 500)),
    ]);
    expect(ra.added + rb.added).toBe(4500);
    expect(ra.added + ra.unchanged + ra.modified).toBe(3000);
    expect(rb.added + rb.unchanged + rb.modified).toBe(3000);
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT provider_txn_id)::int AS d FROM transactions WHERE account_id = $1',
      [acct.id],
    );
    expect(rows[0]).toEqual({ n: 4500, d: 4500 });
  });

  it('two writers of the same ids in opposite orders take row locks in one order: no deadlock', async () => {
    const acct = await seedAccount(db.pool);
    const scope = { orgId: acct.orgId, accountId: acct.id };
    // Batches of one row, and each writer pauses after its first statement until the other has run
    // its own (or 300 ms passed, when the other is blocked on our lock): without a common order A
    // would hold k1 and B k2, each then waiting for the other.
    let firstDone = 0;
    const paced = (c: Queryable): Queryable => {
      let first = true;
      return {
        query: (async (...args: Parameters<Queryable['query']>) => {
          const res = await (c.query as (...a: unknown[]) => Promise<unknown>)(...args);
          if (first) {
            first = false;
            firstDone++;
            for (const until = Date.now() + 300; firstDone < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
          }
          return res;
        }) as Queryable['query'],
      };
    };
    const [ra, rb] = await Promise.all([
      withTransaction(db.pool, (c) => upsertTransactions(paced(c), scope, [txn('k1'), txn('k2')], 1)),
      withTransaction(db.pool, (c) => upsertTransactions(paced(c), scope, [txn('k2'), txn('k1')], 1)),
    ]);
    expect(ra.added + rb.added).toBe(2);
    expect(ra.added + ra.unchanged + rb.added + rb.unchanged).toBe(4);
  });
});

describe('fencing', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('rejects a write with a stale fence and changes nothing', async () => {
    const acct = await seedAccount(db.pool);
    const stale = await takeFence(db.pool, acct.id);
    const fresh = await takeFence(db.pool, acct.id);
    expect(fresh!.fence).toBe(stale!.fence + 1n);

    await commitPage(db.pool, {
      orgId: acct.orgId,
      accountId: acct.id,
      fence: fresh!.fence,
      cursor: { highWater: '2026-11-10' },
      transactions: [txn('new-1')],
    });

    const attempt = commitPage(db.pool, {
      orgId: acct.orgId,
      accountId: acct.id,
      fence: stale!.fence,
      cursor: { highWater: '2026-01-01' },
      transactions: [txn('stale-1'), txn('new-1', { status: 'reversed' })],
    });
    await expect(attempt).rejects.toBeInstanceOf(FencedWriteError);
    await expect(attempt).rejects.toMatchObject({ code: 'fenced', kind: 'retryable' });

    const after = await getAccount(db.pool, acct.id);
    expect(after!.cursor).toEqual({ highWater: '2026-11-10' }); // never regressed
    const rows = await transactionsByProviderId(db.pool, acct.id);
    expect([...rows.keys()]).toEqual(['new-1']);
    expect(rows.get('new-1')!.status).toBe('posted');
  });

  it('a page commit that waited behind a fence bump writes nothing once the bump commits', async () => {
    const acct = await seedAccount(db.pool);
    const mine = (await takeFence(db.pool, acct.id))!.fence;
    await commitPage(db.pool, { orgId: acct.orgId, accountId: acct.id, fence: mine, cursor: { page: 1 }, transactions: [txn('p1')] });
    const thief = await db.pool.connect();
    try {
      await thief.query('BEGIN');
      await thief.query('UPDATE accounts SET fence = fence + 1 WHERE id = $1', [acct.id]); // a newer run takes the account
      const blocked = commitPage(db.pool, {
        orgId: acct.orgId,
        accountId: acct.id,
        fence: mine,
        cursor: { page: 2 },
        transactions: [txn('p2'), txn('p1', { status: 'reversed' })],
      });
      blocked.catch(() => undefined);
      await thief.query('SELECT pg_sleep(0.2)'); // the commit is now waiting for the row lock
      await thief.query('COMMIT');
      await expect(blocked).rejects.toBeInstanceOf(FencedWriteError);
    } finally {
      thief.release();
    }
    expect((await getAccount(db.pool, acct.id))!.cursor).toEqual({ page: 1 });
    const rows = await transactionsByProviderId(db.pool, acct.id);
    expect([...rows.keys()]).toEqual(['p1']);
    expect(rows.get('p1')!.status).toBe('posted');
  });

  it('a fence bump waits for an in-flight fenced commit, and the stale writer loses afterwards', async () => {
    const acct = await seedAccount(db.pool);
    const mine = (await takeFence(db.pool, acct.id))!.fence;
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE accounts SET updated_at = now() WHERE id = $1 AND fence = $2', [acct.id, mine.toString()]);
      let bumped = false;
      const bump = takeFence(db.pool, acct.id).then((g) => {
        bumped = true;
        return g;
      });
      await new Promise((r) => setImmediate(r));
      await client.query('SELECT pg_sleep(0.2)');
      expect(bumped).toBe(false); // blocked on our row lock
      await client.query('COMMIT');
      expect((await bump)!.fence).toBe(mine + 1n);
    } finally {
      client.release();
    }
    await expect(
      commitPage(db.pool, { orgId: acct.orgId, accountId: acct.id, fence: mine, cursor: {}, transactions: [] }),
    ).rejects.toBeInstanceOf(FencedWriteError);
  });
});
