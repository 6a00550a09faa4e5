import { RetryableError } from '@intellifin/core';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from './db';

/**
 * A write was attempted with a fence older than the account's: another run took the account over
 * (our lease expired while we were paused). Nothing was written. Retryable: the redelivered
 * command meets either the newer run's lease or a settled account.
 */
export class FencedWriteError extends RetryableError {
  constructor(accountId: string, fence: bigint) {
    super('fenced', `write for account ${accountId} with stale fence ${fence} was rejected`, { details: { accountId, fence: fence.toString() } });
  }
}

export interface FenceGrant {
  fence: bigint;
  cursor: unknown;
}

/**
 * Starts a run: bumps the account's fence and returns the new value with the cursor as of that
 * moment. Every later write of the run must pass this fence to `withFence`. Null if no such account.
 */
export async function takeFence(db: Pick<PoolClient, 'query'>, accountId: string): Promise<FenceGrant | null> {
  const { rows } = await db.query<{ fence: bigint; cursor: unknown }>(
    'UPDATE accounts SET fence = fence + 1, last_attempt_at = now(), updated_at = now() WHERE id = $1 RETURNING fence, cursor',
    [accountId],
  );
  return rows[0] ?? null;
}

/**
 * Runs `fn` in a transaction that first checks the fence with a guarded UPDATE of the account row.
 * Under READ COMMITTED the guard re-checks against a concurrently committed bump (and matches 0
 * rows), and a later bump waits on the row lock until we commit: a stale writer can never commit
 * after a newer one. Throws `FencedWriteError` (after rolling back) when the fence is stale.
 */
export async function withFence<T>(pool: Pool, accountId: string, fence: bigint, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await checkFence(client, accountId, fence);
    return fn(client);
  });
}

/** The guard alone, for callers that manage their own transaction. Takes the account row lock. */
export async function checkFence(client: Pick<PoolClient, 'query'>, accountId: string, fence: bigint): Promise<void> {
  const res = await client.query('UPDATE accounts SET updated_at = now() WHERE id = $1 AND fence = $2', [accountId, fence.toString()]);
  if (res.rowCount !== 1) throw new FencedWriteError(accountId, fence);
}
