import { bearer, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';

/** GET /v1/accounts/:id/sync-runs with Accept: text/csv: the same filters, streamed, bounded. */
describe('sync runs CSV export', () => {
  let env: ApiEnv;
  let a: Org;
  let b: Org;
  let userA: string;
  const csv = { accept: 'text/csv' };

  beforeAll(async () => {
    env = await startApi();
    a = await seedOrg(env.db, 'Org A', 1);
    b = await seedOrg(env.db, 'Org B', 1);
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
    // 10,050 runs of the first account: every 7th failed; one with a hint a spreadsheet would run.
    await env.db.pool.query(
      `INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence, outcome, started_at, finished_at, duration_ms, error_code, error_hint)
       SELECT $1, $2, 'mono', CASE WHEN g % 2 = 0 THEN 'manual' ELSE 'scheduled' END, 1,
              CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'succeeded' END,
              timestamptz '2026-03-01 00:00Z' + g * interval '1 minute', timestamptz '2026-03-01 00:00Z' + g * interval '1 minute' + interval '2 seconds',
              2000, CASE WHEN g % 7 = 0 THEN 'provider_timeout' END,
              CASE WHEN g = 7 THEN '=HYPERLINK("http://evil.example","x")' WHEN g % 7 = 0 THEN 'timed out' END
         FROM generate_series(1, 10050) g`,
      [a.orgId, a.accounts[0]],
    );
  });
  afterAll(async () => env?.close());

  const url = (q = '') => `/v1/accounts/${a.accounts[0]}/sync-runs${q}`;
  const lines = (body: string) => body.trimEnd().split('\n');

  it('exports the filtered runs as CSV, newest first', async () => {
    const res = await env.http({
      url: url('?status=failed&trigger=scheduled&from=2026-03-01T00:00:00Z&to=2026-03-01T05:00:00Z'),
      headers: { ...bearer(userA), ...csv },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="sync-runs-${a.accounts[0]}.csv"`);
    const [header, ...rows] = lines(res.body);
    expect(header).toBe(
      'id,started_at,finished_at,trigger,mode,realtime,outcome,duration_ms,pages,added,modified,unchanged,window_from,window_to,error_kind,error_code,error_hint,trace_id,command_id',
    );
    // Odd multiples of 7 below 300 minutes: 7, 21, …, 287 → 21 runs.
    expect(rows).toHaveLength(21);
    expect(rows[0]).toContain('2026-03-01T04:47:00.000Z');
    expect(rows[0]).toContain(',scheduled,transactions,false,failed,2000,');
    expect(rows.every((r) => r.includes(',scheduled,') && r.includes(',failed,') && r.includes('provider_timeout'))).toBe(true);
    // The formula is quoted so that a spreadsheet shows it as text.
    expect(rows[rows.length - 1]).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    // The JSON answer of the same filters holds the same runs.
    const json = await env.http({
      url: url('?status=failed&trigger=scheduled&from=2026-03-01T00:00:00Z&to=2026-03-01T05:00:00Z&limit=100'),
      headers: bearer(userA),
    });
    expect(json.json().runs.map((r: { id: string }) => r.id)).toEqual(rows.map((r) => r.split(',')[0]));
  });

  it('is bounded to 10,000 rows', async () => {
    const res = await env.http({ url: url(), headers: { ...bearer(userA), ...csv } });
    expect(res.statusCode).toBe(200);
    const rows = lines(res.body).slice(1);
    expect(rows).toHaveLength(10_000);
    expect(new Set(rows.map((r) => r.split(',')[0])).size).toBe(10_000);
    expect(rows[0]).toContain(new Date(Date.parse('2026-03-01T00:00:00Z') + 10_050 * 60_000).toISOString());
  });

  it('answers errors before streaming: 404 for another organisation, 400 for bad filters, 401 without a token', async () => {
    expect((await env.http({ url: `/v1/accounts/${b.accounts[0]}/sync-runs`, headers: { ...bearer(userA), ...csv } })).statusCode).toBe(
      404,
    );
    expect((await env.http({ url: url('?cursor=nope'), headers: { ...bearer(userA), ...csv } })).statusCode).toBe(400);
    expect((await env.http({ url: url('?status=exploded'), headers: { ...bearer(userA), ...csv } })).statusCode).toBe(400);
    expect((await env.http({ url: url(), headers: csv })).statusCode).toBe(401);
  });
});
