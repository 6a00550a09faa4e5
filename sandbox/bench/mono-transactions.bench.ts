/**
 * Mono transactions page latency: 10k accounts × 100 transactions, 100-row pages over keep-alive.
 * Run: npx tsx sandbox/bench/mono-transactions.bench.ts   (or: npm run bench -w @intellifin/sandbox)
 * Env: BENCH_ACCOUNTS, BENCH_TXNS, BENCH_REQUESTS, BENCH_CONCURRENCY.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createMono } from '../src/mono';
import { listen } from '../src/shared/server';
import { hash } from '../src/shared/prng';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
const TXNS = Number(process.env.BENCH_TXNS ?? 100);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const KEY = 'test_sk_bench';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { 'mono-sec-key': KEY } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      })
      .on('error', reject);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

let serverStats: () => Promise<{ n: number; p50: number; p95: number; p99: number; max: number }> = async () => ({
  n: 0,
  p50: 0,
  p95: 0,
  p99: 0,
  max: 0,
});

async function run(label: string, urls: string[], concurrency: number): Promise<void> {
  const lat: number[] = [];
  let i = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < urls.length) {
        const url = urls[i++] as string;
        const s = performance.now();
        const r = await get(url);
        lat.push(performance.now() - s);
        if (r.status !== 200) throw new Error(`HTTP ${r.status} for ${url}`);
        bytes += r.bytes;
      }
    }),
  );
  const wall = performance.now() - t0;
  lat.sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(2).padStart(6);
  const sv = await serverStats();
  console.log(
    `${label} (n=${lat.length}, ${concurrency} in flight, ${(lat.length / (wall / 1000)).toFixed(0)} req/s, ${(bytes / lat.length / 1024).toFixed(1)} KiB/page)`,
  );
  console.log(
    `   client round trip   p50 ${f(pct(lat, 50))}  p95 ${f(pct(lat, 95))}  p99 ${f(pct(lat, 99))}  max ${f(lat[lat.length - 1] as number)} ms`,
  );
  console.log(`   server time-to-send p50 ${f(sv.p50)}  p95 ${f(sv.p95)}  p99 ${f(sv.p99)}  max ${f(sv.max)} ms`);
}

/** Child process: the simulator alone, so client work does not share its event loop. */
async function server(): Promise<void> {
  const { app, core, state } = createMono({
    seed: 1,
    epoch: '2026-03-01T00:00:00Z',
    clock: 'manual',
    accounts: ACCOUNTS,
    transactionsPerAccount: TXNS,
    secretKey: KEY,
  });
  // Server-side time to answer (fastify's reply.elapsedTime: request received → response sent).
  let served: number[] = [];
  app.addHook('onResponse', async (_req, reply) => {
    served.push(reply.elapsedTime);
  });
  const sim = await listen(app, core, state, 0);
  const ids: string[] = [];
  for (let k = 0; k < ACCOUNTS; k++) ids.push(sim.state.profile(k).id);
  process.send?.({ url: sim.url, ids });
  process.on('message', (m: unknown) => {
    if (m === 'stats') {
      const mem = process.memoryUsage();
      process.send?.({ rss: mem.rss, heapUsed: mem.heapUsed, cache: sim.state.gen.cacheSize(), cap: sim.state.settings.cacheAccounts });
    }
    if (m === 'served') {
      const sorted = served.sort((a, b) => a - b);
      served = [];
      process.send?.({
        n: sorted.length,
        p50: pct(sorted, 50),
        p95: pct(sorted, 95),
        p99: pct(sorted, 99),
        max: sorted[sorted.length - 1] ?? 0,
      });
    }
    if (m === 'stop') void sim.close().then(() => process.exit(0));
  });
}

async function main(): Promise<void> {
  const child = fork(__filename, ['--server'], { stdio: 'inherit' });
  const next = () => new Promise<unknown>((resolve) => child.once('message', resolve));
  const { url, ids } = (await next()) as { url: string; ids: string[] };
  serverStats = async () => {
    child.send('served');
    return (await next()) as { n: number; p50: number; p95: number; p99: number; max: number };
  };
  const pick = (n: number, salt: string) => ids[hash(salt, n) % ids.length] as string;
  const page = (id: string) => `${url}/v2/accounts/${id}/transactions?limit=100&page=1`;

  console.log(
    `Mono sandbox bench: ${ACCOUNTS} accounts × ${TXNS} transactions, pages of 100 rows, keep-alive, simulator in its own process, node ${process.version}`,
  );
  await run(
    'warm-up (discarded)',
    Array.from({ length: 300 }, (_, n) => page(pick(n, 'warm'))),
    CONCURRENCY,
  );
  await run(
    'random accounts, sequential',
    Array.from({ length: REQUESTS }, (_, n) => page(pick(n, 'seq'))),
    1,
  );
  await run(
    `random accounts, ${CONCURRENCY} in flight`,
    Array.from({ length: REQUESTS }, (_, n) => page(pick(n, 'conc'))),
    CONCURRENCY,
  );
  await run(
    'same 100 accounts (cached), sequential',
    Array.from({ length: REQUESTS }, (_, n) => page(ids[n % 100] as string)),
    1,
  );
  await run(
    'start/end window, page 2 of 50',
    Array.from(
      { length: REQUESTS },
      (_, n) => `${url}/v2/accounts/${pick(n, 'win')}/transactions?start=01-01-2026&end=28-02-2026&limit=50&page=2`,
    ),
    1,
  );
  child.send('stats');
  const st = (await next()) as { rss: number; heapUsed: number; cache: number; cap: number };
  console.log(
    `simulator memory: rss ${(st.rss / 1048576).toFixed(0)} MiB, heapUsed ${(st.heapUsed / 1048576).toFixed(0)} MiB, materialised-account cache ${st.cache}/${st.cap} accounts`,
  );
  agent.destroy();
  child.send('stop');
}

if (process.argv.includes('--server')) void server();
else
  void main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
