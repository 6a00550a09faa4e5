import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Registry } from '@intellifin/core';
import { Publisher } from '@intellifin/messaging';
import { insertAccount } from '@intellifin/persistence';
import { AirtelApi, MomoApi } from '@intellifin/providers';
import { startMomo, type RunningSimulator } from '@intellifin/sandbox';
import { waitFor } from '@intellifin/testing';
import { WalletIntake } from '@intellifin/wallet-sync';
import { logger, seedOrg, startApi, type ApiEnv, type Org } from './helpers';

/**
 * MoMo and Airtel callbacks and the internal routes against real Postgres (as intellifin_api),
 * Redis and NATS, with the MoMo simulator calling back and the wallet workers' real intake consuming.
 */
const MOMO_TOKEN = 'momo-callback-token-for-tests-0123456789';
const AIRTEL_TOKEN = 'airtel-callback-token-for-tests-0123456789';
const SERVICE_TOKEN = 'service-token-for-tests-at-least-32-chars';

let env: ApiEnv;
let org: Org;
let other: Org;

beforeAll(async () => {
  env = await startApi({ config: { MOMO_CALLBACK_TOKEN: MOMO_TOKEN, AIRTEL_CALLBACK_TOKEN: AIRTEL_TOKEN } });
  org = await seedOrg(env.db, 'Ingress org', 1);
  other = await seedOrg(env.db, 'Other org', 1);
});
afterAll(() => env?.close());

const events = async (provider: string) =>
  (
    await env.db.pool.query<{ event_type: string; state: string; deliveries: number }>(
      'SELECT event_type, state, deliveries FROM webhook_events WHERE provider = $1 ORDER BY id',
      [provider],
    )
  ).rows;

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
        "SELECT subject, payload FROM outbox WHERE payload->>'accountId' = $1 ORDER BY id",
        [a0],
      );
      expect(cmd.rows).toEqual([
        {
          subject: env.topology.eventSubject('status', 'mono', a0!),
          payload: expect.objectContaining({ kind: 'queued', trigger: 'background', mode: expect.any(String) }),
        },
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
