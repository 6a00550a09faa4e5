/**
 * airtel-worker throughput: BENCH_ACCOUNTS (300) Airtel merchant accounts with BENCH_REFS (10,000)
 * registered pending references between them, settled by one full sync of every account through
 * JetStream and BENCH_WORKERS (2) workers built with `createAirtelWorker` (in this process), each with
 * BENCH_CONCURRENCY (8) runs in flight, against real Postgres/Redis/NATS and the Airtel sandbox (in
 * this process, manual clock moved 2 hours past the references' creation, so every one is final at
 * Airtel). No faults. The clock runs from the first publish until every command settled.
 *
 * Reports references/s, provider requests per reference (tokens, balances and enquiries, from the
 * sandbox's request log), and run duration p50/p95/p99 (`sync_runs`: lease → recorded outcome).
 * Same method as `bench:momo`, so the two read side by side.
 *
 *   npm run bench:airtel    (DATABASE_URL / NATS_URL / REDIS_URL or local servers)
 */
import { availableParallelism, loadavg } from 'node:os';
import { provisionTestRoles, startInfrastructure } from '@intellifin/testing';
import { registerReference } from '@intellifin/wallet-sync';
import { quiesce, registrationOf, requestLog, startEnv, type TruthRef } from '../test/helpers';

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
    if (refs.length < REFS) throw new Error(`BENCH_REFS: the sandbox seeded ${refs.length} references, fewer than ${REFS}`);
    // Registration is set-up here (measured by the intake tests): straight through the intake function, 16 at a time.
    for (let i = 0; i < refs.length; i += 16) {
      await Promise.all(refs.slice(i, i + 16).map(([id, r]) => registerReference(env.db.pool, 'airtel', registrationOf(id, r))));
    }
    await env.control('POST', '/clock/advance', { hours: 2 });
    for (let w = 0; w < WORKERS; w++) {
      await env.startWorker({
        workerId: `bench-${w}`,
        concurrency: CONCURRENCY,
        leaseTtlMs: 20_000,
        airtel: { baseUrl: env.airtel.url, timeoutMs: 10_000, pageSize: PAGE_SIZE, lookupConcurrency: LOOKUPS },
      });
    }
    await env.control('DELETE', '/requests');
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    // Not syncAll: its 45 s quiescence wait is for tests; here the wait is the measurement.
    await Promise.all([...env.accounts.keys()].map((a) => env.publish(a)));
    await quiesce(env, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    const load1 = loadavg()[0]!;
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
      non2xx: log.filter((r) => r.status < 200 || r.status >= 300).length,
      runs: runs.length,
      runsSucceeded: runs.filter((r) => r.outcome === 'succeeded').length,
      runMs: { p50: pct(durations, 50), p95: pct(durations, 95), p99: pct(durations, 99) },
      cores: availableParallelism(),
      loadAverage1m: { start: Number(load0.toFixed(2)), end: Number(load1.toFixed(2)) },
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
