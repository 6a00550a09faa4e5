import { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@intellifin/core';
import { connectNats } from '@intellifin/messaging';
import { createPool, type Pool } from '@intellifin/persistence';
import type { ConnectionLimits } from './config';
import { serverAddress, UnreachableError, unreachableReason } from './unreachable';

/**
 * The three connections a service may ask for, each opened with every wait bounded and checked
 * once: a server that does not answer at start-up is an UnreachableError (the service exits with
 * one line), not a hang or a retry loop. After start-up the clients reconnect on their own.
 */

/** Rejects with `onTimeout()` when `promise` has not settled within `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function timeoutError(): Error {
  const err = new Error('timeout');
  err.name = 'TimeoutError';
  return err;
}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string')
    return (err as { code: string }).code;
  return err instanceof Error ? err.name : 'unknown';
}

export interface PostgresOptions {
  applicationName: string;
  max: number;
}

export async function openPostgres(url: string, limits: ConnectionLimits, opts: PostgresOptions, logger: Logger): Promise<Pool> {
  const pool = createPool(url, {
    application_name: opts.applicationName,
    max: opts.max,
    connectionTimeoutMillis: limits.PG_CONNECT_TIMEOUT_MS,
    statement_timeout: limits.PG_STATEMENT_TIMEOUT_MS,
    query_timeout: limits.PG_QUERY_TIMEOUT_MS,
    idle_in_transaction_session_timeout: limits.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  // An idle client's socket error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', (err) => logger.warn({ code: errorCode(err) }, 'postgres idle client error'));
  const limit = { variable: 'PG_CONNECT_TIMEOUT_MS', ms: limits.PG_CONNECT_TIMEOUT_MS };
  try {
    await withDeadline(pool.query('SELECT 1'), limits.PG_CONNECT_TIMEOUT_MS + 1_000, timeoutError);
  } catch (err) {
    await pool.end().catch(() => undefined);
    // pg reports its own connect timeout as a terminated connection, without a code.
    const timedOut = err instanceof Error && /connection terminated|timeout/i.test(err.message) && !errorCode(err).match(/^[0-9A-Z]{5}$/);
    const database = safeDatabaseName(url);
    throw new UnreachableError(
      'Postgres',
      serverAddress('Postgres', url),
      timedOut ? `no answer within ${limit.ms} ms (${limit.variable})` : unreachableReason(err, limit, database),
    );
  }
  return pool;
}

function safeDatabaseName(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || undefined;
  } catch {
    return undefined;
  }
}

export async function openRedis(url: string, limits: ConnectionLimits, logger: Logger): Promise<Redis> {
  let starting = true;
  let lastError: unknown;
  let reported: string | undefined;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: limits.REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: limits.REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: limits.REDIS_MAX_RETRIES_PER_REQUEST,
    // One attempt at start-up; afterwards reconnect for ever, at most every 2 s.
    retryStrategy: (times) => (starting ? null : Math.min(times * 200, 2_000)),
  });
  // Without a listener ioredis prints every error to stderr; log a changed error code once instead.
  redis.on('error', (err: unknown) => {
    lastError = err;
    const code = errorCode(err);
    if (!starting && code !== reported) {
      reported = code;
      logger.warn({ code }, 'redis connection error');
    }
  });
  redis.on('ready', () => {
    if (reported !== undefined) logger.info('redis connection ready again');
    reported = undefined;
  });
  const limit = { variable: 'REDIS_CONNECT_TIMEOUT_MS', ms: limits.REDIS_CONNECT_TIMEOUT_MS };
  try {
    await withDeadline(redis.connect(), limits.REDIS_CONNECT_TIMEOUT_MS + limits.REDIS_COMMAND_TIMEOUT_MS, timeoutError);
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new UnreachableError('Redis', serverAddress('Redis', url), unreachableReason(lastError ?? err, limit));
  }
  starting = false;
  return redis;
}

export async function openNats(url: string, limits: ConnectionLimits, name: string, logger: Logger): Promise<NatsConnection> {
  const limit = { variable: 'NATS_CONNECT_TIMEOUT_MS', ms: limits.NATS_CONNECT_TIMEOUT_MS };
  const connecting = connectNats({ servers: url, name, logger, timeoutMs: limits.NATS_CONNECT_TIMEOUT_MS });
  try {
    return await withDeadline(connecting, limits.NATS_CONNECT_TIMEOUT_MS + 1_000, timeoutError);
  } catch (err) {
    // A connect that completes after the deadline is closed, not leaked.
    void connecting.then((nc) => nc.close()).catch(() => undefined);
    throw new UnreachableError('NATS', serverAddress('NATS', url), unreachableReason(err, limit));
  }
}
