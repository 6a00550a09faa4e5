/**
 * The provider simulators (the ground truth) in their own process, so their CPU is not the
 * harness's and their RSS is measured apart. Started by `simulators.ts`; options as JSON in argv[2];
 * prints one JSON line `{"mono":url,"momo":url,"airtel":url,"onesignal":url}` once listening, and
 * closes on SIGTERM. Loopback only, ports picked by the OS.
 */
import { startAirtel, startMomo, startMono, startOneSignal } from '@intellifin/sandbox';

interface SimulatorsConfig {
  seed: number;
  accounts: { mono: number; momo: number; airtel: number };
  monoTransactionsPerAccount: number;
  momoTokenTtlSeconds: number;
  airtelTokenTtlSeconds: number;
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as SimulatorsConfig;
  const common = { seed: c.seed, clock: 'real' as const, host: '127.0.0.1', port: 0 };
  const mono = await startMono({
    ...common,
    accounts: c.accounts.mono,
    transactionsPerAccount: c.monoTransactionsPerAccount,
    // Real-time jobs finish inside the request: without a webhook receiver a deferred job would
    // leave its account waiting for a webhook the harness does not route.
    realtimeFinishedPercent: 100,
    cacheAccounts: 2_000,
  });
  const momo = await startMomo({ ...common, accounts: c.accounts.momo, tokenTtlSeconds: c.momoTokenTtlSeconds });
  const airtel = await startAirtel({ ...common, accounts: c.accounts.airtel, tokenTtlSeconds: c.airtelTokenTtlSeconds });
  const onesignal = await startOneSignal({ ...common, appId: '00000000-0000-4000-8000-000000000000', appApiKey: 'sandbox-onesignal-key' });
  process.stdout.write(`${JSON.stringify({ mono: mono.url, momo: momo.url, airtel: airtel.url, onesignal: onesignal.url })}\n`);
  const close = () => {
    void Promise.allSettled([mono.close(), momo.close(), airtel.close(), onesignal.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
  // Orphaned (the harness died): leave nothing behind.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) close();
  }, 1_000).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`simulators: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
