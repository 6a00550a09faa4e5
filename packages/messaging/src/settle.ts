import type { JsMsg } from '@nats-io/jetstream';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Logger } from '@intellifin/core';
import type { Outcome, SettledEvent } from './consumer-types';
import { publishDeadLetter, type DeadLetter } from './dead-letters';
import { backoffDelayMs, type Decision } from './outcome-mapping';
import { reasonLabel, requeueMessage } from './requeue';
import { reportSettled, type InFlight, type RunnerContext } from './runner-context';

/** One handled delivery on its way to settlement. */
export interface Delivery {
  f: InFlight;
  log: Logger;
  span: Span;
  /** performance.now() when handling started. */
  started: number;
  deliveryCount: number;
}

/**
 * Acks / naks / terms / requeues / dead-letters the message as decided, then ends the span and
 * reports the outcome. Returns what was done (`undefined`: stop() had handed the message back).
 */
export async function settle<T>(rc: RunnerContext<T>, dv: Delivery, d: Decision): Promise<Outcome | undefined> {
  const { f, log, span, deliveryCount } = dv;
  const m = f.msg;
  if (f.settled) {
    // stop() gave up on this handler and handed the message back already.
    span.end();
    return undefined;
  }
  let outcome: Outcome = d.kind;
  let abandoned = false;
  const event: SettledEvent = { outcome, subject: m.subject, streamSeq: m.seq, deliveryCount };
  try {
    switch (d.kind) {
      case 'ack':
        f.settled = true;
        await ackConfirmed(m, log);
        break;
      case 'nak':
        f.settled = true;
        m.nak(d.delayMs);
        event.delayMs = d.delayMs;
        event.reason = d.reason;
        if (d.errorKind) event.errorKind = d.errorKind;
        log.info({ delayMs: d.delayMs, reason: d.reason }, 'nak');
        break;
      case 'requeue':
        f.settled = true;
        if (d.errorKind) event.errorKind = d.errorKind;
        outcome = await requeueOrNak(rc, { m, reason: d.reason, deliveryCount, log, event });
        break;
      case 'term':
        f.settled = true;
        term(rc, m, d.reason);
        event.reason = d.reason;
        log.warn({ reason: d.reason }, 'terminated by handler');
        break;
      case 'dead_letter': {
        event.reason = d.reason;
        let dl: DeadLetter;
        try {
          dl = await publishDeadLetter(rc.acks, rc.o.topology, {
            source: 'runner',
            reason: d.reason,
            errorKind: d.errorKind,
            errorCode: d.code,
            originalSubject: m.subject,
            originalStream: rc.o.consumer.stream,
            streamSeq: m.seq,
            deliveryCount,
            consumer: rc.name,
            data: m.data,
            headers: m.headers,
          });
          await rc.o.onDeadLetter?.(dl);
        } catch (err) {
          if (f.settled) {
            abandoned = true;
            break;
          }
          // Never drop: leave the message for a later delivery (or, on the last one, for the
          // advisory watcher), and retry the dead-lettering then.
          const delayMs = backoffDelayMs(rc, deliveryCount);
          f.settled = true;
          m.nak(delayMs);
          outcome = 'nak';
          event.outcome = 'nak';
          event.delayMs = delayMs;
          event.reason = 'dead_letter_failed';
          log.error({ err, reason: d.reason }, 'dead-lettering failed; nak-ed to retry later');
          break;
        }
        if (f.settled) {
          abandoned = true; // stop() hit its deadline meanwhile and handed the message back
          break;
        }
        f.settled = true;
        term(rc, m, d.reason);
        if (!dl.dlqDuplicate) rc.metrics.dead?.inc({ consumer: rc.name, source: 'runner' });
        log.warn({ reason: d.reason, code: d.code, dlqSeq: dl.dlqSeq }, 'dead-lettered');
        break;
      }
    }
  } finally {
    const seconds = (performance.now() - dv.started) / 1000;
    rc.metrics.duration?.observe({ consumer: rc.name, outcome }, seconds);
    if (outcome === 'ack') span.setStatus({ code: SpanStatusCode.OK });
    else span.setStatus({ code: SpanStatusCode.ERROR, message: event.reason ?? outcome });
    span.setAttribute('messaging.outcome', outcome);
    span.end();
    if (!abandoned) reportSettled(rc, outcome, event);
  }
  return abandoned ? undefined : outcome;
}

/**
 * Gives a message back that this process will not handle (buffered when the runner stopped or
 * paused, or abandoned at the stop deadline): `nak(0)`, so another worker can take it at once; on
 * its last delivery a nak would dead-letter it for no fault of its own, so it is requeued instead
 * (and always with `requeue`, e.g. when set aside for a suspect).
 */
export async function handBack<T>(rc: RunnerContext<T>, m: JsMsg, reason: string, requeue = false): Promise<void> {
  const deliveryCount = m.info.deliveryCount;
  const event: SettledEvent = { outcome: 'nak', subject: m.subject, streamSeq: m.seq, deliveryCount };
  if (requeue || deliveryCount >= rc.maxDeliver) {
    const log = rc.log.child({ subject: m.subject, seq: m.seq, deliveryCount });
    const outcome = await requeueOrNak(rc, { m, reason, deliveryCount, log, event });
    reportSettled(rc, outcome, event);
    return;
  }
  m.nak();
  event.delayMs = 0;
  event.reason = reason;
  reportSettled(rc, 'nak', event);
}

interface RequeueAttempt {
  m: JsMsg;
  reason: string;
  deliveryCount: number;
  log: Logger;
  /** Filled with the outcome's details. */
  event: SettledEvent;
}

/**
 * Requeues the message and acks this delivery; if the copy cannot be published (NATS trouble),
 * naks with backoff instead so that nothing is lost (on the last delivery the advisory watcher is
 * then the safety net). Fills `event` and returns the outcome.
 */
async function requeueOrNak<T>(rc: RunnerContext<T>, attempt: RequeueAttempt): Promise<Outcome> {
  const { m, reason, deliveryCount, log, event } = attempt;
  event.reason = reason;
  try {
    const r = await requeueMessage(rc.acks, m, reason);
    // The copy replaced the original in the stream (max one message per subject); this ack settles the delivery.
    await ackConfirmed(m, log);
    event.outcome = 'requeue';
    event.requeue = r.result;
    if (r.result === 'requeued') event.requeuedSeq = r.seq;
    rc.metrics.requeues?.inc({ consumer: rc.name, reason: reasonLabel(reason), result: r.result });
    log.info({ reason, result: r.result, requeuedSeq: event.requeuedSeq }, 'requeued as a fresh message');
    return 'requeue';
  } catch (err) {
    const delayMs = backoffDelayMs(rc, deliveryCount);
    m.nak(delayMs);
    event.outcome = 'nak';
    event.delayMs = delayMs;
    event.reason = 'requeue_failed';
    log.error({ err, reason }, 'requeue failed; nak-ed to retry later');
    return 'nak';
  }
}

async function ackConfirmed(m: JsMsg, log: Logger): Promise<void> {
  try {
    await m.ackAck();
  } catch (err) {
    // The server may or may not have the ack: the handler is idempotent, a redelivery is harmless.
    log.warn({ err }, 'ack not confirmed; the message may be redelivered');
  }
}

function term<T>(rc: RunnerContext<T>, m: JsMsg, reason: string): void {
  // 2.9 ignores "+TERM <reason>" (the message stays pending): send the reason only where supported.
  if (rc.termWithReason) m.term(reason.replace(/[\r\n]+/g, ' ').slice(0, 200));
  else m.term();
}
