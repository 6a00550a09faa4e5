/**
 * leases: no per-account lease key left in Redis after quiescence (packages/persistence
 * redis-lease.ts: `<prefix>lease:acct:<accountId>`). A key left behind means a run ended without
 * releasing its lease (the next run of that account waits for the TTL).
 */
import { Redis } from 'ioredis';
import { invariant } from './result';
import type { InvariantResult } from './types';

/**
 * `excused(accountIds)` names the accounts whose key belongs to a run that started after
 * quiescence was declared (a scheduled run the services started meanwhile): not left behind.
 */
export async function checkLeases(
  redisUrl: string,
  prefix = '',
  excused: (accountIds: string[]) => Promise<Set<string>> = async () => new Set(),
): Promise<InvariantResult> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true, connectTimeout: 10_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pattern = `${prefix}lease:acct:*`;
    const keys: string[] = [];
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
    const accountOf = (k: string) => k.slice(`${prefix}lease:acct:`.length);
    const fresh = await excused(keys.map(accountOf));
    const left = keys.filter((k) => !fresh.has(accountOf(k)));
    const lines = await Promise.all(left.map(async (k) => `${k.slice(prefix.length)} (ttl ${await redis.pttl(k)} ms)`));
    const note = fresh.size ? `${fresh.size} key(s) held by runs started after quiescence, not counted` : undefined;
    return invariant('leases', `SCAN ${pattern}`, lines, note);
  } finally {
    redis.disconnect();
  }
}
