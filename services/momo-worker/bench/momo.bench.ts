/**
 * momo-worker throughput: BENCH_ACCOUNTS (300) MoMo merchant accounts with BENCH_REFS (10,000)
 * registered pending references between them, settled by one full sync of every account through
 * JetStream and BENCH_WORKERS (2) workers built with `createMomoWorker` (in this process), each with
 * BENCH_CONCURRENCY (8) runs in flight, against real Postgres/Redis/NATS and the MoMo sandbox
 * (in this process, manual clock moved 2 hours past the references' creation, so every one is final
 * at MoMo). No faults. The clock runs from the first publish until no reference is pending.
 *
 * Reports references/s, provider requests per reference (tokens, balances and status lookups, from
 * the sandbox's request log), and run duration p50/p95/p99 (`sync_runs`: lease → recorded outcome).
 *
 *   npm run bench:momo    (DATABASE_URL / NATS_URL / REDIS_URL or local servers)
 */
import { availableParallelism, loadavg } from 'node:os';
import { provisionTestRoles, startInfrastructure } from '@intellifin/testing';
import { registerReference } from '@intellifin/wallet-sync';
import { registrationOf, requestLog, startEnv, syncAll, type TruthRef } from '../test/helpers';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 300);
const REFS = Number(process.env.BENCH_REFS ?? 10_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PAGE_SIZE = Number(process.env.BENCH_PAGE_SIZE ?? 50);
const LOOKUPS = Number(process.env.BENCH_LOOKUP_CONCURRENCY ?? 4);

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  await startInfrastructure();
  await provisionTestRoles();
  const env = await startEnv({ accounts: ACCOUNTS, referencesPerAccount: Math.ceil(REFS / ACCOUNTS), ackWaitMs: 30_000 });
  try {
    const truth = await env.truth();
    const refs: [string, TruthRef][] = truth
      .flatMap((a) => a.refs.map((r): [string, TruthRef] => [env.accounts.get(a.id)!, r]))
      .slice(0, REFS);
    // Registration is set-up here (measured elsewhere): straight through the intake function, 16 at a time.
    for (let i = 0; i < refs.length; i += 16) {
      await Promise.all(refs.slice(i, i + 16).map(([id, r]) => registerReference(env.db.pool, 'momo', registrationOf(id, r))));
    }
    await env.control('POST', '/clock/advance', { hours: 2 });
    for (let w = 0; w < WORKERS; w++) {
      await env.startWorker({
        workerId: `bench-${w}`,
        concurrency: CONCURRENCY,
        leaseTtlMs: 20_000,
        momo: { baseUrl: env.momo.url, targetEnvironment: 'mtnzambia', timeoutMs: 10_000, pageSize: PAGE_SIZE, lookupConcurrency: LOOKUPS },
      });
    }
    await env.control('DELETE', '/requests');
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    await syncAll(env, {}, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    const { rows: left } = await env.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM transactions WHERE status = 'pending'");
    const log = await requestLog(env);
    const byRoute = new Map<string, number>();
    for (const r of log) byRoute.set(r.route, (byRoute.get(r.route) ?? 0) + 1);
    const { rows: runs } = await env.db.pool.query<{ duration_ms: number; outcome: string }>('SELECT duration_ms, outcome FROM sync_runs');
    const durations = runs.map((r) => r.duration_ms).sort((a, b) => a - b);
    const report = {
      accounts: ACCOUNTS,
      references: refs.length,
      stillPending: left[0]!.n,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      pageSize: PAGE_SIZE,
      lookupConcurrency: LOOKUPS,
      seconds: Number(seconds.toFixed(2)),
      referencesPerSecond: Math.round(refs.length / seconds),
      providerRequests: log.length,
      requestsPerReference: Number((log.length / refs.length).toFixed(3)),
      requestsByRoute: Object.fromEntries(byRoute),
      runs: runs.length,
      runsSucceeded: runs.filter((r) => r.outcome === 'succeeded').length,
      runMs: { p50: pct(durations, 50), p95: pct(durations, 95), p99: pct(durations, 99) },
      cores: availableParallelism(),
      loadAverageAtStart: Number(load0.toFixed(2)),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await env.close();
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
