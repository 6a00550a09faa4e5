import type { NatsConnection } from '@nats-io/transport-node';
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { SpanKind, SpanStatusCode, context as otelContext, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import {
  counter,
  errorCode,
  errorKind,
  extractTraceContext,
  gauge,
  histogram,
  METRIC_PREFIX,
  retryAfterMs,
  safeException,
  type ErrorKind,
  type Logger,
  type Registry,
} from '@intellifin/core';
import { retryDelayMs, type BackoffPolicy } from '@intellifin/domain';
import type { PayloadCodec } from './codec';
import { deadLetterCounter, publishDeadLetter, type DeadLetter, type OnDeadLetter } from './dead-letters';
import { PubAckInbox } from './pub-ack-inbox';
import type { Topology } from './topology';

/** What a handler may return instead of plain success. */
export type HandlerDecision =
  | { ack: true }
  /** Redeliver after `nak` ms (e.g. the account's lease is busy). */
  | { nak: number; reason?: string }
  /** Never redeliver, no DLQ copy (the handler has recorded the outcome itself). */
  | { term: string }
  /** Copy to SYNC_DLQ, call onDeadLetter, then term. */
  | { deadLetter: string; code?: string };

export interface HandlerContext<T> {
  /** The decoded, schema-checked payload. */
  payload: T;
  subject: string;
  /** 1 on the first delivery; counts naks and ack-wait expiries. */
  deliveryCount: number;
  maxDeliver: number;
  /** True when a retry would exceed MaxDeliver: a retryable failure now dead-letters. */
  lastDelivery: boolean;
  streamSeq: number;
  /** The context extracted from the message's `traceparent`, with the runner's span active in it. */
  traceContext: Context;
  /** The runner's span for this message (a child of the publisher's). */
  span: Span;
  /** Aborted when the runner stops: checkpoint and return (or throw the abort reason) quickly. */
  signal: AbortSignal;
  /** Resets the message's ack timer. The runner also calls it every ackWait/4 while the handler runs. */
  working(): void;
  logger: Logger;
}

/** Resolve (optionally with a decision) or throw. Success means: the outcome is committed (Postgres) — the runner then acks. */
export type MessageHandler<T> = (msg: JsMsg, ctx: HandlerContext<T>) => Promise<HandlerDecision | void> | HandlerDecision | void;

export type Outcome = 'ack' | 'nak' | 'term' | 'dead_letter';

/** Reported after each message is settled; tests and diagnostics use it. */
export interface SettledEvent {
  outcome: Outcome;
  subject: string;
  streamSeq: number;
  deliveryCount: number;
  /** For naks: the delay asked of the server. */
  delayMs?: number;
  /** Why: error code, decision reason, `shutdown`, … */
  reason?: string;
  errorKind?: ErrorKind;
}

export interface RetryDelayInfo {
  err: unknown;
  deliveryCount: number;
  /** The provider's `Retry-After` carried by the error, if any. */
  retryAfterMs: number | undefined;
}

export interface ConsumerRunnerOptions<T> {
  /** The connection `js` was made from: its server version decides `term(reason)`, its closing ends the runner. */
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  /** The stream and durable consumer, e.g. `topology.workers.mono`. */
  consumer: { stream: string; config: { durable_name: string } };
  codec: PayloadCodec<T>;
  handler: MessageHandler<T>;
  logger: Logger;
  registry?: Registry;
  onDeadLetter?: OnDeadLetter;
  /** Max handlers running at once. Default 8. */
  concurrency?: number;
  /** Messages pulled ahead of the handlers. Default = concurrency (kept small: a killed process strands few). */
  buffer?: number;
  /** Heartbeat interval; default ackWait/4 (ackWait read from the consumer's configuration). */
  heartbeatMs?: number;
  /** Backoff policy for retryable errors without Retry-After. Default: `@intellifin/domain` DEFAULT_BACKOFF. */
  backoff?: BackoffPolicy;
  /** Overrides the nak delay of retryable errors entirely. */
  retryDelay?: (info: RetryDelayInfo) => number;
  /** Delay of the nak used when a handler is interrupted by shutdown. Default 0 (redeliver at once to another worker). */
  shutdownNakDelayMs?: number;
  onSettled?: (e: SettledEvent) => void;
  tracer?: Tracer;
  /** Pull expiry; default 30 s (must be ≥ 1 s). */
  expiresMs?: number;
}

type Decision =
  | { kind: 'ack' }
  | { kind: 'nak'; delayMs: number; reason: string; errorKind?: ErrorKind }
  | { kind: 'term'; reason: string }
  | { kind: 'dead_letter'; reason: string; code: string; errorKind: string };

interface InFlight {
  msg: JsMsg;
  settled: boolean;
  promise: Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Server version ≥ major.minor? (`term(reason)` needs 2.11; 2.9 ignores a `+TERM <reason>` entirely.) */
function serverAtLeast(nc: NatsConnection, major: number, minor: number): boolean {
  const v = nc.info?.version;
  if (!v) return false;
  const [ma, mi] = v.split('.').map((x) => parseInt(x, 10));
  if (ma === undefined || mi === undefined || Number.isNaN(ma) || Number.isNaN(mi)) return false;
  return ma > major || (ma === major && mi >= minor);
}

/**
 * Runs a handler over a durable pull consumer with bounded concurrency, heartbeats, outcome
 * mapping (ack / nak(delay) / term / dead-letter) and graceful drain. See the package README in
 * index.ts for the outcome table.
 */
export class ConsumerRunner<T> {
  private readonly o: ConsumerRunnerOptions<T>;
  private readonly name: string;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly buffer: number;
  private readonly tracer: Tracer;
  private readonly inflight = new Set<InFlight>();
  private readonly abort = new AbortController();
  /** Dead-letter copies are published through it. */
  private readonly acks: PubAckInbox;
  private stopping = false;
  private stopSignal!: () => void;
  private readonly stopped: Promise<void>;
  private slotFreed: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private ackWaitMs: number;
  private maxDeliver: number;
  private readonly termWithReason: boolean;

  private readonly mHandled;
  private readonly mDuration;
  private readonly mInFlight;
  private readonly mQueueWait;
  private readonly mDead;

  constructor(opts: ConsumerRunnerOptions<T>) {
    this.o = opts;
    this.acks = new PubAckInbox(opts.nc);
    this.name = opts.consumer.config.durable_name;
    this.log = opts.logger.child({ component: 'consumer-runner', consumer: this.name, stream: opts.consumer.stream });
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.buffer = Math.max(1, opts.buffer ?? this.concurrency);
    this.tracer = opts.tracer ?? trace.getTracer('@intellifin/messaging');
    this.ackWaitMs = opts.topology.ackWaitMs;
    this.maxDeliver = opts.topology.maxDeliver;
    this.termWithReason = serverAtLeast(opts.nc, 2, 11);
    this.stopped = new Promise((r) => (this.stopSignal = r));
    const reg = opts.registry;
    this.mHandled = reg
      ? counter(reg, `${METRIC_PREFIX}messages_handled_total`, 'Messages settled by a consumer runner, by consumer and outcome', [
          'consumer',
          'outcome',
        ])
      : undefined;
    this.mDuration = reg
      ? histogram(reg, `${METRIC_PREFIX}handler_duration_seconds`, 'Handler run time per message', ['consumer', 'outcome'])
      : undefined;
    this.mInFlight = reg ? gauge(reg, `${METRIC_PREFIX}messages_in_flight`, 'Handlers currently running', ['consumer']) : undefined;
    this.mQueueWait = reg
      ? histogram(
          reg,
          `${METRIC_PREFIX}queue_wait_seconds`,
          'Time from publish (stream timestamp) to handler start',
          ['consumer'],
          [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
        )
      : undefined;
    this.mDead = reg ? deadLetterCounter(reg) : undefined;
  }

  /** Number of handlers running now. */
  get inFlight(): number {
    let n = 0;
    for (const f of this.inflight) if (!f.settled) n++;
    return n;
  }

  /** Starts pulling. Resolves once the consumer is bound (rejects if it does not exist). */
  async start(): Promise<void> {
    if (this.loop) throw new Error('consumer runner already started');
    const consumer = await this.o.js.consumers.get(this.o.consumer.stream, this.name);
    const info = await consumer.info(true);
    if (info.config.ack_wait) this.ackWaitMs = Math.max(1, Math.round(info.config.ack_wait / 1_000_000));
    if (info.config.max_deliver && info.config.max_deliver > 0) this.maxDeliver = info.config.max_deliver;
    this.loop = this.run(consumer);
    this.log.info(
      { concurrency: this.concurrency, buffer: this.buffer, ackWaitMs: this.ackWaitMs, maxDeliver: this.maxDeliver },
      'consumer runner started',
    );
  }

  /**
   * Graceful drain: stop pulling, nak buffered messages that have not started, abort the handlers'
   * signal, wait for running handlers up to `deadlineMs`, then nak whatever is still running (so
   * another worker can take it at once) and resolve.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopSignal();
      this.abort.abort(new Error('consumer runner stopping'));
      this.log.info({ inFlight: this.inFlight, deadlineMs }, 'consumer runner stopping');
    }
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    const running = [...this.inflight].map((f) => f.promise);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled(running).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const f of this.inflight) {
        if (f.settled) continue;
        f.settled = true;
        f.msg.nak();
        this.count('nak', {
          outcome: 'nak',
          subject: f.msg.subject,
          streamSeq: f.msg.seq,
          deliveryCount: f.msg.info.deliveryCount,
          delayMs: 0,
          reason: 'shutdown_deadline',
        });
      }
      this.log.warn({ abandoned: this.inflight.size }, 'stop deadline reached; running handlers abandoned and their messages nak-ed');
    }
    this.log.info('consumer runner stopped');
  }

  private async run(consumer: Consumer): Promise<void> {
    while (!this.stopping) {
      try {
        const messages = await consumer.consume({ max_messages: this.buffer, expires: this.o.expiresMs ?? 30_000 });
        this.messages = messages;
        if (this.stopping) await messages.close();
        void this.watchStatus(messages);
        for await (const m of messages) {
          if (this.stopping) {
            this.handBack(m);
            continue;
          }
          await this.waitForSlot();
          if (this.stopping) {
            this.handBack(m);
            continue;
          }
          this.dispatch(m);
        }
        if (this.o.nc.isClosed()) {
          if (!this.stopping) this.log.error('connection closed; consumer runner ends');
          break;
        }
        if (!this.stopping) this.log.warn('consume iterator ended; re-subscribing');
      } catch (err) {
        if (this.stopping || this.o.nc.isClosed()) break;
        this.log.error({ err }, 'consume failed; retrying in 1s');
      }
      if (!this.stopping) await Promise.race([sleep(1_000), this.stopped]);
    }
  }

  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of messages.status()) {
        switch (s.type) {
          case 'heartbeats_missed':
          case 'consumer_not_found':
          case 'consumer_deleted':
          case 'stream_not_found':
          case 'no_responders':
            this.log.warn({ status: s.type }, 'consumer status');
            break;
          default:
            break;
        }
      }
    } catch {
      // the iterator ended
    }
  }

  private handBack(m: JsMsg): void {
    m.nak();
    this.count('nak', {
      outcome: 'nak',
      subject: m.subject,
      streamSeq: m.seq,
      deliveryCount: m.info.deliveryCount,
      delayMs: 0,
      reason: 'shutdown',
    });
  }

  private async waitForSlot(): Promise<void> {
    while (this.inFlight >= this.concurrency && !this.stopping) {
      await Promise.race([new Promise<void>((r) => (this.slotFreed = r)), this.stopped]);
    }
  }

  private dispatch(m: JsMsg): void {
    const f: InFlight = { msg: m, settled: false, promise: Promise.resolve() };
    this.inflight.add(f);
    this.mInFlight?.inc({ consumer: this.name });
    f.promise = this.handle(f)
      .catch((err: unknown) => this.log.error({ err, subject: m.subject, seq: m.seq }, 'consumer runner bug while handling a message'))
      .finally(() => {
        this.inflight.delete(f);
        this.mInFlight?.dec({ consumer: this.name });
        const r = this.slotFreed;
        this.slotFreed = undefined;
        r?.();
      });
  }

  private async handle(f: InFlight): Promise<void> {
    const m = f.msg;
    const started = performance.now();
    const deliveryCount = m.info.deliveryCount;
    const lastDelivery = deliveryCount >= this.maxDeliver;
    const log = this.log.child({ subject: m.subject, seq: m.seq, deliveryCount });
    const publishedMs = Number(m.info.timestampNanos / 1_000_000);
    this.mQueueWait?.observe({ consumer: this.name }, Math.max(0, Date.now() - publishedMs) / 1000);

    const parent = extractTraceContext(m.headers);
    const span = this.tracer.startSpan(
      `${this.name} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': m.subject,
          'messaging.consumer.group.name': this.name,
          'messaging.message.delivery_count': deliveryCount,
          'messaging.nats.stream_sequence': m.seq,
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);

    let decision: Decision;
    let payload: T;
    try {
      payload = this.o.codec.decode(m.data);
    } catch (err) {
      decision = {
        kind: 'dead_letter',
        reason: `malformed payload: ${errMessage(err)}`,
        code: errorCode(err) === 'internal' ? 'malformed_payload' : errorCode(err),
        errorKind: 'validation',
      };
      await this.settle(f, decision, log, span, started, deliveryCount);
      return;
    }

    const heartbeatMs = this.o.heartbeatMs ?? Math.max(100, Math.floor(this.ackWaitMs / 4));
    const working = () => {
      if (!f.settled) m.working();
    };
    const hb = setInterval(working, heartbeatMs);
    try {
      const result = await otelContext.with(ctx, () =>
        this.o.handler(m, {
          payload,
          subject: m.subject,
          deliveryCount,
          maxDeliver: this.maxDeliver,
          lastDelivery,
          streamSeq: m.seq,
          traceContext: ctx,
          span,
          signal: this.abort.signal,
          working,
          logger: log,
        }),
      );
      decision = this.fromResult(result ?? undefined, lastDelivery);
    } catch (err) {
      decision = this.fromError(err, deliveryCount, lastDelivery);
      span.recordException(safeException(err));
    } finally {
      clearInterval(hb);
    }
    await this.settle(f, decision, log, span, started, deliveryCount);
  }

  private fromResult(r: HandlerDecision | undefined, lastDelivery: boolean): Decision {
    if (!r || 'ack' in r) return { kind: 'ack' };
    if ('nak' in r) {
      const reason = r.reason ?? 'handler_nak';
      // A nak on the last delivery would strand the message (max deliveries): dead-letter it now.
      if (lastDelivery)
        return {
          kind: 'dead_letter',
          reason: `max deliveries reached; last attempt asked for a retry (${reason})`,
          code: 'max_deliveries',
          errorKind: 'retryable',
        };
      return { kind: 'nak', delayMs: Math.max(0, Math.round(r.nak)), reason };
    }
    if ('term' in r) return { kind: 'term', reason: r.term };
    return { kind: 'dead_letter', reason: r.deadLetter, code: r.code ?? 'dead_letter', errorKind: 'permanent' };
  }

  private fromError(err: unknown, deliveryCount: number, lastDelivery: boolean): Decision {
    const kind = errorKind(err);
    const code = errorCode(err);
    if (this.abort.signal.aborted && (err === this.abort.signal.reason || (err instanceof Error && err.name === 'AbortError'))) {
      return { kind: 'nak', delayMs: this.o.shutdownNakDelayMs ?? 0, reason: 'shutdown', errorKind: kind };
    }
    if (kind !== 'retryable') return { kind: 'dead_letter', reason: `${kind} error ${code}: ${errMessage(err)}`, code, errorKind: kind };
    if (lastDelivery) {
      return {
        kind: 'dead_letter',
        reason: `max deliveries (${deliveryCount}) reached; last error ${code}: ${errMessage(err)}`,
        code,
        errorKind: kind,
      };
    }
    const ra = retryAfterMs(err);
    let delayMs: number;
    if (this.o.retryDelay) delayMs = this.o.retryDelay({ err, deliveryCount, retryAfterMs: ra });
    else if (ra !== undefined) delayMs = Math.ceil(ra);
    else delayMs = retryDelayMs({ attempt: Math.max(0, deliveryCount - 1), ...(this.o.backoff ? { policy: this.o.backoff } : {}) });
    return { kind: 'nak', delayMs: Math.max(0, Math.round(delayMs)), reason: code, errorKind: kind };
  }

  private async settle(f: InFlight, d: Decision, log: Logger, span: Span, started: number, deliveryCount: number): Promise<void> {
    const m = f.msg;
    if (f.settled) {
      // stop() gave up on this handler and nak-ed the message already.
      span.end();
      return;
    }
    let outcome: Outcome = d.kind;
    let abandoned = false;
    const event: SettledEvent = { outcome, subject: m.subject, streamSeq: m.seq, deliveryCount };
    try {
      switch (d.kind) {
        case 'ack':
          f.settled = true;
          try {
            await m.ackAck();
          } catch (err) {
            // The server may or may not have the ack: the handler is idempotent, a redelivery is harmless.
            log.warn({ err }, 'ack not confirmed; the message may be redelivered');
          }
          break;
        case 'nak':
          f.settled = true;
          m.nak(d.delayMs);
          event.delayMs = d.delayMs;
          event.reason = d.reason;
          if (d.errorKind) event.errorKind = d.errorKind;
          log.info({ delayMs: d.delayMs, reason: d.reason }, 'nak');
          break;
        case 'term':
          f.settled = true;
          this.term(m, d.reason);
          event.reason = d.reason;
          log.warn({ reason: d.reason }, 'terminated by handler');
          break;
        case 'dead_letter': {
          event.reason = d.reason;
          let dl: DeadLetter;
          try {
            dl = await publishDeadLetter(this.acks, this.o.topology, {
              source: 'runner',
              reason: d.reason,
              errorKind: d.errorKind,
              errorCode: d.code,
              originalSubject: m.subject,
              originalStream: this.o.consumer.stream,
              streamSeq: m.seq,
              deliveryCount,
              consumer: this.name,
              data: m.data,
              headers: m.headers,
            });
            await this.o.onDeadLetter?.(dl);
          } catch (err) {
            if (f.settled) {
              abandoned = true;
              break;
            }
            // Never drop: leave the message for a later delivery (or, on the last one, for the
            // advisory watcher), and retry the dead-lettering then.
            const delayMs = retryDelayMs({
              attempt: Math.max(0, deliveryCount - 1),
              ...(this.o.backoff ? { policy: this.o.backoff } : {}),
            });
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
          this.term(m, d.reason);
          if (!dl.dlqDuplicate) this.mDead?.inc({ consumer: this.name, source: 'runner' });
          log.warn({ reason: d.reason, code: d.code, dlqSeq: dl.dlqSeq }, 'dead-lettered');
          break;
        }
      }
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.mDuration?.observe({ consumer: this.name, outcome }, seconds);
      if (outcome === 'ack') span.setStatus({ code: SpanStatusCode.OK });
      else span.setStatus({ code: SpanStatusCode.ERROR, message: event.reason ?? outcome });
      span.setAttribute('messaging.outcome', outcome);
      span.end();
      if (!abandoned) this.count(outcome, event);
    }
  }

  private term(m: JsMsg, reason: string): void {
    // 2.9 ignores "+TERM <reason>" (the message stays pending): send the reason only where supported.
    if (this.termWithReason) m.term(reason.replace(/[\r\n]+/g, ' ').slice(0, 200));
    else m.term();
  }

  private count(outcome: Outcome, e: SettledEvent): void {
    this.mHandled?.inc({ consumer: this.name, outcome });
    try {
      this.o.onSettled?.(e);
    } catch (err) {
      this.log.error({ err }, 'onSettled hook threw');
    }
  }
}
