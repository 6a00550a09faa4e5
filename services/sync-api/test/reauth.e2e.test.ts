import { jetstream } from '@nats-io/jetstream';
import { Registry } from '@intellifin/core';
import { Publisher } from '@intellifin/messaging';
import { createAirtelWorker, type AirtelWorker } from '@intellifin/airtel-worker/src/app';
import { createMomoWorker, type MomoWorker } from '@intellifin/momo-worker/src/app';
import { waitFor } from '@intellifin/testing';
import { logger, TEST_KEY_RING } from './helpers';
import { airtelLinkBody, momoLinkBody, startLinkEnv, type LinkEnv } from './linking.helpers';

/**
 * Re-auth end to end for the wallets (issue #13 acceptance), against the simulators with a
 * momo-worker and an airtel-worker started in-process (as their own tests do): link → first sync
 * succeeds → the provider revokes the key / the merchant rotates the secret → a sync marks the
 * account auth_required → a wrong new key: 400, still auth_required → the regenerated key /
 * new secret: active at once, the re-auth episode ended (a `repaired` auth event on SYNC_EVENTS,
 * what the notifier closes episodes on), and the repair sync succeeds.
 */
jest.setTimeout(180_000);

let env: LinkEnv;
const workers: { stop(deadlineMs?: number): Promise<void> }[] = [];

beforeAll(async () => {
  env = await startLinkEnv();
  const { nc, topology, redis, db } = env.api;
  const common = {
    nc,
    js: jetstream(nc),
    topology,
    publisher: new Publisher({ nc, topology }),
    pool: db.poolAs('intellifin_worker'),
    redis: redis.redis,
    logger: logger(),
    registry: new Registry(),
    credentialsKeyRing: TEST_KEY_RING,
    rate: { ratePerSecond: 1_000, burst: 1_000 },
    leaseTtlMs: 5_000,
    keyPrefix: redis.prefix,
    backoff: { baseMs: 50, capMs: 500 },
    fencedNakDelayMs: 200,
    leaseBusyDelayMs: 100,
    concurrency: 2,
  };
  const momo: MomoWorker = createMomoWorker({
    ...common,
    workerId: 'e2e-momo',
    momo: { baseUrl: env.momo.url, targetEnvironment: 'mtnzambia', timeoutMs: 5_000 },
  });
  const airtel: AirtelWorker = createAirtelWorker({
    ...common,
    workerId: 'e2e-airtel',
    airtel: { baseUrl: env.airtel.url, timeoutMs: 5_000 },
  });
  await momo.start();
  await airtel.start();
  workers.push(momo, airtel);
});
afterAll(async () => {
  for (const w of workers) await w.stop(2_000).catch(() => undefined);
  await env?.close();
});

const status = async (id: string) => (await env.api.http({ url: `/v1/accounts/${id}/sync-status`, headers: await env.auth() })).json();

/** The latest run of a trigger, once it finished. */
async function finishedRun(id: string, trigger: string): Promise<{ outcome: string; errorCode: string | null }> {
  let run: { outcome: string; errorCode: string | null } | undefined;
  await waitFor(
    async () => {
      const res = await env.api.http({ url: `/v1/accounts/${id}/sync-runs?trigger=${trigger}&limit=1`, headers: await env.auth() });
      const r = res.json().runs[0] as { outcome: string; error: { code: string } | null } | undefined;
      if (!r || r.outcome === 'running') return false;
      run = { outcome: r.outcome, errorCode: r.error?.code ?? null };
      return true;
    },
    `${trigger} run of ${id} finished`,
    60_000,
  );
  return run!;
}

/**
 * The `repaired` auth event of the account, among every event on its auth subject: the worker's
 * relay may publish the failed run's `reauth_required` after sync-api's relay published `repaired`
 * (two relays, no order between them), so the subject's last message need not be it.
 */
async function repairedEvent(provider: string, id: string): Promise<Record<string, unknown>> {
  let payload: Record<string, unknown> | undefined;
  const subject = env.api.topology.eventSubject('auth', provider as 'momo', id);
  const js = jetstream(env.api.nc);
  await waitFor(
    async () => {
      const consumer = await js.consumers.get(env.api.topology.streams.events.name, { filter_subjects: subject });
      const batch = await consumer.fetch({ max_messages: 100, expires: 1_000 });
      for await (const m of batch) {
        const p = m.json<Record<string, unknown>>();
        if (p.kind === 'repaired') payload = p;
      }
      await consumer.delete().catch(() => undefined);
      return payload !== undefined;
    },
    `repaired event of ${id}`,
    30_000,
  );
  return payload!;
}

async function breakThenRepair(o: {
  provider: 'momo' | 'airtel';
  linkBody: unknown;
  simId: string;
  /** Breaks the credential at the provider. */
  breakIt: () => Promise<void>;
  wrong: Record<string, string>;
  /** The provider's new credential (regenerated key / rotated secret). */
  fresh: () => Promise<Record<string, string>>;
}) {
  const link = await env.api.http({ method: 'POST', url: `/v1/accounts/${o.provider}`, headers: await env.auth(), payload: o.linkBody });
  expect(link.statusCode).toBe(201);
  const id = link.json().account.id as string;
  expect(await finishedRun(id, 'link')).toEqual({ outcome: 'succeeded', errorCode: null });
  expect((await status(id)).status).toBe('active');

  await o.breakIt();
  // full: the balance is read, so the provider is asked (a wallet with nothing pending asks nothing otherwise)
  const sync = await env.api.http({ method: 'POST', url: `/v1/accounts/${id}/sync`, headers: await env.auth(), payload: { mode: 'full' } });
  expect(sync.statusCode).toBe(202);
  const failed = await finishedRun(id, 'manual');
  expect(failed.outcome).toBe('failed');
  const broken = await status(id);
  expect(broken).toMatchObject({ status: 'auth_required', connection: { health: 'reauth_required' } });

  const wrong = await env.api.http({ method: 'PUT', url: `/v1/accounts/${id}/credentials`, headers: await env.auth(), payload: o.wrong });
  expect(wrong.statusCode).toBe(400);
  expect(wrong.json()).toMatchObject({ error: 'credentials_rejected' });
  expect((await status(id)).status).toBe('auth_required');

  const right = await env.api.http({
    method: 'PUT',
    url: `/v1/accounts/${id}/credentials`,
    headers: await env.auth(),
    payload: await o.fresh(),
  });
  expect(right.statusCode).toBe(200);
  expect(right.json()).toMatchObject({
    account: { status: 'active', connection: { health: 'ok' } },
    command: { trigger: 'repair' },
    episodeEnded: true,
  });
  const event = await repairedEvent(o.provider, id);
  expect(event).toMatchObject({ kind: 'repaired', accountId: id, provider: o.provider, runId: `repair:${right.json().command.commandId}` });

  expect(await finishedRun(id, 'repair')).toEqual({ outcome: 'succeeded', errorCode: null });
  const after = await status(id);
  expect(after).toMatchObject({ status: 'active', lastError: null, connection: { health: 'ok' } });
  expect(Date.parse(after.lastSuccessAt)).toBeGreaterThan(Date.parse(broken.lastSuccessAt));
}

it('MoMo: a revoked API key → auth_required; a wrong new key is refused; the regenerated key repairs it and a sync succeeds', async () => {
  const a = env.momoAccounts[2]!;
  await breakThenRepair({
    provider: 'momo',
    linkBody: momoLinkBody(a),
    simId: a.id,
    breakIt: async () => {
      await env.control(env.momo, 'POST', `/accounts/${a.id}/revoke`);
    },
    wrong: { apiKey: 'not-the-regenerated-key' },
    fresh: async () => {
      // The merchant regenerates the key (MoMo's provisioning API; the old key stops working).
      const res = await fetch(`${env.momo.url}/v1_0/apiuser/${a.credentials.apiUser}/apikey`, {
        method: 'POST',
        headers: { 'ocp-apim-subscription-key': a.credentials.subscriptionKeys.collection },
      });
      expect(res.status).toBe(201);
      return { apiKey: ((await res.json()) as { apiKey: string }).apiKey };
    },
  });
});

it('Airtel: rotated client credentials → auth_required; the old secret is refused; the new one repairs it and a sync succeeds', async () => {
  const a = env.airtelAccounts[2]!;
  let rotated = '';
  await breakThenRepair({
    provider: 'airtel',
    linkBody: airtelLinkBody(a),
    simId: a.id,
    breakIt: async () => {
      rotated = (await env.control<{ credentials: { clientSecret: string } }>(env.airtel, 'POST', `/accounts/${a.id}/rotate-secret`))
        .credentials.clientSecret;
    },
    wrong: { clientSecret: a.credentials.clientSecret },
    fresh: async () => ({ clientSecret: rotated }),
  });
});

it('unlink while a run is in flight: the run writes nothing more (fence moved on), the account stays disabled', async () => {
  const a = env.airtelAccounts[3]!;
  const link = await env.api.http({ method: 'POST', url: '/v1/accounts/airtel', headers: await env.auth(), payload: airtelLinkBody(a) });
  const id = link.json().account.id as string;
  expect(await finishedRun(id, 'link')).toEqual({ outcome: 'succeeded', errorCode: null });
  // The balance read of the next run takes 3 s at Airtel: the run is in flight while the user unlinks.
  await env.control(env.airtel, 'POST', '/faults', { route: 'GET /standard/v1/users/balance', kind: 'latency', latencyMs: 3_000 });
  try {
    const sync = await env.api.http({
      method: 'POST',
      url: `/v1/accounts/${id}/sync`,
      headers: await env.auth(),
      payload: { mode: 'full' },
    });
    expect(sync.statusCode).toBe(202);
    await waitFor(
      async () =>
        (await env.api.db.pool.query(`SELECT 1 FROM sync_runs WHERE account_id = $1 AND trigger = 'manual' AND outcome = 'running'`, [id]))
          .rowCount === 1,
      'manual run in flight',
      30_000,
    );
    const unlink = await env.api.http({ method: 'DELETE', url: `/v1/accounts/${id}`, headers: await env.auth() });
    expect(unlink.json()).toMatchObject({ status: 'disabled', credentialErased: true });
    const run = await finishedRun(id, 'manual');
    expect(run.outcome).not.toBe('succeeded');
  } finally {
    await env.control(env.airtel, 'DELETE', '/faults');
  }
  // The handed-back command finds the account disabled and is dropped; nothing turns it active again.
  await new Promise((r) => setTimeout(r, 1_500));
  const { rows } = await env.api.db.pool.query(`SELECT status, credential_id FROM accounts WHERE id = $1`, [id]);
  expect(rows[0]).toEqual({ status: 'disabled', credential_id: null });
  const runs = await env.api.db.pool.query(`SELECT count(*)::int AS n FROM sync_runs WHERE account_id = $1 AND outcome = 'succeeded'`, [
    id,
  ]);
  expect(runs.rows[0].n).toBe(1); // the link sync only
});
