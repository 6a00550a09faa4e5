import type { HandlerContext, HandlerDecision, SyncCommand } from '@intellifin/messaging';
import { recordRerun } from '@intellifin/persistence';
import type { EngineCore } from './engine-core';
import { PRIORITY_TRIGGERS } from './engine-options';
import { onServer } from './infra';

/**
 * The account's lease is busy: another run holds it. The command is recorded on the account as a
 * re-run request (merged with any earlier one: widest mode, real-time if either asks), so that the
 * run that finishes honours it even if this message is replaced on its subject meanwhile: it is
 * satisfied (a successful run that started after the command was issued and covered its scope) or
 * turned into a command through the outbox. The command itself is still handed back (nak, requeued
 * on its last delivery), never acked here: the holder may be a crashed worker whose run row still
 * says `running` and will never finish, and the lease it left expires within its TTL. When the
 * command comes back it is skipped as already satisfied, or runs.
 */
export async function coalesce(core: EngineCore, cmd: SyncCommand, ctx: HandlerContext<SyncCommand>): Promise<HandlerDecision> {
  const { provider } = core.o;
  const r = await onServer('postgres', () =>
    recordRerun(core.o.pool, {
      accountId: cmd.accountId,
      scope: { mode: cmd.mode, realtime: cmd.realtime },
      trigger: cmd.trigger,
      issuedAt: new Date(cmd.issuedAt),
      priorityTriggers: PRIORITY_TRIGGERS,
    }),
  );
  core.o.metrics?.leaseContention.inc({ provider, decision: r.recorded ? 'rerun_recorded' : 'deferred' });
  ctx.logger.debug({ accountId: cmd.accountId }, 'lease busy; re-run recorded, command handed back');
  const base = core.o.leaseBusyDelayMs ?? 2_000;
  const delay = Math.min(core.o.leaseTtlMs, base * Math.min(ctx.deliveryCount, 8)) + Math.floor(Math.random() * base);
  return core.retryLater(ctx, delay, 'lease_busy');
}
