import type { Redis } from 'ioredis';

/**
 * A Lua script run by its SHA (`EVALSHA`, falling back to `EVAL` once per connection when the
 * server does not know it yet) — ioredis' `defineCommand`, which saves resending the script text
 * on every call. Returns a function taking the keys followed by the arguments.
 */
export function redisScript(redis: Redis, name: string, lua: string, numberOfKeys: number): (...keysAndArgs: string[]) => Promise<unknown> {
  const commands = redis as unknown as Record<string, ((...a: string[]) => Promise<unknown>) | undefined>;
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { lua, numberOfKeys });
  const command = commands[name]!;
  return (...keysAndArgs: string[]) => command.apply(redis, keysAndArgs);
}
