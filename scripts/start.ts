/**
 * `npm start`: the whole system on one machine, for development and demos.
 *
 * 1. Database: `DATABASE_URL` (default database `intellifin` on the local server, created if
 *    missing), migrated.
 * 2. Provider sandboxes on 4010 (Mono), 4020 (MTN MoMo), 4030 (Airtel Money), 4040 (OneSignal).
 * 3. Demo data: one organisation with a user whose linked accounts are the sandboxes' accounts
 *    (MoMo/Airtel merchant credentials stored encrypted), due for their first sync now. Idempotent.
 * 4. Every service with a `services/<name>/src/main.ts`, as a child process with the environment
 *    pointing at the above; output prefixed with the service name. Ctrl-C stops everything.
 *
 * Postgres, Redis and NATS (JetStream) must be running (see README); this script doesn't start them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createLogger } from '@intellifin/core';
import {
  CredentialsCipher,
  createPool,
  enqueueDueSync,
  insertAccount,
  insertCredential,
  insertOrganization,
  insertUser,
  migrate,
  type Pool,
} from '@intellifin/persistence';
import { startSandbox, type Sandbox } from '@intellifin/sandbox';

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
  JWT_SECRET: 'dev-only-secret-change-me',
  SERVICE_TOKEN: 'dev-only-service-token',
  MIGRATE_ON_START: 'false', // this script migrates once, before the services start
};

const env: Record<string, string> = { ...DEV_ENV };
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && v !== '') env[k] = v;

async function ensureDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
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

interface SandboxAccount {
  id: string;
  name?: string;
  currency: string;
  credentials?: Record<string, unknown>;
}

async function sandboxAccounts(url: string): Promise<SandboxAccount[]> {
  const res = await fetch(`${url}/__sandbox/accounts`);
  if (!res.ok) throw new Error(`sandbox ${url} answered ${res.status} for its account list`);
  return ((await res.json()) as { accounts: SandboxAccount[] }).accounts;
}

async function seedDemo(pool: Pool, sandbox: Sandbox, cipher: CredentialsCipher): Promise<void> {
  const existing = await pool.query(`SELECT id FROM organizations WHERE name = 'IntelliFin Demo'`);
  if (existing.rowCount) {
    log.info('demo organisation already present');
    return;
  }
  const orgId = await insertOrganization(pool, 'IntelliFin Demo');
  const userId = await insertUser(pool, orgId, 'demo-user-1');
  const now = new Date();
  const linked = [];
  for (const a of await sandboxAccounts(sandbox.mono.url)) {
    linked.push(
      await insertAccount(pool, {
        orgId,
        userId,
        provider: 'mono',
        providerAccountId: a.id,
        type: 'bank',
        currency: a.currency,
        displayName: a.name,
      }),
    );
  }
  for (const [provider, sim] of [
    ['momo', sandbox.momo],
    ['airtel', sandbox.airtel],
  ] as const) {
    for (const a of await sandboxAccounts(sim.url)) {
      const credentialId = await insertCredential(pool, cipher, { orgId, provider, secret: a.credentials ?? {} });
      linked.push(
        await insertAccount(pool, {
          orgId,
          userId,
          provider,
          providerAccountId: a.id,
          type: 'mobile_money',
          currency: a.currency,
          displayName: a.name,
          credentialId,
        }),
      );
    }
  }
  // Their first full sync, dispatched by the scheduler's next pass.
  for (const acct of linked) {
    await enqueueDueSync(pool, {
      accountId: acct.id,
      orgId,
      provider: acct.provider,
      dueAt: now,
      plannedSlot: now,
      mode: 'full',
      trigger: 'scheduled',
    });
  }
  const n = linked.length;
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

function startService(name: string): ChildProcess {
  const tsxCli = require.resolve('tsx/cli');
  const child = spawn(process.execPath, [...nodeFlags(name), tsxCli, join(root, 'services', name, 'src', 'main.ts')], {
    env: { ...env, OTEL_SERVICE_NAME: env.OTEL_SERVICE_NAME ?? name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => `[${name}] ${l}\n`)
      .join('');
  child.stdout?.on('data', (c: Buffer) => process.stdout.write(prefix(c)));
  child.stderr?.on('data', (c: Buffer) => process.stderr.write(prefix(c)));
  child.on('exit', (code, signal) => log.info({ service: name, code, signal }, 'service exited'));
  return child;
}

async function main(): Promise<void> {
  await ensureDatabase(env.DATABASE_URL!);
  const pool = createPool(env.DATABASE_URL!, { max: 2 });
  const { applied } = await migrate(pool);
  log.info({ applied }, 'database migrated');

  const sandbox = await startSandbox({
    mono: { secretKey: env.MONO_SECRET_KEY!, webhookSecret: env.MONO_WEBHOOK_SECRET! },
    onesignal: { appId: env.ONESIGNAL_APP_ID, appApiKey: env.ONESIGNAL_API_KEY },
  });
  log.info(
    { mono: sandbox.mono.url, momo: sandbox.momo.url, airtel: sandbox.airtel.url, onesignal: sandbox.onesignal.url },
    'provider sandboxes up',
  );

  await seedDemo(pool, sandbox, new CredentialsCipher(env.CREDENTIALS_ENCRYPTION_KEY!));
  await pool.end();

  const services = readdirSync(join(root, 'services')).filter((s) => existsSync(join(root, 'services', s, 'src', 'main.ts')));
  const children = services.map(startService);
  log.info({ services }, services.length ? 'services started' : 'no services yet: only sandboxes and database are running');

  let stopping = false;
  const stop = async () => {
    if (stopping) return process.exit(1);
    stopping = true;
    log.info('stopping');
    await Promise.all(
      // A child that already ended has an exit code or, when a signal ended it, a signal code; its
      // 'exit' event will not fire again.
      children.map(
        (c) =>
          new Promise<void>((resolve) =>
            c.exitCode !== null || c.signalCode !== null ? resolve() : (c.once('exit', () => resolve()), c.kill('SIGTERM')),
          ),
      ),
    );
    await sandbox.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => {
  log.fatal({ err }, 'start failed');
  process.exit(1);
});
