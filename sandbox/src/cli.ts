/**
 * `intellifin-sandbox`: start the provider simulators from the command line.
 * Every flag has an environment-variable twin (SANDBOX_*); flags win. Secrets are never printed.
 */
import { startSandbox, type SandboxOptions } from './index';

interface Flag {
  flag: string;
  env: string[];
  help: string;
  apply(o: SandboxOptions, v: string): void;
}

const num = (v: string, name: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${v}"`);
  return n;
};

function oneOf<T extends string>(v: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

const FLAGS: Flag[] = [
  {
    flag: 'seed',
    env: ['SANDBOX_SEED'],
    help: 'seed for all generated data and faults (default 1)',
    apply: (o, v) => (o.seed = /^\d+$/.test(v) ? Number(v) : v),
  },
  {
    flag: 'epoch',
    env: ['SANDBOX_EPOCH'],
    help: "simulator start time: ISO-8601 or 'today' (default today 00:00Z)",
    apply: (o, v) => (o.epoch = v),
  },
  {
    flag: 'clock',
    env: ['SANDBOX_CLOCK'],
    help: "'real' (ticks, default) or 'manual' (moves only via /__sandbox/clock/advance)",
    apply: (o, v) => (o.clock = v === 'manual' ? 'manual' : 'real'),
  },
  { flag: 'host', env: ['SANDBOX_HOST'], help: 'listen address (default 127.0.0.1)', apply: (o, v) => (o.host = v) },
  {
    flag: 'mono-port',
    env: ['SANDBOX_MONO_PORT'],
    help: 'Mono port (default 4010)',
    apply: (o, v) => (o.ports = { ...o.ports, mono: num(v, 'mono-port') }),
  },
  {
    flag: 'momo-port',
    env: ['SANDBOX_MOMO_PORT'],
    help: 'MTN MoMo port (default 4020)',
    apply: (o, v) => (o.ports = { ...o.ports, momo: num(v, 'momo-port') }),
  },
  {
    flag: 'airtel-port',
    env: ['SANDBOX_AIRTEL_PORT'],
    help: 'Airtel Money port (default 4030)',
    apply: (o, v) => (o.ports = { ...o.ports, airtel: num(v, 'airtel-port') }),
  },
  {
    flag: 'onesignal-port',
    env: ['SANDBOX_ONESIGNAL_PORT'],
    help: 'OneSignal port (default 4040)',
    apply: (o, v) => (o.ports = { ...o.ports, onesignal: num(v, 'onesignal-port') }),
  },
  {
    flag: 'mono-accounts',
    env: ['SANDBOX_MONO_ACCOUNTS'],
    help: 'number of Mono accounts (default 50)',
    apply: (o, v) => (o.mono = { ...o.mono, accounts: num(v, 'mono-accounts') }),
  },
  {
    flag: 'mono-transactions',
    env: ['SANDBOX_MONO_TRANSACTIONS'],
    help: 'transactions per Mono account over the history window (default 100)',
    apply: (o, v) => (o.mono = { ...o.mono, transactionsPerAccount: num(v, 'mono-transactions') }),
  },
  {
    flag: 'mono-history-days',
    env: ['SANDBOX_MONO_HISTORY_DAYS'],
    help: 'days of Mono history before the epoch (default 90)',
    apply: (o, v) => (o.mono = { ...o.mono, historyDays: num(v, 'mono-history-days') }),
  },
  {
    flag: 'mono-secret-key',
    env: ['SANDBOX_MONO_SECRET_KEY', 'MONO_SECRET_KEY'],
    help: 'accepted mono-sec-key (default test_sk_sandbox_mono)',
    apply: (o, v) => (o.mono = { ...o.mono, secretKey: v }),
  },
  {
    flag: 'mono-webhook-url',
    env: ['SANDBOX_MONO_WEBHOOK_URL'],
    help: 'where Mono webhooks are POSTed',
    apply: (o, v) => (o.mono = { ...o.mono, webhookUrl: v }),
  },
  {
    flag: 'mono-webhook-secret',
    env: ['SANDBOX_MONO_WEBHOOK_SECRET', 'MONO_WEBHOOK_SECRET'],
    help: 'value of the mono-webhook-secret header',
    apply: (o, v) => (o.mono = { ...o.mono, webhookSecret: v }),
  },
  {
    flag: 'mono-job-webhook-status',
    env: ['SANDBOX_MONO_JOB_WEBHOOK_STATUS'],
    help: "status words of mono.accounts.jobs.update: 'realtime-doc' (finished|failed, default) or 'changelog' (SUCCESSFUL|FAILED|REAUTHORISATION_REQUIRED)",
    apply: (o, v) =>
      (o.mono = { ...o.mono, jobWebhookStatus: oneOf(v, ['realtime-doc', 'changelog'] as const, 'mono-job-webhook-status') }),
  },
  {
    flag: 'mono-window-time-zone',
    env: ['SANDBOX_MONO_WINDOW_TIME_ZONE'],
    help: "time zone whose midnights cut the transactions start/end days: 'UTC' (default) or IANA, e.g. 'Africa/Lagos'",
    apply: (o, v) => (o.mono = { ...o.mono, windowTimeZone: v }),
  },
  {
    flag: 'momo-accounts',
    env: ['SANDBOX_MOMO_ACCOUNTS'],
    help: 'number of MoMo merchant accounts (default 20)',
    apply: (o, v) => (o.momo = { ...o.momo, accounts: num(v, 'momo-accounts') }),
  },
  {
    flag: 'momo-environment',
    env: ['SANDBOX_MOMO_TARGET_ENVIRONMENT', 'MOMO_TARGET_ENVIRONMENT'],
    help: "X-Target-Environment of the accounts: 'sandbox' (EUR) or e.g. 'mtnzambia' (default)",
    apply: (o, v) => (o.momo = { ...o.momo, targetEnvironment: v }),
  },
  {
    flag: 'momo-callback-url',
    env: ['SANDBOX_MOMO_CALLBACK_URL'],
    help: 'registered callback URL (its host is the providerCallbackHost of the seeded API users)',
    apply: (o, v) => (o.momo = { ...o.momo, callbackUrl: v }),
  },
  {
    flag: 'airtel-accounts',
    env: ['SANDBOX_AIRTEL_ACCOUNTS'],
    help: 'number of Airtel merchant accounts (default 20)',
    apply: (o, v) => (o.airtel = { ...o.airtel, accounts: num(v, 'airtel-accounts') }),
  },
  {
    flag: 'airtel-country',
    env: ['SANDBOX_AIRTEL_COUNTRY'],
    help: 'X-Country of the accounts (default ZM)',
    apply: (o, v) => (o.airtel = { ...o.airtel, country: v }),
  },
  {
    flag: 'airtel-callback-url',
    env: ['SANDBOX_AIRTEL_CALLBACK_URL'],
    help: 'app-level callback URL for collection results',
    apply: (o, v) => (o.airtel = { ...o.airtel, callbackUrl: v }),
  },
  {
    flag: 'onesignal-app-id',
    env: ['SANDBOX_ONESIGNAL_APP_ID', 'ONESIGNAL_APP_ID'],
    help: 'OneSignal app id to accept (default derived from the seed)',
    apply: (o, v) => (o.onesignal = { ...o.onesignal, appId: v }),
  },
  {
    flag: 'onesignal-api-key',
    env: ['SANDBOX_ONESIGNAL_API_KEY', 'ONESIGNAL_API_KEY'],
    help: 'OneSignal App API key to accept with "Key" auth (default derived)',
    apply: (o, v) => (o.onesignal = { ...o.onesignal, appApiKey: v }),
  },
];

function usage(): string {
  const lines = [
    'Usage: intellifin-sandbox [--flag value]...',
    '',
    'Starts the Mono, MTN MoMo, Airtel Money and OneSignal simulators.',
    '',
  ];
  for (const f of FLAGS) lines.push(`  --${f.flag.padEnd(26)} ${f.help}  [${f.env.join(', ')}]`);
  lines.push('', 'Control API on every simulator: /__sandbox (see sandbox/README.md). Credentials: GET /__sandbox/accounts.');
  return lines.join('\n');
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): SandboxOptions {
  const o: SandboxOptions = {};
  for (const f of FLAGS) {
    const name = f.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (name !== undefined) f.apply(o, env[name] as string);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const f = FLAGS.find((x) => x.flag === name);
    if (!f) throw new Error(`unknown flag --${name}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    f.apply(o, value);
  }
  return o;
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  let options: SandboxOptions;
  try {
    options = parseArgs(argv, env);
  } catch (e) {
    process.stderr.write(`intellifin-sandbox: ${e instanceof Error ? e.message : String(e)}\n\n${usage()}\n`);
    process.exitCode = 2;
    return;
  }
  const sb = await startSandbox(options);
  const seed = ((await (await fetch(`${sb.mono.url}/__sandbox/config`)).json()) as { seed: number }).seed;
  process.stdout.write(
    [
      `intellifin-sandbox (seed ${seed}, clock ${options.clock ?? 'real'})`,
      `  Mono       ${sb.mono.url}`,
      `  MTN MoMo   ${sb.momo.url}`,
      `  Airtel     ${sb.airtel.url}`,
      `  OneSignal  ${sb.onesignal.url}`,
      '  control API: <url>/__sandbox   credentials: <url>/__sandbox/accounts',
      '',
    ].join('\n'),
  );
  const stop = () => {
    void sb.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
