import type { HandlerContext, HandlerDecision, SyncCommand } from '@intellifin/messaging';
import { recordRerun } from '@intellifin/persistence';
import type { EngineCore } from './engine-core';
import { PRIORITY_TRIGGERS } from './engine-options';
import { onServer } from './infra';

/**
 * The account's lease is busy: another run holds it. The command is recorded on the account as a
 * re-run request (merged with any earlier one: widest mode, real-time if either asks) and acked only
 * when a run is still in flight to honour it; that run's finish either satisfies it (a successful
 * run that started after the command was issued and covered its scope) or turns it into a command
 * through the outbox. If no run is in flight any more (it ended between the lease check and now),
 * the command is kept: nak, and it runs itself shortly.
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
  if (r.recorded && r.runInFlight) {
    core.o.metrics?.leaseContention.inc({ provider, decision: 'rerun_recorded' });
    ctx.logger.debug({ accountId: cmd.accountId }, 'lease busy; recorded as a re-run the running run honours');
    return { ack: true };
  }
  core.o.metrics?.leaseContention.inc({ provider, decision: 'deferred' });
  const base = core.o.leaseBusyDelayMs ?? 2_000;
  const delay = Math.min(core.o.leaseTtlMs, base * Math.min(ctx.deliveryCount, 8)) + Math.floor(Math.random() * base);
  return core.retryLater(ctx, delay, 'lease_busy');
}
