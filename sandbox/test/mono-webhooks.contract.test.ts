/**
 * Mono webhook contract tests, written from providers.md §1.5, §1.6, §1.8, §1.10 and §7:
 * the jobs webhook's two documented status vocabularies, sync_failed from Mono's automatic refresh,
 * out-of-order delivery and the retry schedule on the simulator clock.
 */
import { startMono } from '../src/mono';
import type { RunningSimulator } from '../src/mono';
import type { MonoOptions } from '../src/mono';
import type { MonoState } from '../src/mono/state';
import { parseArgs } from '../src/cli';
import { EPOCH, json, post, receiver } from './helpers';

const KEY = 'test_sk_contract';
const h = { 'mono-sec-key': KEY };
let sim: RunningSimulator<MonoState>;
let hooks: Awaited<ReturnType<typeof receiver>>;
let ids: string[];
let running = false;

async function stop(): Promise<void> {
  if (!running) return;
  running = false;
  await sim.close();
  await hooks.close();
}

/** Start a simulator (stopping the previous one) posting webhooks to a fresh receiver. */
async function start(options: MonoOptions = {}): Promise<void> {
  await stop();
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
    webhookSecret: 'whsec',
    ...options,
  });
  running = true;
  ids = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts.map((a: { id: string }) => a.id);
}

afterEach(stop);

const get = (path: string, headers: Record<string, string> = h) => fetch(`${sim.url}${path}`, { headers });
const advance = (body: Record<string, number>) => post(`${sim.url}/__sandbox/clock/advance`, body);
const realtime = (id: string) => get(`/v2/accounts/${id}/transactions`, { ...h, 'x-realtime': 'true' });
const jobHooks = () => hooks.received.filter((r) => r.body.event === 'mono.accounts.jobs.update');

describe('jobs webhook status vocabulary (§1.6, §7: real-time page vs changelog)', () => {
  test('default: the real-time page words — finished for a completed job, failed for a re-auth failure', async () => {
    await start({ realtimeFinishedPercent: 100 });
    const ok = await realtime(ids[0]!);
    expect(ok.headers.get('x-job-status')).toBe('finished');
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/revoke`, { mode: 'reauth', notify: false });
    const bad = await realtime(ids[1]!);
    expect(bad.headers.get('x-job-status')).toBe('failed');
    await hooks.waitFor(4);
    expect(jobHooks().map((r) => [r.body.data.account, r.body.data.status])).toEqual([
      [ids[0], 'finished'],
      [ids[1], 'failed'],
    ]);
  });

  test('changelog words: SUCCESSFUL, REAUTHORISATION_REQUIRED for a re-auth failure, FAILED otherwise; headers and the jobs endpoint keep finished/failed', async () => {
    await start({ realtimeFinishedPercent: 100, jobWebhookStatus: 'changelog' });
    const ok = await realtime(ids[0]!);
    expect(ok.headers.get('x-job-status')).toBe('finished');

    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/revoke`, { mode: 'reauth', notify: false });
    const reauth = await realtime(ids[1]!);
    expect(reauth.headers.get('x-job-status')).toBe('failed');
    const reauthJob = reauth.headers.get('x-job-id');
    expect((await json(await get(`/v2/accounts/${ids[1]}/jobs/${reauthJob}`))).data.status).toBe('failed');

    await post(`${sim.url}/__sandbox/accounts/${ids[2]}/data-status`, { data_status: 'UNAVAILABLE', notify: false });
    const down = await realtime(ids[2]!);
    expect(down.headers.get('x-job-status')).toBe('failed');

    await hooks.waitFor(6);
    expect(jobHooks().map((r) => [r.body.data.account, r.body.data.status])).toEqual([
      [ids[0], 'SUCCESSFUL'],
      [ids[1], 'REAUTHORISATION_REQUIRED'],
      [ids[2], 'FAILED'],
    ]);
    // The account_updated that accompanies the re-auth failure says the same thing (§1.6).
    const updated = hooks.received.find((r) => r.body.event === 'mono.events.account_updated' && r.body.data.account._id === ids[1]);
    expect(updated!.body.data.meta).toMatchObject({ sync_status: 'REAUTHORISATION_REQUIRED', job_id: reauthJob });
  });

  test('an enqueued job completes with SUCCESSFUL in the changelog vocabulary', async () => {
    await start({ realtimeFinishedPercent: 0, jobWebhookStatus: 'changelog' });
    const res = await realtime(ids[0]!);
    expect(res.headers.get('x-job-status')).toBe('processing');
    await advance({ minutes: 4 });
    await hooks.waitFor(2);
    expect(jobHooks().map((r) => r.body.data)).toEqual([
      expect.objectContaining({ id: res.headers.get('x-job-id'), status: 'SUCCESSFUL', name: 'jobs.accounts.sync_statement' }),
    ]);
  });

  test('the setting is selectable on reset, shown in config, and unknown values are rejected', async () => {
    await start();
    const cfg = await json(await post(`${sim.url}/__sandbox/reset`, { jobWebhookStatus: 'changelog' }));
    expect(cfg.jobWebhookStatus).toBe('changelog');
    expect((await post(`${sim.url}/__sandbox/reset`, { jobWebhookStatus: 'SUCCESSFUL' })).status).toBe(400);
    expect((await json(await get('/__sandbox/config'))).jobWebhookStatus).toBe('changelog');
  });

  test('CLI flag --mono-job-webhook-status and SANDBOX_MONO_JOB_WEBHOOK_STATUS', () => {
    expect(parseArgs(['--mono-job-webhook-status', 'changelog'], {}).mono).toEqual({ jobWebhookStatus: 'changelog' });
    expect(parseArgs([], { SANDBOX_MONO_JOB_WEBHOOK_STATUS: 'realtime-doc' }).mono).toEqual({ jobWebhookStatus: 'realtime-doc' });
    expect(() => parseArgs(['--mono-job-webhook-status', 'finished'], {})).toThrow(/must be one of/);
  });
});

describe('mono.events.sync_failed from the automatic refresh (§1.5, §1.8, §1.10.5)', () => {
  const outbox = async (kind: string) =>
    (await json(await get(`/__sandbox/outbox?kind=${kind}`))).deliveries as { account: string; queuedAt: string; body: any }[];

  test('the daily refresh (UTC midnight) sends sync_failed {account:{_id}} for an account needing re-auth, and nothing for healthy accounts', async () => {
    await start();
    await advance({ hours: 10 });
    await post(`${sim.url}/__sandbox/accounts/${ids[2]}/revoke`, { mode: 'reauth' });
    await advance({ hours: 13 }); // 23:00: no refresh yet
    expect(await outbox('mono.events.sync_failed')).toEqual([]);
    await advance({ hours: 1 }); // midnight: the automatic refresh runs and fails
    const failed = await outbox('mono.events.sync_failed');
    expect(failed.map((d) => [d.account, d.queuedAt])).toEqual([[ids[2], '2026-03-03T00:00:00.000Z']]);
    await hooks.waitFor(2);
    expect(hooks.received.map((r) => r.body.event)).toEqual(['mono.events.reauthorisation_required', 'mono.events.sync_failed']);
    expect(hooks.received[1]!.body).toEqual({ event: 'mono.events.sync_failed', data: { account: { _id: ids[2] } } });
    expect(hooks.received[1]!.headers['mono-webhook-secret']).toBe('whsec');
  });

  test('every refresh fails again until the account is re-authorised; several accounts in account order', async () => {
    await start();
    await post(`${sim.url}/__sandbox/accounts/${ids[3]}/revoke`, { mode: 'reauth', notify: false });
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/revoke`, { mode: 'reauth', notify: false });
    await advance({ days: 1 });
    await advance({ days: 1 });
    expect((await outbox('mono.events.sync_failed')).map((d) => [d.account, d.queuedAt])).toEqual([
      [ids[1], '2026-03-03T00:00:00.000Z'],
      [ids[3], '2026-03-03T00:00:00.000Z'],
      [ids[1], '2026-03-04T00:00:00.000Z'],
      [ids[3], '2026-03-04T00:00:00.000Z'],
    ]);
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/repair`);
    await post(`${sim.url}/__sandbox/accounts/${ids[3]}/repair`);
    await advance({ days: 1 });
    expect(await outbox('mono.events.sync_failed')).toHaveLength(4);
  });

  test('autoRefreshHours: a 6-hour schedule fails four times a day; unlinked accounts get no sync_failed', async () => {
    await start({ autoRefreshHours: 6 });
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/revoke`, { mode: 'reauth', notify: false });
    await post(`${sim.url}/__sandbox/accounts/${ids[4]}/revoke`, { mode: 'unlink', notify: false });
    await advance({ days: 1 });
    const failed = await outbox('mono.events.sync_failed');
    expect(failed.map((d) => d.account)).toEqual([ids[0], ids[0], ids[0], ids[0]]);
  });

  test('the data stays the frozen snapshot while the refresh fails', async () => {
    await start();
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/revoke`, { mode: 'reauth', notify: false });
    const before = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    await advance({ days: 3 });
    const after = await json(await get(`/v2/accounts/${ids[0]}/transactions?paginate=false`));
    expect(after.meta.total).toBe(before.meta.total);
    expect(await outbox('mono.events.sync_failed')).toHaveLength(3);
    expect((await hooks.waitFor(3)).map((r) => r.body.event)).toEqual(Array(3).fill('mono.events.sync_failed'));
  });
});

describe('webhook delivery faults: out-of-order (§1.10.12), duplicates, drops — deterministic', () => {
  const deliveries = async () =>
    (await json(await get('/__sandbox/outbox?waitMs=3000'))).deliveries as {
      kind: string;
      account: string;
      state: string;
      faults?: string[];
    }[];

  test('reorder: account_updated arrives before account_reauthorized; the held delivery is marked in the outbox', async () => {
    await start({ webhookReorderPercent: 100 });
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/revoke`, { mode: 'reauth', notify: false });
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/repair`);
    await hooks.waitFor(2);
    expect(hooks.received.map((r) => r.body.event)).toEqual(['mono.events.account_updated', 'mono.events.account_reauthorized']);
    expect((await deliveries()).map((d) => [d.kind, d.faults ?? []])).toEqual([
      ['mono.events.account_updated', []],
      ['mono.events.account_reauthorized', ['reordered']],
    ]);
  });

  test('a held delivery with no later webhook for its account is sent when the clock passes webhookReorderHoldSeconds', async () => {
    await start({ webhookReorderPercent: 100, webhookReorderHoldSeconds: 20 });
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/revoke`, { mode: 'reauth' });
    expect(await deliveries()).toEqual([]);
    await advance({ seconds: 19 });
    expect(await deliveries()).toEqual([]);
    await advance({ seconds: 1 });
    await hooks.waitFor(1);
    expect(hooks.received.map((r) => r.body)).toEqual([
      { event: 'mono.events.reauthorisation_required', data: { account: { _id: ids[1] } } },
    ]);
  });

  test('the control API turns reordering on (POST /__sandbox/webhooks reorderPercent)', async () => {
    await start();
    const res = await json(await post(`${sim.url}/__sandbox/webhooks`, { reorderPercent: 100 }));
    expect(res).toMatchObject({ reorderPercent: 100, reorderHoldSeconds: 30 });
    await post(`${sim.url}/__sandbox/accounts/${ids[2]}/revoke`, { mode: 'reauth', notify: false });
    await post(`${sim.url}/__sandbox/accounts/${ids[2]}/repair`);
    await hooks.waitFor(2);
    expect(hooks.received.map((r) => r.body.event)).toEqual(['mono.events.account_updated', 'mono.events.account_reauthorized']);
  });

  /** Revoke/repair cycles on the given accounts (3 webhooks per cycle), then flush held deliveries. */
  async function traffic(accounts: number[], cycles: number): Promise<string[]> {
    for (let c = 0; c < cycles; c++) {
      for (const k of accounts) {
        await post(`${sim.url}/__sandbox/accounts/${ids[k]}/revoke`, { mode: 'reauth' });
        await post(`${sim.url}/__sandbox/accounts/${ids[k]}/repair`);
      }
    }
    await advance({ minutes: 1 });
    return (await deliveries()).map((d) => `${d.kind}|${d.account}|${d.state}|${(d.faults ?? []).join('+')}`);
  }

  test('same seed ⇒ the same webhook sequence with reorder, duplicate and drop faults; another seed differs', async () => {
    const faults = { webhookReorderPercent: 40, webhookDuplicatePercent: 15, webhookDropPercent: 10 };
    const runs: string[][] = [];
    const received: string[][] = [];
    for (const seed of [31, 31, 32]) {
      await start({ seed, ...faults });
      runs.push(await traffic([0, 1, 2, 3, 4], 4));
      await hooks.waitFor(runs[runs.length - 1]!.filter((d) => !d.includes('|dropped|')).length);
      received.push(hooks.received.map((r) => `${r.body.event}|${r.body.data.account._id}`));
    }
    // 5 accounts × 4 cycles × 3 webhooks, plus the injected duplicates.
    expect(runs[0]!.filter((d) => !d.endsWith('duplicate'))).toHaveLength(60);
    expect(runs[1]).toEqual(runs[0]);
    expect(received[1]).toEqual(received[0]);
    expect(runs[2]).not.toEqual(runs[0]);
    for (const tag of ['reordered', 'duplicate', '|dropped|']) expect(runs[0]!.some((d) => d.includes(tag))).toBe(true);
    // The receiver saw the outbox order: every delivered record, in sequence.
    expect(received[0]).toEqual(runs[0]!.filter((d) => !d.includes('|dropped|')).map((d) => d.split('|').slice(0, 2).join('|')));
  });

  test("the reorder draw depends on the account's own delivery number, not on other accounts' traffic", async () => {
    await start({ seed: 5, webhookReorderPercent: 50 });
    const alone = await traffic([0], 6);
    await start({ seed: 5, webhookReorderPercent: 50 });
    const mixed = await traffic([3, 0, 4], 6);
    expect(mixed.filter((d) => d.includes(ids[0]!))).toEqual(alone);
    expect(alone.some((d) => d.endsWith('reordered'))).toBe(true);
  });
});

describe('webhook retries: 1 s, 5 s, 25 s on the simulator clock (§1.8: schedule undocumented)', () => {
  type Rec = { attempts: { at: string; status: number | null }[]; state: string; nextAttemptAt: string | null };
  const record = async (): Promise<Rec> => (await json(await get('/__sandbox/outbox'))).deliveries[0];
  /** Poll until the single delivery has `n` attempts recorded and (unless final) its next retry scheduled. */
  async function settled(n: number): Promise<Rec> {
    for (let i = 0; i < 500; i++) {
      const r = await record();
      if (r && r.attempts.length === n && (r.nextAttemptAt !== null || r.state !== 'queued')) return r;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`delivery never reached ${n} attempts`);
  }

  test('manual clock: each retry fires when the clock is advanced past its delay', async () => {
    await start();
    hooks.setStatus(503);
    await post(`${sim.url}/__sandbox/accounts/${ids[0]}/revoke`, { mode: 'reauth' });
    expect((await settled(1)).nextAttemptAt).toBe('2026-03-02T00:00:01.000Z');
    await advance({ seconds: 1 });
    expect((await settled(2)).nextAttemptAt).toBe('2026-03-02T00:00:06.000Z');
    await advance({ seconds: 5 });
    expect((await settled(3)).nextAttemptAt).toBe('2026-03-02T00:00:31.000Z');
    await advance({ seconds: 25 });
    const done = await settled(4);
    expect(done.state).toBe('failed');
    expect(done.nextAttemptAt).toBeNull();
    expect(done.attempts.map((a) => [a.at, a.status])).toEqual([
      ['2026-03-02T00:00:00.000Z', 503],
      ['2026-03-02T00:00:01.000Z', 503],
      ['2026-03-02T00:00:06.000Z', 503],
      ['2026-03-02T00:00:31.000Z', 503],
    ]);
    expect(hooks.received).toHaveLength(4);
  });

  test('manual clock: a retry that succeeds marks the delivery delivered', async () => {
    await start();
    hooks.setStatus(500);
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/revoke`, { mode: 'reauth' });
    await settled(1);
    hooks.setStatus(200);
    await advance({ seconds: 1 });
    const r = await settled(2);
    expect(r.state).toBe('delivered');
    expect(r.attempts.map((a) => a.status)).toEqual([500, 200]);
  });

  test('reset cancels waiting retries', async () => {
    await start();
    hooks.setStatus(500);
    await post(`${sim.url}/__sandbox/accounts/${ids[1]}/revoke`, { mode: 'reauth' });
    await settled(1);
    await post(`${sim.url}/__sandbox/reset`, {});
    await advance({ minutes: 1 });
    expect((await json(await get('/__sandbox/outbox?waitMs=1000'))).deliveries).toEqual([]);
    expect(hooks.received).toHaveLength(1);
  });

  test('real clock: retries keep real-time delays (the first after about a second)', async () => {
    await start({ clock: 'real' });
    hooks.setStatus(500);
    await post(`${sim.url}/__sandbox/accounts/${ids[2]}/revoke`, { mode: 'reauth' });
    await settled(1);
    hooks.setStatus(200);
    await hooks.waitFor(2, 5_000);
    expect(hooks.received).toHaveLength(2);
    expect((await settled(2)).state).toBe('delivered');
  });
});
