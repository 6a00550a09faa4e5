import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Registry } from '@intellifin/core';
import { Publisher } from '@intellifin/messaging';
import { insertAccount } from '@intellifin/persistence';
import { AirtelApi, MomoApi } from '@intellifin/providers';
import { startMomo, startMono, type RunningSimulator } from '@intellifin/sandbox';
import { waitFor } from '@intellifin/testing';
import { WalletIntake } from '@intellifin/wallet-sync';
import { WebhookProcessor } from '../src/app/webhook-processor';
import { logger, seedOrg, startApi, type ApiEnv, type Org } from './helpers';

/**
 * Provider ingress and internal routes against real Postgres (as intellifin_api), Redis and NATS,
 * with the Mono and MoMo simulators delivering, and the wallet workers' real intake consuming.
 */
const MONO_SECRET = 'ingress-test-mono-webhook-secret';
const MOMO_TOKEN = 'momo-callback-token-for-tests-0123456789';
const AIRTEL_TOKEN = 'airtel-callback-token-for-tests-0123456789';
const SERVICE_TOKEN = 'service-token-for-tests-at-least-32-chars';

let env: ApiEnv;
let mono: RunningSimulator<unknown>;
let monoIds: string[];
let org: Org;
let other: Org;

beforeAll(async () => {
  env = await startApi({
    config: {
      MONO_WEBHOOK_SECRET: MONO_SECRET,
      MOMO_CALLBACK_TOKEN: MOMO_TOKEN,
      AIRTEL_CALLBACK_TOKEN: AIRTEL_TOKEN,
      WEBHOOK_POLL_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '150',
      WEBHOOK_RETRY_MAX_MS: '300',
      WEBHOOK_MAX_ATTEMPTS: '5',
    },
  });
  mono = await startMono({
    port: 0,
    seed: 13,
    epoch: '2026-03-02T00:00:00.000Z',
    clock: 'manual',
    accounts: 4,
    transactionsPerAccount: 5,
    webhookUrl: `${env.baseUrl}/webhooks/mono`,
    webhookSecret: MONO_SECRET,
  });
  const list = (await (await fetch(`${mono.url}/__sandbox/accounts?limit=4`)).json()) as { accounts: { id: string }[] };
  monoIds = list.accounts.map((a) => a.id);
  // monoIds[0], [1] are linked in `org`; [2] is linked later (unknown-account test); [3] never.
  org = await seedOrg(env.db, 'Ingress org', 1, [monoIds[0]!, monoIds[1]!]);
  other = await seedOrg(env.db, 'Other org', 1);
});
afterAll(async () => {
  await env?.close();
  await mono?.close();
});

const events = async (provider = 'mono') =>
  (
    await env.db.pool.query<{
      event_type: string;
      state: string;
      deliveries: number;
      outcome: string | null;
      attempts: number;
      last_error: string | null;
    }>('SELECT event_type, state, deliveries, outcome, attempts, last_error FROM webhook_events WHERE provider = $1 ORDER BY id', [
      provider,
    ])
  ).rows;
const requests = async (accountId: string) =>
  (
    await env.db.pool.query<{ trigger: string; requested_by: string }>(
      'SELECT trigger, requested_by FROM sync_requests WHERE account_id = $1',
      [accountId],
    )
  ).rows;
const accountIdOf = async (providerId: string) =>
  (await env.db.pool.query<{ id: string; status: string }>('SELECT id, status FROM accounts WHERE provider_account_id = $1', [providerId]))
    .rows[0];
const outbox = async (kind: string) =>
  (await env.db.pool.query<{ subject: string }>("SELECT subject FROM outbox WHERE event_id LIKE $1 || '%'", [kind])).rows;
/** The Mono simulator's recorded webhook deliveries (body and attempts). */
const monoDeliveries = () => mono.core.outbox.list();
const postMono = (body: unknown, secret?: string) =>
  env.http({
    method: 'POST',
    url: '/webhooks/mono',
    headers: secret === undefined ? {} : { 'mono-webhook-secret': secret },
    payload: body,
  });

describe('Mono webhooks', () => {
  it('a bad or missing secret is refused with 401 and nothing is stored', async () => {
    const body = { event: 'mono.events.account_updated', data: { account: { _id: monoIds[0] }, meta: { data_status: 'AVAILABLE' } } };
    expect((await postMono(body, 'wrong-secret')).statusCode).toBe(401);
    expect((await postMono(body)).statusCode).toBe(401);
    // The secret is checked before the body: an invalid body with a bad secret is a 401 too.
    expect(
      (await env.http({ method: 'POST', url: '/webhooks/mono', headers: { 'mono-webhook-secret': 'x' }, rawBody: '{' })).statusCode,
    ).toBe(401);
    expect(await events()).toEqual([]);
    // A good secret with a body that is not a Mono envelope: 400 naming the field.
    const bad = await postMono({ data: {} }, MONO_SECRET);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('body.event');
    expect(await events()).toEqual([]);
  });

  it('a good webhook delivered three times is stored once and acts once (one sync queued, trigger webhook)', async () => {
    const accountId = (await accountIdOf(monoIds[0]!))!.id;
    // Mono's own refresh sends account_updated (AVAILABLE) to our URL.
    const res = await fetch(`${mono.url}/__sandbox/accounts/${monoIds[0]}/sync`, { method: 'POST' });
    expect(res.status).toBeLessThan(300);
    await mono.core.outbox.idle();
    const sent = monoDeliveries().filter((d) => d.kind === 'mono.events.account_updated' && d.account === monoIds[0]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.attempts.map((a) => a.status)).toEqual([200]);
    // The provider repeats it twice (retries, duplicates).
    for (let i = 0; i < 2; i++) {
      const again = await postMono(sent[0]!.body, MONO_SECRET);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ received: true, duplicate: true });
    }
    await waitFor(async () => (await events()).every((e) => e.state === 'done'), 'the webhook processed');
    expect(await events()).toEqual([
      expect.objectContaining({
        event_type: 'mono.events.account_updated',
        state: 'done',
        deliveries: 3,
        outcome: 'queued_sync',
        attempts: 1,
      }),
    ]);
    expect(await requests(accountId)).toEqual([{ trigger: 'webhook', requested_by: 'webhook:mono' }]);
  });

  it('a webhook for an account the database does not know yet is kept, retried, and acted on once the account exists', async () => {
    const body = { event: 'mono.events.account_updated', data: { account: { _id: monoIds[2] }, meta: { data_status: 'AVAILABLE' } } };
    expect((await postMono(body, MONO_SECRET)).json()).toEqual({ received: true, duplicate: false });
    await waitFor(
      async () => (await events()).some((e) => e.outcome === 'unknown_account' && e.attempts >= 2),
      'retries of the unknown account',
    );
    expect((await events()).filter((e) => e.outcome === 'unknown_account')[0]!.state).toBe('pending');
    const linked = await insertAccount(env.db.pool, {
      orgId: org.orgId,
      userId: org.users['user-1']!,
      provider: 'mono',
      providerAccountId: monoIds[2]!,
      type: 'bank',
      currency: 'NGN',
    });
    await waitFor(async () => (await requests(linked.id)).length > 0, 'the kept webhook acted on');
    await waitFor(async () => (await events()).every((e) => e.state === 'done'), 'settled');
    expect(await requests(linked.id)).toEqual([{ trigger: 'webhook', requested_by: 'webhook:mono' }]);
  });

  it('re-auth marks the account auth_required (auth event through the outbox), unlink disables it, other events are kept only', async () => {
    const a = (await accountIdOf(monoIds[1]!))!;
    expect(a.status).toBe('active');
    await env.parts.relay.stop(); // keep the outbox rows to look at them
    try {
      const reauth = { event: 'mono.events.reauthorisation_required', data: { account: { _id: monoIds[1] } } };
      await postMono(reauth, MONO_SECRET);
      await waitFor(async () => (await accountIdOf(monoIds[1]!))!.status === 'auth_required', 'auth_required');
      expect((await outbox('auth:webhook:')).map((r) => r.subject)).toEqual([env.topology.eventSubject('auth', 'mono', a.id)]);
      await postMono({ event: 'mono.events.sync_failed', data: { account: { _id: monoIds[1] } } }, MONO_SECRET);
      await postMono({ event: 'mono.events.account_unlinked', data: { account: { id: monoIds[1] } } }, MONO_SECRET);
      await waitFor(async () => (await accountIdOf(monoIds[1]!))!.status === 'disabled', 'disabled');
      await waitFor(async () => (await events()).every((e) => e.state === 'done'), 'settled');
      const outcomes = (await events()).slice(-3).map((e) => e.outcome);
      expect(outcomes).toEqual(['auth_required', 'ignored_not_acted_on', 'disabled']);
    } finally {
      env.parts.relay.start();
    }
  });

  it('a processing failure keeps the event: it is retried with backoff and acts once when the database accepts it', async () => {
    const a = (await accountIdOf(monoIds[0]!))!;
    await env.db.pool.query("UPDATE sync_requests SET status = 'cancelled' WHERE account_id = $1", [a.id]);
    await env.db.pool.query('REVOKE INSERT ON outbox FROM intellifin_api');
    try {
      const body = {
        event: 'mono.events.account_updated',
        data: { account: { _id: monoIds[0] }, meta: { data_status: 'AVAILABLE', n: 2 } },
      };
      await postMono(body, MONO_SECRET);
      const failed = await waitFor(async () => (await events()).find((e) => e.outcome === 'error'), 'a failed attempt');
      expect(failed.state).toBe('pending'); // retried, not terminal (5 attempts allowed)
      expect(failed.last_error).toMatch(/permission denied/);
    } finally {
      await env.db.pool.query('GRANT INSERT ON outbox TO intellifin_api');
    }
    await waitFor(async () => (await events()).every((e) => e.state === 'done'), 'settled after the grant');
    expect((await requests(a.id)).length).toBe(2);
  });

  it('an event failing every attempt ends failed (terminal), visible in the backlog gauge', async () => {
    await env.db.pool.query('REVOKE INSERT ON outbox FROM intellifin_api');
    try {
      const body = {
        event: 'mono.events.account_updated',
        data: { account: { _id: monoIds[0] }, meta: { data_status: 'AVAILABLE', n: 3 } },
      };
      await env.db.pool.query("UPDATE sync_requests SET status = 'cancelled'");
      await postMono(body, MONO_SECRET);
      await waitFor(async () => (await events()).some((e) => e.state === 'failed'), 'terminal failure', 20_000);
      expect((await events()).find((e) => e.state === 'failed')).toMatchObject({ attempts: 5, outcome: 'error' });
      const metrics = await env.registry.metrics();
      await waitFor(
        async () => /intellifin_sync_api_webhook_events\{provider="mono",state="failed"\} 1/.test(await env.registry.metrics()),
        'gauge',
      );
      expect(metrics).toMatch(/intellifin_sync_api_webhooks_received_total\{provider="mono",type="account_updated",result="duplicate"\} 2/);
      expect(metrics).toMatch(/intellifin_sync_api_webhooks_received_total\{provider="mono",type="unknown",result="unauthorized"\} 3/);
    } finally {
      await env.db.pool.query('GRANT INSERT ON outbox TO intellifin_api');
    }
  });
});

describe('Mono webhooks: repair, re-armed repeats and the database roles', () => {
  it('account_reauthorized repairs (active, repaired event, repair sync); an id-less repeat long after is a new occurrence', async () => {
    const a = (await accountIdOf(monoIds[0]!))!;
    await env.db.pool.query("UPDATE sync_requests SET status = 'cancelled'");
    await env.parts.relay.stop();
    try {
      const reauth = { event: 'mono.events.reauthorisation_required', data: { account: { _id: monoIds[0] } } };
      expect((await postMono(reauth, MONO_SECRET)).json()).toEqual({ received: true, duplicate: false });
      await waitFor(async () => (await accountIdOf(monoIds[0]!))!.status === 'auth_required', 'auth_required');
      const repaired = {
        event: 'mono.events.account_reauthorized',
        data: {
          account: { _id: monoIds[0] },
          app: 'app',
          business: 'biz',
          event_id: `evt-${randomUUID()}`,
          timestamp: new Date().toISOString(),
        },
      };
      await postMono(repaired, MONO_SECRET);
      await waitFor(async () => (await accountIdOf(monoIds[0]!))!.status === 'active', 'repaired');
      await waitFor(async () => (await events()).every((e) => e.state !== 'pending'), 'settled'); // (the earlier terminal one stays failed)
      expect((await events()).slice(-2).map((e) => e.outcome)).toEqual(['auth_required', 'repaired']);
      const auth = await env.db.pool.query<{ kind: string }>(
        "SELECT payload->>'kind' AS kind FROM outbox WHERE event_id LIKE 'auth:webhook:%' ORDER BY id",
      );
      expect(auth.rows.slice(-2).map((r) => r.kind)).toEqual(['reauth_required', 'repaired']);
      expect((await requests(a.id)).filter((r) => r.trigger === 'repair')).toHaveLength(1);

      // The same id-less body again now: a duplicate, nothing happens.
      expect((await postMono(reauth, MONO_SECRET)).json()).toEqual({ received: true, duplicate: true });
      // Two days after it was processed: a new occurrence (re-armed), acted on again.
      await env.db.pool.query(
        "UPDATE webhook_events SET processed_at = now() - interval '2 days' WHERE event_type = 'mono.events.reauthorisation_required' AND account_ref = $1",
        [monoIds[0]],
      );
      expect((await postMono(reauth, MONO_SECRET)).json()).toEqual({ received: true, duplicate: false });
      await waitFor(async () => (await accountIdOf(monoIds[0]!))!.status === 'auth_required', 'auth_required again');
    } finally {
      env.parts.relay.start();
      await env.db.pool.query("UPDATE accounts SET status = 'active' WHERE provider_account_id = $1", [monoIds[0]]);
    }
  });

  it('two replicas’ processors share the queue: every event is processed once, and one sync is queued for a burst', async () => {
    const a = (await accountIdOf(monoIds[0]!))!;
    await env.db.pool.query("UPDATE sync_requests SET status = 'cancelled'");
    const before = (await events()).length;
    const registry = new Registry();
    const second = new WebhookProcessor({
      pool: env.db.poolAs('intellifin_api'),
      logger: logger(),
      registry,
      commandSubject: (provider, accountId, trigger) => env.topology.commandSubjectFor({ provider, accountId, trigger }),
      authEventSubject: (provider, accountId) => env.topology.eventSubject('auth', provider, accountId),
      queuedTtlMs: env.config.QUEUED_TTL_MS,
      pollMs: 20,
      maxAttempts: 5,
      retryBaseMs: 150,
      retryMaxMs: 300,
      unknownAccountTtlMs: 60_000,
    });
    second.start();
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          postMono(
            { event: 'mono.events.account_updated', data: { account: { _id: monoIds[0] }, meta: { data_status: 'AVAILABLE', burst: i } } },
            MONO_SECRET,
          ),
        ),
      );
      await waitFor(
        async () => (await events()).slice(before).length === 20 && (await events()).slice(before).every((e) => e.state === 'done'),
        'the burst processed',
      );
    } finally {
      await second.stop();
    }
    const burst = (await events()).slice(before);
    expect(burst.every((e) => e.attempts === 1)).toBe(true);
    expect(burst.filter((e) => e.outcome === 'queued_sync')).toHaveLength(1);
    expect(burst.filter((e) => e.outcome === 'coalesced')).toHaveLength(19);
    expect((await requests(a.id)).filter((r) => r.trigger === 'webhook').length).toBeGreaterThanOrEqual(1);
  });

  it('a processor that dies mid-event loses nothing: the claim is rolled back and another processes it once', async () => {
    const processor = env.parts.ingress.processor;
    await processor.stop();
    const before = (await events()).length;
    const client = await env.db.poolAs('intellifin_api').connect();
    client.on('error', () => undefined); // the terminated connection reports its end
    try {
      await postMono(
        { event: 'mono.events.account_updated', data: { account: { _id: monoIds[0] }, meta: { data_status: 'AVAILABLE', crash: 1 } } },
        MONO_SECRET,
      );
      await client.query('BEGIN');
      const claimed = await client.query("SELECT id FROM claim_webhook_event('mono')");
      expect(claimed.rowCount).toBe(1);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // The process dies here (its connection with it).
      await env.db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      await expect(client.query('SELECT 1')).rejects.toThrow();
    } finally {
      client.release(true);
    }
    processor.start();
    await waitFor(async () => (await events()).slice(before).every((e) => e.state === 'done'), 'processed after the crash');
    expect((await events()).slice(before)).toEqual([expect.objectContaining({ state: 'done', attempts: 1 })]);
  });

  it('the API role reaches webhook_events only through the 0018 functions; other roles cannot call them', async () => {
    const api = env.db.poolAs('intellifin_api');
    await expect(api.query('SELECT 1 FROM webhook_events')).rejects.toThrow(/permission denied/);
    expect((await api.query('SELECT count(*) FROM webhook_events_backlog()')).rowCount).toBe(1);
    await expect(env.db.poolAs('intellifin_worker').query("SELECT * FROM claim_webhook_event('mono')")).rejects.toThrow(
      /permission denied/,
    );
    await expect(api.query("SELECT settle_webhook_event(1, 'forwarded', 'x', null, null)")).rejects.toThrow(/not allowed/);
  });
});

describe('MoMo and Airtel callbacks', () => {
  let momo: RunningSimulator<unknown>;
  let momoAccount: string;
  let airtelAccount: string;
  const settled: string[] = [];
  let intakes: WalletIntake[] = [];

  beforeAll(async () => {
    momo = await startMomo({
      port: 0,
      seed: 5,
      clock: 'manual',
      accounts: 1,
      callbackUrl: `${env.baseUrl}/callbacks/momo`,
      callbackPlan: 'always',
    });
    momoAccount = (
      await insertAccount(env.db.pool, {
        orgId: org.orgId,
        provider: 'momo',
        providerAccountId: `momo-${randomUUID()}`,
        type: 'mobile_money',
        currency: 'ZMW',
      })
    ).id;
    airtelAccount = (
      await insertAccount(env.db.pool, {
        orgId: org.orgId,
        provider: 'airtel',
        providerAccountId: `airtel-${randomUUID()}`,
        type: 'mobile_money',
        currency: 'ZMW',
      })
    ).id;
    // The wallet workers' real intake (WALLET_INTAKE consumers), with the providers' callback parsers.
    const publisher = new Publisher({ nc: env.nc, topology: env.topology });
    for (const [provider, api] of [
      ['momo', Object.create(MomoApi.prototype) as MomoApi],
      ['airtel', Object.create(AirtelApi.prototype) as AirtelApi],
    ] as const) {
      const intake = new WalletIntake({
        provider,
        api,
        pool: env.db.poolAs('intellifin_worker'),
        publisher,
        topology: env.topology,
        nc: env.nc,
        js: jetstream(env.nc),
        logger: logger(),
        registry: new Registry(),
        onSettled: (e) => settled.push(`${e.outcome}:${e.subject}`),
      });
      await intake.start();
      intakes.push(intake);
    }
  });
  afterAll(async () => {
    for (const i of intakes) await i.stop(2_000).catch(() => undefined);
    intakes = [];
    await momo?.close();
  });

  const walletCallbacks = async (provider: string) =>
    (
      await env.db.pool.query<{ reference_id: string; status: string; account_id: string | null; payload: unknown }>(
        'SELECT reference_id, status, account_id, payload FROM wallet_callbacks WHERE provider = $1 ORDER BY id',
        [provider],
      )
    ).rows;

  it('a wrong or missing callback token is refused and nothing is stored', async () => {
    const body = { status: 'SUCCESSFUL', externalId: 'x' };
    expect((await env.http({ method: 'PUT', url: `/callbacks/momo?ref=abc&token=nope`, payload: body })).statusCode).toBe(401);
    expect((await env.http({ method: 'PUT', url: `/callbacks/momo?ref=abc`, payload: body })).statusCode).toBe(401);
    expect(
      (await env.http({ method: 'POST', url: `/callbacks/airtel`, payload: { transaction: { id: 'X1', status_code: 'TS' } } })).statusCode,
    ).toBe(401);
    expect(await events('momo')).toEqual([]);
    expect(await events('airtel')).toEqual([]);
  });

  it("MoMo's callback (from the simulator, then repeated) is stored once, MSISDN masked, and reaches the worker's intake once", async () => {
    const acct = ((await (await fetch(`${momo.url}/__sandbox/accounts?limit=1`)).json()) as { accounts: any[] }).accounts[0];
    const tok = await fetch(`${momo.url}/collection/token/`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${acct.credentials.apiUser}:${acct.credentials.apiKey}`).toString('base64')}`,
        'ocp-apim-subscription-key': acct.credentials.subscriptionKeys.collection,
      },
    });
    const { access_token } = (await tok.json()) as { access_token: string };
    const ref = randomUUID();
    const callbackUrl = `${env.baseUrl}/callbacks/momo?ref=${ref}&token=${MOMO_TOKEN}`;
    const create = await fetch(`${momo.url}/collection/v1_0/requesttopay`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${access_token}`,
        'ocp-apim-subscription-key': acct.credentials.subscriptionKeys.collection,
        'x-target-environment': acct.targetEnvironment,
        'x-reference-id': ref,
        'x-callback-url': callbackUrl,
        'content-type': 'application/json',
      },
      // 46733123450 fails at once (providers.md §2.14): the one callback goes out now.
      body: JSON.stringify({
        amount: '12.50',
        currency: acct.currency,
        externalId: 'ORDER-1',
        payer: { partyIdType: 'MSISDN', partyId: '46733123450' },
        payerMessage: 'Order',
        payeeNote: 'Note',
      }),
    });
    expect(create.status).toBe(202);
    await momo.core.outbox.idle();
    const sent = momo.core.outbox.list().filter((d) => d.url.includes(ref));
    expect(sent.map((d) => [d.method, d.attempts.map((a) => a.status)])).toEqual([['PUT', [200]]]);
    // MTN never retries, but a proxy might: the same callback again is a duplicate.
    const again = await env.http({ method: 'POST', url: `/callbacks/momo?ref=${ref}&token=${MOMO_TOKEN}`, payload: sent[0]!.body });
    expect(again.json()).toEqual({ received: true, duplicate: true });
    expect(await events('momo')).toEqual([expect.objectContaining({ event_type: 'callback', state: 'forwarded', deliveries: 2 })]);
    const stored = await env.db.pool.query<{ payload: string }>("SELECT payload::text FROM webhook_events WHERE provider = 'momo'");
    expect(stored.rows[0]!.payload).not.toContain('46733123450');

    await waitFor(async () => (await walletCallbacks('momo')).length > 0, 'the callback at the worker intake');
    const cb = await walletCallbacks('momo');
    expect(cb).toEqual([expect.objectContaining({ reference_id: ref, status: 'failed', account_id: null })]);

    // Registering the reference through the internal route reaches the intake too and binds the early callback.
    const reg = await env.http({
      method: 'POST',
      url: '/internal/v1/references',
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      payload: {
        orgId: org.orgId,
        provider: 'momo',
        accountId: momoAccount,
        referenceId: ref,
        kind: 'collection',
        amountMinor: '1250',
        currency: 'ZMW',
        externalId: 'ORDER-1',
        party: { type: 'MSISDN', id: '46733123450' },
        createdAt: '2026-03-02T00:00:00.000Z',
      },
    });
    expect(reg.statusCode).toBe(202);
    expect(reg.json()).toEqual({ accepted: true, accountId: momoAccount, provider: 'momo', referenceId: ref });
    await waitFor(async () => (await walletCallbacks('momo'))[0]!.account_id === momoAccount, 'the callback bound to its account');
    const refs = await env.db.pool.query('SELECT party_masked FROM wallet_references WHERE reference_id = $1', [ref]);
    expect(refs.rows).toEqual([{ party_masked: '467******50' }]);
    expect(settled.filter((s) => s.includes('.wallet.momo.cb')).length).toBe(1);
  });

  it("an Airtel callback is stored once and reaches the worker's intake once", async () => {
    const body = {
      transaction: { id: 'SUB8841OCT2025A', message: 'Paid ZMW 150 to ACME', status_code: 'TS', airtel_money_id: 'MP251002.1422.A39151' },
    };
    for (const duplicate of [false, true]) {
      const r = await env.http({ method: 'POST', url: `/callbacks/airtel?token=${AIRTEL_TOKEN}`, payload: body });
      expect(r.json()).toEqual({ received: true, duplicate });
    }
    await waitFor(async () => (await walletCallbacks('airtel')).length > 0, 'the Airtel callback at the intake');
    expect(await walletCallbacks('airtel')).toEqual([expect.objectContaining({ reference_id: 'SUB8841OCT2025A', status: 'successful' })]);
    expect(await events('airtel')).toEqual([expect.objectContaining({ state: 'forwarded', deliveries: 2 })]);
    const bad = await env.http({
      method: 'POST',
      url: `/callbacks/airtel?token=${AIRTEL_TOKEN}`,
      payload: { transaction: { id: 'has space' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body\.transaction\.(id|status_code)/);
    void airtelAccount;
  });
});

describe('internal routes', () => {
  const svc = { authorization: `Bearer ${SERVICE_TOKEN}` };

  it('the ingress and internal routes are in the OpenAPI document', async () => {
    const doc = (await env.http({ url: '/docs/openapi.json' })).json();
    expect(
      Object.keys(doc.paths)
        .filter((p) => !p.startsWith('/v1/'))
        .sort(),
    ).toEqual(['/callbacks/airtel', '/callbacks/momo', '/internal/v1/references', '/internal/v1/sync/background', '/webhooks/mono']);
    expect(Object.keys(doc.paths['/callbacks/momo']).sort()).toEqual(['post', 'put']);
  });

  it('a wrong or missing service token is 401 on every internal route', async () => {
    for (const url of ['/internal/v1/sync/background', '/internal/v1/references']) {
      expect((await env.http({ method: 'POST', url, payload: { orgId: org.orgId } })).statusCode).toBe(401);
      const wrong = await env.http({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${SERVICE_TOKEN}x` },
        payload: { orgId: org.orgId },
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).not.toContain(SERVICE_TOKEN);
    }
  });

  it('background syncs: the given accounts on the bulk lane, coalesced when queued, other organisations not found', async () => {
    await env.db.pool.query("UPDATE sync_requests SET status = 'cancelled'");
    await env.parts.relay.stop();
    try {
      const [a0] = org.accounts;
      const body = { orgId: org.orgId, accountIds: [a0!, other.accounts[0]!], requestedBy: 'scheduler-bridge' };
      const r = await env.http({ method: 'POST', url: '/internal/v1/sync/background', headers: svc, payload: body });
      expect(r.statusCode).toBe(202);
      expect(r.json()).toEqual({ queued: 1, coalesced: 0, skipped: [{ accountId: other.accounts[0], reason: 'not_found' }], remaining: 0 });
      const again = await env.http({ method: 'POST', url: '/internal/v1/sync/background', headers: svc, payload: body });
      expect(again.json()).toMatchObject({ queued: 0, coalesced: 1 });
      const cmd = await env.db.pool.query<{ subject: string; payload: { trigger: string; requestedBy: string } }>(
        "SELECT subject, payload FROM outbox WHERE payload->>'accountId' = $1",
        [a0],
      );
      expect(cmd.rows).toEqual([
        {
          subject: env.topology.commandSubject('mono', a0!, 'bulk'),
          payload: expect.objectContaining({ trigger: 'background', requestedBy: 'service:scheduler-bridge' }),
        },
      ]);
      // Org-wide: every schedulable account (the disabled one is not), the queued one coalesced.
      const all = await env.http({
        method: 'POST',
        url: '/internal/v1/sync/background',
        headers: svc,
        payload: { orgId: org.orgId, provider: 'mono' },
      });
      expect(all.json()).toMatchObject({ coalesced: 1, skipped: [], remaining: 0 });
      expect(all.json().queued).toBeGreaterThanOrEqual(1);
    } finally {
      env.parts.relay.start();
    }
  });

  it('bad bodies are 400 naming the field; a reference for another provider’s or organisation’s account is 404', async () => {
    const tooMany = await env.http({
      method: 'POST',
      url: '/internal/v1/sync/background',
      headers: svc,
      payload: { orgId: org.orgId, accountIds: Array.from({ length: 301 }, () => randomUUID()) },
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().message).toContain('body.accountIds');
    const oversize = await env.http({
      method: 'POST',
      url: '/internal/v1/sync/background',
      headers: svc,
      payload: { orgId: org.orgId, accountIds: Array.from({ length: 600 }, () => randomUUID()) },
    });
    expect(oversize.statusCode).toBe(413);
    const base = {
      orgId: other.orgId,
      provider: 'momo',
      accountId: org.accounts[0],
      referenceId: 'R1',
      kind: 'collection',
      amountMinor: '100',
      currency: 'ZMW',
      createdAt: '2026-03-02T00:00:00Z',
    };
    expect((await env.http({ method: 'POST', url: '/internal/v1/references', headers: svc, payload: base })).statusCode).toBe(404);
    const money = await env.http({ method: 'POST', url: '/internal/v1/references', headers: svc, payload: { ...base, amountMinor: 1.5 } });
    expect(money.statusCode).toBe(400);
    expect(money.json().message).toContain('body.amountMinor');
  });
});
