import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { createPool, enqueueDueSync, insertRun, nextDueAt, takeFence, upsertTransactions, withOrgScope } from '../src';
import { seedAccount, txn } from './helpers';

describe('row-level security for the API role', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it("hides one organisation's accounts, transactions and runs from another's session", async () => {
    const a = await seedAccount(db.pool, { orgName: 'Org A' });
    const b = await seedAccount(db.pool, { orgName: 'Org B' });
    for (const acct of [a, b]) {
      await upsertTransactions(db.pool, { orgId: acct.orgId, accountId: acct.id }, [txn(`${acct.id}-1`)]);
      const g = await takeFence(db.pool, acct.id);
      await insertRun(db.pool, {
        orgId: acct.orgId,
        accountId: acct.id,
        provider: 'mono',
        trigger: 'manual',
        mode: 'transactions',
        fence: g!.fence,
      });
    }

    const seen = await withOrgScope(db.pool, a.orgId, async (c) => ({
      accounts: (await c.query('SELECT id FROM accounts')).rows.map((r) => r.id),
      txns: (await c.query('SELECT account_id FROM transactions')).rows.map((r) => r.account_id),
      runs: (await c.query('SELECT account_id FROM sync_runs')).rows.map((r) => r.account_id),
      orgs: (await c.query('SELECT id FROM organizations')).rows.map((r) => r.id),
      byId: (await c.query('SELECT id FROM accounts WHERE id = $1', [b.id])).rowCount,
    }));
    expect(seen).toEqual({ accounts: [a.id], txns: [a.id], runs: [a.id], orgs: [a.orgId], byId: 0 });
  });

  it("cannot update another organisation's account nor read its credentials (its own only, for linking and repair: 0017)", async () => {
    const a = await seedAccount(db.pool, { orgName: 'Org A' });
    const b = await seedAccount(db.pool, { orgName: 'Org B' });
    const updated = await withOrgScope(db.pool, a.orgId, (c) => c.query(`UPDATE accounts SET status = 'disabled' WHERE id = $1`, [b.id]));
    expect(updated.rowCount).toBe(0);
    for (const orgId of [a.orgId, b.orgId])
      await db.pool.query(
        `INSERT INTO provider_credentials (org_id, provider, key_id, nonce, ciphertext) VALUES ($1, 'mono', 'k1', '\\x00', '\\x00')`,
        [orgId],
      );
    const seen = await withOrgScope(db.pool, a.orgId, (c) => c.query<{ org_id: string }>('SELECT org_id FROM provider_credentials'));
    expect(seen.rows.map((r) => r.org_id)).toEqual([a.orgId]);
  });

  it('sees nothing without an organisation in scope', async () => {
    await seedAccount(db.pool);
    const rows = await withOrgScope(db.pool, '00000000-0000-0000-0000-000000000000', (c) => c.query('SELECT id FROM accounts'));
    expect(rows.rowCount).toBe(0);
  });

  it('refuses an organisation id that is not a uuid before anything runs (the id is inlined in the scope batch)', async () => {
    let ran = false;
    await expect(
      withOrgScope(db.pool, "x', true); SET LOCAL ROLE intellifin_owner; --", async () => {
        ran = true;
      }),
    ).rejects.toThrow(/uuid/);
    expect(ran).toBe(false);
    // the scope is transaction-local: after COMMIT the pooled connection carries neither role nor org
    const one = createPool(db.url, { max: 1 });
    try {
      const org = await withOrgScope(
        one,
        '00000000-0000-0000-0000-000000000001',
        async (c) => (await c.query(`SELECT current_user AS who`)).rows[0].who,
      );
      expect(org).toBe('intellifin_api');
      const after = await one.query(`SELECT current_user AS who, current_setting('app.org_id', true) AS org`);
      expect(after.rows[0].who).toBe('postgres');
      expect(after.rows[0].org ?? '').toBe('');
    } finally {
      await one.end();
    }
  });
});

describe('row-level security of schedule overrides', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('lets an organisation override its own accounts only, and read defaults plus its own overrides', async () => {
    const a = await seedAccount(db.pool, { orgName: 'Org A' });
    const b = await seedAccount(db.pool, { orgName: 'Org B' });
    const insert = (orgId: string, accountId: string | null) =>
      withOrgScope(db.pool, orgId, (c) =>
        c.query(`INSERT INTO sync_schedules (provider, plan, org_id, account_id, enabled) VALUES ('mono', '*', $1, $2, false)`, [
          orgId,
          accountId,
        ]),
      );
    await expect(insert(a.orgId, a.id)).resolves.toMatchObject({ rowCount: 1 });
    await expect(insert(a.orgId, b.id)).rejects.toThrow(/row-level security/);
    // An admin override written outside any org scope for B's account is invisible to A.
    await db.pool.query(`INSERT INTO sync_schedules (provider, plan, account_id, enabled) VALUES ('momo', '*', $1, false)`, [b.id]);
    const seen = await withOrgScope(db.pool, a.orgId, (c) =>
      c.query<{ org_id: string | null; account_id: string | null }>('SELECT org_id, account_id FROM sync_schedules'),
    );
    expect(seen.rows.every((r) => (r.org_id === null && r.account_id === null) || r.org_id === a.orgId)).toBe(true);
    expect(seen.rows.some((r) => r.account_id === a.id)).toBe(true);
    expect(seen.rows.some((r) => r.account_id === b.id)).toBe(false);
  });
});

describe('row-level security of pending syncs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it("shows an organisation only its own accounts' next scheduled sync", async () => {
    const a = await seedAccount(db.pool, { orgName: 'Org A' });
    const b = await seedAccount(db.pool, { orgName: 'Org B' });
    const at = new Date('2026-11-22T08:07:00Z');
    for (const acct of [a, b]) {
      await enqueueDueSync(db.pool, {
        accountId: acct.id,
        orgId: acct.orgId,
        provider: 'mono',
        dueAt: at,
        plannedSlot: at,
        mode: 'transactions',
        trigger: 'scheduled',
      });
    }
    const seen = await withOrgScope(db.pool, a.orgId, (c) => c.query<{ account_id: string }>('SELECT account_id FROM sync_due'));
    expect(seen.rows.map((r) => r.account_id)).toEqual([a.id]);
    expect(await withOrgScope(db.pool, a.orgId, (c) => nextDueAt(c, b.id))).toBeNull();
    expect(await nextDueAt(db.pool, b.id)).toEqual(at);
    await expect(withOrgScope(db.pool, a.orgId, (c) => c.query('DELETE FROM sync_due'))).rejects.toThrow(/permission denied/);
  });
});
