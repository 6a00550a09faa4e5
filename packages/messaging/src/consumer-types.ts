import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { ErrorKind, Logger, Registry } from '@intellifin/core';
import type { BackoffPolicy } from '@intellifin/domain';
import type { PayloadCodec } from './codec';
import type { OnDeadLetter } from './dead-letters';
import type { SuspectIsolation } from './suspect-isolation';
import type { Topology } from './topology';

/** What a handler may return instead of plain success. */
export type HandlerDecision =
  | { ack: true }
  /**
   * Redeliver after `nak` ms (e.g. the account's lease is busy). On the last delivery this
   * dead-letters, unless `requeueIfLast` is set: then the command is requeued (see `requeue`).
   */
  | { nak: number; reason?: string; requeueIfLast?: boolean }
  /**
   * Publish the same payload and headers again as a fresh message (delivery count 1) on the same
   * subject, only if no newer command replaced this one meanwhile, then ack this delivery. For a
   * hand-back that is not the command's fault (fenced, lease lost, our own outage, shutdown).
   */
  | { requeue: string }
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

/** `requeue`: published again as a fresh message (or found superseded by a newer one), then acked. */
export type Outcome = 'ack' | 'nak' | 'term' | 'dead_letter' | 'requeue';

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
  /** For requeues: `requeued` (a fresh copy is queued) or `superseded` (a newer command was queued already). */
  requeue?: RequeueResultKind;
  /** For requeues: the stream sequence of the fresh copy. */
  requeuedSeq?: number;
}

export type RequeueResultKind = 'requeued' | 'superseded';

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
  /**
   * Crash-loop isolation, shared by every runner of the process (suspect-isolation.ts): a
   * redelivery whose earlier delivery was never settled runs alone, and one that took its process
   * down `crashStrikes` times while alone is dead-lettered (`crash_loop`).
   */
  isolation?: SuspectIsolation;
}
