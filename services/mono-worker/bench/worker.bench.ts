/**
 * mono-worker throughput: BENCH_ACCOUNTS (2,000) Mono accounts × BENCH_TXNS (100) transactions,
 * first sync of each, through JetStream and BENCH_WORKERS (2) worker processes built with
 * `createMonoWorker` (`test/fixtures/worker-process.ts`, `node --import tsx`), each with
 * BENCH_CONCURRENCY (8) runs in flight, against real Postgres/Redis/NATS and the Mono sandbox
 * (in this process, manual clock). The workers are up and consuming before the commands are
 * published; the clock runs from the first publish to the last recorded run.
 *
 * Reports accounts/s, transactions/s (rows written), run duration p50/p95/p99 (`sync_runs`:
 * lease → recorded outcome) and publish → finish latency p50/p95/p99.
 *
 *   npm run bench -w @intellifin/mono-worker    (DATABASE_URL / NATS_URL / REDIS_URL or local servers)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  connectNats,
  createTopology,
  deleteTopology,
  ensureTopology,
  jetstreamManager,
  Publisher,
  syncCommandCodec,
  type SyncCommand,
} from '@intellifin/messaging';
import { serviceDatabaseUrl } from '@intellifin/persistence';
import { startMono } from '@intellifin/sandbox';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  provisionTestRoles,
  startInfrastructure,
  uniqueSuffix,
} from '@intellifin/testing';
import type { WorkerProcessConfig } from '../test/fixtures/worker-process';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 2_000);
const TXNS = Number(process.env.BENCH_TXNS ?? 100);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PAGE_SIZE = Number(process.env.BENCH_PAGE_SIZE ?? 100);
const EPOCH = '2026-03-02T00:00:00.000Z';
const SECRET = 'test_sk_sandbox_mono';
const ROOT = join(__dirname, '..', '..', '..');

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU seconds (user + system, all threads) per process group from /proc (Linux; empty elsewhere):
 * the bench process (sandbox, publisher), each worker, Postgres (all backends), NATS, Redis.
 */
function cpuSnapshot(workerPids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(f[11]) + Number(f[12])) / 100; // CLK_TCK is 100 on Linux
      const pid = Number(name);
      const group =
        pid === process.pid
          ? 'bench (sandbox)'
          : workerPids.includes(pid)
            ? `worker ${workerPids.indexOf(pid)}`
            : comm === 'postgres' || comm.startsWith('postgres')
              ? 'postgres'
              : comm === 'nats-server'
                ? 'nats'
                : comm === 'redis-server'
                  ? 'redis'
                  : undefined;
      if (group) out.set(group, (out.get(group) ?? 0) + seconds);
    } catch {
      // the process ended between readdir and read
    }
  }
  try {
    // The whole box (busy = all but idle and iowait): what is left over is someone else's load.
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    out.set('box', (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / 100);
  } catch {
    // not Linux
  }
  return out;
}

async function main(): Promise<void> {
  await startInfrastructure();
  const db = await createTestDatabase({ poolSize: 4 });
  await provisionTestRoles();
  const redis = createTestRedis();
  const mono = await startMono({ port: 0, seed: 3, epoch: EPOCH, clock: 'manual', accounts: ACCOUNTS, transactionsPerAccount: TXNS });
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'mono-worker-bench' });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology({ namespace: `bench${uniqueSuffix(3)}` });
  await ensureTopology(jsm, topology);
  const children: ChildProcess[] = [];
  try {
    const { rows: org } = await db.pool.query<{ id: string }>(`INSERT INTO organizations (name) VALUES ('bench') RETURNING id`);
    const list = (await (await fetch(`${mono.url}/__sandbox/accounts?limit=${ACCOUNTS}`)).json()) as {
      accounts: { id: string; currency: string }[];
    };
    const { rows: accounts } = await db.pool.query<{ id: string }>(
      `INSERT INTO accounts (org_id, provider, provider_account_id, type, currency)
       SELECT $1, 'mono', a.pid, 'bank', a.cur FROM unnest($2::text[], $3::text[]) AS a(pid, cur) RETURNING id`,
      [org[0]!.id, list.accounts.map((a) => a.id), list.accounts.map((a) => a.currency)],
    );
    await db.pool.query('ANALYZE accounts');

    const config = (i: number): WorkerProcessConfig => ({
      workerId: `bench-worker-${i}`,
      databaseUrl: serviceDatabaseUrl(db.url, 'intellifin_worker'),
      redisUrl: infrastructureUrls().redisUrl,
      natsUrl: infrastructureUrls().natsUrl,
      namespace: topology.namespace!,
      ackWaitMs: topology.ackWaitMs,
      maxDeliver: topology.maxDeliver,
      keyPrefix: redis.prefix,
      monoUrl: mono.url,
      secretKey: SECRET,
      clockOffsetMs: mono.core.clock.now() - Date.now(),
      leaseTtlMs: Math.floor(topology.ackWaitMs * 0.8),
      pageSize: PAGE_SIZE,
      concurrency: CONCURRENCY,
      timeoutMs: 15_000,
      historyDays: 100,
      rate: { ratePerSecond: 100_000, burst: 100_000 },
      logLevel: 'warn',
      settledLines: false,
    });
    await Promise.all(
      Array.from(
        { length: WORKERS },
        (_, i) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(
              process.execPath,
              [
                '--stack-trace-limit=0',
                ...(process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
                '--import',
                'tsx',
                join(ROOT, 'services/mono-worker/test/fixtures/worker-process.ts'),
              ],
              {
                cwd: ROOT,
                env: { ...process.env, WORKER_CONFIG: JSON.stringify(config(i)) },
                stdio: ['ignore', 'pipe', 'inherit'],
              },
            );
            children.push(child);
            let out = '';
            child.stdout!.on('data', (b: Buffer) => {
              out += b.toString();
              if (out.includes('READY')) resolve();
            });
            child.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code}`)));
          }),
      ),
    );

    const publisher = new Publisher({ nc, topology });
    const publishedAt = new Map<string, number>();
    const workerPids = children.map((c) => c.pid!);
    const cpu0 = cpuSnapshot(workerPids);
    const t0 = Date.now();
    for (let i = 0; i < accounts.length; i += 200) {
      await Promise.all(
        accounts.slice(i, i + 200).map(async ({ id }) => {
          const cmd: SyncCommand = {
            commandId: randomUUID(),
            accountId: id,
            orgId: org[0]!.id,
            provider: 'mono',
            trigger: 'scheduled',
            mode: 'transactions',
            realtime: false,
            plannedSlot: new Date(t0).toISOString(),
            issuedAt: new Date().toISOString(),
          };
          publishedAt.set(id, Date.now());
          await publisher.publish(topology.commandSubject('mono', id), cmd, { codec: syncCommandCodec, msgId: `${id}:${cmd.plannedSlot}` });
        }),
      );
    }
    const tPublished = Date.now();
    for (;;) {
      const { rows } = await db.pool.query<{ n: number; open: number }>(
        `SELECT count(*) FILTER (WHERE outcome <> 'running')::int AS n, count(*)::int AS open FROM sync_runs`,
      );
      if (rows[0]!.n >= ACCOUNTS) break;
      await sleep(100);
    }
    const cpu1 = cpuSnapshot(workerPids);
    const wall = (Date.now() - t0) / 1000;
    const { rows: runs } = await db.pool.query<{
      account_id: string;
      outcome: string;
      added: number;
      duration_ms: number;
      finished_ms: string;
    }>(`SELECT account_id, outcome, added, duration_ms, (extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms FROM sync_runs`);
    const tEnd = Math.max(...runs.map((r) => Number(r.finished_ms)));
    const seconds = (tEnd - t0) / 1000;
    const succeeded = runs.filter((r) => r.outcome === 'succeeded');
    const added = runs.reduce((s, r) => s + r.added, 0);
    const { rows: stored } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM transactions');
    // What Mono serves at the epoch (late rows and rows after the snapshot are not served yet).
    let served = 0;
    for (let offset = 0; offset < ACCOUNTS; offset += 100) {
      const page = (await (await fetch(`${mono.url}/__sandbox/truth?offset=${offset}&limit=100`)).json()) as {
        accounts: { transactions: { servedNow: boolean }[] }[];
      };
      for (const a of page.accounts) served += a.transactions.filter((t) => t.servedNow).length;
    }
    if (succeeded.length !== ACCOUNTS || stored[0]!.n !== served || added !== served) {
      throw new Error(
        `expected ${ACCOUNTS} succeeded runs and ${served} rows; got ${succeeded.length} runs (${runs.length} in all), ${added} added, ${stored[0]!.n} stored`,
      );
    }
    const durations = runs.map((r) => r.duration_ms).sort((a, b) => a - b);
    const e2e = runs.map((r) => Number(r.finished_ms) - publishedAt.get(r.account_id)!).sort((a, b) => a - b);
    console.log(
      `${ACCOUNTS} accounts × ${TXNS} transactions, ${WORKERS} worker processes × ${CONCURRENCY} runs, page size ${PAGE_SIZE}: ` +
        `${seconds.toFixed(2)} s from first publish to last run (publishing took ${((tPublished - t0) / 1000).toFixed(2)} s)`,
    );
    console.log(`  ${Math.round(ACCOUNTS / seconds)} accounts/s, ${Math.round(added / seconds)} transactions/s`);
    console.log(
      `  run duration (sync_runs) p50 ${pct(durations, 50)} ms, p95 ${pct(durations, 95)} ms, p99 ${pct(durations, 99)} ms, max ${durations.at(-1)} ms`,
    );
    if (cpu1.size) {
      const parts = [...cpu1]
        .filter(([g]) => g !== 'box')
        .map(([g, s]) => [g, (s - (cpu0.get(g) ?? 0)) / wall] as const)
        .sort((a, b) => b[1] - a[1]);
      const total = parts.reduce((s, [, c]) => s + c, 0);
      const box = ((cpu1.get('box') ?? 0) - (cpu0.get('box') ?? 0)) / wall;
      console.log(
        `  CPU (cores, first publish → last run): ${parts.map(([g, c]) => `${g} ${c.toFixed(2)}`).join(', ')}; ` +
          `total ${total.toFixed(2)}, box busy ${box.toFixed(2)} of ${availableParallelism()} (other load ${Math.max(0, box - total).toFixed(2)})`,
      );
    }
    console.log(`  publish → finished p50 ${pct(e2e, 50)} ms, p95 ${pct(e2e, 95)} ms, p99 ${pct(e2e, 99)} ms, max ${e2e.at(-1)} ms`);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    await deleteTopology(jsm, topology).catch(() => undefined);
    await nc.close();
    await mono.close();
    await redis.cleanup();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
