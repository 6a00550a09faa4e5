/**
 * Test fixture for the checker (used by checker.test.ts only): a small, hand-made world that
 * satisfies every invariant — real Postgres (the test kit's migrated database), in-process
 * simulators, a JetStream namespace and a Redis prefix — built the way the system would leave it
 * after quiescence. Each test then breaks one thing and expects the checker to say so.
 *
 * Accounts: Mono A and B synced with every served row; Mono C revoked at the simulator, ended
 * auth_required with an open episode and one push at OneSignal; MoMo M1 synced with its registered
 * references; MoMo M2 synced, no references; Airtel P poison (dead-lettered, error); Airtel Q synced.
 */
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { ensureTopology, deleteTopology, DLQ_HEADERS } from '@intellifin/messaging';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  uniqueSuffix,
  type TestDatabase,
  type TestRedis,
} from '@intellifin/testing';
import { startAirtel, startMomo, startMono, startOneSignal } from '@intellifin/sandbox';
import { openStreams, type StreamSession } from './streams';
import type { CheckContext, ProviderName } from './types';

export const MONO_KEY = 'test_sk_checker';
const SEED = 21;

type Sim = { url: string; close(): Promise<void> };

export interface TestWorld {
  ctx: CheckContext;
  db: TestDatabase;
  redis: TestRedis;
  streams: StreamSession;
  js: JetStreamClient;
  sims: { mono: Sim; momo: Sim; airtel: Sim; onesignal: Sim };
  /** Our account ids. */
  ids: { monoA: string; monoB: string; monoC: string; momo1: string; momo2: string; airtelP: string; airtelQ: string };
  /** Provider account ids, same keys. */
  providerIds: Record<string, string>;
  orgId: string;
  /** A fenced run as the engine records it (fence bump, running row, writes, finish, run event). */
  run(
    accountId: string,
    provider: ProviderName,
    finish: RunFinishSpec,
    write?: (runId: string, fence: bigint) => Promise<void>,
  ): Promise<string>;
  /** A fenced GET of a Mono account's transactions, as the worker's client sends it. */
  monoFetch(providerAccountId: string, fence: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface RunFinishSpec {
  outcome: 'succeeded' | 'failed' | 'cancelled';
  errorKind?: string;
  errorCode?: string;
  /** Skip the run event (a broken relay). */
  noEvent?: boolean;
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.url} answered ${res.status}`);
  return (await res.json()) as T;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

export async function buildTestWorld(): Promise<TestWorld> {
  const sims = {
    mono: await startMono({ port: 0, seed: SEED, accounts: 3, clock: 'real', secretKey: MONO_KEY }),
    momo: await startMomo({ port: 0, seed: SEED, accounts: 2, clock: 'real', referencesPerAccount: 3 }),
    airtel: await startAirtel({ port: 0, seed: SEED, accounts: 2, clock: 'real' }),
    onesignal: await startOneSignal({ port: 0, seed: SEED, clock: 'real' }),
  };
  const list = async (url: string) =>
    (
      await json<{ accounts: Array<{ id: string; currency: string; credentials?: Record<string, string> }> }>(
        await fetch(`${url}/__sandbox/accounts`),
      )
    ).accounts;
  const [mono, momo, airtel, os] = await Promise.all([
    list(sims.mono.url),
    list(sims.momo.url),
    list(sims.airtel.url),
    list(sims.onesignal.url),
  ]);
  await post(`${sims.mono.url}/__sandbox/accounts/${mono[2]!.id}/revoke`, { mode: 'reauth', notify: false });
  await post(`${sims.onesignal.url}/__sandbox/users/user-1`, { state: 'subscribed' });

  const db = await createTestDatabase();
  const redis = createTestRedis();
  const ns = `chk${uniqueSuffix(4)}`;
  const urls = infrastructureUrls();
  const streams = await openStreams(urls.natsUrl, ns);
  await ensureTopology(streams.jsm, streams.topology);
  const js = jetstream(streams.nc);
  const pool = db.pool;

  const orgId = (await pool.query<{ id: string }>(`INSERT INTO organizations (name) VALUES ('checker') RETURNING id`)).rows[0]!.id;
  const userId = (await pool.query<{ id: string }>(`INSERT INTO users (org_id, external_id) VALUES ($1, 'user-1') RETURNING id`, [orgId]))
    .rows[0]!.id;
  const account = async (provider: ProviderName, a: { id: string; currency: string }) =>
    (
      await pool.query<{ id: string }>(
        `INSERT INTO accounts (org_id, user_id, provider, provider_account_id, type, currency) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [orgId, userId, provider, a.id, provider === 'mono' ? 'bank' : 'mobile_money', a.currency],
      )
    ).rows[0]!.id;
  const ids = {
    monoA: await account('mono', mono[0]!),
    monoB: await account('mono', mono[1]!),
    monoC: await account('mono', mono[2]!),
    momo1: await account('momo', momo[0]!),
    momo2: await account('momo', momo[1]!),
    airtelP: await account('airtel', airtel[0]!),
    airtelQ: await account('airtel', airtel[1]!),
  };
  const providerIds: Record<string, string> = {
    monoA: mono[0]!.id,
    monoB: mono[1]!.id,
    monoC: mono[2]!.id,
    momo1: momo[0]!.id,
    momo2: momo[1]!.id,
    airtelP: airtel[0]!.id,
    airtelQ: airtel[1]!.id,
  };

  const run: TestWorld['run'] = async (accountId, provider, finish, write) => {
    const f = await pool.query<{ fence: string }>('UPDATE accounts SET fence = fence + 1 WHERE id = $1 RETURNING fence::text AS fence', [
      accountId,
    ]);
    const fence = BigInt(f.rows[0]!.fence);
    const r = await pool.query<{ id: string }>(
      `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, window_from)
       VALUES ($1, $2, $3, 'scheduled', 'full', $4, date_trunc('day', now()) - interval '90 days') RETURNING id`,
      [orgId, accountId, provider, fence.toString()],
    );
    const runId = r.rows[0]!.id;
    await write?.(runId, fence);
    await pool.query(`UPDATE sync_runs SET outcome = $2, finished_at = clock_timestamp(), error_kind = $3, error_code = $4 WHERE id = $1`, [
      runId,
      finish.outcome,
      finish.errorKind ?? null,
      finish.errorCode ?? null,
    ]);
    if (!finish.noEvent) {
      await js.publish(
        streams.topology.eventSubject('run', provider, accountId),
        JSON.stringify({ runId, accountId, outcome: finish.outcome }),
        {
          msgID: `run:${runId}`,
        },
      );
    }
    return runId;
  };

  const monoFetch: TestWorld['monoFetch'] = (providerAccountId, fence, init = {}) =>
    fetch(`${sims.mono.url}/v2/accounts/${providerAccountId}/transactions?paginate=false`, {
      ...init,
      headers: { 'mono-sec-key': MONO_KEY, 'x-request-fence': fence },
    });

  const startedAt = new Date();

  // Mono A and B: a successful run that stored every row the simulator serves.
  for (const key of ['monoA', 'monoB'] as const) {
    const id = ids[key];
    await run(id, 'mono', { outcome: 'succeeded' }, async (_runId, fence) => {
      expectOk(await monoFetch(providerIds[key]!, fence.toString()));
      const truth = await json<{
        transactions: Array<{
          id: string;
          date: string;
          amount: number;
          currency: string;
          type: string;
          status: string;
          servedNow: boolean;
          removed: boolean;
          finalStatus: string;
        }>;
      }>(await fetch(`${sims.mono.url}/__sandbox/truth/${providerIds[key]}`));
      for (const t of truth.transactions) {
        if (!t.servedNow || t.removed || t.finalStatus === 'removed') continue;
        await pool.query(
          `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}')`,
          [orgId, id, t.id, Math.abs(t.amount), t.currency, t.type, t.status, t.date],
        );
      }
      await pool.query(
        `UPDATE accounts SET cursor = jsonb_build_object('v', 1, 'kind', 'mono', 'highWaterDate', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'lastWindow', null)
          WHERE id = $1`,
        [id],
      );
    });
    await markSynced(id);
  }

  // Mono C: consent revoked → the run failed on auth; an episode and one push.
  const runC = await run(
    ids.monoC,
    'mono',
    { outcome: 'failed', errorKind: 'auth', errorCode: 'mono_reauth_required' },
    async (_r, fence) => {
      await monoFetch(providerIds.monoC!, fence.toString());
    },
  );
  await pool.query(`UPDATE accounts SET status = 'auth_required' WHERE id = $1`, [ids.monoC]);
  const episode = (
    await pool.query<{ id: string }>(
      `INSERT INTO notification_episodes (org_id, account_id, provider, opened_run_id, opened_at) VALUES ($1, $2, 'mono', $3, now()) RETURNING id`,
      [orgId, ids.monoC, runC],
    )
  ).rows[0]!.id;
  const key = randomUUID();
  await pool.query(
    `INSERT INTO notifications (org_id, account_id, user_id, kind, episode, status, provider, idempotency_key) VALUES ($1, $2, $3, 'reauth', $4, 'delivered', 'mono', $5)`,
    [orgId, ids.monoC, userId, episode, key],
  );
  const app = os[0]!.credentials!;
  expectOk(
    await post(
      `${sims.onesignal.url}/notifications`,
      {
        app_id: app.appId,
        include_aliases: { external_id: ['user-1'] },
        target_channel: 'push',
        contents: { en: 'Reconnect' },
        idempotency_key: key,
      },
      { authorization: `Key ${app.appApiKey}` },
    ),
  );

  // MoMo 1: its references registered, and a run that resolved them as the truth says.
  const refs = (
    await json<{ references: Array<{ id: string; kind: string; amount: number; currency: string; status: string; createdAt: string }> }>(
      await fetch(`${sims.momo.url}/__sandbox/truth/${providerIds.momo1}`),
    )
  ).references;
  for (const x of refs) {
    await pool.query(
      // Registered a minute before the run: the checker compares at millisecond precision, and a
      // registration in the same millisecond as the run's start is neither before nor after it.
      `INSERT INTO wallet_references (org_id, account_id, provider, reference_id, kind, amount_minor, currency, created_at, registered_at)
       VALUES ($1, $2, 'momo', $3, $4, $5, $6, $7, now() - interval '1 minute')`,
      [orgId, ids.momo1, x.id, x.kind === 'requesttopay' ? 'collection' : 'payout', x.amount, x.currency, x.createdAt],
    );
  }
  await run(ids.momo1, 'momo', { outcome: 'succeeded' }, async () => {
    const pending: string[] = [];
    for (const x of refs) {
      const status = x.status === 'SUCCESSFUL' ? 'posted' : x.status === 'FAILED' ? 'failed' : 'pending';
      if (status === 'pending') pending.push(x.id);
      await pool.query(
        `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}')`,
        [orgId, ids.momo1, x.id, x.amount, x.currency, x.kind === 'requesttopay' ? 'credit' : 'debit', status, x.createdAt],
      );
    }
    await pool.query(`UPDATE accounts SET cursor = jsonb_build_object('v', 1, 'kind', 'momo', 'pendingRefs', $2::jsonb) WHERE id = $1`, [
      ids.momo1,
      JSON.stringify(pending.sort()),
    ]);
  });
  await markSynced(ids.momo1);
  for (const [id, p] of [
    [ids.momo2, 'momo'],
    [ids.airtelQ, 'airtel'],
  ] as const) {
    await run(id, p, { outcome: 'succeeded' });
    await markSynced(id);
  }

  // Airtel P: poison — the handler threw, the run failed permanently, the command was dead-lettered.
  await run(ids.airtelP, 'airtel', { outcome: 'failed', errorKind: 'permanent', errorCode: 'chaos_poison' });
  await pool.query(`UPDATE accounts SET status = 'error', last_error_code = 'chaos_poison' WHERE id = $1`, [ids.airtelP]);
  const original = streams.topology.commandSubject('airtel', ids.airtelP);
  const h = natsHeaders();
  h.set(DLQ_HEADERS.originalSubject, original);
  h.set(DLQ_HEADERS.errorCode, 'chaos_poison');
  await js.publish(streams.topology.deadLetterSubject(original), '{}', { headers: h });

  const ctx: CheckContext = {
    pgUrl: db.url,
    natsUrl: urls.natsUrl,
    natsMonitorUrl: 'http://127.0.0.1:8222',
    redisUrl: urls.redisUrl,
    natsNamespace: ns,
    redisPrefix: redis.prefix,
    simulators: { mono: sims.mono.url, momo: sims.momo.url, airtel: sims.airtel.url, onesignal: sims.onesignal.url },
    poison: [{ accountId: ids.airtelP, provider: 'airtel', kind: 'throw' }],
    startedAt,
    finishedAt: new Date(),
    scenario: 'S0',
  };

  async function markSynced(id: string): Promise<void> {
    await pool.query(
      `UPDATE accounts SET status = 'active', last_success_at = now(),
              last_success_started_at = (SELECT max(started_at) FROM sync_runs WHERE account_id = $1 AND outcome = 'succeeded') WHERE id = $1`,
      [id],
    );
  }

  return {
    ctx,
    db,
    redis,
    streams,
    js,
    sims,
    ids,
    providerIds,
    orgId,
    run,
    monoFetch,
    async close() {
      await deleteTopology(streams.jsm, streams.topology).catch(() => undefined);
      await streams.close();
      await redis.cleanup();
      await db.drop();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}

function expectOk(res: Response): void {
  if (!res.ok) throw new Error(`fixture request ${res.url} answered ${res.status}`);
}
