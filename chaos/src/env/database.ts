/**
 * The chaos database: migrated once into a template (and the service roles allowed to log in, as
 * `npm start` does) and seeded once with the simulators' accounts (the same linking code as
 * `npm start`: `linkSandboxAccount` in @intellifin/persistence; the simulators generate the same
 * accounts from the same seed in every scenario), then cloned fresh for every scenario.
 */
import { Client } from 'pg';
import {
  CredentialsCipher,
  createPool,
  insertOrganization,
  insertUser,
  linkSandboxAccount,
  migrate,
  provisionServiceRoles,
  type SandboxAccountListing,
  type SandboxProvider,
} from '@intellifin/persistence';
import { BASE_SERVICE_ENV } from '../config';

export const CHAOS_DB = 'chaos';
const TEMPLATE_DB = 'chaos_template';

export function databaseUrl(serverUrl: string, db: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(serverUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: databaseUrl(serverUrl, 'postgres'), connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The template database's URL (migrated; seeded once per run with `seedAccounts`). */
export function templateUrl(serverUrl: string): string {
  return databaseUrl(serverUrl, TEMPLATE_DB);
}

/** Creates and migrates the template database and lets the service roles log in. */
export async function prepareTemplate(serverUrl: string): Promise<void> {
  await admin(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
    await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  });
  const pool = createPool(databaseUrl(serverUrl, TEMPLATE_DB), { max: 2 });
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
    await provisionServiceRoles(pool);
    // The generator is every account's first full sync (and what faults make of it). The
    // scheduler's periodic plans are switched off at the provider level: left on, an hourly or
    // half-hourly slot in Lusaka business hours would add a second wave of every account whenever
    // a scenario crosses :00 or :30, and at 10,000 accounts the system would never be quiet.
    await pool.query(
      `UPDATE sync_schedules SET enabled = false, updated_at = now() WHERE org_id IS NULL AND account_id IS NULL AND plan <> '*'`,
    );
  } finally {
    await pool.end();
  }
}

/** A fresh copy of the migrated template as the scenario's database; returns its (superuser) URL. */
export async function freshDatabase(serverUrl: string): Promise<string> {
  await admin(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${CHAOS_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${CHAOS_DB} TEMPLATE ${TEMPLATE_DB}`);
  });
  return databaseUrl(serverUrl, CHAOS_DB);
}

export interface SeededAccount {
  id: string;
  provider: SandboxProvider;
  providerAccountId: string;
}

/** Accounts per user: the notifier pushes to users, so re-auth pushes spread over many users. */
const ACCOUNTS_PER_USER = 20;

/**
 * Links every simulator account to one organisation (a user per 20 accounts), each with its first
 * full sync due now. Returns our account ids.
 */
export async function seedAccounts(pgUrl: string, listings: Record<SandboxProvider, SandboxAccountListing[]>): Promise<SeededAccount[]> {
  const pool = createPool(pgUrl, { max: 4 });
  pool.on('error', () => undefined);
  const cipher = new CredentialsCipher(BASE_SERVICE_ENV.CREDENTIALS_ENCRYPTION_KEY!);
  const out: SeededAccount[] = [];
  try {
    const orgId = await insertOrganization(pool, 'Chaos Org');
    const dueAt = new Date();
    const all = (['mono', 'momo', 'airtel'] as const).flatMap((provider) => listings[provider].map((listing) => ({ provider, listing })));
    const users: string[] = [];
    for (let u = 0; u * ACCOUNTS_PER_USER < all.length; u++) users.push(await insertUser(pool, orgId, `chaos-user-${u}`));
    // Four at a time (one pool connection each).
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < all.length) {
          const i = next++;
          const { provider, listing } = all[i]!;
          const userId = users[Math.floor(i / ACCOUNTS_PER_USER)]!;
          const a = await linkSandboxAccount(pool, cipher, { orgId, userId, provider, listing, dueAt });
          out.push({ id: a.id, provider, providerAccountId: listing.id });
        }
      }),
    );
  } finally {
    await pool.end();
  }
  return out;
}

/** The seeded accounts of a scenario's database (cloned from the seeded template). */
export async function listAccounts(pgUrl: string): Promise<SeededAccount[]> {
  const c = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; provider: SandboxProvider; provider_account_id: string }>(
      'SELECT id, provider, provider_account_id FROM accounts ORDER BY provider, provider_account_id',
    );
    return rows.map((r) => ({ id: r.id, provider: r.provider, providerAccountId: r.provider_account_id }));
  } finally {
    await c.end().catch(() => undefined);
  }
}
