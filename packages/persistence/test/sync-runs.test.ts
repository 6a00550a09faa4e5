import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { finishRun, insertRun, listRuns, takeFence, type SyncRunRecord } from '../src';
import { seedAccount } from './helpers';

describe('sync runs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('records a run from start to finish and lists history newest first with keyset paging', async () => {
    const acct = await seedAccount(db.pool);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { fence } = (await takeFence(db.pool, acct.id))!;
      ids.push(
        await insertRun(db.pool, {
          orgId: acct.orgId,
          accountId: acct.id,
          provider: 'mono',
          trigger: 'scheduled',
          mode: 'transactions',
          fence,
          traceId: `trace-${i}`,
        }),
      );
    }
    await finishRun(db.pool, ids[0]!, {
      outcome: 'succeeded',
      pages: 2,
      added: 150,
      modified: 3,
      unchanged: 47,
      windowFrom: new Date('2026-11-01'),
      windowTo: new Date('2026-11-21'),
    });
    await finishRun(db.pool, ids[1]!, {
      outcome: 'failed',
      pages: 0,
      added: 0,
      modified: 0,
      unchanged: 0,
      errorKind: 'auth',
      errorCode: 'reauthorisation_required',
      errorHint: 'The bank needs the user to log in again',
    });

    const page1 = await listRuns(db.pool, acct.id, { limit: 2 });
    expect(page1.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    expect(page1[0]).toMatchObject({ outcome: 'running', finishedAt: null, fence: 3n, traceId: 'trace-2' });
    expect(page1[1]).toMatchObject({ outcome: 'failed', errorKind: 'auth', errorCode: 'reauthorisation_required' });
    const last = page1[1]!;
    const page2 = await listRuns(db.pool, acct.id, { limit: 2, before: last.cursor });
    expect(page2.map((r) => r.id)).toEqual([ids[0]]);
    expect(page2[0]).toMatchObject({ outcome: 'succeeded', pages: 2, added: 150, modified: 3, unchanged: 47, errorKind: null });
    expect(page2[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('pages exactly through runs started within one millisecond (the cursor keeps microseconds)', async () => {
    const acct = await seedAccount(db.pool);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { fence } = (await takeFence(db.pool, acct.id))!;
      ids.push(
        await insertRun(db.pool, {
          orgId: acct.orgId,
          accountId: acct.id,
          provider: 'mono',
          trigger: 'scheduled',
          mode: 'transactions',
          fence,
        }),
      );
    }
    for (const [i, id] of ids.entries()) {
      await db.pool.query(`UPDATE sync_runs SET started_at = $2 WHERE id = $1`, [id, `2026-11-21 10:00:00.1231${i}0+00`]);
    }
    const seen: string[] = [];
    let before: SyncRunRecord['cursor'] | undefined;
    for (let page = 0; page < 4; page++) {
      const rows = await listRuns(db.pool, acct.id, { limit: 1, ...(before ? { before } : {}) });
      if (rows.length === 0) break;
      seen.push(rows[0]!.id);
      before = rows[0]!.cursor;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it('rejects an outcome outside the domain set', async () => {
    const acct = await seedAccount(db.pool);
    const { fence } = (await takeFence(db.pool, acct.id))!;
    const id = await insertRun(db.pool, {
      orgId: acct.orgId,
      accountId: acct.id,
      provider: 'mono',
      trigger: 'manual',
      mode: 'full',
      fence,
    });
    await expect(
      finishRun(db.pool, id, { outcome: 'auth_required' as never, pages: 0, added: 0, modified: 0, unchanged: 0 }),
    ).rejects.toThrow(/sync_runs_outcome_check/);
  });
});
