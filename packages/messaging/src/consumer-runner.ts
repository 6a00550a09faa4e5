import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { ConsumerRunnerOptions } from './consumer-types';
import { handleMessage } from './handle-message';
import { createRunnerContext, type InFlight, type RunnerContext } from './runner-context';
import { handBack } from './settle';
import { ISOLATION_PAUSE_REASON, NORMAL_DELIVERY, type SuspectVerdict } from './suspect-isolation';

export type {
  ConsumerRunnerOptions,
  HandlerContext,
  HandlerDecision,
  MessageHandler,
  Outcome,
  RequeueResultKind,
  RetryDelayInfo,
  SettledEvent,
} from './consumer-types';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs a handler over a durable pull consumer with bounded concurrency, heartbeats, outcome
 * mapping (ack / nak(delay) / requeue / term / dead-letter), pause/resume and graceful drain. The
 * outcomes table is in the package README. This file holds the pull loop and the lifecycle; the
 * handling of one message is in handle-message.ts, the mapping in outcome-mapping.ts, the actions
 * in settle.ts.
 */
export class ConsumerRunner<T> {
  private readonly rc: RunnerContext<T>;
  private readonly concurrency: number;
  private readonly buffer: number;
  private readonly inflight = new Set<InFlight>();
  /** Hand-backs of buffered messages that are still publishing (requeues on the last delivery). */
  private readonly handBacks = new Set<Promise<void>>();
  private readonly pauses = new Set<string>();
  private pausedAt = 0;
  private stopping = false;
  /** Resolved (and replaced) whenever stopping, pause or resume changes: wakes the loop's waits. */
  private changed!: Promise<void>;
  private wake!: () => void;
  private slotFreed: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;
  /** The iterator pause() closed: its end is expected, not a fault. */
  private closedForPause: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  constructor(opts: ConsumerRunnerOptions<T>) {
    this.rc = createRunnerContext(opts);
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.buffer = Math.max(1, opts.buffer ?? this.concurrency);
    this.renewChanged();
    opts.isolation?.register(this);
  }

  /** The durable consumer's name. */
  get name(): string {
    return this.rc.name;
  }

  /** Number of handlers running now. */
  get inFlight(): number {
    let n = 0;
    for (const f of this.inflight) if (!f.settled) n++;
    return n;
  }

  /** True while at least one pause reason is in force: nothing new is fetched. */
  get paused(): boolean {
    return this.pauses.size > 0;
  }

  /** The reasons the runner is paused for (empty when running). */
  get pauseReasons(): readonly string[] {
    return [...this.pauses];
  }

  /**
   * Stops fetching, e.g. while our own Postgres, Redis or NATS is out. Handlers already running
   * finish and settle as usual. Messages pulled ahead of the handlers but not started are handed
   * back at once with `nak(0)` (requeued on their last delivery): keeping them would hold them away
   * from healthy workers for the whole outage and their ack wait would expire anyway. Several
   * reasons may be in force at once; the runner resumes when the last one is lifted. Idempotent.
   */
  pause(reason: string): void {
    const wasPaused = this.paused;
    this.pauses.add(reason);
    if (wasPaused) return;
    this.pausedAt = performance.now();
    this.rc.metrics.paused?.set({ consumer: this.rc.name }, 1);
    this.rc.log.warn({ reason }, 'consumer paused: fetching nothing new until resumed');
    if (this.messages) {
      this.closedForPause = this.messages;
      void this.messages.close().catch(() => undefined);
    }
    this.notify();
  }

  /** Lifts one pause reason, or all of them without an argument; fetching resumes when none is left. */
  resume(reason?: string): void {
    if (!this.paused) return;
    if (reason === undefined) this.pauses.clear();
    else this.pauses.delete(reason);
    if (this.paused) return;
    this.rc.metrics.paused?.set({ consumer: this.rc.name }, 0);
    this.rc.log.info({ pausedMs: Math.round(performance.now() - this.pausedAt) }, 'consumer resumed');
    this.notify();
  }

  /** Starts pulling (unless paused). Resolves once the consumer is bound (rejects if it does not exist). */
  async start(): Promise<void> {
    if (this.loop) throw new Error('consumer runner already started');
    const { rc } = this;
    const consumer = await rc.o.js.consumers.get(rc.o.consumer.stream, rc.name);
    const info = await consumer.info(true);
    if (info.config.ack_wait) rc.ackWaitMs = Math.max(1, Math.round(info.config.ack_wait / 1_000_000));
    if (info.config.max_deliver && info.config.max_deliver > 0) rc.maxDeliver = info.config.max_deliver;
    rc.metrics.paused?.set({ consumer: rc.name }, this.paused ? 1 : 0);
    this.loop = this.run(consumer);
    rc.log.info(
      { concurrency: this.concurrency, buffer: this.buffer, ackWaitMs: rc.ackWaitMs, maxDeliver: rc.maxDeliver, paused: this.paused },
      'consumer runner started',
    );
  }

  /**
   * Graceful drain: stop pulling, hand back buffered messages that have not started, abort the
   * handlers' signal, wait for running handlers up to `deadlineMs`, then hand back whatever is
   * still running (nak(0) so another worker can take it at once; requeued on its last delivery,
   * so a deploy never dead-letters a command) and resolve.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    const { rc } = this;
    if (!this.stopping) {
      this.stopping = true;
      this.notify();
      rc.abort.abort(new Error('consumer runner stopping'));
      rc.log.info({ inFlight: this.inFlight, deadlineMs }, 'consumer runner stopping');
    }
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    await Promise.all(this.handBacks);
    const running = [...this.inflight].map((f) => f.promise);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled(running).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const abandoned = [...this.inflight].filter((f) => !f.settled);
      for (const f of abandoned) f.settled = true;
      await Promise.all(
        abandoned.map(async (f) => {
          await handBack(rc, f.msg, 'shutdown_deadline');
          await rc.o.isolation?.forget(f.msg);
        }),
      );
      rc.log.warn({ abandoned: abandoned.length }, 'stop deadline reached; running handlers abandoned and their messages handed back');
    }
    rc.log.info('consumer runner stopped');
  }

  private async run(consumer: Consumer): Promise<void> {
    const { rc } = this;
    while (!this.stopping) {
      if (this.paused) {
        await this.waitWhilePaused();
        continue;
      }
      let retryLater = false;
      try {
        const messages = await consumer.consume({ max_messages: this.buffer, expires: rc.o.expiresMs ?? 30_000 });
        this.messages = messages;
        if (this.stopping || this.paused) {
          this.closedForPause = messages;
          void messages.close().catch(() => undefined);
        }
        void this.watchStatus(messages);
        for await (const m of messages) {
          if (this.stopping || this.paused) {
            this.handBackLater(m);
            continue;
          }
          await this.waitForSlot();
          const verdict = rc.o.isolation ? await rc.o.isolation.classify(rc.name, m) : NORMAL_DELIVERY;
          if (verdict.kind === 'suspect' && !this.pauseReasons.some((r) => r !== ISOLATION_PAUSE_REASON) && !this.stopping) {
            // Runs alone: the isolation pauses every runner of the process, this one included, so
            // the rest of this batch is requeued below instead of dying with it.
            this.dispatch(m, verdict);
            continue;
          }
          if (this.stopping || this.paused) {
            this.handBackLater(m);
            continue;
          }
          this.dispatch(m, verdict);
        }
        if (rc.o.nc.isClosed()) {
          if (!this.stopping) rc.log.error('connection closed; consumer runner ends');
          break;
        }
        if (!this.stopping && this.closedForPause !== messages) {
          rc.log.warn('consume iterator ended; re-subscribing');
          retryLater = true;
        }
      } catch (err) {
        if (this.stopping || rc.o.nc.isClosed()) break;
        rc.log.error({ err }, 'consume failed; retrying in 1s');
        retryLater = true;
      }
      if (retryLater && !this.stopping) await Promise.race([sleep(1_000), this.changed]);
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
            this.rc.log.warn({ status: s.type }, 'consumer status');
            break;
          default:
            break;
        }
      }
    } catch {
      // the iterator ended
    }
  }

  private handBackLater(m: JsMsg): void {
    // Set aside for a suspect: requeued (a fresh copy), so that it loses none of its deliveries.
    const requeue = !this.stopping && this.pauseReasons.includes(ISOLATION_PAUSE_REASON);
    const p: Promise<void> = handBack(this.rc, m, this.stopping ? 'shutdown' : requeue ? ISOLATION_PAUSE_REASON : 'paused', requeue)
      .catch((err: unknown) => this.rc.log.error({ err, subject: m.subject, seq: m.seq }, 'hand-back failed'))
      .finally(() => this.handBacks.delete(p));
    this.handBacks.add(p);
  }

  private renewChanged(): void {
    this.changed = new Promise<void>((r) => (this.wake = r));
  }

  private notify(): void {
    const wake = this.wake;
    this.renewChanged();
    wake();
  }

  private async waitWhilePaused(): Promise<void> {
    while (this.paused && !this.stopping) await this.changed;
  }

  private async waitForSlot(): Promise<void> {
    while (this.inFlight >= this.concurrency && !this.stopping && !this.paused) {
      await Promise.race([new Promise<void>((r) => (this.slotFreed = r)), this.changed]);
    }
  }

  private dispatch(m: JsMsg, verdict: SuspectVerdict): void {
    const { rc } = this;
    const f: InFlight = { msg: m, settled: false, promise: Promise.resolve() };
    this.inflight.add(f);
    rc.metrics.inFlight?.inc({ consumer: rc.name });
    const isolation = rc.o.isolation;
    const handling =
      verdict.kind === 'suspect' && isolation
        ? isolation.runAlone(
            (alone) => handleMessage(rc, f, alone ? verdict : { ...verdict, alone: false }),
            () => (f.settled ? undefined : m.working()),
            () => this.stopping || f.settled,
            rc.ackWaitMs,
          )
        : handleMessage(rc, f, verdict);
    f.promise = handling
      .then(async () => {
        // Stopping before its turn came: give it straight back.
        if (!f.settled && this.stopping) {
          f.settled = true;
          await handBack(rc, m, 'shutdown');
        }
      })
      .catch((err: unknown) => rc.log.error({ err, subject: m.subject, seq: m.seq }, 'consumer runner bug while handling a message'))
      .finally(() => {
        this.inflight.delete(f);
        rc.metrics.inFlight?.dec({ consumer: rc.name });
        const r = this.slotFreed;
        this.slotFreed = undefined;
        r?.();
      });
  }
}
