import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Registry } from '@intellifin/core';
import { listRuns, serviceDatabaseUrl } from '@intellifin/persistence';
import { infrastructureUrls } from '@intellifin/testing';
import { differences, quiesce, requestLog, SECRET, servedTruth, startEnv, stored, waitFor, type Env } from './helpers';
import type { WorkerProcessConfig } from './fixtures/worker-process';

/**
 * Crash and lease theft (reliability-research §4.4–4.5, §5.6 S1/S6), with real NATS, Redis and
 * Postgres and a real-clock Mono sandbox (its request log then carries real arrival times):
 * - a worker process SIGKILLed mid-run: the command is redelivered after the ack wait, the account
 *   finishes once with exactly the truth, and the request log's fences show the two workers never
 *   fetched the account at the same time;
 * - a lease deleted while its holder waits on a page: a second run takes the account, the stale
 *   writer's commit is rejected by the fence, and the cursor never goes back.
 */
const ROOT = join(__dirname, '..', '..', '..');
const ACK_WAIT_MS = 2_000;
const TX = 'GET /v2/accounts/:id/transactions';

const metric = async (registry: Registry, name: string): Promise<number> => {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
};

/** Waits until the sandbox fault rule has fired (the faulted request is being held by the sandbox). */
const fired = (env: Env, ruleId: string) =>
  waitFor(
    async () =>
      (await env.control<{ faults: { id: string; fired: number }[] }>('GET', '/faults')).faults.find((f) => f.id === ruleId)!.fired > 0,
    `fault ${ruleId} fired`,
  );

describe('crash and lease theft', () => {
  let env: Env;
  let pids: string[];
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    env = await startEnv({ accounts: 4, transactionsPerAccount: 40, clock: 'real', ackWaitMs: ACK_WAIT_MS, maxDeliver: 10, seed: 23 });
    pids = [...env.accounts.keys()];
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await env?.close();
  });

  it('kill -9 mid-run: redelivered after the ack wait, finished once with exactly the truth, never fetched by two workers at once', async () => {
    const [pid, other] = pids as [string, string];
    const id = env.accounts.get(pid)!;
    // The second page of the account is held 4 s by the sandbox: the worker dies waiting for it.
    const [rule] = (
      await env.control<{ faults: { id: string }[] }>('POST', '/faults', {
        route: TX,
        account: pid,
        kind: 'latency',
        latencyMs: 4_000,
        requests: [2],
      })
    ).faults;

    const config: WorkerProcessConfig = {
      workerId: 'child-worker',
      databaseUrl: serviceDatabaseUrl(env.db.url, 'intellifin_worker'),
      redisUrl: infrastructureUrls().redisUrl,
      natsUrl: infrastructureUrls().natsUrl,
      namespace: env.topology.namespace!,
      ackWaitMs: ACK_WAIT_MS,
      maxDeliver: 10,
      keyPrefix: env.redis.prefix,
      monoUrl: env.mono.url,
      secretKey: SECRET,
      clockOffsetMs: env.mono.core.clock.now() - Date.now(),
      // Well under the ack wait: the dead child's lease is gone before its command is redelivered.
      leaseTtlMs: 1_000,
      pageSize: 10,
      concurrency: 2,
      timeoutMs: 10_000,
      historyDays: 100,
    };
    let out = '';
    let err = '';
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'worker-process.ts')], {
      cwd: ROOT,
      env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child!.once('exit', (_code, signal) => r(signal)));
    await waitFor(
      () => {
        if (child!.exitCode !== null) throw new Error(`worker exited: ${err}`);
        return out.includes('READY');
      },
      'child ready',
      30_000,
    );

    await env.publish(pid);
    await env.publish(other);
    await fired(env, rule!.id);
    // Mid-run: page 1 is committed (cursor not advanced yet), page 2 is being fetched.
    await waitFor(
      async () => (await env.db.pool.query('SELECT count(*)::int AS n FROM transactions WHERE account_id = $1', [id])).rows[0].n === 10,
      'page 1 committed',
    );
    const [childRun] = await listRuns(env.db.pool, id, { limit: 1 });
    expect(childRun).toMatchObject({ outcome: 'running', worker: 'child-worker' });

    // A second worker is alive before the crash: it must not fetch the account while the child holds it.
    await env.startWorker({ leaseTtlMs: 1_500, mono: { baseUrl: env.mono.url, secretKey: SECRET, timeoutMs: 10_000, pageSize: 10 } });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const killedAt = env.mono.core.clock.now();
    await quiesce(env);

    // Redelivered (not re-published) and finished by the survivor, exactly once.
    const settled = env.settled.filter((e) => e.subject.endsWith(id));
    expect(settled).toEqual([expect.objectContaining({ outcome: 'ack', deliveryCount: 2 })]);
    const runs = await listRuns(env.db.pool, id, { limit: 10 });
    expect(runs.map((r) => [r.outcome, r.worker, r.errorCode])).toEqual([
      ['succeeded', 'test-0', null],
      ['failed', 'child-worker', 'abandoned'], // closed when the new run took the account
    ]);
    expect(runs[0]!.fence).toBeGreaterThan(runs[1]!.fence);
    expect(runs[0]).toMatchObject({ added: 30, unchanged: 10, modified: 0 });
    expect(differences(await servedTruth(env), await stored(env), new Set([pid, other]))).toEqual([]);
    const dup = await env.db.pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT provider_txn_id)::int AS d FROM transactions WHERE account_id = $1',
      [id],
    );
    expect(dup.rows[0]).toEqual({ n: 40, d: 40 });

    // The request log: the child's fence, then the survivor's larger one; the survivor's first
    // request for the account arrived only after the child was dead.
    const log = (await requestLog(env, pid)).sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.seq - b.seq);
    const fences = [...new Set(log.map((r) => r.fence))];
    expect(fences).toEqual([runs[1]!.fence.toString(), runs[0]!.fence.toString()]);
    const firstNew = log.findIndex((r) => r.fence === fences[1]);
    expect(log.slice(firstNew).every((r) => r.fence === fences[1])).toBe(true);
    expect(log.slice(0, firstNew).every((r) => Date.parse(r.time) <= killedAt)).toBe(true);
    expect(Date.parse(log[firstNew]!.time)).toBeGreaterThanOrEqual(killedAt);
  });

  it('a lease stolen while its holder waits on a page: the stale commit is fenced off and the cursor never goes back', async () => {
    for (const w of env.workers) await w.stop(2_000);
    const pid = pids[2]!;
    const id = env.accounts.get(pid)!;
    const [rule] = (
      await env.control<{ faults: { id: string }[] }>('POST', '/faults', {
        route: TX,
        account: pid,
        kind: 'latency',
        latencyMs: 2_500,
        requests: [2],
      })
    ).faults;
    // A paused holder: its lease heartbeat (TTL/4 = 5 s) does not run before the held page returns,
    // as with a process stopped by GC or SIGSTOP, so nothing but the fence stands in its way.
    const registry = new Registry();
    await env.startWorker({
      registry,
      leaseTtlMs: 20_000,
      mono: { baseUrl: env.mono.url, secretKey: SECRET, timeoutMs: 10_000, pageSize: 10 },
    });

    await env.publish(pid, { trigger: 'manual' });
    await fired(env, rule!.id);
    const [stale] = await listRuns(env.db.pool, id, { limit: 1 });
    expect(stale).toMatchObject({ outcome: 'running' });

    // The lease vanishes (Redis restart, expiry under a pause); another trigger starts a second run.
    expect(await env.redis.redis.del(`${env.redis.prefix}lease:acct:${id}`)).toBe(1);
    await env.publish(pid, { trigger: 'manual' });
    const fresh = await waitFor(
      async () => (await listRuns(env.db.pool, id, { limit: 5 })).find((r) => r.id !== stale!.id && r.outcome === 'succeeded'),
      'second run succeeded',
    );
    expect(fresh.fence).toBeGreaterThan(stale!.fence);
    const cursorAfterFresh = (await env.db.pool.query('SELECT cursor FROM accounts WHERE id = $1', [id])).rows[0].cursor;
    expect(cursorAfterFresh).toMatchObject({ highWaterDate: '2026-03-02' });

    // The stale run's page 2 returns; committing it (with the pre-run cursor: page 2 of 4 does not
    // advance it) is rejected by the fence. The second run's start already closed the stale row as
    // abandoned, and a closed run row is never rewritten: it keeps that verdict.
    await waitFor(
      () => env.settled.some((e) => e.subject.endsWith(id) && e.outcome === 'nak' && e.reason === 'fenced'),
      'stale run nak-ed as fenced',
    );
    await quiesce(env);
    const staleRun = (await listRuns(env.db.pool, id, { limit: 5 })).find((r) => r.id === stale!.id);
    expect(staleRun).toMatchObject({ outcome: 'failed', errorCode: 'abandoned' });
    expect(await metric(registry, 'intellifin_sync_fenced_write_rejections_total')).toBe(1);
    const acct = (await env.db.pool.query('SELECT cursor, status FROM accounts WHERE id = $1', [id])).rows[0];
    expect(acct).toEqual({ cursor: cursorAfterFresh, status: 'active' });
    expect(differences(await servedTruth(env), await stored(env), new Set([pid]))).toEqual([]);
  });
});
