/**
 * Mono statement behaviours (providers.md §1.2, §1.4, §1.6, §1.10 scenarios 2, 3, 8-10; issue #10):
 * opt-in, seeded and deterministic, with the truth API telling the final expected state.
 * (The enqueued real-time job's `data: null` is in mono.contract.test.ts, "Mono real-time data".)
 */
import { startMono } from '../src/mono';
import type { RunningSimulator } from '../src/mono';
import type { MonoState } from '../src/mono/state';
import { EPOCH, json, post, receiver } from './helpers';

const KEY = 'test_sk_contract';
const h = { 'mono-sec-key': KEY };
let sim: RunningSimulator<MonoState>;
let hooks: Awaited<ReturnType<typeof receiver>>;
let ids: string[];

const start = async (over: Record<string, unknown> = {}) => {
  hooks = await receiver();
  sim = await startMono({
    port: 0,
    seed: 11,
    epoch: EPOCH,
    clock: 'manual',
    accounts: 4,
    transactionsPerAccount: 60,
    secretKey: KEY,
    webhookUrl: hooks.url,
    ...over,
  });
  ids = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts.map((a: { id: string }) => a.id);
};
afterEach(async () => {
  await sim?.close();
  await hooks?.close();
});

const get = (path: string, headers: Record<string, string> = h) => fetch(`${sim.url}${path}`, { headers });
const control = async (method: string, path: string, body?: unknown) =>
  json(
    await fetch(`${sim.url}/__sandbox${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    }),
  );
const advance = (body: Record<string, number>) => post(`${sim.url}/__sandbox/clock/advance`, body);
const page = async (id: string, n: number, extra = '', headers: Record<string, string> = h) =>
  json(await get(`/v2/accounts/${id}/transactions?limit=10&page=${n}${extra}`, headers));
const truth = (id: string) => control('GET', `/truth/${id}`);

describe('readiness after linking: PROCESSING → PARTIAL → AVAILABLE with account_updated (§1.2, §1.10.2-3)', () => {
  test('a seeded delay with no rows, then balance only, then the statement and the webhook; truth says readyAt', async () => {
    await start({ processingPercent: 100, processingSeconds: 30, partialPercent: 100 });
    const id = ids[0]!;
    const t = await truth(id);
    expect(t.data_status).toBe('PROCESSING');
    const readyAt = Date.parse(t.readyAt);
    expect(readyAt).toBeGreaterThan(Date.parse(EPOCH));
    expect(readyAt - Date.parse(EPOCH)).toBeLessThanOrEqual(60_000);

    const seen: string[] = [];
    for (let s = 0; s <= 61; s++) {
      const details = (await json(await get(`/v2/accounts/${id}`))).data;
      const tx = await page(id, 1);
      const status = details.meta.data_status as string;
      if (seen.at(-1) !== status) seen.push(status);
      if (status === 'AVAILABLE') {
        expect(tx.data.length).toBeGreaterThan(0);
        expect(details.meta.retrieved_data).toEqual(['identity', 'balance', 'transactions']);
      } else {
        expect(tx).toMatchObject({ status: 'successful', data: [], meta: { total: 0 } });
        expect(details.meta.retrieved_data).toEqual(status === 'PARTIAL' ? ['identity', 'balance'] : []);
        if (status === 'PROCESSING') expect(details.account.balance).toBe(0);
      }
      await advance({ seconds: 1 });
    }
    expect(seen).toEqual(['PROCESSING', 'PARTIAL', 'AVAILABLE']);
    const updates = (await hooks.waitFor(2)).filter(
      (r) => r.body.event === 'mono.events.account_updated' && r.body.data.account._id === id,
    );
    expect(updates.map((r) => r.body.data.meta.data_status)).toEqual(['PARTIAL', 'AVAILABLE']);
    expect((await truth(id)).data_status).toBe('AVAILABLE');
  });

  test('a newly linked account goes through the same timeline; processingPercent 0 (default) leaves accounts AVAILABLE', async () => {
    await start({ processingPercent: 100, processingSeconds: 5 });
    const init = await json(await post(`${sim.url}/v2/accounts/initiate`, { scope: 'auth', customer: { name: 'A' } }, h));
    const code = String(init.data.mono_url).split('/').pop();
    const done = await json(await post(`${sim.url}/__sandbox/link/${code}/complete`));
    expect((await json(await get(`/v2/accounts/${done.account}`))).data.meta.data_status).toBe('PROCESSING');
    await advance({ seconds: 6 });
    expect((await json(await get(`/v2/accounts/${done.account}`))).data.meta.data_status).toBe('AVAILABLE');
    await sim.close();
    await hooks.close();
    await start();
    for (const id of ids) expect((await truth(id)).data_status).toBe('AVAILABLE');
  });
});

describe('page faults: data:null and empty pages on a chosen page (§1.6, §1.10.8)', () => {
  test.each(['null', 'empty'] as const)('an armed %s fault answers page 2 once, 200, with the real meta.total', async (kind) => {
    await start();
    const id = ids[0]!;
    const whole = await page(id, 2);
    expect(whole.data).toHaveLength(10);
    await control('POST', `/accounts/${id}/page-faults`, { page: 2, kind });
    expect((await page(id, 1)).data).toHaveLength(10);
    const faulty = await get(`/v2/accounts/${id}/transactions?limit=10&page=2`, { ...h, 'x-request-fence': '41' });
    expect(faulty.status).toBe(200);
    const body = await json(faulty);
    expect(body.data).toEqual(kind === 'null' ? null : []);
    if (kind === 'empty') expect(body.meta.total).toBe(whole.meta.total);
    expect(await page(id, 2)).toEqual({ ...whole, timestamp: expect.any(String) });
    expect((await truth(id)).statementEvents).toEqual([{ kind, page: 2, fence: '41', at: expect.any(String) }]);
  });

  test('seeded percentages fire only on pages ≥ 2 and the same seed gives the same answers', async () => {
    const answers = async () => {
      await start({ nullPagePercent: 30, emptyPagePercent: 30 });
      const out: string[] = [];
      for (let i = 0; i < 30; i++) {
        const p = await page(ids[1]!, (i % 3) + 1);
        out.push(p.data === null ? 'null' : p.data.length === 0 ? 'empty' : 'rows');
        if (i % 3 === 0) expect(p.data).toHaveLength(10);
      }
      await sim.close();
      await hooks.close();
      return out;
    };
    const first = await answers();
    expect(first).toContain('null');
    expect(first).toContain('empty');
    expect(await answers()).toEqual(first);
    sim = undefined as never;
  });
});

describe('the statement moves between page requests (§1.10.9-10)', () => {
  test('insert: a new newest row before page 2 shifts every row down one place; the truth holds it', async () => {
    await start();
    const id = ids[2]!;
    const p1 = await page(id, 1);
    await control('POST', `/accounts/${id}/page-faults`, { page: 2, kind: 'insert' });
    const p2 = await page(id, 2);
    expect(p2.meta.total).toBe(p1.meta.total + 1);
    expect(p2.data[0].id).toBe(p1.data[9].id); // the last row of page 1 is served again
    const t = await truth(id);
    const [event] = t.statementEvents;
    expect(event).toMatchObject({ kind: 'insert', page: 2, inWindow: true });
    const row = t.transactions.find((x: { id: string }) => x.id === event.row);
    expect(row).toMatchObject({ source: 'added', servedNow: true, finalStatus: 'posted' });
    expect((await page(id, 1)).data[0].id).toBe(event.row);
  });

  test('remove: a hold released before page 2 shifts every older row up one place; the truth says removed', async () => {
    await start();
    const id = ids[3]!;
    const now = Date.parse((await control('GET', '/clock')).now);
    const hold = (
      await control('POST', `/accounts/${id}/transactions`, {
        amount: 250_00,
        type: 'debit',
        narration: 'POS PURCHASE KFC',
        pendingNarration: 'POS AUTH KFC',
        date: new Date(now).toISOString(),
        pendingUntil: new Date(now + 5 * 86_400_000).toISOString(),
        sync: true,
      })
    ).transaction.id;
    const p1 = await page(id, 1);
    expect(p1.data[0]).toMatchObject({ id: hold, narration: 'POS AUTH KFC' });
    const unpaged = await json(await get(`/v2/accounts/${id}/transactions?paginate=false`));
    await control('POST', `/accounts/${id}/page-faults`, { page: 2, kind: 'remove' });
    const p2 = await page(id, 2);
    expect(p2.meta.total).toBe(p1.meta.total - 1);
    // The row that was first on page 2 moved up onto page 1: a paged reader never sees it.
    expect(p2.data[0].id).toBe(unpaged.data[11].id);
    const t = await truth(id);
    expect(t.statementEvents.map((e: { kind: string }) => e.kind)).toEqual(['unpaged', 'remove']);
    expect(t.statementEvents[1]).toMatchObject({ kind: 'remove', page: 2, row: hold, inWindow: true });
    expect(t.transactions.find((x: { id: string }) => x.id === hold)).toMatchObject({
      released: true,
      servedNow: false,
      finalStatus: 'removed',
    });
  });

  test('unpaged reads are recorded with their fence', async () => {
    await start();
    await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`, { ...h, 'x-request-fence': '7' });
    expect((await truth(ids[0]!)).statementEvents).toEqual([{ kind: 'unpaged', page: null, fence: '7', at: expect.any(String) }]);
  });
});

describe('holds that post, or are released, days later (§1.10.10)', () => {
  const holds = async (id: string) =>
    (await truth(id)).transactions.filter(
      (x: { finalStatus: string; pendingNarration: string | null }) => x.finalStatus === 'pending' && x.pendingNarration !== null,
    );

  test.each([
    ['post', { lateHoldPercent: 100, lateHoldDays: 6 }],
    ['are released', { lateHoldPercent: 100, lateHoldDays: 6, holdReleasePercent: 100 }],
  ] as const)('late holds %s 4..6 days after their date, under the same id', async (what, settings) => {
    await start({ pendingPercent: 100, transactionsPerAccount: 120, ...settings });
    await advance({ days: 2 });
    const id = ids[0]!;
    const pending = await holds(id);
    expect(pending.length).toBeGreaterThan(0);
    for (const x of pending) {
      const lag = Date.parse(what === 'post' ? x.postedAt : x.releasedAt) - Date.parse(x.date);
      expect(x.releasedAt === null).toBe(what === 'post');
      expect(lag).toBeGreaterThanOrEqual(4 * 86_400_000);
      expect(lag).toBeLessThanOrEqual(6 * 86_400_000);
      expect(x.status).toBe('pending');
    }
    await advance({ days: 7 });
    const after = (await truth(id)).transactions;
    for (const x of pending) {
      const now = after.find((y: { id: string }) => y.id === x.id);
      if (what === 'post') expect(now).toMatchObject({ status: 'posted', finalStatus: 'posted', servedNow: true, released: false });
      else expect(now).toMatchObject({ released: true, finalStatus: 'removed', servedNow: false });
    }
    const served = new Set((await json(await get(`/v2/accounts/${id}/transactions?paginate=false`))).data.map((r: { id: string }) => r.id));
    for (const x of pending) expect(served.has(x.id)).toBe(what === 'post');
  });
});

describe('POST /v2/accounts/{id}/unlink (§1.1, §1.10.7)', () => {
  test('200; then the data endpoints answer 404 and account_unlinked is sent; the truth says unlinked', async () => {
    await start();
    const id = ids[1]!;
    expect((await post(`${sim.url}/v2/accounts/${id}/unlink`, undefined, { 'mono-sec-key': 'wrong' })).status).toBe(401);
    const res = await post(`${sim.url}/v2/accounts/${id}/unlink`, undefined, h);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'successful', data: null });
    for (const path of [`/v2/accounts/${id}`, `/v2/accounts/${id}/transactions`, `/v2/accounts/${id}/balance`])
      expect((await get(path)).status).toBe(404);
    const [w] = await hooks.waitFor(1);
    expect(w!.body).toEqual({ event: 'mono.events.account_unlinked', data: { account: { id } } });
    expect((await truth(id)).consent).toBe('unlinked');
    expect((await post(`${sim.url}/v2/accounts/${id}/unlink`, undefined, h)).status).toBe(404);
  });
});
