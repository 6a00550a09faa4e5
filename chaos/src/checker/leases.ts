/**
 * leases: no per-account lease key left in Redis after quiescence (packages/persistence
 * redis-lease.ts: `<prefix>lease:acct:<accountId>`). A key left behind means a run ended without
 * releasing its lease (the next run of that account waits for the TTL).
 */
import { Redis } from 'ioredis';
import { invariant } from './result';
import type { InvariantResult } from './types';

export async function checkLeases(redisUrl: string, prefix = ''): Promise<InvariantResult> {
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
    const lines = await Promise.all(keys.map(async (k) => `${k.slice(prefix.length)} (ttl ${await redis.pttl(k)} ms)`));
    return invariant('leases', `SCAN ${pattern}`, lines);
  } finally {
    redis.disconnect();
  }
}
