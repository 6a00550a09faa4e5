/**
 * `npm start`: the whole system on one machine, for development and demos.
 *
 * 1. Database: `DATABASE_URL` (default database `intellifin` on the local server, created if
 *    missing), migrated as that (admin) user; the services' own roles (SERVICE_ROLES) are then
 *    allowed to log in, and each service gets a DATABASE_URL for its own role.
 * 2. Provider sandboxes on the ports of MONO_BASE_URL, MOMO_BASE_URL, AIRTEL_BASE_URL and
 *    ONESIGNAL_BASE_URL (4010–4040 by default; port 0 picks a free one).
 * 3. Demo data: one organisation with a user whose linked accounts are the sandboxes' accounts
 *    (MoMo/Airtel merchant credentials stored encrypted), due for their first sync now. Idempotent.
 * 4. Every service with a `services/<name>/src/main.ts`, each as `node <its flags> --import tsx
 *    src/main.ts` in its own process group, output prefixed with the service name.
 *
 * It never leaves anything behind: when any service exits, everything is stopped and the launcher
 * exits 1 naming the service and its exit code; on SIGINT, SIGTERM or SIGHUP every service's
 * process group gets SIGTERM, then SIGKILL after START_STOP_GRACE_MS, and the sandboxes close.
 *
 * Postgres, Redis and NATS (JetStream) must be running (see README); this script doesn't start them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createLogger } from '@intellifin/core';
import {
  CredentialsCipher,
  createPool,
  fetchSandboxAccounts,
  insertOrganization,
  insertUser,
  linkSandboxAccount,
  migrate,
  provisionServiceRoles,
  serviceDatabaseUrl,
  serviceRole,
  type Pool,
} from '@intellifin/persistence';
import { startSandbox, type Sandbox } from '@intellifin/sandbox';
import { serverAddress, signalGroup, spawnInGroup, stopGroups, unreachableReason, type GroupChild } from '@intellifin/service-kit';

const log = createLogger({ service: 'start', level: process.env.LOG_LEVEL ?? 'info' });
const root = join(__dirname, '..');

// Development defaults only; production configuration comes from the deployment (see .env.example).
const DEV_ENV: Record<string, string> = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/intellifin',
  REDIS_URL: 'redis://127.0.0.1:6379',
  NATS_URL: 'nats://127.0.0.1:4222',
  // A fixed, public, development-only key so demo credentials survive restarts. Never use in production.
  CREDENTIALS_ENCRYPTION_KEY: 'dev:ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=',
  MONO_BASE_URL: 'http://127.0.0.1:4010',
  MONO_SECRET_KEY: 'test_sk_sandbox_mono',
  MONO_WEBHOOK_SECRET: 'sandbox-webhook-secret',
  MOMO_BASE_URL: 'http://127.0.0.1:4020',
  MOMO_TARGET_ENVIRONMENT: 'mtnzambia',
  AIRTEL_BASE_URL: 'http://127.0.0.1:4030',
  ONESIGNAL_BASE_URL: 'http://127.0.0.1:4040',
  ONESIGNAL_APP_ID: '00000000-0000-4000-8000-000000000000',
  ONESIGNAL_API_KEY: 'sandbox-onesignal-key',
  JWT_ISSUER: 'https://auth.intellifin.local',
  JWT_AUDIENCE: 'intellifin-sync',
  JWT_SECRET: 'dev-only-hs256-secret-change-me-in-prod',
  SERVICE_TOKEN: 'dev-only-service-token-change-me-in-prod',
  MIGRATE_ON_START: 'false', // this script migrates once, before the services start
  START_STOP_GRACE_MS: '15000',
};

const env: Record<string, string> = { ...DEV_ENV };
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && v !== '') env[k] = v;

const graceMs = Number(env.START_STOP_GRACE_MS);
if (!Number.isInteger(graceMs) || graceMs <= 0) {
  process.stderr.write(`start: START_STOP_GRACE_MS must be a positive integer (milliseconds), got "${env.START_STOP_GRACE_MS}"\n`);
  process.exit(2);
}

/** Stops the launcher with one line naming what failed (never a URL's password). */
class LaunchError extends Error {}

function sandboxPort(variable: string): number {
  const raw = env[variable]!;
  let port: number;
  try {
    const u = new URL(raw);
    port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  } catch {
    throw new LaunchError(`${variable} must be a URL such as http://127.0.0.1:4010`);
  }
  return port;
}

async function ensureDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const reason = unreachableReason(err, { variable: 'DATABASE_URL', ms: 5_000 }, 'postgres');
    throw new LaunchError(`cannot reach Postgres at ${serverAddress('Postgres', url)} (DATABASE_URL): ${reason}`);
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      log.info({ database: name }, 'created database');
    }
  } finally {
    await client.end();
  }
}

async function seedDemo(pool: Pool, sandbox: Sandbox, cipher: CredentialsCipher): Promise<void> {
  const existing = await pool.query(`SELECT id FROM organizations WHERE name = 'IntelliFin Demo'`);
  if (existing.rowCount) {
    log.info('demo organisation already present');
    return;
  }
  const orgId = await insertOrganization(pool, 'IntelliFin Demo');
  const userId = await insertUser(pool, orgId, 'demo-user-1');
  // Their first full sync, dispatched by the scheduler's next pass.
  const dueAt = new Date();
  let n = 0;
  for (const [provider, sim] of [
    ['mono', sandbox.mono],
    ['momo', sandbox.momo],
    ['airtel', sandbox.airtel],
  ] as const) {
    for (const listing of await fetchSandboxAccounts(sim.url)) {
      await linkSandboxAccount(pool, cipher, { orgId, userId, provider, listing, dueAt });
      n++;
    }
  }
  log.info({ orgId, accounts: n }, 'seeded demo organisation');
}

/**
 * The node flags a service runs with are those of its own `npm start` script
 * (`node <flags> --import tsx src/main.ts`), so the two ways of starting it cannot drift apart.
 */
function nodeFlags(name: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'services', name, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const words = (pkg.scripts?.start ?? '').split(/\s+/);
  const end = words.indexOf('--import');
  if (words[0] !== 'node' || end < 0)
    throw new Error(`services/${name}: the start script must read "node <flags> --import tsx src/main.ts"`);
  return words.slice(1, end);
}

function startService(name: string, databaseUrl: string): GroupChild {
  const main = join(root, 'services', name, 'src', 'main.ts');
  const child = spawnInGroup(name, process.execPath, [...nodeFlags(name), '--import', 'tsx', main], {
    cwd: root,
    env: { ...env, DATABASE_URL: databaseUrl, OTEL_SERVICE_NAME: env.OTEL_SERVICE_NAME ?? name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => `[${name}] ${l}\n`)
      .join('');
  child.process.stdout?.on('data', (c: Buffer) => process.stdout.write(prefix(c)));
  child.process.stderr?.on('data', (c: Buffer) => process.stderr.write(prefix(c)));
  log.info({ service: name, pid: child.pid }, 'service started');
  return child;
}

const children: GroupChild[] = [];
let sandbox: Sandbox | undefined;
let stopping: Promise<never> | undefined;

/** Stops every service's process group and the sandboxes, then exits with `code`. Runs once. */
function stopAll(code: number, why: string): Promise<never> {
  stopping ??= (async () => {
    log.info({ reason: why, services: children.filter((c) => !c.exit).map((c) => c.name) }, 'stopping everything');
    const { killed, survived } = await stopGroups(children, {
      graceMs,
      onKill: (c) => log.warn({ service: c.name, pid: c.pid, graceMs }, 'service did not stop in time: SIGKILL to its process group'),
    });
    if (survived.length) log.error({ services: survived }, 'process groups still present after SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      sandbox?.close().catch((err: unknown) => log.warn({ err }, 'closing the sandboxes failed')),
      new Promise<void>((r) => (timer = setTimeout(r, 5_000))),
    ]);
    clearTimeout(timer);
    log.info({ killed }, 'stopped');
    process.exit(killed.length && code === 0 ? 1 : code);
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // A second signal: the groups are being stopped already; kill them now.
      for (const c of children) if (!c.exit) signalGroup(c.pid, 'SIGKILL');
      return;
    }
    void stopAll(0, signal);
  });
}

// Orphaned (the parent — npm, npx, tsx — died without passing a signal on): stop, leave nothing.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid && !stopping) void stopAll(1, 'the parent process exited');
}, 1_000).unref();

async function main(): Promise<void> {
  const adminUrl = env.DATABASE_URL!;
  await ensureDatabase(adminUrl);
  const pool = createPool(adminUrl, { max: 2 });
  pool.on('error', () => undefined);
  try {
    const { applied } = await migrate(pool);
    log.info({ applied }, 'database migrated');
    const { roles } = await provisionServiceRoles(pool);
    log.info({ roles }, 'service database roles can log in');

    sandbox = await startSandbox({
      ports: {
        mono: sandboxPort('MONO_BASE_URL'),
        momo: sandboxPort('MOMO_BASE_URL'),
        airtel: sandboxPort('AIRTEL_BASE_URL'),
        onesignal: sandboxPort('ONESIGNAL_BASE_URL'),
      },
      mono: { secretKey: env.MONO_SECRET_KEY!, webhookSecret: env.MONO_WEBHOOK_SECRET! },
      onesignal: { appId: env.ONESIGNAL_APP_ID, appApiKey: env.ONESIGNAL_API_KEY },
    });
    // Mono's webhooks go to sync-api's ingress, as Mono's dashboard would be set up.
    const webhooks = await fetch(`${sandbox.mono.url}/__sandbox/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${env.HTTP_PORT ?? '8080'}/webhooks/mono` }),
    });
    if (!webhooks.ok) throw new Error(`Mono sandbox webhook URL: ${webhooks.status}`);
    // The services talk to the sandboxes where they actually listen (a port 0 was picked now).
    env.MONO_BASE_URL = sandbox.mono.url;
    env.MOMO_BASE_URL = sandbox.momo.url;
    env.AIRTEL_BASE_URL = sandbox.airtel.url;
    env.ONESIGNAL_BASE_URL = sandbox.onesignal.url;
    log.info(
      { mono: sandbox.mono.url, momo: sandbox.momo.url, airtel: sandbox.airtel.url, onesignal: sandbox.onesignal.url },
      'provider sandboxes up',
    );
    await seedDemo(pool, sandbox, new CredentialsCipher(env.CREDENTIALS_ENCRYPTION_KEY!));
  } finally {
    await pool.end();
  }
  if (stopping) return;

  const services = readdirSync(join(root, 'services')).filter((s) => existsSync(join(root, 'services', s, 'src', 'main.ts')));
  for (const name of services) {
    const child = startService(name, serviceDatabaseUrl(adminUrl, serviceRole(name)));
    children.push(child);
    void child.exited.then(({ code, signal }) => {
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      process.stderr.write(`start: ${name} exited with ${how}; stopping everything\n`);
      void stopAll(1, `${name} exited with ${how}`);
    });
  }
  log.info({ services }, services.length ? 'services started' : 'no services yet: only sandboxes and database are running');
}

main().catch((err: unknown) => {
  if (err instanceof LaunchError) process.stderr.write(`start: ${err.message}\n`);
  else log.fatal({ err }, 'start failed');
  void stopAll(1, 'start failed');
});
