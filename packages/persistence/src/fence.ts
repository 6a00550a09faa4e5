import { RetryableError } from '@intellifin/core';
import type { PoolClient } from 'pg';

/**
 * A write was attempted with a fence older than the account's: another run took the account over
 * (our lease expired while we were paused). Nothing was written. Retryable: the redelivered
 * command meets either the newer run's lease or a settled account.
 */
export class FencedWriteError extends RetryableError {
  constructor(accountId: string, fence: bigint) {
    super('fenced', `write for account ${accountId} with stale fence ${fence} was rejected`, {
      details: { accountId, fence: fence.toString() },
    });
  }
}

export interface FenceGrant {
  fence: bigint;
  cursor: unknown;
}

/**
 * Bumps the account's fence and returns the new value with the cursor as of that moment; null if
 * no such account. The bare primitive: a sync run takes its fence with `beginRun`, which also
 * records the run row in the same statement. Every later write passes the fence to a guarded
 * statement (`commitPage`, `finishRunFenced`, `storeBalance`).
 */
export async function takeFence(db: Pick<PoolClient, 'query'>, accountId: string): Promise<FenceGrant | null> {
  const { rows } = await db.query<{ fence: bigint; cursor: unknown }>(
    'UPDATE accounts SET fence = fence + 1, last_attempt_at = now(), updated_at = now() WHERE id = $1 RETURNING fence, cursor',
    [accountId],
  );
  return rows[0] ?? null;
}
