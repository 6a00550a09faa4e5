import { Pool, types, type PoolClient, type PoolConfig } from 'pg';

// int8 (bigint) columns come back as JS bigint: money and fences must never pass through a float.
types.setTypeParser(types.builtins.INT8, (v) => BigInt(v));

export type { Pool, PoolClient } from 'pg';
export type Queryable = Pick<PoolClient, 'query'>;

export function createPool(databaseUrl: string, opts: Omit<PoolConfig, 'connectionString'> = {}): Pool {
  return new Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    idleTimeoutMillis: opts.idleTimeoutMillis ?? 30_000,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5_000,
    application_name: opts.application_name ?? 'intellifin-sync',
    ...opts,
  });
}

/** Runs `fn` in one transaction on a pooled client: COMMIT on return, ROLLBACK on throw. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Runs `fn` as the API's database role, scoped to one organisation: row-level security then hides
 * every other organisation's rows. Both settings are transaction-local and vanish at COMMIT.
 */
export async function withOrgScope<T>(pool: Pool, orgId: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query('SET LOCAL ROLE intellifin_api');
    await client.query(`SELECT set_config('app.org_id', $1, true)`, [orgId]);
    return fn(client);
  });
}
