import { PermanentError, type Logger } from '@intellifin/core';
import type { HandlerContext, HandlerDecision, SyncCommand } from '@intellifin/messaging';

/**
 * Test-only poison hook for the chaos harness (`chaos/`, issue #14; docs/reliability.md). It is
 * OFF unless BOTH `INTELLIFIN_CHAOS_HOOKS=enabled` is set and `NODE_ENV` is not `production`; the
 * deployment (`.env.example`, images) never sets the variable. When on, `CHAOS_POISON` lists
 * `<accountId>:throw` and `<accountId>:crash` entries (comma-separated, our account ids):
 * - `throw`: handling that account's command throws a permanent error (a deterministic handler
 *   bug), so the runner dead-letters it on its first delivery;
 * - `crash`: the process kills itself with SIGKILL when it receives that account's command (a
 *   segfault or OOM kill as the system sees it), so the command is redelivered after AckWait to the
 *   next worker until MaxDeliver, and only the advisory path can dead-letter it.
 */
export type ChaosPoisonKind = 'throw' | 'crash';

export function chaosPoisonFromEnv(env: NodeJS.ProcessEnv = process.env): ReadonlyMap<string, ChaosPoisonKind> | undefined {
  if (env.INTELLIFIN_CHAOS_HOOKS !== 'enabled' || env.NODE_ENV === 'production') return undefined;
  const poison = new Map<string, ChaosPoisonKind>();
  for (const entry of (env.CHAOS_POISON ?? '').split(',')) {
    const m = /^\s*([0-9a-f-]{36}):(throw|crash)\s*$/i.exec(entry);
    if (m) poison.set(m[1]!.toLowerCase(), m[2] as ChaosPoisonKind);
  }
  return poison.size ? poison : undefined;
}

type SyncHandler = (msg: unknown, ctx: HandlerContext<SyncCommand>) => Promise<HandlerDecision>;

/** `handler` itself when there is no poison; otherwise a handler that poisons the listed accounts first. */
export function withChaosPoison(
  handler: SyncHandler,
  poison: ReadonlyMap<string, ChaosPoisonKind> | undefined,
  logger: Logger,
): SyncHandler {
  if (!poison) return handler;
  logger.warn({ accounts: poison.size }, 'CHAOS HOOKS ENABLED: poison commands will throw or crash this process (test-only)');
  return async (msg, ctx) => {
    const kind = poison.get(ctx.payload.accountId);
    if (kind === 'crash') {
      logger.warn({ accountId: ctx.payload.accountId, deliveryCount: ctx.deliveryCount }, 'chaos poison: crashing the process');
      process.kill(process.pid, 'SIGKILL');
    }
    if (kind === 'throw') throw new PermanentError('chaos_poison', 'chaos poison: the handler throws for this account');
    return handler(msg, ctx);
  };
}
