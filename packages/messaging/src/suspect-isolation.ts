import type { JsMsg } from '@nats-io/jetstream';
import { counter, METRIC_PREFIX, type Logger, type Registry } from '@intellifin/core';
import { commandIdentity } from './requeue';

/**
 * Crash-loop isolation: telling the command that kills its process from the commands that merely
 * died with it.
 *
 * When a worker process dies (a segfault, an OOM kill, a handler bug that takes the process down),
 * every message it held is redelivered after the ack wait, the culprit and the innocent alike, and
 * JetStream's delivery count cannot tell them apart: each lost delivery counts as one. Left alone,
 * the innocent commands are fetched again next to the culprit, die with it again, and reach
 * MaxDeliver with it (docs/reliability.md, finding 2). So:
 *
 * - each delivery is noted in a journal (Redis, keyed by the command's subject, which holds one
 *   command at a time, with the command's identity: its first msgID, kept through requeues) when
 *   its handler starts, and forgotten when it is settled. A delivery of the same command whose
 *   note is still there was never settled: the process handling it died or stalled past the ack
 *   wait. Such a message is a *suspect*. (A newer command of the subject is not: the note belongs
 *   to another command, perhaps still running, which the lease keeps apart.);
 * - a suspect runs **alone** in its process: the process's runners stop fetching and requeue what
 *   they had buffered (a fresh copy, delivery count 1: being set aside for a suspect costs a
 *   command none of its deliveries), the handlers already running finish, then the suspect runs
 *   with nothing beside it, and fetching resumes once no suspect is left. If the process dies now,
 *   only the suspect is to blame: the journal records a *strike* against it. A handler that does
 *   not finish within `maxWaitMs` (a hung call) does not hold the process: the suspect then runs
 *   beside it, and a death is no strike;
 * - a suspect with `crashStrikes` strikes is dead-lettered (code `crash_loop`) without running it
 *   again. Innocent commands are never running alone at the moment of a crash, so they collect no
 *   strikes.
 *
 * A nak, a requeue, a term or a dead letter after the handler ran forgets the note, so a command we
 * handed back ourselves is never a suspect. Without the journal (Redis out), a delivery is treated
 * as normal and MaxDeliver with the advisory watcher stays the safety net.
 */

/** What the journal holds for a delivery being handled. */
export interface DeliveryNote {
  /** Deaths while this message ran alone, before this delivery. */
  strikes: number;
  /** Whether this delivery runs alone (a death now is a strike). */
  solo: boolean;
  /** The command's identity (`commandIdentity`): a note of another command of the subject is not this one's. */
  id: string;
}

/** Where deliveries are noted while they are handled; shared by every process consuming the stream. */
export interface DeliveryJournal {
  recall(key: string): Promise<DeliveryNote | undefined>;
  note(key: string, note: DeliveryNote): Promise<void>;
  forget(key: string): Promise<void>;
}

export type SuspectVerdict =
  | { kind: 'normal'; strikes: 0 }
  /** An earlier delivery was never settled: run alone (`alone: false` once the wait for the others gave up). */
  | { kind: 'suspect'; strikes: number; alone?: boolean }
  /** It took its process down `strikes` times while running alone: dead-letter, do not run. */
  | { kind: 'crash_loop'; strikes: number };

export const NORMAL_DELIVERY: SuspectVerdict = { kind: 'normal', strikes: 0 };

/** The part of a consumer runner the isolation drives (a paused runner requeues what it buffered). */
export interface IsolatedRunner {
  pause(reason: string): void;
  resume(reason: string): void;
  readonly inFlight: number;
}

export interface SuspectIsolationOptions {
  journal: DeliveryJournal;
  logger: Logger;
  registry?: Registry;
  /** Deaths while running alone before a command is dead-lettered. Default 3. */
  crashStrikes?: number;
  /** How often the wait for the other handlers to finish looks again. Default 25 ms. */
  pollMs?: number;
  /** How long a suspect waits for the other handlers of its process before it runs beside them. Default 60 s. */
  maxWaitMs?: number;
}

export const ISOLATION_PAUSE_REASON = 'isolating_suspect';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One per process, shared by all its consumer runners (both lanes of a worker), since a crash
 * takes them all down together. Suspects run one at a time, in arrival order.
 */
export class SuspectIsolation {
  readonly crashStrikes: number;
  private readonly runners = new Set<IsolatedRunner>();
  private readonly log: Logger;
  private readonly verdicts;
  private chain: Promise<void> = Promise.resolve();
  /** Suspects waiting for their turn or running: counted in their runners' in-flight, but not running alongside anything. */
  private waiting = 0;

  constructor(private readonly o: SuspectIsolationOptions) {
    this.crashStrikes = Math.max(1, o.crashStrikes ?? 3);
    this.log = o.logger.child({ component: 'suspect-isolation' });
    this.verdicts = o.registry
      ? counter(
          o.registry,
          `${METRIC_PREFIX}suspect_deliveries_total`,
          'Redeliveries whose earlier delivery was never settled (the process died or stalled), by verdict: suspect (run alone) or crash_loop (dead-lettered)',
          ['consumer', 'verdict'],
        )
      : undefined;
  }

  register(runner: IsolatedRunner): void {
    this.runners.add(runner);
  }

  /** Reads the journal (a requeued copy of a suspect is a first delivery, so every delivery is looked up). */
  async classify(consumer: string, m: JsMsg): Promise<SuspectVerdict> {
    let prior: DeliveryNote | undefined;
    try {
      prior = await this.o.journal.recall(journalKey(m.subject));
    } catch (err) {
      this.log.warn({ err, seq: m.seq }, 'delivery journal unreadable; delivery handled as normal');
      return NORMAL_DELIVERY;
    }
    if (!prior || prior.id !== commandIdentity(m)) return NORMAL_DELIVERY;
    const strikes = prior.strikes + (prior.solo ? 1 : 0);
    const verdict: SuspectVerdict = strikes >= this.crashStrikes ? { kind: 'crash_loop', strikes } : { kind: 'suspect', strikes };
    this.verdicts?.inc({ consumer, verdict: verdict.kind });
    this.log.warn(
      { consumer, subject: m.subject, seq: m.seq, deliveryCount: m.info.deliveryCount, strikes, verdict: verdict.kind },
      verdict.kind === 'crash_loop'
        ? 'command took its process down every time it ran alone: dead-lettering it'
        : 'earlier delivery never settled (process died or stalled): running this command alone',
    );
    return verdict;
  }

  /** Notes a delivery whose handler starts now. Best effort: without the note a death is not attributed. */
  async noteStart(m: JsMsg, verdict: SuspectVerdict): Promise<void> {
    try {
      await this.o.journal.note(journalKey(m.subject), {
        strikes: verdict.strikes,
        solo: verdict.kind === 'suspect' && verdict.alone !== false,
        id: commandIdentity(m),
      });
    } catch (err) {
      this.log.warn({ err, seq: m.seq }, 'delivery journal unwritable');
    }
  }

  /** Forgets a settled delivery. */
  async forget(m: JsMsg): Promise<void> {
    try {
      await this.o.journal.forget(journalKey(m.subject));
    } catch (err) {
      this.log.warn({ err, seq: m.seq }, 'delivery journal: a settled delivery could not be forgotten');
    }
  }

  /**
   * Runs `run` (the suspect's handling) once nothing else runs in this process: every runner is
   * paused (requeueing what it buffered) and the handlers already running finish first; the
   * runners resume once no suspect is left waiting. `run(alone)` gets false when the others were
   * still running after `maxWaitMs` (a hung call must not hold the whole process). `keepAlive` is
   * called while waiting so the suspect's ack wait does not expire; `cancelled` is checked before
   * running (e.g. the runner is stopping and hands it back).
   */
  runAlone(run: (alone: boolean) => Promise<void>, keepAlive: () => void, cancelled: () => boolean, ackWaitMs: number): Promise<void> {
    this.waiting++;
    const turn = this.chain.then(async () => {
      for (const r of this.runners) r.pause(ISOLATION_PAUSE_REASON);
      try {
        const started = performance.now();
        const maxWaitMs = this.o.maxWaitMs ?? 60_000;
        let lastBeat = started;
        while (!cancelled() && this.othersRunning() > 0 && performance.now() - started < maxWaitMs) {
          if (performance.now() - lastBeat >= ackWaitMs / 4) {
            keepAlive();
            lastBeat = performance.now();
          }
          await sleep(this.o.pollMs ?? 25);
        }
        if (cancelled()) return;
        const alone = this.othersRunning() === 0;
        if (!alone)
          this.log.warn(
            { others: this.othersRunning(), waitedMs: Math.round(performance.now() - started) },
            'handlers still running after the wait: the suspect runs beside them (a death now is no strike)',
          );
        await run(alone);
      } finally {
        this.waiting--;
        if (this.waiting === 0) for (const r of this.runners) r.resume(ISOLATION_PAUSE_REASON);
      }
    });
    this.chain = turn.catch(() => undefined);
    return turn;
  }

  /** Handlers running in this process besides the suspects (which only wait). */
  private othersRunning(): number {
    let n = 0;
    for (const r of this.runners) n += r.inFlight;
    return n - this.waiting;
  }
}

/** A command subject holds one command at a time (a newer one replaces it), so the subject names it across requeues. */
export function journalKey(subject: string): string {
  return `delivery:${subject}`;
}
