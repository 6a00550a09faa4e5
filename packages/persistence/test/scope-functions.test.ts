import { mergeScopes, scopeCovers, SYNC_MODES } from '@intellifin/domain';
import { createTestDatabase, type TestDatabase } from '@intellifin/testing';

/** The SQL twins of the domain's scope rules (migration 0011) decide re-runs inside the finish statement: they must agree. */
describe('sync_scope_covers and sync_mode_merge equal the domain rules', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('for every pair of scopes', async () => {
    let checked = 0;
    for (const runMode of SYNC_MODES)
      for (const runRt of [false, true])
        for (const wantMode of SYNC_MODES)
          for (const wantRt of [false, true]) {
            const { rows } = await db.pool.query<{ covers: boolean; merged: string }>(
              'SELECT sync_scope_covers($1, $2, $3, $4) AS covers, sync_mode_merge($1, $3) AS merged',
              [runMode, runRt, wantMode, wantRt],
            );
            const run = { mode: runMode, realtime: runRt };
            const want = { mode: wantMode, realtime: wantRt };
            expect({ pair: [run, want], covers: rows[0]!.covers }).toEqual({ pair: [run, want], covers: scopeCovers(run, want) });
            expect(rows[0]!.merged).toBe(mergeScopes(run, want).mode);
            checked++;
          }
    expect(checked).toBe(36);
    const nulls = await db.pool.query<{ m: string }>("SELECT sync_mode_merge(NULL, 'balance') AS m");
    expect(nulls.rows[0]!.m).toBe('balance');
  });
});
