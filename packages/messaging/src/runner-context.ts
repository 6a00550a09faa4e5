import type { NatsConnection } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { trace, type Tracer } from '@opentelemetry/api';
import { counter, gauge, histogram, METRIC_PREFIX, type Logger, type Registry } from '@intellifin/core';
import type { ConsumerRunnerOptions, Outcome, SettledEvent } from './consumer-types';
import { deadLetterCounter } from './dead-letters';
import { PubAckInbox } from './pub-ack-inbox';

/** The runner's metrics; every one is absent without a registry. */
export interface RunnerMetrics {
  handled: ReturnType<typeof counter<'consumer' | 'outcome'>> | undefined;
  duration: ReturnType<typeof histogram<'consumer' | 'outcome'>> | undefined;
  inFlight: ReturnType<typeof gauge<'consumer'>> | undefined;
  queueWait: ReturnType<typeof histogram<'consumer'>> | undefined;
  dead: ReturnType<typeof deadLetterCounter> | undefined;
  requeues: ReturnType<typeof counter<'consumer' | 'reason' | 'result'>> | undefined;
  paused: ReturnType<typeof gauge<'consumer'>> | undefined;
}

export function runnerMetrics(reg: Registry | undefined): RunnerMetrics {
  if (!reg)
    return {
      handled: undefined,
      duration: undefined,
      inFlight: undefined,
      queueWait: undefined,
      dead: undefined,
      requeues: undefined,
      paused: undefined,
    };
  return {
    handled: counter(reg, `${METRIC_PREFIX}messages_handled_total`, 'Messages settled by a consumer runner, by consumer and outcome', [
      'consumer',
      'outcome',
    ]),
    duration: histogram(reg, `${METRIC_PREFIX}handler_duration_seconds`, 'Handler run time per message', ['consumer', 'outcome']),
    inFlight: gauge(reg, `${METRIC_PREFIX}messages_in_flight`, 'Handlers currently running', ['consumer']),
    queueWait: histogram(
      reg,
      `${METRIC_PREFIX}queue_wait_seconds`,
      'Time from publish (stream timestamp) to handler start',
      ['consumer'],
      [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    ),
    dead: deadLetterCounter(reg),
    requeues: counter(
      reg,
      `${METRIC_PREFIX}messages_requeued_total`,
      'Messages published again as a fresh message instead of a nak (requeued) or found replaced by a newer one (superseded), by reason',
      ['consumer', 'reason', 'result'],
    ),
    paused: gauge(reg, `${METRIC_PREFIX}consumer_paused`, '1 while a consumer runner is paused (fetches nothing new), else 0', [
      'consumer',
    ]),
  };
}

/** One delivered message from dispatch to settlement. `settled`: ack/nak/term/requeue already sent (possibly by stop()). */
export interface InFlight {
  msg: JsMsg;
  settled: boolean;
  promise: Promise<void>;
}

/** What the runner's modules share: options, identity, telemetry, the publish inbox and the consumer's live settings. */
export interface RunnerContext<T> {
  readonly o: ConsumerRunnerOptions<T>;
  /** The durable consumer's name (metrics label, log field). */
  readonly name: string;
  readonly log: Logger;
  readonly tracer: Tracer;
  readonly metrics: RunnerMetrics;
  /** Dead-letter copies and requeues are published through it. */
  readonly acks: PubAckInbox;
  /** Aborted by stop(): the handlers' signal. */
  readonly abort: AbortController;
  /** Whether the server honours `term(reason)` (≥ 2.11). */
  readonly termWithReason: boolean;
  /** Read from the consumer's configuration at start(). */
  ackWaitMs: number;
  maxDeliver: number;
}

export function createRunnerContext<T>(o: ConsumerRunnerOptions<T>): RunnerContext<T> {
  const name = o.consumer.config.durable_name;
  return {
    o,
    name,
    log: o.logger.child({ component: 'consumer-runner', consumer: name, stream: o.consumer.stream }),
    tracer: o.tracer ?? trace.getTracer('@intellifin/messaging'),
    metrics: runnerMetrics(o.registry),
    acks: new PubAckInbox(o.nc),
    abort: new AbortController(),
    termWithReason: serverAtLeast(o.nc, 2, 11),
    ackWaitMs: o.topology.ackWaitMs,
    maxDeliver: o.topology.maxDeliver,
  };
}

/** Counts a settlement and reports it to `onSettled`. */
export function reportSettled<T>(rc: RunnerContext<T>, outcome: Outcome, e: SettledEvent): void {
  rc.metrics.handled?.inc({ consumer: rc.name, outcome });
  try {
    rc.o.onSettled?.(e);
  } catch (err) {
    rc.log.error({ err }, 'onSettled hook threw');
  }
}

/** Server version ≥ major.minor? (`term(reason)` needs 2.11; 2.9 ignores a `+TERM <reason>` entirely.) */
function serverAtLeast(nc: NatsConnection, major: number, minor: number): boolean {
  const v = nc.info?.version;
  if (!v) return false;
  const [ma, mi] = v.split('.').map((x) => parseInt(x, 10));
  if (ma === undefined || mi === undefined || Number.isNaN(ma) || Number.isNaN(mi)) return false;
  return ma > major || (ma === major && mi >= minor);
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
