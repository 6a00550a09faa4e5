import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { serviceDatabaseUrl } from '@intellifin/persistence';
import { infrastructureUrls } from '@intellifin/testing';
import { differences, KEY_RING, quiesce, requestLog, startEnv, waitFor, type Env } from './helpers';
import type { WorkerProcessConfig } from './fixtures/worker-process';

/**
 * Two momo-worker processes (issue #11): 50 concurrent runs for accounts sharing one credential make
 * one token request between them; a worker SIGKILLed mid-run leaves its account equal to the truth
 * with no duplicate reference rows once the survivor took the redelivered command.
 */
const ROOT = join(__dirname, '..', '..', '..');
const ACK_WAIT_MS = 2_000;
let env: Env;
const children: ChildProcess[] = [];

function spawnWorker(workerId: string): Promise<ChildProcess> {
  const config: WorkerProcessConfig = {
    workerId,
    databaseUrl: serviceDatabaseUrl(env.db.url, 'intellifin_worker'),
    redisUrl: infrastructureUrls().redisUrl,
    natsUrl: infrastructureUrls().natsUrl,
    namespace: env.topology.namespace!,
    ackWaitMs: ACK_WAIT_MS,
    maxDeliver: 10,
    keyPrefix: env.redis.prefix,
    momoUrl: env.momo.url,
    keyRing: KEY_RING,
    clockOffsetMs: env.momo.core.clock.now() - Date.now(),
    leaseTtlMs: 1_000,
    concurrency: 25,
    pageSize: 2,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'worker-process.ts')], {
    cwd: ROOT,
    env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`worker exited: ${err}`);
      return out.includes('READY') ? child : undefined;
    },
    `${workerId} ready`,
    45_000,
  );
}

beforeAll(async () => {
  env = await startEnv({ accounts: 50, referencesPerAccount: 4, sharedCredential: true, ackWaitMs: ACK_WAIT_MS, maxDeliver: 10 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await env?.close();
});

describe('two worker processes', () => {
  it('50 concurrent runs for accounts sharing one credential make one token request', async () => {
    const [a, b] = await Promise.all([spawnWorker('child-a'), spawnWorker('child-b')]);
    await env.control('DELETE', '/requests');
    await Promise.all([...env.accounts.keys()].map((pid) => env.publish(pid, { mode: 'balance' })));
    await quiesce(env);
    b.kill('SIGTERM');
    const runs = await env.db.pool.query<{ account_id: string; worker: string; outcome: string }>(
      'SELECT account_id, worker, outcome FROM sync_runs',
    );
    // Every account synced (a run that lost its short lease on a loaded box is retried: count accounts, not runs).
    expect(new Set(runs.rows.filter((r) => r.outcome === 'succeeded').map((r) => r.account_id)).size).toBe(50);
    expect(new Set(runs.rows.map((r) => r.worker))).toEqual(new Set(['child-a', 'child-b']));
    const log = await requestLog(env);
    expect(log.filter((r) => r.route.endsWith('/token/')).length).toBe(1);
    expect(log.filter((r) => r.route === '/collection/v1_0/account/balance').length).toBeGreaterThanOrEqual(50);
    if (b.exitCode === null && b.signalCode === null) await new Promise((r) => b.once('exit', r));
    void a;
  }, 90_000);

  it('kill -9 mid-run: the survivor finishes the account equal to the truth, no duplicate reference rows', async () => {
    const a = children[0]!;
    const b = children[1]!;
    if (b.exitCode === null && b.signalCode === null) {
      b.kill('SIGKILL');
      await new Promise((r) => b.once('exit', r));
    }
    const first = env.sim[0]!;
    const accountId = env.accounts.get(first.id)!;
    const truth = await env.truth();
    const own = new Set(truth.find((t) => t.id === first.id)!.refs.map((r) => r.id));
    await env.registerAll((r) => own.has(r.id));
    await quiesce(env);
    // Pages of 2 references in reference-id order: the first lookup of page 2 is held by the
    // simulator, and the child dies waiting for it, after page 1 committed.
    const refs = truth.find((t) => t.id === first.id)!.refs.sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(refs.length).toBe(4);
    const held = refs[2]!;
    const route =
      held.kind === 'requesttopay' ? 'GET /collection/v1_0/requesttopay/:referenceId' : 'GET /disbursement/v1_0/transfer/:referenceId';
    const nth = refs.slice(0, 3).filter((r) => r.kind === held.kind).length;
    await env.control('POST', '/faults', { route, account: first.id, kind: 'latency', latencyMs: 5_000, requests: [nth] });
    // Every reference final at MoMo (the in-flight ones settle within 2 hours).
    await env.control('POST', '/clock/advance', { hours: 2 });
    await env.publish(first.id, { mode: 'transactions' });
    await waitFor(async () => (await env.control<{ faults: { fired: number }[] }>('GET', '/faults')).faults[0]!.fired > 0, 'lookup held');
    await waitFor(
      async () =>
        (
          await env.db.pool.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM transactions WHERE account_id = $1 AND status <> 'pending'",
            [accountId],
          )
        ).rows[0]!.n === 2,
      'page 1 committed',
    );
    a.kill('SIGKILL');
    await new Promise((r) => a.once('exit', r));
    await env.startWorker({ leaseTtlMs: 1_000 });
    await quiesce(env);
    const runs = await env.db.pool.query<{ worker: string; outcome: string }>(
      "SELECT worker, outcome FROM sync_runs WHERE account_id = $1 AND mode = 'transactions' ORDER BY started_at",
      [accountId],
    );
    expect(runs.rows.map((r) => r.worker)).toEqual(['child-a', 'test-0']);
    expect(runs.rows[1]!.outcome).toBe('succeeded');
    // Page 1's references were final in the child's commit (its row, closed as abandoned, never
    // recorded counts); the survivor modified only page 2's two references.
    const m = await env.db.pool.query<{ modified: number }>(
      "SELECT modified FROM sync_runs WHERE account_id = $1 AND mode = 'transactions' ORDER BY started_at",
      [accountId],
    );
    expect(m.rows.map((r) => r.modified)).toEqual([0, 2]);
    const diffs = (await differences(env, { balances: false })).filter((d) => d.startsWith(`${first.id}:`));
    expect(diffs).toEqual([]);
    const dup = await env.db.pool.query<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT provider_txn_id)::int AS d FROM transactions WHERE account_id = $1',
      [accountId],
    );
    expect(dup.rows[0]).toEqual({ n: own.size, d: own.size });
  }, 90_000);
});
