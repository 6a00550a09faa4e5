import { Redis } from 'ioredis';
import { infrastructureUrls } from './infrastructure';
import { uniqueSuffix } from './isolation';

export interface TestRedis {
  redis: Redis;
  /** Prefix every key this test file uses; `cleanup()` deletes exactly those keys. */
  prefix: string;
  cleanup(): Promise<void>;
}

export function createTestRedis(): TestRedis {
  const redis = new Redis(infrastructureUrls().redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
  const prefix = `test:${uniqueSuffix()}:`;
  return {
    redis,
    prefix,
    cleanup: async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}
