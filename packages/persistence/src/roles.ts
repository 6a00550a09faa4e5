import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';

/**
 * The database roles of the services (migration 0010; README of this package). Migrations create
 * them NOLOGIN; `provisionServiceRoles` lets them log in. Each service connects as its own role
 * with `serviceDatabaseUrl`, so a query that forgets `withOrgScope` still cannot read what its
 * role has no grant or policy for.
 */
export const OWNER_ROLE = 'intellifin_owner';

export const SERVICE_ROLES = {
  'mono-worker': 'intellifin_worker',
  'momo-worker': 'intellifin_worker',
  'airtel-worker': 'intellifin_worker',
  scheduler: 'intellifin_scheduler',
  'sync-api': 'intellifin_api',
  notifier: 'intellifin_notifier', // migration 0015_notifier
} as const;

export type ServiceName = keyof typeof SERVICE_ROLES;
export type ServiceRole = (typeof SERVICE_ROLES)[ServiceName];

/** Every distinct service role, in a stable order. */
export const SERVICE_ROLE_NAMES: readonly ServiceRole[] = [...new Set(Object.values(SERVICE_ROLES))].sort();

export function serviceRole(service: string): ServiceRole {
  const role = (SERVICE_ROLES as Record<string, ServiceRole | undefined>)[service];
  if (!role) throw new Error(`no database role for service "${service}" (SERVICE_ROLES knows: ${Object.keys(SERVICE_ROLES).join(', ')})`);
  return role;
}

/** Any fixed number; the same in every process that provisions. */
/** Advisory lock every role change takes (provisioning races in tests, npm start and replicas). */
export const PROVISION_LOCK_KEY = 0x0f_1e_c0_1e;

export interface ProvisionOptions {
  /** Password per role (production); a role without one logs in without (local trust auth). */
  passwords?: Partial<Record<ServiceRole, string>>;
}

/**
 * Lets every service role log in (ALTER ROLE … LOGIN), with its password when one is given.
 * Run as a role allowed to alter them (the superuser locally, a CREATEROLE admin in production)
 * after migrating: migration 0010 creates the roles. Idempotent. A password is sent as its
 * SCRAM-SHA-256 verifier, computed here, so the plaintext reaches neither the server's statement
 * log nor pg_stat_activity; nothing here logs it or puts it in an error.
 */
export async function provisionServiceRoles(adminPool: Pool, opts: ProvisionOptions = {}): Promise<{ roles: ServiceRole[] }> {
  const client = await adminPool.connect();
  try {
    // Concurrent ALTER ROLEs of one role fail ("tuple concurrently updated"): provisioners (test
    // runs, `npm start`s) take turns, and a role that already logs in is left alone unless given a password.
    await client.query('SELECT pg_advisory_lock($1)', [PROVISION_LOCK_KEY]);
    try {
      const { rows } = await client.query<{ rolname: ServiceRole; rolcanlogin: boolean }>(
        'SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])',
        [SERVICE_ROLE_NAMES],
      );
      const canLogin = new Map(rows.map((r) => [r.rolname, r.rolcanlogin]));
      const missing = SERVICE_ROLE_NAMES.filter((r) => !canLogin.has(r));
      if (missing.length)
        throw new Error(`database roles ${missing.join(', ')} do not exist: run the migrations (0010_service_roles) first`);
      for (const role of SERVICE_ROLE_NAMES) {
        const password = opts.passwords?.[role];
        if (password !== undefined && password.length === 0) throw new Error(`passwords.${role} is empty`);
        if (password === undefined && canLogin.get(role)) continue;
        // Role names are fixed identifiers above; the verifier holds only [A-Za-z0-9+/=$:-].
        const sql = `ALTER ROLE ${role} LOGIN${password === undefined ? '' : ` PASSWORD '${scramSha256Verifier(password)}'`}`;
        try {
          await client.query(sql);
        } catch (err) {
          throw new Error(`provisioning database role ${role} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PROVISION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return { roles: [...SERVICE_ROLE_NAMES] };
}

/**
 * The SCRAM-SHA-256 verifier Postgres stores for `password` (RFC 5802/7677, as Postgres'
 * `pg_be_scram_build_secret`): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
 * NFKC normalisation stands in for SASLprep (identical for ASCII passwords).
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `baseUrl` with its user (and password) replaced by the role's: the URL a service connects with. */
export function serviceDatabaseUrl(baseUrl: string, role: ServiceRole | typeof OWNER_ROLE, password?: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new Error('DATABASE_URL is not a valid URL (expected postgres://user@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new Error(`DATABASE_URL must use postgres:// or postgresql://, not ${u.protocol}//`);
  u.username = encodeURIComponent(role);
  u.password = password === undefined ? '' : encodeURIComponent(password);
  return u.toString();
}
