import { createHash } from 'node:crypto';

/**
 * The fixed offset of an account inside a slot's spread window: the first 32 bits of
 * md5(account id) modulo the window, in ms. Deterministic, so a re-planned slot gives every
 * account the same time, and uniform enough to flatten the herd. The planner computes the same
 * value in SQL (`('x' || left(md5(id::text), 8))::bit(32)::bigint % spread`); a test keeps the two
 * equal.
 */
export function jitterOffsetMs(accountId: string, spreadMs: number): number {
  if (!(spreadMs > 0)) return 0;
  const h = parseInt(createHash('md5').update(accountId).digest('hex').slice(0, 8), 16);
  return h % Math.floor(spreadMs);
}

/** The SQL twin of `jitterOffsetMs`, for a uuid column `col` and a bigint parameter `spread`. */
export function jitterOffsetSql(col: string, spreadParam: string): string {
  return `CASE WHEN ${spreadParam}::bigint > 0 THEN (('x' || left(md5(${col}::text), 8))::bit(32)::bigint % ${spreadParam}::bigint) ELSE 0 END`;
}
