/**
 * Status reads under concurrent load (issue #13): `GET /v1/accounts` for a user with 20 accounts
 * and `GET /v1/accounts/:id/sync-status`, against the real composed sync-api (JWT auth, zod
 * validation and serialization, ETag, the org-scoped transaction as `intellifin_api`, the Redis
 * manual-sync wait), and in the same run a baseline: a bare fastify route running the same SQL on a
 * superuser pool (no auth, no validation, no transaction, no role switch, no RLS, no Redis).
 *
 * Targets run alternately (api list, base list, api status, base status, then again) for several
 * rounds; autocannon runs in a child process so that it does not share the server's event loop.
 * Prints req/s, p50 and p99 per target and round, the medians, and the ratio to the baseline.
 *
 *   npm run bench:api     (BENCH_ROUNDS=3 BENCH_SECONDS=8 BENCH_CONNECTIONS=10 BENCH_ORGS=50)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import Fastify from 'fastify';
import { createLogger, Registry } from '@intellifin/core';
import { connectNats, createTopology, deleteTopology, ensureTopology, jetstreamManager } from '@intellifin/messaging';
import { createPool, type Pool, type PoolClient } from '@intellifin/persistence';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  provisionTestRoles,
  startInfrastructure,
  uniqueSuffix,
} from '@intellifin/testing';
import { getAccountFacts, listAccountFacts, type FactsOptions } from '../src/app/accounts.query';
import { composeSyncApi } from '../src/compose';
import { testConfig, token } from '../test/helpers';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ORGS = Number(process.env.BENCH_ORGS ?? 50);
const ACCOUNTS_PER_USER = 20;
const RUNS_PER_ACCOUNT = 10;
const POOL_MAX = 10;

interface Result {
  target: string;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU time per request of this (server) process and of the pool's Postgres backends, µs: robust to a busy machine. */
  nodeUs: number;
  pgUs: number;
}

/** Every org: one user ("bench-user-<n>", external ids unique across orgs) with 20 accounts, 10 runs each, a due row each. */
async function seed(pool: Pool): Promise<{ orgId: string; accountId: string }> {
  await pool.query(`INSERT INTO organizations (name) SELECT 'bench org ' || g FROM generate_series(1, $1::int) g`, [ORGS]);
  await pool.query(
    `INSERT INTO users (org_id, external_id) SELECT o.id, 'bench-user-' || row_number() OVER (ORDER BY o.id) FROM organizations o`,
  );
  await pool.query(
    `INSERT INTO accounts (org_id, user_id, provider, provider_account_id, type, currency, display_name, balance_minor, balance_as_of,
                           status, last_success_at, last_attempt_at)
     SELECT u.org_id, u.id, p.provider, p.provider || '_' || u.external_id || '_' || g,
            CASE p.provider WHEN 'mono' THEN 'bank' ELSE 'mobile_money' END, 'ZMW', 'Account ' || g, 1234567 * g, now() - interval '1 hour',
            'active', now() - interval '1 hour', now() - interval '1 hour'
       FROM users u CROSS JOIN generate_series(1, $1::int) g
       JOIN LATERAL (SELECT (ARRAY['mono','momo','airtel'])[1 + g % 3] AS provider) p ON true`,
    [ACCOUNTS_PER_USER],
  );
  await pool.query(
    `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome, started_at, finished_at, window_from, window_to,
                            pages, added, duration_ms)
     SELECT a.org_id, a.id, a.provider, 'scheduled', 'transactions', g, CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'succeeded' END,
            now() - make_interval(hours => g), now() - make_interval(hours => g) + interval '2 seconds',
            now() - make_interval(days => 30 + g), now() - make_interval(hours => g), 1, 10, 2000
       FROM accounts a CROSS JOIN generate_series(1, $1::int) g`,
    [RUNS_PER_ACCOUNT],
  );
  await pool.query(
    `INSERT INTO sync_due (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
     SELECT id, provider, org_id, now() + interval '1 hour', now() + interval '1 hour', 'transactions', 'scheduled' FROM accounts`,
  );
  await pool.query('ANALYZE');
  const { rows } = await pool.query<{ orgId: string; accountId: string }>(
    `SELECT a.org_id AS "orgId", a.id AS "accountId" FROM accounts a JOIN users u ON u.id = a.user_id
      WHERE u.external_id = 'bench-user-1' ORDER BY a.created_at, a.id LIMIT 1`,
  );
  return rows[0]!;
}

/** One autocannon run in a child process (its own event loop and core), JSON result. */
function autocannon(
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<Omit<Result, 'target' | 'round' | 'nodeUs' | 'pgUs'> & { total: number }> {
  const args = [require.resolve('autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(seconds), '-j'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}`));
      const r = JSON.parse(out) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
        timeouts: number;
      };
      resolve({
        rps: r.requests.average,
        total: r.requests.total,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
      });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown';
  let lscpu = '';
  try {
    lscpu =
      execFileSync('lscpu', { encoding: 'utf8' })
        .split('\n')
        .find((l) => l.startsWith('Model name'))
        ?.replace(/^Model name:\s*/, '') ?? '';
  } catch {
    /* no lscpu */
  }
  return `nproc ${cpus().length}, ${lscpu || model}, node ${process.version}`;
}

const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** utime + stime of these processes (Postgres backends), µs, from /proc. */
function procCpuUs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      /* the backend is gone */
    }
  }
  return ticks * TICK_US;
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  console.log(`machine: ${machine()}; load average at start: ${load()}`);
  await startInfrastructure();
  await provisionTestRoles();
  const db = await createTestDatabase({ poolSize: POOL_MAX });
  const redis = createTestRedis();
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'sync-api-bench' });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology({ namespace: `bench${uniqueSuffix(3)}` });
  await ensureTopology(jsm, topology, { deadLetterWatcher: false });
  const config = testConfig({ PG_POOL_MAX: String(POOL_MAX) });
  const logger = createLogger({ service: 'sync-api-bench', level: 'warn' });
  const parts = await composeSyncApi({
    config,
    pool: db.poolAs('intellifin_api'),
    redis: redis.redis,
    nc,
    topology,
    logger,
    registry: new Registry(),
    keyPrefix: redis.prefix,
  });
  const basePool = createPool(db.url, { max: POOL_MAX, application_name: 'sync-api-bench-baseline' });
  const base = Fastify({ logger: false });
  try {
    const { orgId, accountId } = await seed(db.pool);
    const facts: FactsOptions = { historyDays: config.HISTORY_DAYS, queuedTtlMs: config.QUEUED_TTL_MS };
    const plain = (r: object & { balanceMinor: bigint | null }) => ({ ...r, balanceMinor: r.balanceMinor?.toString() ?? null });
    const q = basePool as unknown as PoolClient; // pool.query: one statement, no transaction
    base.get('/base/accounts', async () => ({ accounts: (await listAccountFacts(q, 'bench-user-1', facts)).map(plain) }));
    base.get<{ Params: { id: string } }>('/base/accounts/:id/sync-status', async (req, reply) => {
      const f = await getAccountFacts(q, 'bench-user-1', req.params.id, facts);
      return f ? plain(f) : reply.code(404).send({ error: 'not_found' });
    });
    await parts.http.listen({ port: 0, host: '127.0.0.1' });
    await base.listen({ port: 0, host: '127.0.0.1' });
    const port = (s: { server: { address(): ReturnType<typeof base.server.address> } }) => {
      const a = s.server.address();
      return typeof a === 'object' && a ? a.port : 0;
    };
    const api = `http://127.0.0.1:${port(parts.http)}`;
    const bare = `http://127.0.0.1:${port(base)}`;
    const auth = { authorization: `Bearer ${await token({ orgId, sub: 'bench-user-1', expiresIn: '2h' })}` };

    // Correctness first: both answer the same 20 accounts.
    const check = await fetch(`${api}/v1/accounts`, { headers: auth });
    const apiAccounts = ((await check.json()) as { accounts: unknown[] }).accounts.length;
    const baseAccounts = ((await (await fetch(`${bare}/base/accounts`)).json()) as { accounts: unknown[] }).accounts.length;
    if (check.status !== 200 || apiAccounts !== ACCOUNTS_PER_USER || baseAccounts !== ACCOUNTS_PER_USER)
      throw new Error(`setup: api ${check.status} with ${apiAccounts} accounts, baseline ${baseAccounts}`);

    const backends = async (app: string) =>
      (
        await db.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [
          db.name,
          app,
        ])
      ).rows.map((r) => r.pid);
    const targets = [
      { name: 'api  GET /v1/accounts', url: `${api}/v1/accounts`, headers: auth, app: 'test-intellifin_api' },
      { name: 'base GET /accounts (same SQL)', url: `${bare}/base/accounts`, headers: {}, app: 'sync-api-bench-baseline' },
      {
        name: 'api  GET /v1/accounts/:id/sync-status',
        url: `${api}/v1/accounts/${accountId}/sync-status`,
        headers: auth,
        app: 'test-intellifin_api',
      },
      {
        name: 'base GET /accounts/:id/sync-status (same SQL)',
        url: `${bare}/base/accounts/${accountId}/sync-status`,
        headers: {},
        app: 'sync-api-bench-baseline',
      },
    ];
    console.log(
      `${ORGS} orgs × 1 user × ${ACCOUNTS_PER_USER} accounts × ${RUNS_PER_ACCOUNT} runs; ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds; pools of ${POOL_MAX}`,
    );
    for (const t of targets) await autocannon(t.url, t.headers, 2); // warm-up: JIT, prepared statements, pools
    const results: Result[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const pids = await backends(t.app);
        const [cpu0, pg0] = [process.cpuUsage(), procCpuUs(pids)];
        const { total, ...ac } = await autocannon(t.url, t.headers, SECONDS);
        const cpu = process.cpuUsage(cpu0);
        const n = Math.max(1, total);
        const r = { target: t.name, round, ...ac, nodeUs: (cpu.user + cpu.system) / n, pgUs: (procCpuUs(pids) - pg0) / n };
        results.push(r);
        console.log(
          `round ${round}  ${t.name.padEnd(46)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms` +
            `  cpu/req node ${r.nodeUs.toFixed(0)} µs pg ${r.pgUs.toFixed(0)} µs` +
            `${r.non2xx || r.errors ? `  (non-2xx ${r.non2xx}, errors ${r.errors})` : ''}  load ${load()}`,
        );
      }
    }
    console.log('\nmedians over rounds:');
    console.log('| target | req/s | p50 ms | p99 ms | req/s ÷ baseline | node CPU µs/req | Postgres CPU µs/req |');
    console.log('|---|---|---|---|---|---|---|');
    for (let i = 0; i < targets.length; i++) {
      const mine = results.filter((r) => r.target === targets[i]!.name);
      const baseline = results.filter((r) => r.target === targets[i % 2 === 0 ? i + 1 : i]!.name);
      const ratio = median(mine.map((r) => r.rps)) / median(baseline.map((r) => r.rps));
      console.log(
        `| ${targets[i]!.name.trim()} | ${median(mine.map((r) => r.rps)).toFixed(0)} | ${median(mine.map((r) => r.p50))} | ${median(mine.map((r) => r.p99))} | ${i % 2 === 0 ? ratio.toFixed(2) : '1'} | ${median(mine.map((r) => r.nodeUs)).toFixed(0)} | ${median(mine.map((r) => r.pgUs)).toFixed(0)} |`,
      );
    }
    const bad = results.filter((r) => r.non2xx > 0 || r.errors > 0);
    if (bad.length)
      throw new Error(`some runs had non-2xx answers or errors: ${bad.map((r) => `${r.target} round ${r.round}`).join(', ')}`);
    console.log(`load average at end: ${load()}`);
  } finally {
    await base.close();
    await parts.stop();
    await basePool.end();
    await deleteTopology(jsm, topology).catch(() => undefined);
    await nc.close();
    await redis.cleanup();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
