import type { ProviderId } from '@intellifin/domain';
import type { Fence } from '../adapters/leader-lease.repo';
import { combineDispatches, dispatchProvider, type DispatchDeps, type DispatchReport } from './dispatch';
import { executeDueSlots, type ExecutedSlot, type PlanSlotsDeps } from './plan-slots';

export interface PlanAndDispatchDeps {
  plan: PlanSlotsDeps;
  dispatch: DispatchDeps;
}

/**
 * Executes the due plan slots and dispatches every due account, overlapped: a provider's dispatch
 * starts as soon as that provider's slots are executed, while the next providers are planned.
 * Marking is a few large INSERTs that keep one backend busy, publishing keeps the scheduler and
 * nats-server busy; run one after the other, the marks left most of the box idle. Providers'
 * accounts are disjoint, and a provider's own groups are all marked before its dispatch reads, so
 * plans firing together still merge into one command per account.
 */
export async function planAndDispatch(
  deps: PlanAndDispatchDeps,
  fence: Fence,
  now: Date,
): Promise<{ slots: ExecutedSlot[]; dispatch: DispatchReport }> {
  const dispatches: Promise<DispatchReport>[] = [];
  const start = (provider: ProviderId) => {
    const d = dispatchProvider(deps.dispatch, fence, now, provider);
    d.catch(() => undefined); // awaited below; a planning failure must not leave it unobserved
    dispatches.push(d);
  };
  let slots: ExecutedSlot[];
  try {
    slots = await executeDueSlots(deps.plan, fence, now, start);
  } catch (err) {
    // No dispatch is left running behind a failed pass.
    await Promise.allSettled(dispatches);
    throw err;
  }
  return { slots, dispatch: await combineDispatches(deps.dispatch, dispatches) };
}
