import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

/** Any fixed number works; it only has to be the same in every process that migrates. */
const MIGRATION_LOCK_KEY = 0x1f_5c_17_e5;

/** The role that owns the schema (migration 0010 creates it). */
const SCHEMA_OWNER = 'intellifin_owner';
/**
 * Migrations after this version run as the schema owner (SET LOCAL ROLE), so what they create is
 * owned by it. Earlier ones, and this one, create roles or change ownership and run as the
 * connecting user. A later migration that must too (one creating a role) says so on a line of its
 * own: `-- migrate: as connecting user`.
 */
const RUN_AS_OWNER_AFTER = '0010';
const AS_CONNECTING_USER = /^-- migrate: as connecting user$/m;

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      return { version: file.slice(0, 4), name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** A short digest of every migration: databases built from the same files share a template. */
export function migrationsDigest(migrations = loadMigrations()): string {
  return createHash('sha256')
    .update(migrations.map((m) => `${m.name}:${m.checksum}`).join('\n'))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Applies pending migrations, each in its own transaction. Safe when several processes start at
 * once: they serialise on a session advisory lock, and each re-reads what is applied after taking
 * it. A migration whose file changed after it was applied stops the run (edit by adding a new one).
 * Migrations after 0010 run as `intellifin_owner` when the connecting user may act as it (see
 * RUN_AS_OWNER_AFTER); the bookkeeping in `schema_migrations` stays the connecting user's.
 */
export async function migrate(pool: Pool, migrations = loadMigrations()): Promise<{ applied: string[] }> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: string; checksum: string; name: string }>(
        'SELECT version, name, checksum FROM schema_migrations',
      );
      const done = new Map(rows.map((r) => [r.version, r]));
      let owner: boolean | undefined;
      for (const m of migrations) {
        const prior = done.get(m.version);
        if (prior) {
          if (prior.checksum !== m.checksum)
            throw new Error(`migration ${m.name} changed after it was applied; add a new migration instead`);
          continue;
        }
        await client.query('BEGIN');
        try {
          const asOwner = m.version > RUN_AS_OWNER_AFTER && !AS_CONNECTING_USER.test(m.sql);
          if (asOwner) owner ??= await canActAsOwner(client);
          if (asOwner && owner) await client.query(`SET LOCAL ROLE ${SCHEMA_OWNER}`);
          await client.query(m.sql);
          if (asOwner && owner) await client.query('RESET ROLE');
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        applied.push(m.name);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return { applied };
}

/** Whether the connecting user may SET ROLE to the schema owner (it exists, and the user is a member or superuser). */
async function canActAsOwner(client: Pick<Pool, 'query'>): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = $1 AND pg_has_role(current_user, r.oid, 'MEMBER')) AS ok`,
    [SCHEMA_OWNER],
  );
  return rows[0]?.ok === true;
}
