import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { getAccount, recordRerun } from '../src';
import { seedAccount } from './helpers';

/**
 * A re-run request is recorded only when no successful run already satisfies it: the lease holder's
 * finish can commit between a command's lease check and its recordRerun, and the command, coming
 * back, is skipped as satisfied, which would leave the request behind for good.
 */
describe('recordRerun', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  const PRIORITY = ['manual'];

  it('records a request no successful run has satisfied, and merges a later one', async () => {
    const acct = await seedAccount(db.pool);
    const issuedAt = new Date(Date.now() - 1_000);
    expect(
      await recordRerun(db.pool, {
        accountId: acct.id,
        scope: { mode: 'transactions', realtime: false },
        trigger: 'scheduled',
        issuedAt,
        priorityTriggers: PRIORITY,
      }),
    ).toEqual({ recorded: true });
    expect(
      await recordRerun(db.pool, {
        accountId: acct.id,
        scope: { mode: 'full', realtime: true },
        trigger: 'manual',
        issuedAt: new Date(),
        priorityTriggers: PRIORITY,
      }),
    ).toEqual({ recorded: true });
    const { rows } = await db.pool.query('SELECT rerun_mode, rerun_realtime, rerun_trigger FROM accounts WHERE id = $1', [acct.id]);
    expect(rows[0]).toEqual({ rerun_mode: 'full', rerun_realtime: true, rerun_trigger: 'manual' });
  });

  it('does not record a request the last successful run started after and covered; does record one it did not cover', async () => {
    const acct = await seedAccount(db.pool);
    const issuedAt = new Date(Date.now() - 60_000);
    await db.pool.query(
      `UPDATE accounts SET last_success_started_at = now(), last_success_mode = 'full', last_success_realtime = false WHERE id = $1`,
      [acct.id],
    );
    expect(
      await recordRerun(db.pool, {
        accountId: acct.id,
        scope: { mode: 'transactions', realtime: false },
        trigger: 'manual',
        issuedAt,
        priorityTriggers: PRIORITY,
      }),
    ).toEqual({ recorded: false });
    expect((await getAccount(db.pool, acct.id))!.rerunRequestedAt).toBeNull();
    // Real-time was not covered by that run: the request stands.
    expect(
      await recordRerun(db.pool, {
        accountId: acct.id,
        scope: { mode: 'transactions', realtime: true },
        trigger: 'manual',
        issuedAt,
        priorityTriggers: PRIORITY,
      }),
    ).toEqual({ recorded: true });
    // Issued after the run started: not satisfied either.
    const later = await seedAccount(db.pool);
    await db.pool.query(
      `UPDATE accounts SET last_success_started_at = now() - interval '1 minute', last_success_mode = 'full', last_success_realtime = true WHERE id = $1`,
      [later.id],
    );
    expect(
      await recordRerun(db.pool, {
        accountId: later.id,
        scope: { mode: 'balance', realtime: false },
        trigger: 'manual',
        issuedAt: new Date(),
        priorityTriggers: PRIORITY,
      }),
    ).toEqual({ recorded: true });
  });
});
