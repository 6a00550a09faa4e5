import { errorCode, errorKind, retryAfterMs, type ErrorKind } from '@intellifin/core';
import { retryDelayMs } from '@intellifin/domain';
import type { HandlerDecision } from './consumer-types';
import { errMessage, type RunnerContext } from './runner-context';

/**
 * How a handled message is settled: the mapping from what the handler returned or threw to one
 * action on the message (the outcomes table of the package README).
 */
export type Decision =
  | { kind: 'ack' }
  | { kind: 'nak'; delayMs: number; reason: string; errorKind?: ErrorKind }
  | { kind: 'requeue'; reason: string; errorKind?: ErrorKind }
  | { kind: 'term'; reason: string }
  | { kind: 'dead_letter'; reason: string; code: string; errorKind: string };

/** The delivery being decided on. */
export interface DeliveryFacts {
  deliveryCount: number;
  /** deliveryCount ≥ MaxDeliver: a nak now would strand the message. */
  lastDelivery: boolean;
}

export function decisionFromResult(r: HandlerDecision | undefined, d: DeliveryFacts): Decision {
  if (!r || 'ack' in r) return { kind: 'ack' };
  if ('requeue' in r) return { kind: 'requeue', reason: r.requeue || 'handler_requeue' };
  if ('nak' in r) {
    const reason = r.reason ?? 'handler_nak';
    if (d.lastDelivery) {
      // Not the command's fault (the handler says so): publish it again as a fresh message.
      if (r.requeueIfLast) return { kind: 'requeue', reason };
      // A nak on the last delivery would strand the message (max deliveries): dead-letter it now.
      return {
        kind: 'dead_letter',
        reason: `max deliveries reached; last attempt asked for a retry (${reason})`,
        code: 'max_deliveries',
        errorKind: 'retryable',
      };
    }
    return { kind: 'nak', delayMs: Math.max(0, Math.round(r.nak)), reason };
  }
  if ('term' in r) return { kind: 'term', reason: r.term };
  return { kind: 'dead_letter', reason: r.deadLetter, code: r.code ?? 'dead_letter', errorKind: 'permanent' };
}

export function decisionFromError<T>(rc: RunnerContext<T>, err: unknown, d: DeliveryFacts): Decision {
  const kind = errorKind(err);
  const code = errorCode(err);
  const signal = rc.abort.signal;
  if (signal.aborted && (err === signal.reason || (err instanceof Error && err.name === 'AbortError'))) {
    // Interrupted by a shutdown: never the command's fault, so never a dead letter.
    if (d.lastDelivery) return { kind: 'requeue', reason: 'shutdown', errorKind: kind };
    return { kind: 'nak', delayMs: rc.o.shutdownNakDelayMs ?? 0, reason: 'shutdown', errorKind: kind };
  }
  if (kind !== 'retryable') return { kind: 'dead_letter', reason: `${kind} error ${code}: ${errMessage(err)}`, code, errorKind: kind };
  if (d.lastDelivery) {
    return {
      kind: 'dead_letter',
      reason: `max deliveries (${d.deliveryCount}) reached; last error ${code}: ${errMessage(err)}`,
      code,
      errorKind: kind,
    };
  }
  const ra = retryAfterMs(err);
  let delayMs: number;
  if (rc.o.retryDelay) delayMs = rc.o.retryDelay({ err, deliveryCount: d.deliveryCount, retryAfterMs: ra });
  else if (ra !== undefined) delayMs = Math.ceil(ra);
  else delayMs = backoffDelayMs(rc, d.deliveryCount);
  return { kind: 'nak', delayMs: Math.max(0, Math.round(delayMs)), reason: code, errorKind: kind };
}

/** Full-jitter backoff for the n-th delivery (the runner's policy or the domain default). */
export function backoffDelayMs<T>(rc: RunnerContext<T>, deliveryCount: number): number {
  return retryDelayMs({ attempt: Math.max(0, deliveryCount - 1), ...(rc.o.backoff ? { policy: rc.o.backoff } : {}) });
}
