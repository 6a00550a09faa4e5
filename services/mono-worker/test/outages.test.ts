import { Redis } from 'ioredis';
import { createPool, serviceDatabaseUrl, type Pool } from '@intellifin/persistence';
import { infrastructureUrls, startFaultProxy, type FaultProxy } from '@intellifin/testing';
import { quiesce, startEnv, waitFor, type Env } from './helpers';

/**
 * Our own outage is not the account's fault (issue #9): with 200 commands pending, Redis and then
 * Postgres are cut for OUTAGE_MS (default the 2 minutes) through the fault proxy, never by
 * stopping the shared servers. No account may be marked `error`, the DLQ stays empty, the worker
 * stops pulling while the outage lasts, and every account is synced after recovery.
 */
const OUTAGE_MS = Number(process.env.OUTAGE_TEST_MS ?? 120_000);
const ACCOUNTS = 200;
jest.setTimeout(OUTAGE_MS * 2 + 240_000);

describe('outages of our own Postgres and Redis', () => {
  let env: Env;
  let pgProxy: FaultProxy;
  let redisProxy: FaultProxy;
  let pool: Pool;
  let redis: Redis;
  let pids: string[];

  beforeAll(async () => {
    env = await startEnv({ accounts: ACCOUNTS, transactionsPerAccount: 3 });
    pids = [...env.accounts.keys()];
    const pgUrl = new URL(env.db.url);
    const redisUrl = new URL(infrastructureUrls().redisUrl);
    pgProxy = await startFaultProxy({ target: { host: pgUrl.hostname, port: Number(pgUrl.port || 5432) } });
    redisProxy = await startFaultProxy({ target: { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) } });
    pool = createPool(pgProxy.url(serviceDatabaseUrl(env.db.url, 'intellifin_worker')), {
      max: 12,
      connectionTimeoutMillis: 1_000,
      query_timeout: 3_000,
      statement_timeout: 3_000,
    });
    pool.on('error', () => undefined); // idle clients reset by the cut; the pool replaces them
    redis = new Redis(redisProxy.url(infrastructureUrls().redisUrl), {
      commandTimeout: 1_000,
      maxRetriesPerRequest: 1,
      connectTimeout: 1_000,
    });
    redis.on('error', () => undefined);
    await env.startWorker({ pool, redis, engine: { outageProbeMs: 500, outageNakDelayMs: 500 } });
  });
  afterAll(async () => {
    await env?.close();
    redis?.disconnect();
    await pool?.end().catch(() => undefined);
    await pgProxy?.close();
    await redisProxy?.close();
  });

  const dlqSize = async () => (await env.jsm.streams.info(env.topology.streams.deadLetters.name)).state.messages;
  const errored = async () =>
    Number((await env.db.pool.query("SELECT count(*) AS n FROM accounts WHERE status <> 'active' OR consecutive_failures > 0")).rows[0].n);
  const synced = async (minRuns: number) =>
    Number(
      (
        await env.db.pool.query(
          `SELECT count(*) AS n FROM accounts a
            WHERE (SELECT count(*) FROM sync_runs r WHERE r.account_id = a.id AND r.outcome = 'succeeded') >= $1`,
          [minRuns],
        )
      ).rows[0].n,
    );

  async function outage(proxy: FaultProxy, server: string, round: number): Promise<void> {
    proxy.cut();
    for (const pid of pids) await env.publish(pid, { triggerId: `${server}-${round}-${pid}` });
    const worker = env.workers[0]!.worker;
    await waitFor(async () => worker.monitor.outages.includes(server as never) && worker.lanes.paused, `worker paused for ${server}`);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // Still paused, nothing blamed, nothing dead-lettered.
    expect(worker.lanes.paused).toBe(true);
    expect(await errored()).toBe(0);
    expect(await dlqSize()).toBe(0);
    proxy.pass();
    await waitFor(async () => !worker.lanes.paused, `worker resumed after ${server} came back`, 60_000);
    await quiesce(env, 180_000);
  }

  it('Redis cut with 200 commands pending: nothing blamed, nothing dead-lettered, every account synced after recovery', async () => {
    await outage(redisProxy, 'redis', 1);
    expect(await synced(1)).toBe(ACCOUNTS);
    expect(await errored()).toBe(0);
    expect(await dlqSize()).toBe(0);
  });

  it('Postgres cut with 200 commands pending: the same', async () => {
    await outage(pgProxy, 'postgres', 2);
    expect(await synced(2)).toBe(ACCOUNTS);
    expect(await errored()).toBe(0);
    expect(await dlqSize()).toBe(0);
  });
});
