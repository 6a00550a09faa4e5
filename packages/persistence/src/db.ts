import { Pool, types, type PoolClient, type PoolConfig } from 'pg';

// int8 (bigint) columns come back as JS bigint: money and fences must never pass through a float.
types.setTypeParser(types.builtins.INT8, (v) => BigInt(v));

export type { Pool, PoolClient } from 'pg';
export type Queryable = Pick<PoolClient, 'query'>;

/**
 * A pool on which every wait is bounded, so no caller hangs on a dead or stuck server:
 * - `connectionTimeoutMillis` (5 s): connecting, or waiting for a free client of a full pool;
 * - `statement_timeout` (60 s, server side): the server cancels a longer statement;
 * - `query_timeout` (65 s, client side): the client gives up on a query whose answer never comes
 *   (a dead socket), a little after the server's own cancel would have arrived;
 * - `idle_in_transaction_session_timeout` (60 s, server side): a session left inside a transaction
 *   (a crashed caller) is ended and its locks released.
 * Pass a number to change one, or `0` (`false` for the client-side ones) to disable it.
 */
export function createPool(databaseUrl: string, opts: Omit<PoolConfig, 'connectionString'> = {}): Pool {
  return new Pool({
    ...opts,
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    idleTimeoutMillis: opts.idleTimeoutMillis ?? 30_000,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5_000,
    statement_timeout: opts.statement_timeout ?? 60_000,
    query_timeout: opts.query_timeout ?? 65_000,
    idle_in_transaction_session_timeout: opts.idle_in_transaction_session_timeout ?? 60_000,
    application_name: opts.application_name ?? 'intellifin-sync',
  });
}

/**
 * A pooled client checked out for a transaction. pg-pool listens for `error` only on idle clients:
 * a connection that dies while its client is checked out and between queries (the outbox relay
 * awaiting a NATS publish, an API request awaiting Redis) would emit an `error` nobody listens to,
 * and the process would exit (Postgres failover → every service crash-looping: the fault harness,
 * scenario S8). The listener keeps the error instead; `release` hands a broken client back so the
 * pool discards it rather than lending it out again.
 */
export interface CheckedOutClient {
  client: PoolClient;
  /** Back to the pool; destroyed when the connection failed, or when `destroy` is given. */
  release(destroy?: Error | boolean): void;
}

export async function checkOut(pool: Pool): Promise<CheckedOutClient> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost = err;
  };
  client.on('error', onError);
  return {
    client,
    release(destroy) {
      client.off('error', onError);
      client.release(lost ?? destroy);
    },
  };
}

/** Runs `fn` in one transaction on a pooled client: COMMIT on return, ROLLBACK on throw. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, 'BEGIN', fn);
}

async function inTransaction<T>(pool: Pool, begin: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkOut(pool);
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    release(broken);
  }
}

/**
 * Runs `fn` as the API's database role, scoped to one organisation: row-level security then hides
 * every other organisation's rows. Both settings are transaction-local and vanish at COMMIT.
 */
export async function withOrgScope<T>(pool: Pool, orgId: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  // BEGIN, the role and the org in one round trip (a simple-protocol batch, so the org id is
  // inlined: only a canonical uuid gets there). Every API request pays this; separate statements
  // were three round trips, each a socket write and a wake-up on both sides.
  if (!UUID.test(orgId)) throw new Error('withOrgScope: the organisation id must be a uuid');
  return inTransaction(pool, `BEGIN; SET LOCAL ROLE intellifin_api; SELECT set_config('app.org_id', '${orgId}', true)`, fn);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
