/**
 * What a view of a scheduled push (`GET /notifications/:id` after its send time) says about it:
 * sent to at least one device → `delivered`; finished without reaching any → `failed`; canceled at
 * OneSignal → `canceled`; anything else (not finished yet, 429, 5xx, a refusal) leaves it
 * `scheduled` and checks again later (429: after its Retry-After).
 */
import type { FinishInput } from '../store/dispatch';
import type { ViewResult } from './onesignal-client';

export type ConfirmOutcome = Pick<FinishInput, 'status' | 'nextAttemptAt' | 'lastError' | 'canceledAt'>;

export function confirmOutcome(r: ViewResult, now: Date, recheckMs: number): ConfirmOutcome {
  const later = (ms: number) => new Date(now.getTime() + Math.max(ms, 0));
  switch (r.kind) {
    case 'completed':
      return r.successful > 0
        ? { status: 'delivered', lastError: null }
        : { status: 'failed', lastError: `OneSignal reached no device (failed ${r.failed}, errored ${r.errored})` };
    case 'canceled':
      return { status: 'canceled', canceledAt: now, lastError: 'canceled at OneSignal' };
    case 'not_yet':
      return { status: 'scheduled', nextAttemptAt: later(recheckMs), lastError: `not sent yet by OneSignal (remaining ${r.remaining})` };
    case 'retry':
      return {
        status: 'scheduled',
        nextAttemptAt: later(r.retryAfterMs ?? recheckMs),
        lastError: `delivery not confirmed yet: ${r.reason}`,
      };
    case 'failed':
      return { status: 'scheduled', nextAttemptAt: later(recheckMs), lastError: `delivery not confirmed: ${r.reason}` };
  }
}
