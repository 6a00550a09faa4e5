/**
 * Mono contract tests, written from providers.md §1 (what Mono's API does), not from the simulator.
 */
import { startMono } from '../src/mono';
import type { RunningSimulator } from '../src/mono';
import type { MonoState } from '../src/mono/state';
import { EPOCH, json, post, receiver } from './helpers';

const KEY = 'test_sk_contract';
let sim: RunningSimulator<MonoState>;
let hooks: Awaited<ReturnType<typeof receiver>>;
let ids: string[];
const h = { 'mono-sec-key': KEY };

beforeEach(async () => {
  hooks = await receiver();
  sim = await startMono({
    port: 0,
    seed: 7,
    epoch: EPOCH,
    clock: 'manual',
    accounts: 5,
    transactionsPerAccount: 60,
    secretKey: KEY,
    webhookUrl: hooks.url,
    webhookSecret: 'whsec-contract',
  });
  ids = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts.map((a: { id: string }) => a.id);
});
afterEach(async () => {
  await sim.close();
  await hooks.close();
});

const get = (path: string, headers: Record<string, string> = h) => fetch(`${sim.url}${path}`, { headers });
const advance = (body: Record<string, number>) => post(`${sim.url}/__sandbox/clock/advance`, body);
const events = async (n: number) => (await hooks.waitFor(n)).map((r) => r.body.event as string);

describe('Mono auth and errors (§1.1, §1.9)', () => {
  test('missing or wrong mono-sec-key → 401 with the failed envelope and data null', async () => {
    for (const headers of [{}, { 'mono-sec-key': 'test_sk_wrong' }] as Record<string, string>[]) {
      const res = await get(`/v2/accounts/${ids[0]}`, headers);
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body).toMatchObject({ status: 'failed', data: null });
      expect(typeof body.message).toBe('string');
      expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    }
  });

  test('unknown account → 404 failed envelope', async () => {
    const res = await get('/v2/accounts/0123456789abcdef01234567');
    expect(res.status).toBe(404);
    expect(await json(res)).toMatchObject({ status: 'failed', data: null });
  });

  test('undocumented routes answer 404', async () => {
    for (const path of [
      `/v2/accounts/${ids[0]}/statement`,
      '/v2/transactions',
      '/standard/v1/users/transactions',
      `/v3/accounts/${ids[0]}/transactions`,
    ]) {
      expect((await get(path)).status).toBe(404);
    }
  });
});

describe('Mono account details and balance (§1.3)', () => {
  test('GET /v2/accounts/{id} has the v2 snake_case shape with minor-unit integer balance', async () => {
    const res = await get(`/v2/accounts/${ids[0]}`);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.status).toBe('successful');
    const a = body.data.account;
    expect(a.id).toBe(ids[0]);
    expect(a.account_number).toMatch(/^\d{10}$/);
    expect(Number.isSafeInteger(a.balance)).toBe(true);
    expect(['NGN', 'GHS', 'KES', 'ZAR']).toContain(a.currency);
    expect(a.bvn).toMatch(/^\d{4}$/);
    expect(a.institution).toEqual({ name: expect.any(String), bank_code: expect.any(String), type: expect.any(String) });
    expect(body.data.customer.id).toMatch(/^[0-9a-f]{24}$/);
    expect(body.data.meta.data_status).toBe('AVAILABLE');
    expect(Array.isArray(body.data.meta.retrieved_data)).toBe(true);
  });

  test('GET /v2/accounts/{id}/balance returns id, name, account_number, balance, currency', async () => {
    const body = await json(await get(`/v2/accounts/${ids[1]}/balance`));
    expect(Object.keys(body.data).sort()).toEqual(['account_number', 'balance', 'currency', 'id', 'name']);
    expect(Number.isSafeInteger(body.data.balance)).toBe(true);
  });
});

describe('Mono transactions (§1.4)', () => {
  test('rows are newest first with integer amounts and the documented row fields; meta pages', async () => {
    const res = await get(`/v2/accounts/${ids[0]}/transactions?limit=10&page=1`);
    const body = await json(res);
    expect(body.message).toBe('Transaction retrieved successfully');
    expect(body.data).toHaveLength(10);
    for (const row of body.data) {
      expect(Object.keys(row).sort()).toEqual(['amount', 'balance', 'category', 'date', 'id', 'narration', 'type']);
      expect(Number.isSafeInteger(row.amount) && row.amount > 0).toBe(true);
      expect(['debit', 'credit']).toContain(row.type);
      expect(row.id).toMatch(/^[0-9a-f]{24}$/);
    }
    const dates = body.data.map((r: { date: string }) => Date.parse(r.date));
    expect([...dates].sort((a, b) => b - a)).toEqual(dates);
    expect(body.meta).toMatchObject({ page: 1, previous: null });
    expect(body.meta.total).toBeGreaterThan(10);
    expect(body.meta.next).toContain('page=2');
  });

  test('walking pages by page= covers every row exactly once; last page has next null; beyond last is empty', async () => {
    const first = await json(await get(`/v2/accounts/${ids[2]}/transactions?limit=7`));
    const total = first.meta.total as number;
    const seen: string[] = [];
    let page = 1;
    let last: any;
    for (;;) {
      last = await json(await get(`/v2/accounts/${ids[2]}/transactions?limit=7&page=${page}`));
      seen.push(...last.data.map((r: { id: string }) => r.id));
      if (last.meta.next === null) break;
      page++;
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(last.meta.previous).not.toBeNull();
    const beyond = await json(await get(`/v2/accounts/${ids[2]}/transactions?limit=7&page=${page + 5}`));
    expect(beyond.data).toEqual([]);
    expect(beyond.meta.next).toBeNull();
  });

  test('the next link is followable', async () => {
    const p1 = await json(await get(`/v2/accounts/${ids[0]}/transactions?limit=5`));
    const p2 = await json(await fetch(p1.meta.next, { headers: h }));
    expect(p2.meta.page).toBe(2);
    expect(p2.data[0].id).not.toBe(p1.data[0].id);
  });

  test('start/end (DD-MM-YYYY) bound the window inclusively; other formats → 400', async () => {
    const body = await json(await get(`/v2/accounts/${ids[0]}/transactions?start=01-02-2026&end=15-02-2026&paginate=false`));
    expect(body.data.length).toBeGreaterThan(0);
    for (const r of body.data) {
      expect(Date.parse(r.date)).toBeGreaterThanOrEqual(Date.parse('2026-02-01T00:00:00Z'));
      expect(Date.parse(r.date)).toBeLessThan(Date.parse('2026-02-16T00:00:00Z'));
    }
    const all = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    const inWindow = all.data.filter((r: { date: string }) => r.date >= '2026-02-01' && r.date < '2026-02-16');
    expect(body.data.map((r: { id: string }) => r.id)).toEqual(inWindow.map((r: { id: string }) => r.id));
    expect((await get(`/v2/accounts/${ids[0]}/transactions?start=2026-02-01`)).status).toBe(400);
  });

  test('windowTimeZone: start/end days are cut at UTC midnight by default, at Lagos midnight (UTC+1) with Africa/Lagos', async () => {
    // Three rows around the 15th: 23:30Z on the 14th is 00:30 on the 15th in Lagos; 23:30Z on the 15th is the 16th there.
    const add = (date: string, narration: string) =>
      post(`${sim.url}/__sandbox/accounts/${ids[1]}/transactions`, { amount: 1_000, type: 'credit', narration, date, sync: true });
    const window = async () =>
      (
        await json(await get(`/v2/accounts/${ids[1]}/transactions?start=15-02-2026&end=15-02-2026&narration=TZROW&paginate=false`))
      ).data.map((r: { narration: string }) => r.narration);
    const setup = async () => {
      await add('2026-02-14T23:30:00Z', 'TZROW A');
      await add('2026-02-15T12:00:00Z', 'TZROW B');
      await add('2026-02-15T23:30:00Z', 'TZROW C');
    };
    await setup();
    expect(await window()).toEqual(['TZROW C', 'TZROW B']);
    const cfg = await json(await post(`${sim.url}/__sandbox/reset`, { windowTimeZone: 'Africa/Lagos' }));
    expect(cfg.windowTimeZone).toBe('Africa/Lagos');
    await setup();
    expect(await window()).toEqual(['TZROW B', 'TZROW A']);
    // Every row returned for a Lagos day lies within [day 00:00 WAT, next day 00:00 WAT).
    const feb = await json(await get(`/v2/accounts/${ids[1]}/transactions?start=01-02-2026&end=15-02-2026&paginate=false`));
    for (const r of feb.data) {
      expect(Date.parse(r.date)).toBeGreaterThanOrEqual(Date.parse('2026-01-31T23:00:00Z'));
      expect(Date.parse(r.date)).toBeLessThan(Date.parse('2026-02-15T23:00:00Z'));
    }
    expect((await post(`${sim.url}/__sandbox/reset`, { windowTimeZone: 'Mars/Olympus' })).status).toBe(400);
  });

  test('type and narration filter; paginate=false returns everything in one response', async () => {
    const all = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    expect(all.data).toHaveLength(all.meta.total);
    const debits = await json(await get(`/v2/accounts/${ids[0]}/transactions?type=debit&paginate=false`));
    expect(debits.data.every((r: { type: string }) => r.type === 'debit')).toBe(true);
    expect(debits.data.length).toBe(all.data.filter((r: { type: string }) => r.type === 'debit').length);
    const pos = await json(await get(`/v2/accounts/${ids[0]}/transactions?narration=POS&paginate=false`));
    expect(pos.data.every((r: { narration: string }) => r.narration.includes('POS'))).toBe(true);
  });

  test('data_status PROCESSING: details say so and transactions are empty', async () => {
    await post(`${sim.url}/__sandbox/accounts/${ids[3]}/data-status`, { data_status: 'PROCESSING', notify: false });
    const d = await json(await get(`/v2/accounts/${ids[3]}`));
    expect(d.data.meta.data_status).toBe('PROCESSING');
    const t = await json(await get(`/v2/accounts/${ids[3]}/transactions`));
    expect(t.data).toEqual([]);
    expect(t.meta.total).toBe(0);
  });

  test('data endpoints serve the last synced snapshot: a late row appears only after a refresh', async () => {
    const before = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    await advance({ minutes: 30 });
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/transactions`, {
      amount: 123_400,
      type: 'credit',
      narration: 'NIP/LATE/ROW',
      date: '2026-02-28T10:00:00Z',
    });
    const still = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    expect(still.meta.total).toBe(before.meta.total);
    const rt = await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`, { ...h, 'x-realtime': 'true' });
    if (rt.headers.get('x-job-status') === 'processing') {
      await advance({ minutes: 5 });
    }
    const after = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    expect(after.meta.total).toBe(before.meta.total + 1);
    expect(after.data.some((r: { narration: string }) => r.narration === 'NIP/LATE/ROW')).toBe(true);
  });

  test('a pending row keeps its id and changes when it posts (a modification, not a new row)', async () => {
    const add = await json(
      await post(`${sim.url}/__sandbox/accounts/${ids[1]}/transactions`, {
        amount: 5_000,
        type: 'debit',
        narration: 'POS PURCHASE SPAR IKEJA',
        pendingNarration: 'POS AUTH SPAR IKEJA',
        category: 'shopping',
        pendingUntil: '2026-03-03T00:00:00Z',
        sync: true,
      }),
    );
    const id = add.transaction.id;
    const pending = (await json(await get(`/v2/accounts/${ids[1]}/transactions?paginate=false`))).data.find(
      (r: { id: string }) => r.id === id,
    );
    expect(pending.narration).toBe('POS AUTH SPAR IKEJA');
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/transactions/${id}/post`);
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/sync`);
    const posted = (await json(await get(`/v2/accounts/${ids[1]}/transactions?paginate=false`))).data.filter(
      (r: { id: string }) => r.id === id,
    );
    expect(posted).toHaveLength(1);
    expect(posted[0].narration).toBe('POS PURCHASE SPAR IKEJA');
    expect(posted[0].category).toBe('shopping');
  });
});

describe('Mono real-time data (§1.6)', () => {
  test('x-realtime sets x-job-id / x-job-status / x-has-new-data; a repeat within 5 minutes returns the same job; after 5 minutes a new one', async () => {
    const r1 = await get(`/v2/accounts/${ids[0]}/balance`, { ...h, 'x-realtime': 'true' });
    const job1 = r1.headers.get('x-job-id');
    expect(job1).toMatch(/^[0-9a-f]{24}$/);
    expect(['finished', 'processing', 'failed']).toContain(r1.headers.get('x-job-status'));
    expect(['true', 'false']).toContain(r1.headers.get('x-has-new-data'));
    await advance({ minutes: 4 });
    const r2 = await get(`/v2/accounts/${ids[0]}/transactions`, { ...h, 'x-realtime': 'true' });
    expect(r2.headers.get('x-job-id')).toBe(job1);
    await advance({ minutes: 2 });
    const r3 = await get(`/v2/accounts/${ids[0]}/transactions`, { ...h, 'x-realtime': 'true' });
    expect(r3.headers.get('x-job-id')).not.toBe(job1);
  });

  test('a job that outlasts the request answers 200 data:null "enqueued", then completes with webhooks', async () => {
    await post(`${sim.url}/__sandbox/reset`, { realtimeFinishedPercent: 0 });
    const res = await get(`/v2/accounts/${ids[0]}/transactions`, { ...h, 'x-realtime': 'true' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-job-status')).toBe('processing');
    const body = await json(res);
    expect(body.data).toBeNull();
    expect(body.message).toMatch(/enqueued/);
    const jobId = res.headers.get('x-job-id');
    const job = await json(await get(`/v2/accounts/${ids[0]}/jobs/${jobId}`));
    expect(job).toMatchObject({
      status: 'successful',
      data: { id: jobId, status: 'processing', name: 'jobs.accounts.sync_statement', account: ids[0] },
    });
    await advance({ minutes: 4 });
    const got = await hooks.waitFor(2);
    expect(got.map((r) => r.body.event)).toEqual(['mono.accounts.jobs.update', 'mono.events.account_updated']);
    expect(got[0]!.body.data).toMatchObject({ account: ids[0], id: jobId, status: 'finished' });
    expect(got[1]!.body.data.meta).toMatchObject({ data_status: 'AVAILABLE', sync_status: 'SUCCESSFUL', job_id: jobId });
    expect((await json(await get(`/v2/accounts/${ids[0]}/jobs/${jobId}`))).data.status).toBe('finished');
  });
});

describe('Mono re-authorisation, unlinking and webhooks (§1.5, §1.7, §1.8)', () => {
  test('webhooks carry the mono-webhook-secret header and camelCase account fields', async () => {
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/sync`);
    const [w] = await hooks.waitFor(1);
    expect(w!.headers['mono-webhook-secret']).toBe('whsec-contract');
    expect(w!.body.event).toBe('mono.events.account_updated');
    expect(w!.body.data.account).toMatchObject({
      _id: ids[0],
      accountNumber: expect.any(String),
      institution: { bankCode: expect.any(String) },
    });
  });

  test('reauth required: webhook, legacy sync code, failed real-time job, then a reauth link that restores the account', async () => {
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/revoke`, { mode: 'reauth' });
    expect(await events(1)).toEqual(['mono.events.reauthorisation_required']);
    expect(hooks.received[0]!.body.data).toEqual({ account: { _id: ids[0] } });

    const sync = await json(await post(`${sim.url}/accounts/${ids[0]}/sync`, undefined, h));
    expect(sync).toMatchObject({ status: 'failed', code: 'REAUTHORISATION_REQUIRED', hasNewData: false });

    const rt = await get(`/v2/accounts/${ids[0]}/transactions`, { ...h, 'x-realtime': 'true' });
    expect(rt.headers.get('x-job-status')).toBe('failed');
    const evs = await hooks.waitFor(4);
    const updated = evs.find((e) => e.body.event === 'mono.events.account_updated');
    expect(updated!.body.data.meta.sync_status).toBe('REAUTHORISATION_REQUIRED');
    expect(evs.some((e) => e.body.event === 'mono.accounts.jobs.update' && e.body.data.status === 'failed')).toBe(true);

    const init = await post(
      `${sim.url}/v2/accounts/initiate`,
      { scope: 'reauth', account: ids[0], meta: { ref: 'reauth-1' }, redirect_url: 'https://app.example.com/done' },
      h,
    );
    expect(init.status).toBe(200);
    const link = (await json(init)).data;
    expect(link).toMatchObject({
      scope: 'reauth',
      account: ids[0],
      meta: { ref: 'reauth-1' },
      redirect_url: 'https://app.example.com/done',
    });
    expect(link.mono_url).toMatch(/^https?:\/\//);

    const n = hooks.received.length;
    const done = await post(link.mono_url.replace(/\/?$/, '/complete'));
    expect(done.status).toBe(200);
    const after = (await hooks.waitFor(n + 2)).slice(n).map((r) => r.body.event);
    expect(after).toEqual(['mono.events.account_reauthorized', 'mono.events.account_updated']);
    await advance({ minutes: 6 });
    const ok = await get(`/v2/accounts/${ids[0]}/transactions`, { ...h, 'x-realtime': 'true' });
    expect(ok.headers.get('x-job-status')).not.toBe('failed');
  });

  test('legacy reauthorise token is valid for 10 minutes', async () => {
    const t1 = (await json(await post(`${sim.url}/accounts/${ids[1]}/reauthorise`, undefined, h))).token;
    expect(typeof t1).toBe('string');
    expect((await post(`${sim.url}/__sandbox/reauth-tokens/${t1}/complete`)).status).toBe(200);
    const t2 = (await json(await post(`${sim.url}/accounts/${ids[1]}/reauthorise`, undefined, h))).token;
    await advance({ minutes: 11 });
    expect((await post(`${sim.url}/__sandbox/reauth-tokens/${t2}/complete`)).status).toBe(410);
  });

  test('legacy manual sync succeeds with SYNC_SUCCESSFUL, then 429 within two minutes', async () => {
    const first = await post(`${sim.url}/accounts/${ids[2]}/sync`, undefined, h);
    expect(await json(first)).toMatchObject({
      status: 'successful',
      code: 'SYNC_SUCCESSFUL',
      message: null,
      hasNewData: expect.any(Boolean),
    });
    expect((await post(`${sim.url}/accounts/${ids[2]}/sync`, undefined, h)).status).toBe(429);
    await advance({ minutes: 2 });
    expect((await post(`${sim.url}/accounts/${ids[2]}/sync`, undefined, h)).status).toBe(200);
  });

  test('unlinked account: account_unlinked webhook (data.account.id) and 404 on data endpoints; repair relinks', async () => {
    await post(`${sim.url}/__sandbox/accounts/${ids[4]}/revoke`, { mode: 'unlink' });
    const [w] = await hooks.waitFor(1);
    expect(w!.body).toEqual({ event: 'mono.events.account_unlinked', data: { account: { id: ids[4] } } });
    expect((await get(`/v2/accounts/${ids[4]}/transactions`)).status).toBe(404);
    await post(`${sim.url}/__sandbox/accounts/${ids[4]}/repair`);
    expect((await get(`/v2/accounts/${ids[4]}/transactions`)).status).toBe(200);
  });

  test('non-2xx webhook answers are retried (manual clock: when the clock passes the retry delay)', async () => {
    hooks.setStatus(500);
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/revoke`, { mode: 'reauth' });
    await hooks.waitFor(1);
    for (let i = 0; i < 200; i++) {
      const [d] = (await json(await fetch(`${sim.url}/__sandbox/outbox`))).deliveries;
      if (d?.nextAttemptAt) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await advance({ seconds: 1 });
    await hooks.waitFor(2, 4_000);
    expect(hooks.received.length).toBeGreaterThanOrEqual(2);
    expect(hooks.received.every((r) => r.body.event === 'mono.events.reauthorisation_required')).toBe(true);
  });

  test('auth scope: link, complete, exchange the code for a permanent account id', async () => {
    const init = await json(
      await post(
        `${sim.url}/v2/accounts/initiate`,
        { scope: 'auth', customer: { name: 'Ada', email: 'ada@example.com' }, redirect_url: 'https://app.example.com/done' },
        h,
      ),
    );
    const done = await json(await post(`${init.data.mono_url}/complete`));
    const ex = await json(await post(`${sim.url}/v2/accounts/auth`, { code: done.exchangeCode }, h));
    expect(ex.data.id).toBe(done.account);
    expect((await get(`/v2/accounts/${ex.data.id}`)).status).toBe(200);
    expect((await post(`${sim.url}/v2/accounts/auth`, { code: done.exchangeCode }, h)).status).toBe(400);
  });
});
