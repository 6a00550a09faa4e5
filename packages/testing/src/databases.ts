import { Client } from 'pg';
import {
  createPool,
  loadMigrations,
  migrate,
  migrationsDigest,
  provisionServiceRoles,
  serviceDatabaseUrl,
  type Pool,
  type ServiceRole,
} from '@intellifin/persistence';
import { infrastructureUrls } from './infrastructure';
import { uniqueSuffix } from './isolation';

/**
 * Per-test-file databases. Global setup builds one migrated template database per migration
 * digest (`intellifin_tpl_<digest>`); each test file clones it with `CREATE DATABASE … TEMPLATE`,
 * which takes a fraction of a second and gives the file a private, fully migrated schema.
 */
export function templateDatabaseName(): string {
  return `intellifin_tpl_${migrationsDigest(loadMigrations())}`;
}

export function databaseUrlFor(name: string, base = infrastructureUrls().databaseUrl): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: infrastructureUrls().databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const TEMPLATE_LOCK = 0x7e57_da7a;

/** Creates and migrates the template database once (safe when several jest runs start together). */
export async function ensureTemplateDatabase(): Promise<string> {
  const name = templateDatabaseName();
  await withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) return;
      const building = `${name}_build_${uniqueSuffix(3)}`;
      await admin.query(`CREATE DATABASE "${building}"`);
      const pool = createPool(databaseUrlFor(building), { max: 1 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
  return name;
}

/**
 * Lets the service roles (migration 0010) log in, once per jest run (global setup). Roles are
 * cluster-wide: this is a no-op when an earlier run (or `npm start`) already did it.
 */
export async function provisionTestRoles(): Promise<void> {
  const admin = createPool(infrastructureUrls().databaseUrl, { max: 1 });
  try {
    await provisionServiceRoles(admin);
  } finally {
    await admin.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Connected as the superuser: fixtures and assertions (bypasses row-level security). */
  pool: Pool;
  /**
   * A pool connected to this database as a service's role (created on first use, closed by
   * `drop()`): hand it to service code so a missing grant or policy fails the test as it would in production.
   */
  poolAs(role: ServiceRole): Pool;
  /** Closes the pools and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file. Call `drop()` in `afterAll`. */
export async function createTestDatabase(opts: { migrated?: boolean; poolSize?: number } = {}): Promise<TestDatabase> {
  const name = `intellifin_t_${uniqueSuffix()}`;
  const template = opts.migrated === false ? 'template1' : await ensureTemplateDatabase();
  await withAdmin(async (admin) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (err) {
        // Another session briefly connected to the template (e.g. a concurrent clone): try again.
        if (attempt < 20 && err instanceof Error && /being accessed by other users/.test(err.message)) {
          await new Promise((r) => setTimeout(r, 100 + attempt * 50));
          continue;
        }
        throw err;
      }
    }
  });
  const url = databaseUrlFor(name);
  const pool = createPool(url, { max: opts.poolSize ?? 10 });
  const rolePools = new Map<ServiceRole, Pool>();
  return {
    name,
    url,
    pool,
    poolAs: (role) => {
      let p = rolePools.get(role);
      if (!p) {
        p = createPool(serviceDatabaseUrl(url, role), { max: opts.poolSize ?? 10, application_name: `test-${role}` });
        rolePools.set(role, p);
      }
      return p;
    },
    drop: async () => {
      // DROP … WITH (FORCE) below terminates any connection a test left checked out (a timer that
      // was still querying, say): expected at this point, not an error of the test.
      const pools = [pool, ...rolePools.values()];
      for (const p of pools) p.on('error', () => undefined);
      await Promise.all(pools.map((p) => p.end()));
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
