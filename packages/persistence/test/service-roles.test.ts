import { createHash } from 'node:crypto';
import { createTestDatabase, infrastructureUrls, uniqueSuffix, type TestDatabase } from '@intellifin/testing';
import {
  createPool,
  enqueueDueSync,
  insertRun,
  insertUser,
  loadMigrations,
  migrate,
  provisionServiceRoles,
  PROVISION_LOCK_KEY,
  scramSha256Verifier,
  serviceDatabaseUrl,
  serviceRole,
  SERVICE_ROLE_NAMES,
  SERVICE_ROLES,
  upsertTransactions,
  withOrgScope,
  type AccountRecord,
  type Pool,
} from '../src';
import { seedAccount, txn } from './helpers';

/** Every table holding organisation-owned rows (migration 0010 forces row-level security on each). */
const TENANT_TABLES = [
  'organizations',
  'users',
  'accounts',
  'transactions',
  'sync_runs',
  'sync_schedules',
  'notifications',
  'provider_credentials',
  'webhook_events',
  'sync_due',
  'scheduler_slots',
] as const;

const permissionDenied = /permission denied/;
/** Refused for want of a grant, or of ownership (DDL). */
const refusedToRole = /permission denied|must be owner/;

describe('service roles and forced row-level security', () => {
  let db: TestDatabase;
  let api: Pool;
  let worker: Pool;
  let scheduler: Pool;
  let a: AccountRecord;
  let b: AccountRecord;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = db.poolAs('intellifin_api');
    worker = db.poolAs('intellifin_worker');
    scheduler = db.poolAs('intellifin_scheduler');
    // Two organisations with a row in every tenant table, written by the superuser (fixtures).
    a = await seedAccount(db.pool, { orgName: 'Org A' });
    b = await seedAccount(db.pool, { orgName: 'Org B' });
    for (const acct of [a, b]) {
      const userId = await insertUser(db.pool, acct.orgId, `user-${acct.id}`);
      await upsertTransactions(db.pool, { orgId: acct.orgId, accountId: acct.id }, [txn(`${acct.id}-1`)]);
      await insertRun(db.pool, {
        orgId: acct.orgId,
        accountId: acct.id,
        provider: 'mono',
        trigger: 'manual',
        mode: 'transactions',
        fence: 1n,
      });
      await db.pool.query(`INSERT INTO sync_schedules (provider, plan, org_id, enabled) VALUES ('mono', '*', $1, false)`, [acct.orgId]);
      await db.pool.query(`INSERT INTO notifications (org_id, account_id, user_id, kind, episode) VALUES ($1, $2, $3, 'reauth', '1')`, [
        acct.orgId,
        acct.id,
        userId,
      ]);
      await db.pool.query(
        `INSERT INTO provider_credentials (org_id, provider, key_id, nonce, ciphertext) VALUES ($1, 'mono', 'k1', '\\x00', '\\x00')`,
        [acct.orgId],
      );
      await db.pool.query(
        `INSERT INTO webhook_events (provider, event_id, event_type, account_ref, payload) VALUES ('mono', $1, 'x', $1, '{}')`,
        [acct.id],
      );
      await enqueueDueSync(db.pool, {
        accountId: acct.id,
        orgId: acct.orgId,
        provider: 'mono',
        dueAt: new Date(),
        plannedSlot: new Date(),
        mode: 'transactions',
        trigger: 'scheduled',
      });
      await db.pool.query(
        `INSERT INTO scheduler_slots (plan, provider, org_id, last_slot, executed_at, epoch) VALUES ('nightly', 'mono', $1, now(), now(), 1)`,
        [acct.orgId],
      );
    }
  });
  afterAll(() => db.drop());

  it('every tenant table, and every table with an org_id column, has row-level security enabled and forced', async () => {
    const { rows } = await db.pool.query<{ relname: string; enabled: boolean; forced: boolean }>(
      `SELECT c.relname, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
         FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND (c.relname = ANY($1::text[]) OR EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid AND t.attname = 'org_id'))
        ORDER BY c.relname`,
      [TENANT_TABLES],
    );
    expect(rows.map((r) => r.relname)).toEqual(expect.arrayContaining([...TENANT_TABLES]));
    expect(rows.filter((r) => !r.enabled || !r.forced).map((r) => r.relname)).toEqual([]);
  });

  it('the schema belongs to intellifin_owner, including what migrations after 0010 created (bar the runner’s own bookkeeping)', async () => {
    const { rows } = await db.pool.query<{ name: string; owner: string }>(
      `SELECT relname AS name, pg_get_userbyid(relowner) AS owner FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S', 'v', 'm') AND relname <> 'schema_migrations'
       UNION ALL
       SELECT proname, pg_get_userbyid(proowner) FROM pg_proc WHERE pronamespace = 'public'::regnamespace`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => r.owner !== 'intellifin_owner')).toEqual([]);
  });

  it('the API role without an organisation scope reads no organisation’s rows', async () => {
    const readable = TENANT_TABLES.filter((t) => !['webhook_events', 'scheduler_slots'].includes(t));
    const counts: Record<string, number> = {};
    for (const table of readable) {
      // sync_schedules: provider-wide defaults (org_id null) are everyone's; no organisation's override is visible.
      const where = table === 'sync_schedules' ? ' WHERE org_id IS NOT NULL' : '';
      counts[table] = (await api.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}${where}`)).rows[0]!.n;
    }
    expect(counts).toEqual(Object.fromEntries(readable.map((t) => [t, 0])));
    // The same tables hold both organisations' rows (seen by the superuser).
    expect((await db.pool.query('SELECT 1 FROM accounts')).rowCount).toBe(2);
  });

  it('the API role under org A’s scope reads none of org B’s rows, and A’s own', async () => {
    const tables = [
      'organizations',
      'users',
      'accounts',
      'transactions',
      'sync_runs',
      'sync_schedules',
      'notifications',
      'sync_due',
      // 0017: linking and repair write (and merge) its own organisation's credentials
      'provider_credentials',
    ];
    const seen = await withOrgScope(api, a.orgId, async (c) => {
      const out: Record<string, string[]> = {};
      for (const t of tables) {
        const col = t === 'organizations' ? 'id' : 'org_id';
        out[t] = [...new Set((await c.query(`SELECT ${col} AS org FROM ${t} WHERE ${col} IS NOT NULL`)).rows.map((r) => r.org as string))];
      }
      return out;
    });
    expect(seen).toEqual(Object.fromEntries(tables.map((t) => [t, [a.orgId]])));
  });

  it('the API role writes users, accounts and credentials of its own organisation only, and deletes no account (0017)', async () => {
    const rls = /row-level security/;
    const asA = (sql: string, values: unknown[]) => withOrgScope(api, a.orgId, (c) => c.query(sql, values));
    await expect(
      asA(`INSERT INTO provider_credentials (org_id, provider, key_id, nonce, ciphertext) VALUES ($1, 'momo', 'k1', '\\x00', '\\x00')`, [
        b.orgId,
      ]),
    ).rejects.toThrow(rls);
    await expect(asA(`INSERT INTO users (org_id, external_id) VALUES ($1, 'intruder')`, [b.orgId])).rejects.toThrow(rls);
    await expect(
      asA(`INSERT INTO accounts (org_id, provider, provider_account_id, type, currency) VALUES ($1, 'momo', 'x', 'mobile_money', 'ZMW')`, [
        b.orgId,
      ]),
    ).rejects.toThrow(rls);
    expect((await asA(`UPDATE provider_credentials SET version = version + 1 WHERE org_id = $1`, [b.orgId])).rowCount).toBe(0);
    expect((await asA(`DELETE FROM transactions WHERE org_id = $1`, [b.orgId])).rowCount).toBe(0);
    await expect(asA('DELETE FROM accounts WHERE org_id = $1', [a.orgId])).rejects.toThrow(permissionDenied);
    await expect(asA(`UPDATE accounts SET org_id = $1`, [b.orgId])).rejects.toThrow(permissionDenied);
  });

  it('the API role cannot read webhook events or scheduler state at all', async () => {
    for (const table of ['webhook_events', 'scheduler_slots', 'scheduler_leader']) {
      await expect(api.query(`SELECT 1 FROM ${table}`)).rejects.toThrow(permissionDenied);
      await expect(withOrgScope(api, a.orgId, (c) => c.query(`SELECT 1 FROM ${table}`))).rejects.toThrow(permissionDenied);
    }
  });

  it('the worker role does a run’s writes for every organisation, and nothing it has no grant for', async () => {
    // By design: one worker serves every organisation (permissive policies, documented in 0010).
    expect((await worker.query('SELECT id FROM accounts')).rowCount).toBe(2);
    expect((await worker.query('UPDATE accounts SET fence = fence + 1 WHERE id = $1', [b.id])).rowCount).toBe(1);
    const denied = [
      'DROP TABLE transactions',
      'TRUNCATE sync_runs',
      'SELECT 1 FROM webhook_events',
      'SELECT 1 FROM sync_due',
      'SELECT 1 FROM scheduler_leader',
      'DELETE FROM accounts',
      'DELETE FROM transactions',
      `UPDATE accounts SET org_id = '${b.orgId}' WHERE id = '${a.id}'`,
      `INSERT INTO provider_credentials (org_id, provider, key_id, nonce, ciphertext) VALUES ('${a.orgId}', 'mono', 'k', '\\x00', '\\x00')`,
      `INSERT INTO organizations (name) VALUES ('x')`,
      'SELECT analyze_sync_due()',
    ];
    const refused: string[] = [];
    for (const sql of denied) await worker.query(sql).catch((err: Error) => refusedToRole.test(err.message) && refused.push(sql));
    expect(refused).toEqual(denied);
  });

  it('the scheduler role plans every organisation but cannot touch runs’ data, accounts or secrets', async () => {
    expect((await scheduler.query('SELECT account_id FROM sync_due')).rowCount).toBe(2);
    expect((await scheduler.query('SELECT id FROM accounts')).rowCount).toBe(2);
    await scheduler.query('SELECT analyze_sync_due()');
    expect(
      (await db.pool.query(`SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'sync_due'`)).rows[0]!.last_analyze,
    ).not.toBeNull();
    const denied = [
      'SELECT 1 FROM provider_credentials',
      'SELECT 1 FROM transactions',
      'SELECT 1 FROM users',
      `UPDATE accounts SET status = 'disabled'`,
      'DELETE FROM accounts',
      'DROP TABLE sync_due',
      'ALTER TABLE sync_due NO FORCE ROW LEVEL SECURITY',
    ];
    const refused: string[] = [];
    for (const sql of denied) await scheduler.query(sql).catch((err: Error) => refusedToRole.test(err.message) && refused.push(sql));
    expect(refused).toEqual(denied);
  });
});

describe('provisioning', () => {
  it('maps each service to its role and names an unknown service', () => {
    expect(serviceRole('mono-worker')).toBe('intellifin_worker');
    expect(serviceRole('airtel-worker')).toBe('intellifin_worker');
    expect(serviceRole('scheduler')).toBe('intellifin_scheduler');
    expect(serviceRole('sync-api')).toBe('intellifin_api');
    expect(serviceRole('notifier')).toBe('intellifin_notifier');
    expect(() => serviceRole('mailer')).toThrow(/no database role for service "mailer"/);
    expect(SERVICE_ROLE_NAMES).toEqual(['intellifin_api', 'intellifin_notifier', 'intellifin_scheduler', 'intellifin_worker']);
    expect(Object.keys(SERVICE_ROLES)).toHaveLength(6);
  });

  it('serviceDatabaseUrl swaps the user (and password), keeping host, database and parameters', () => {
    const base = 'postgres://postgres:admin@db.internal:6543/intellifin?sslmode=require';
    expect(serviceDatabaseUrl(base, 'intellifin_worker')).toBe('postgres://intellifin_worker@db.internal:6543/intellifin?sslmode=require');
    expect(serviceDatabaseUrl(base, 'intellifin_api', 'p@ss:/w rd')).toBe(
      'postgres://intellifin_api:p%40ss%3A%2Fw%20rd@db.internal:6543/intellifin?sslmode=require',
    );
    expect(() => serviceDatabaseUrl('not a url', 'intellifin_api')).toThrow(/DATABASE_URL is not a valid URL/);
    expect(() => serviceDatabaseUrl('redis://x:1/0', 'intellifin_api')).toThrow(/DATABASE_URL must use postgres/);
  });

  it('global setup made every service role a login (a pool as the role connects as that user)', async () => {
    const db = await createTestDatabase();
    try {
      const { rows } = await db.pool.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) AND rolcanlogin ORDER BY 1', [
        SERVICE_ROLE_NAMES,
      ]);
      expect(rows.map((r) => r.rolname)).toEqual([...SERVICE_ROLE_NAMES]);
      for (const role of SERVICE_ROLE_NAMES) expect((await db.poolAs(role).query('SELECT current_user AS u')).rows[0].u).toBe(role);
    } finally {
      await db.drop();
    }
  });

  it('computes the SCRAM-SHA-256 verifier exactly as Postgres does', async () => {
    const admin = createPool(infrastructureUrls().databaseUrl, { max: 1 });
    const role = `intellifin_t_scram_${uniqueSuffix(3)}`;
    try {
      await admin.query(`SET password_encryption = 'scram-sha-256'`);
      await admin.query(`CREATE ROLE ${role} NOLOGIN PASSWORD 'correct horse 42'`);
      const stored = (await admin.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [role])).rows[0]!.p;
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(scramSha256Verifier('correct horse 42', Buffer.from(salt!, 'base64'), Number(iterations))).toBe(stored);
      expect(scramSha256Verifier('correct horse 43', Buffer.from(salt!, 'base64'), Number(iterations))).not.toBe(stored);
    } finally {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('provisionServiceRoles stores a given password as its verifier (never the plaintext) and can be re-run', async () => {
    const admin = createPool(infrastructureUrls().databaseUrl, { max: 2 });
    const password = `pw-${uniqueSuffix(4)}`;
    try {
      expect((await provisionServiceRoles(admin)).roles).toEqual([...SERVICE_ROLE_NAMES]);
      await provisionServiceRoles(admin, { passwords: { intellifin_scheduler: password } });
      const stored = (await admin.query<{ p: string }>(`SELECT rolpassword AS p FROM pg_authid WHERE rolname = 'intellifin_scheduler'`))
        .rows[0]!.p;
      expect(stored).not.toContain(password);
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(scramSha256Verifier(password, Buffer.from(salt!, 'base64'), Number(iterations))).toBe(stored);
      await expect(provisionServiceRoles(admin, { passwords: { intellifin_api: '' } })).rejects.toThrow(
        /passwords\.intellifin_api is empty/,
      );
    } finally {
      // Roles are cluster-wide: leave them as global setup made them (login, no password), under the
      // provisioning lock (a concurrent npm start or test setup may be provisioning them).
      const c = await admin.connect();
      try {
        await c.query('SELECT pg_advisory_lock($1)', [PROVISION_LOCK_KEY]);
        await c.query('ALTER ROLE intellifin_scheduler PASSWORD NULL');
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [PROVISION_LOCK_KEY]).catch(() => undefined);
        c.release();
      }
      await admin.end();
    }
  });
});

describe('migration runner as the schema owner', () => {
  it('runs migrations after 0010 as intellifin_owner, and one marked "as connecting user" as the connecting user', async () => {
    const db = await createTestDatabase({ migrated: false });
    const extra = (version: string, sql: string) => ({
      version,
      name: `${version}_extra`,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
    try {
      await migrate(db.pool, [
        ...loadMigrations(),
        extra('9998', 'CREATE TABLE made_as_owner (id int)'),
        extra('9999', '-- migrate: as connecting user\nCREATE TABLE made_as_connecting_user (id int)'),
      ]);
      const { rows } = await db.pool.query<{ relname: string; owner: string }>(
        `SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class
          WHERE relname IN ('made_as_owner', 'made_as_connecting_user', 'accounts', 'schema_migrations') ORDER BY relname`,
      );
      const connecting = (await db.pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
      expect(rows).toEqual([
        { relname: 'accounts', owner: 'intellifin_owner' },
        { relname: 'made_as_connecting_user', owner: connecting },
        { relname: 'made_as_owner', owner: 'intellifin_owner' },
        { relname: 'schema_migrations', owner: connecting },
      ]);
    } finally {
      await db.drop();
    }
  });
});
