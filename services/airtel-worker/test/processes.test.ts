import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { insertAccount, serviceDatabaseUrl } from '@intellifin/persistence';
import { infrastructureUrls } from '@intellifin/testing';
import { differences, KEY_RING, quiesce, requestLog, startEnv, waitFor, WORKER_ROUTES, type Env } from './helpers';
import type { WorkerProcessConfig } from './fixtures/worker-process';

/**
 * Two airtel-worker OS processes (issue #11 acceptance): 50 concurrent runs for accounts sharing one
 * credential make one token request between them; SIGKILL of the process holding a run whose status
 * lookup the simulator holds (hang) leaves every account equal to the truth, with no duplicate
 * reference rows, once the surviving process took the redelivered command.
 */
const ROOT = join(__dirname, '..', '..', '..');
const ACK_WAIT_MS = 2_000;
const REFS_PER_ACCOUNT = 12;
let env: Env;
const children = new Map<string, ChildProcess>();

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
    airtelUrl: env.airtel.url,
    keyRing: KEY_RING,
    clockOffsetMs: env.airtel.core.clock.now() - Date.now(),
    leaseTtlMs: 1_000,
    concurrency: 25,
    timeoutMs: 10_000,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'worker-process.ts')], {
    cwd: ROOT,
    env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(workerId, child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`${workerId} exited: ${err}`);
      return out.includes('READY') ? child : undefined;
    },
    `${workerId} ready`,
    45_000,
  );
}

const exited = (c: ChildProcess): Promise<unknown> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));

beforeAll(async () => {
  env = await startEnv({ accounts: 12, referencesPerAccount: REFS_PER_ACCOUNT, ackWaitMs: ACK_WAIT_MS, maxDeliver: 10 });
  await Promise.all([spawnWorker('child-a'), spawnWorker('child-b')]);
}, 120_000);
afterAll(async () => {
  for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all([...children.values()].map(exited));
  await env?.close();
});

describe('two airtel-worker processes', () => {
  it('50 concurrent runs for accounts sharing one credential make one token request between the two processes', async () => {
    const { rows } = await env.db.pool.query<{ credential_id: string; provider_account_id: string; currency: string }>(
      'SELECT credential_id, provider_account_id, currency FROM accounts WHERE provider_account_id = $1',
      [env.sim[0]!.id],
    );
    const base = rows[0]!;
    const ids: string[] = [];
    for (let k = 0; k < 50; k++) {
      const acct = await insertAccount(env.db.pool, {
        orgId: env.orgId,
        provider: 'airtel',
        providerAccountId: `${base.provider_account_id}#${k}`,
        type: 'mobile_money',
        currency: base.currency,
        credentialId: base.credential_id,
      });
      ids.push(acct.id);
    }
    await env.control('DELETE', '/requests');
    await Promise.all(ids.map((id) => env.publish(id, { mode: 'balance' })));
    await quiesce(env);
    const runs = await env.db.pool.query<{ account_id: string; worker: string; outcome: string; error_code: string | null }>(
      'SELECT account_id, worker, outcome, error_code FROM sync_runs WHERE account_id = ANY($1::uuid[])',
      [ids],
    );
    // Every account synced; on a loaded machine a run may lose its short lease and be retried, which
    // adds runs (lease_lost / fenced / abandoned), never a second token.
    const succeeded = runs.rows.filter((r) => r.outcome === 'succeeded');
    expect(new Set(succeeded.map((r) => r.account_id)).size).toBe(50);
    expect(
      runs.rows.filter((r) => r.outcome !== 'succeeded' && !['lease_lost', 'fenced', 'abandoned'].includes(r.error_code ?? '')),
    ).toEqual([]);
    // Both processes ran some of the 50.
    expect(new Set(succeeded.map((r) => r.worker))).toEqual(new Set(['child-a', 'child-b']));
    const log = await requestLog(env);
    expect(log.filter((r) => r.route === '/auth/oauth2/token').length).toBe(1);
    expect(log.filter((r) => r.route === '/standard/v1/users/balance' && r.status === 200).length).toBeGreaterThanOrEqual(50);
    const truth = (await env.truth()).find((t) => t.id === base.provider_account_id)!;
    const bal = await env.db.pool.query<{ b: string }>(
      'SELECT DISTINCT balance_minor::text AS b FROM accounts WHERE id = ANY($1::uuid[])',
      [ids],
    );
    expect(bal.rows).toEqual([{ b: String(truth.balance) }]);
  }, 90_000);

  it('kill -9 of the process whose status lookup is held: the survivor takes the redelivered command, every account equals the truth', async () => {
    const n = await env.registerAll();
    expect(n).toBe(env.sim.length * REFS_PER_ACCOUNT);
    await quiesce(env);
    const target = env.sim[1]!;
    const targetId = env.accounts.get(target.id)!;
    await env.control('DELETE', '/requests');
    // The target's 6th lookup of one kind (page 2 or later at 5 references a page, so page 1 is
    // committed) is held by the simulator well past the moment the process holding it dies.
    await env.control('POST', '/faults', { route: '*', account: target.id, kind: 'hang', hangMs: 10_000, requests: [6], times: 1 });
    await Promise.all(env.sim.map((a) => env.publish(a.id)));
    await waitFor(
      async () => (await env.control<{ faults: { fired: number }[] }>('GET', '/faults')).faults[0]!.fired > 0,
      'lookup held',
      45_000,
    );
    const held = await env.db.pool.query<{ worker: string }>(
      `SELECT worker FROM sync_runs WHERE account_id = $1 AND mode = 'full' AND outcome = 'running'`,
      [targetId],
    );
    expect(held.rows.length).toBe(1);
    const victim = held.rows[0]!.worker;
    const survivor = victim === 'child-a' ? 'child-b' : 'child-a';
    const v = children.get(victim)!;
    v.kill('SIGKILL');
    await exited(v);
    expect(v.signalCode).toBe('SIGKILL');
    await quiesce(env, 90_000);
    const runs = await env.db.pool.query<{ worker: string; outcome: string; error_code: string | null }>(
      `SELECT worker, outcome, error_code FROM sync_runs WHERE account_id = $1 AND mode = 'full' ORDER BY started_at`,
      [targetId],
    );
    expect(runs.rows.map((r) => r.worker)).toEqual([victim, survivor]);
    expect(runs.rows.map((r) => r.outcome)).toEqual(['failed', 'succeeded']);
    expect(runs.rows[0]!.error_code).toBe('abandoned');
    // Every account (the target and the victim's other runs) equals the truth, one row per reference.
    expect(await differences(env)).toEqual([]);
    const rows = await env.db.pool.query<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT (account_id, provider_txn_id))::int AS d FROM transactions',
    );
    expect(rows.rows[0]).toEqual({ n, d: n });
    const log = await requestLog(env);
    expect(log.filter((r) => !WORKER_ROUTES.has(`${r.method} ${r.route}`))).toEqual([]);
    const dlq = await env.jsm.streams.info(env.topology.streams.deadLetters.name);
    expect(dlq.state.messages).toBe(0);
  }, 150_000);
});
