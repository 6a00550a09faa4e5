/**
 * `npm run chaos -- [--profile quick|full] [--scenario S1[,S4]] [--seed N] [--accounts N] [--runner tsx|dist] [--keep]`
 *
 * Starts its own nats-server, redis-server and Postgres on test ports in a temporary directory,
 * then runs each scenario (fresh database, JetStream state, simulators and services; the nemesis;
 * quiescence; the checker), prints a table per scenario and ends with `N passed, N failed` (an
 * invariant per scenario counts as one). Exits 1 on any violation, 2 on a usage error. The seed is
 * printed first: `--seed` replays the same accounts, data, provider faults and nemesis choices.
 * See docs/reliability.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHAOS_PORTS, PROFILES, type Profile, type ProfileName } from './config';
import { prepareTemplate, seedAccounts, templateUrl } from './env/database';
import { startSimulators } from './env/simulators';
import { startServers, type Servers } from './env/servers';
import { killAllServiceGroups } from './env/services';
import { runScenario, type ScenarioRun } from './run-scenario';
import { scenarioById } from './scenarios';
import { renderFigures, renderTable, totals } from './report';

interface Args {
  profile: Profile;
  scenarios: string[];
  seed: number;
  runner: 'tsx' | 'dist';
  keep: boolean;
}

function usage(msg: string): never {
  process.stderr.write(
    `chaos: ${msg}\nusage: npm run chaos -- [--profile quick|full] [--scenario S0,S1] [--seed N] [--accounts N] [--runner tsx|dist] [--keep]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) usage(`--${name} needs a value`);
    return v;
  };
  for (const a of argv)
    if (a.startsWith('--') && !['--profile', '--scenario', '--seed', '--accounts', '--runner', '--keep'].includes(a))
      usage(`unknown option ${a}`);
  const profileName = (get('profile') ?? 'quick') as ProfileName;
  if (!(profileName in PROFILES)) usage(`--profile must be quick or full, got "${profileName}"`);
  const profile = { ...PROFILES[profileName] };
  const accounts = get('accounts');
  if (accounts !== undefined) {
    const n = Number(accounts);
    if (!Number.isInteger(n) || n < 30 || n > 50_000) usage('--accounts must be an integer 30–50000');
    profile.accounts = n;
  }
  const seedRaw = get('seed');
  const seed = seedRaw === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(seedRaw);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) usage('--seed must be an integer 0–4294967295');
  const scenarios = (get('scenario') ?? profile.scenarios.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of scenarios) {
    try {
      scenarioById(s);
    } catch (err) {
      usage((err as Error).message);
    }
  }
  const runner = (get('runner') ?? 'tsx') as 'tsx' | 'dist';
  if (runner !== 'tsx' && runner !== 'dist') usage('--runner must be tsx or dist');
  return { profile, scenarios, seed, runner, keep: argv.includes('--keep') };
}

const log = (line: string) => process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const root = join(__dirname, '..', '..');
  log(
    `seed ${args.seed} (replay: npm run chaos -- --profile ${args.profile.name} --scenario ${args.scenarios.join(',')} --seed ${args.seed}` +
      `${args.profile.accounts !== PROFILES[args.profile.name].accounts ? ` --accounts ${args.profile.accounts}` : ''})`,
  );
  log(`profile ${args.profile.name}: ${args.profile.accounts} accounts, scenarios ${args.scenarios.join(', ')}`);
  if (args.runner === 'dist') {
    // One bundle per service (scripts/build.mjs). Not the default: the bundles resolve third-party
    // packages from services/<name>/, so a workspace package's own nested dependency (e.g.
    // packages/providers' undici) is not found and the root copy is loaded instead.
    const b = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('bundling the services failed (scripts/build.mjs)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'intellifin-chaos-'));
  log(`servers and logs in ${dir}`);
  let servers: Servers | undefined;
  const runs: ScenarioRun[] = [];
  let stopping = false;
  const cleanup = async () => {
    await servers?.stop();
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (stopping) process.exit(130);
      stopping = true;
      log(`${sig}: stopping`);
      killAllServiceGroups();
      void cleanup().finally(() => process.exit(130));
    });
  try {
    servers = await startServers(dir);
    await prepareTemplate(servers.urls.pg);
    // Every scenario's simulators generate the same accounts from the seed: link them once.
    const sims = await startSimulators(root, {
      seed: args.seed,
      accounts: args.profile.accounts,
      monoTransactionsPerAccount: args.profile.monoTransactionsPerAccount,
    });
    try {
      const listings = { mono: await sims.accounts('mono'), momo: await sims.accounts('momo'), airtel: await sims.accounts('airtel') };
      await seedAccounts(templateUrl(servers.urls.pg), listings);
    } finally {
      await sims.stop();
    }
    log(
      `nats-server :${CHAOS_PORTS.nats}, redis-server :${CHAOS_PORTS.redis}, postgres :${CHAOS_PORTS.postgres} up; template database migrated and seeded (${args.profile.accounts} accounts)`,
    );
    for (const id of args.scenarios) {
      const scenario = scenarioById(id);
      log(`${scenario.id}: ${scenario.title}`);
      const run = await runScenario(scenario, { root, dir, profile: args.profile, seed: args.seed, runner: args.runner, servers, log });
      runs.push(run);
      process.stdout.write(`${renderTable([run.report])}\n`);
      const failed = run.report.invariants.filter((i) => !i.ok);
      log(`${scenario.id}: ${failed.length ? `FAILED ${failed.map((f) => f.name).join(', ')}` : 'all invariants hold'}`);
    }
  } finally {
    await cleanup();
  }
  process.stdout.write(`\n${renderFigures(runs)}\n\n`);
  // The totals are counted here (an invariant per scenario counts as one) and printed last.
  const { passed, failed } = totals(runs);
  process.stdout.write(`${renderTable(runs.map((r) => r.report))}\n\n${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.stdout.write('\n0 passed, 1 failed\n');
    process.exit(1);
  },
);
