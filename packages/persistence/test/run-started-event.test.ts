import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { beginRun } from '../src';
import { seedAccount } from './helpers';

/** beginRun's `run_started` status event: in the outbox with the run row, in the same statement, as the worker role. */
describe('run_started status event', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  const begin = (accountId: string, orgId: string) =>
    beginRun(db.poolAs('intellifin_worker'), {
      orgId,
      accountId,
      provider: 'mono',
      trigger: 'manual',
      mode: 'full',
      realtime: true,
      commandId: '00000000-0000-4000-8000-000000000001',
      worker: 'w-1',
      statusSubject: `sync.evt.status.mono.${accountId}`,
    });

  it('puts started:<runId> in the outbox on the status subject, with what the feed shows and nothing internal', async () => {
    const acct = await seedAccount(db.pool);
    const start = (await begin(acct.id, acct.orgId))!;
    const { rows } = await db.pool.query<{ subject: string; payload: Record<string, unknown> }>(
      'SELECT subject, payload FROM outbox WHERE event_id = $1',
      [`started:${start.runId}`],
    );
    expect(rows).toEqual([
      {
        subject: `sync.evt.status.mono.${acct.id}`,
        payload: {
          kind: 'run_started',
          runId: start.runId,
          commandId: '00000000-0000-4000-8000-000000000001',
          accountId: acct.id,
          orgId: acct.orgId,
          provider: 'mono',
          trigger: 'manual',
          mode: 'full',
          realtime: true,
          startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
      },
    ]);
    // The database clock of the fence bump (to the millisecond).
    expect(Math.abs(Date.parse(rows[0]!.payload.startedAt as string) - start.startedAt.getTime())).toBeLessThanOrEqual(1);
    // A second run of the account gets its own event.
    const again = (await begin(acct.id, acct.orgId))!;
    const n = await db.pool.query('SELECT count(*)::int AS n FROM outbox WHERE event_id LIKE $1', ['started:%']);
    expect(again.runId).not.toBe(start.runId);
    expect(n.rows[0].n).toBe(2);
  });

  it('no run, no event, for an account that is gone', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n as number;
    expect(await begin('00000000-0000-4000-8000-0000000000ff', '00000000-0000-4000-8000-0000000000fe')).toBeNull();
    expect((await db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n).toBe(before);
  });
});
