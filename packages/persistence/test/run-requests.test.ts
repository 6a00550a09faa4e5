import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { abandonRun, beginRun, finishRunFenced, type RerunRoute } from '../src';
import { seedAccount } from './helpers';

/** `sync_runs.requests` (0020): written by the fenced finish and by the close of an interrupted run, as the worker role. */
describe('run request summaries', () => {
  let db: TestDatabase;
  const route: RerunRoute = { bulkSubject: 'sync.cmd.mono.x', prioritySubject: 'sync.cmd.mono.x.priority', priorityTriggers: ['manual'] };
  const summary = (status: number) => ({
    total: 1,
    omitted: 0,
    first: [{ atMs: 3, route: 'GET /v2/accounts/:id/transactions', status, durationMs: 12 }],
    last: [],
    totals: [{ route: 'GET /v2/accounts/:id/transactions', status, count: 1, totalMs: 12, maxMs: 12 }],
  });
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  async function start(accountId: string, orgId: string) {
    return (await beginRun(db.poolAs('intellifin_worker'), {
      orgId,
      accountId,
      provider: 'mono',
      trigger: 'scheduled',
      mode: 'transactions',
      statusSubject: `sync.evt.status.mono.${accountId}`,
    }))!;
  }

  it('a finished (failed) run and an interrupted run both store their summary', async () => {
    const worker = db.poolAs('intellifin_worker');
    const acct = await seedAccount(db.pool);
    const first = await start(acct.id, acct.orgId);
    await finishRunFenced(worker, {
      accountId: acct.id,
      fence: first.fence,
      runId: first.runId,
      outcome: 'failed',
      status: 'error',
      scope: { mode: 'transactions', realtime: false },
      counts: { added: 0, modified: 0, unchanged: 0 },
      pages: 0,
      windowFrom: null,
      windowTo: null,
      failure: { kind: 'permanent', code: 'mono_bad_request', hint: 'Mono answered 400' },
      rerun: 'keep',
      route,
      events: [],
      requests: summary(400),
    });
    const second = await start(acct.id, acct.orgId);
    await abandonRun(worker, {
      runId: second.runId,
      outcome: 'failed',
      errorKind: 'retryable',
      code: 'lease_lost',
      hint: 'lease lost',
      pages: 0,
      counts: { added: 0, modified: 0, unchanged: 0 },
      requests: summary(503),
      route,
    });
    const { rows } = await db.pool.query('SELECT id, outcome, error_code, requests FROM sync_runs WHERE account_id = $1', [acct.id]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(first.runId)).toMatchObject({ outcome: 'failed', requests: summary(400) });
    expect(byId.get(second.runId)).toMatchObject({ error_code: 'lease_lost', requests: summary(503) });
  });
});
