import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { insertAccount, insertOrganization, markDeadLettered, safeHint } from '../src';

describe('stored error hints are masked like logs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('safeHint masks MSISDNs, account numbers and tokens and bounds the length', () => {
    const h = safeHint('payer 260971234567 acct 0123456789 access_token=s3cr3t Bearer abc.def')!;
    for (const secret of ['260971234567', '0123456789', 's3cr3t', 'abc.def']) expect(h).not.toContain(secret);
    expect(safeHint('y'.repeat(900))!.length).toBe(500);
    expect(safeHint(null)).toBeNull();
  });

  it('a dead-lettered account stores the masked reason', async () => {
    const org = await insertOrganization(db.pool, 'o');
    const a = await insertAccount(db.pool, {
      orgId: org,
      provider: 'momo',
      providerAccountId: 'm1',
      type: 'mobile_money',
      currency: 'ZMW',
    });
    await markDeadLettered(db.pool, a.id, 'permanent', 'payee 260971234567 not found');
    const row = (await db.pool.query('SELECT last_error FROM accounts WHERE id = $1', [a.id])).rows[0];
    expect(row.last_error).toContain('***567');
    expect(row.last_error).not.toContain('260971234567');
  });
});
