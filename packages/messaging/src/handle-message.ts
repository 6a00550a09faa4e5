import { SpanKind, context as otelContext, trace } from '@opentelemetry/api';
import { errorCode, extractTraceContext, safeException } from '@intellifin/core';
import { decisionFromError, decisionFromResult, type Decision } from './outcome-mapping';
import { errMessage, type InFlight, type RunnerContext } from './runner-context';
import { settle, type Delivery } from './settle';
import { NORMAL_DELIVERY, type SuspectVerdict } from './suspect-isolation';

/**
 * Handles one delivered message: decode, span (a child of the publisher's trace context), the
 * handler with `working()` heartbeats every ackWait/4 while it runs, the outcome mapping, settle.
 * With suspect isolation the delivery is noted in the journal while it is handled, and a
 * `crash_loop` verdict dead-letters the message without running the handler.
 */
export async function handleMessage<T>(rc: RunnerContext<T>, f: InFlight, verdict: SuspectVerdict = NORMAL_DELIVERY): Promise<void> {
  const isolation = rc.o.isolation;
  if (isolation && verdict.kind !== 'crash_loop') await isolation.noteStart(f.msg, verdict);
  const { delivery, decision } = await decide(rc, f, verdict);
  if (verdict.kind === 'crash_loop') {
    // The strikes stay until the dead letter is safely in SYNC_DLQ (a failed copy is retried).
    if ((await settle(rc, delivery, decision)) === 'dead_letter') await isolation?.forget(f.msg);
    return;
  }
  // Forgotten before it is settled: a death in between leaves a normal redelivery, never a
  // stale note that would make the account's next command a suspect (or give it a strike).
  await isolation?.forget(f.msg);
  await settle(rc, delivery, decision);
}

/** Runs the handler (unless the payload or the verdict rules it out) and maps its outcome to a decision. */
async function decide<T>(rc: RunnerContext<T>, f: InFlight, verdict: SuspectVerdict): Promise<{ delivery: Delivery; decision: Decision }> {
  const m = f.msg;
  const started = performance.now();
  const deliveryCount = m.info.deliveryCount;
  const lastDelivery = deliveryCount >= rc.maxDeliver;
  const log = rc.log.child({ subject: m.subject, seq: m.seq, deliveryCount });
  const publishedMs = Number(m.info.timestampNanos / 1_000_000);
  rc.metrics.queueWait?.observe({ consumer: rc.name }, Math.max(0, Date.now() - publishedMs) / 1000);

  const parent = extractTraceContext(m.headers);
  const span = rc.tracer.startSpan(
    `${rc.name} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': m.subject,
        'messaging.consumer.group.name': rc.name,
        'messaging.message.delivery_count': deliveryCount,
        'messaging.nats.stream_sequence': m.seq,
        'intellifin.delivery.verdict': verdict.kind,
        'intellifin.delivery.strikes': verdict.strikes,
      },
    },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  const delivery: Delivery = { f, log, span, started, deliveryCount };

  let decision: Decision;
  let payload: T;
  try {
    payload = rc.o.codec.decode(m.data);
  } catch (err) {
    decision = {
      kind: 'dead_letter',
      reason: `malformed payload: ${errMessage(err)}`,
      code: errorCode(err) === 'internal' ? 'malformed_payload' : errorCode(err),
      errorKind: 'validation',
    };
    return { delivery, decision };
  }

  if (verdict.kind === 'crash_loop') {
    decision = {
      kind: 'dead_letter',
      reason: `crash loop: the process handling this command died ${verdict.strikes} times while it ran alone`,
      code: 'crash_loop',
      errorKind: 'permanent',
    };
    return { delivery, decision };
  }

  const heartbeatMs = rc.o.heartbeatMs ?? Math.max(100, Math.floor(rc.ackWaitMs / 4));
  const working = () => {
    if (!f.settled) m.working();
  };
  // Stops by itself once the message is settled elsewhere (stop() abandoned a handler that never returns).
  const hb = setInterval(() => (f.settled ? clearInterval(hb) : m.working()), heartbeatMs);
  try {
    const result = await otelContext.with(ctx, () =>
      rc.o.handler(m, {
        payload,
        subject: m.subject,
        deliveryCount,
        maxDeliver: rc.maxDeliver,
        lastDelivery,
        streamSeq: m.seq,
        traceContext: ctx,
        span,
        signal: rc.abort.signal,
        working,
        logger: log,
      }),
    );
    decision = decisionFromResult(result ?? undefined, { deliveryCount, lastDelivery });
  } catch (err) {
    decision = decisionFromError(rc, err, { deliveryCount, lastDelivery });
    span.recordException(safeException(err));
  } finally {
    clearInterval(hb);
  }
  return { delivery, decision };
}
