import type { Redis } from 'ioredis';
import { redisScript } from './redis-script';

/**
 * A per-provider request budget shared by every replica: a token bucket kept in one Redis hash and
 * updated atomically by a Lua script using the Redis server's clock (so replicas' clocks don't
 * matter). A provider's 429 with `Retry-After` closes the budget for that long (`pause`), for
 * every replica at once.
 *
 * `reserve` lets background work leave headroom: a take with `reserve: n` succeeds only if at least
 * n tokens would remain, so user-triggered syncs (reserve 0) still get through when scheduled
 * syncs have drained the bucket down to the reserve.
 */
const TAKE = `
local key, pauseKey = KEYS[1], KEYS[2]
local rate, burst, cost, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local pausedFor = redis.call('pttl', pauseKey)
if pausedFor > 0 then return {0, pausedFor} end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('hmget', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local granted = 0
local wait = 0
if tokens - cost >= reserve then
  tokens = tokens - cost
  granted = 1
else
  wait = math.ceil((cost + reserve - tokens) * 1000 / rate)
end
redis.call('hset', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('pexpire', key, math.ceil(burst * 1000 / rate) + 60000)
return {granted, wait}
`;

const PAUSE = `if redis.call('pttl', KEYS[1]) < tonumber(ARGV[1]) then redis.call('set', KEYS[1], '1', 'PX', ARGV[1]) end return 1`;

export interface RateLimit {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Bucket size: how many requests may go at once after a quiet spell. */
  burst: number;
}

export type TakeResult = { granted: true } | { granted: false; waitMs: number };

export class RateBudget {
  private readonly takeScript: (...keysAndArgs: string[]) => Promise<unknown>;
  private readonly pauseScript: (...keysAndArgs: string[]) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly limits: Record<string, RateLimit>,
    private readonly keyPrefix = '',
  ) {
    this.takeScript = redisScript(redis, 'intellifinBudgetTake', TAKE, 2);
    this.pauseScript = redisScript(redis, 'intellifinBudgetPause', PAUSE, 1);
    for (const [provider, l] of Object.entries(limits)) {
      if (!(l.ratePerSecond > 0) || !(l.burst >= 1))
        throw new Error(`rate budget for ${provider}: ratePerSecond must be > 0 and burst ≥ 1`);
    }
  }

  private keys(provider: string): [string, string] {
    return [`${this.keyPrefix}ratebudget:${provider}`, `${this.keyPrefix}ratebudget:${provider}:paused`];
  }

  /** Takes `cost` tokens if available (keeping `reserve` in the bucket), else says how long to wait. */
  async take(provider: string, opts: { cost?: number; reserve?: number } = {}): Promise<TakeResult> {
    const limit = this.limits[provider];
    if (!limit) throw new Error(`no rate budget configured for provider ${provider}`);
    const cost = opts.cost ?? 1;
    if (cost + (opts.reserve ?? 0) > limit.burst) {
      // It could never be granted: say so rather than answer "wait" forever.
      throw new Error(`rate budget for ${provider}: cost ${cost} + reserve ${opts.reserve ?? 0} exceeds the burst of ${limit.burst}`);
    }
    const [key, pauseKey] = this.keys(provider);
    const [granted, wait] = (await this.takeScript(
      key,
      pauseKey,
      String(limit.ratePerSecond),
      String(limit.burst),
      String(cost),
      String(opts.reserve ?? 0),
    )) as [number, number];
    return granted === 1 ? { granted: true } : { granted: false, waitMs: Math.max(1, wait) };
  }

  /** Closes the provider's budget for every replica for `ms` (a 429's Retry-After); never shortens a longer pause. */
  async pause(provider: string, ms: number): Promise<void> {
    await this.pauseScript(this.keys(provider)[1], String(Math.max(1, Math.ceil(ms))));
  }

  /** Remaining pause in ms (0 when open). */
  async pausedFor(provider: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.keys(provider)[1]));
  }
}
