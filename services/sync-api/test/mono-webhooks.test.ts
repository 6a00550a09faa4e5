import { randomUUID } from 'node:crypto';
import { Registry } from '@intellifin/core';
import { insertAccount } from '@intellifin/persistence';
import { startMono, type RunningSimulator } from '@intellifin/sandbox';
import { waitFor } from '@intellifin/testing';
import { WebhookProcessor } from '../src/app/webhook-processor';
import { logger, seedOrg, startApi, type ApiEnv, type Org } from './helpers';

/**
 * Mono webhook ingress and processing against real Postgres (as intellifin_api), Redis and NATS,
 * with the Mono simulator delivering. Callbacks and the internal routes: callbacks-internal.test.ts.
 */
const MONO_SECRET = 'ingress-test-mono-webhook-secret';

let env: ApiEnv;
let mono: RunningSimulator<unknown>;
let monoIds: string[];
let org: Org;

beforeAll(async () => {
  env = await startApi({
    config: {
      MONO_WEBHOOK_SECRET: MONO_SECRET,
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
      statusEventSubject: (provider, accountId) => env.topology.eventSubject('status', provider, accountId),
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
