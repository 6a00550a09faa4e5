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

async function start(options: MonoOptions = {}): Promise<void> {
  hooks = await receiver();
  sim = await startMono({ port: 0, seed: 7, epoch: EPOCH, clock: 'manual', accounts: 5, transactionsPerAccount: 60, secretKey: KEY, webhookUrl: hooks.url, webhookSecret: 'whsec', ...options });
  ids = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts.map((a: { id: string }) => a.id);
}

afterEach(async () => {
  await sim?.close();
  await hooks?.close();
});

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

  test("changelog words: SUCCESSFUL, REAUTHORISATION_REQUIRED for a re-auth failure, FAILED otherwise; headers and the jobs endpoint keep finished/failed", async () => {
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
    expect(jobHooks().map((r) => r.body.data)).toEqual([expect.objectContaining({ id: res.headers.get('x-job-id'), status: 'SUCCESSFUL', name: 'jobs.accounts.sync_statement' })]);
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
  const outbox = async (kind: string) => (await json(await get(`/__sandbox/outbox?kind=${kind}`))).deliveries as { account: string; queuedAt: string; body: any }[];

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
