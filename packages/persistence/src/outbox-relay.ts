import { counter, gauge, METRIC_PREFIX, maskSecrets, trace, type Logger, type Registry, type Tracer } from '@intellifin/core';
import type { Pool } from './db';
import { claimOutbox, outboxStats, type OutboxRow } from './outbox.repo';

/**
 * Publishes `outbox` rows and deletes each one only after its PubAck. Returns one settled result
 * per row, in order: fulfilled = stored by JetStream (a duplicate counts: `Nats-Msg-Id` = the event
 * id), rejected = try again later.
 */
export type OutboxPublish = (rows: readonly OutboxRow[]) => Promise<PromiseSettledResult<unknown>[]>;

export interface OutboxRelayOptions {
  pool: Pool;
  publish: OutboxPublish;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  /** Rows claimed per round. Default 200. */
  batchSize?: number;
  /** Poll interval when the outbox is empty or drained. Default 250 ms. */
  pollMs?: number;
  /**
   * How long a `kick()` waits before the relay claims, so that the events of runs finishing close
   * together go out in one round (fewer claim transactions). Default 100 ms: with a claim per kick the relay added as many statements as the runs themselves (bench:worker −10 %).
   */
  lingerMs?: number;
  /** Backoff of a row that failed to publish (doubling per attempt), and of the loop after a database error. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** How often the pending gauges are refreshed. Default 5 s. */
  statsEveryMs?: number;
}

/**
 * The transactional outbox's relay: the only way events and follow-up commands leave Postgres.
 * Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any number of relays (one per worker replica)
 * share the work; a relay that dies mid-batch leaves its rows to the others (its transaction rolls
 * back) and a row published but not yet deleted is published again with the same `Nats-Msg-Id`,
 * which JetStream drops as a duplicate inside the stream's duplicate window. Consumers are
 * idempotent by event id beyond it (the messaging README's at-least-once contract).
 */
export class OutboxRelay {
  private readonly log: Logger;
  private readonly tracer: Tracer;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private lastStats = 0;
  private readonly m;

  constructor(private readonly o: OutboxRelayOptions) {
    this.log = o.logger.child({ component: 'outbox-relay' });
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/persistence');
    const r = o.registry;
    this.m = r
      ? {
          pending: gauge(r, `${METRIC_PREFIX}outbox_pending`, 'Events and commands committed but not yet published (outbox rows)'),
          oldest: gauge(r, `${METRIC_PREFIX}outbox_oldest_age_seconds`, 'Age of the oldest unpublished outbox row'),
          published: counter(r, `${METRIC_PREFIX}outbox_published_total`, 'Outbox rows published and removed'),
          failures: counter(r, `${METRIC_PREFIX}outbox_publish_failures_total`, 'Outbox rows whose publish failed (retried later)'),
        }
      : undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the current round (its rows are settled or rolled back, never lost). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Something was just committed: publish within `lingerMs` rather than at the next poll. */
  kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    const wake = this.wake;
    if (wake) setTimeout(wake, this.o.lingerMs ?? 100).unref();
  }

  /** One round: claims up to a batch, publishes it, settles. Returns the rows published. */
  async relayOnce(): Promise<number> {
    const claim = await claimOutbox(this.o.pool, this.o.batchSize ?? 200);
    if (!claim) return 0;
    return this.tracer.startActiveSpan('outbox.relay', { attributes: { 'outbox.rows': claim.rows.length } }, async (span) => {
      try {
        let results: PromiseSettledResult<unknown>[];
        try {
          results = await this.o.publish(claim.rows);
        } catch (err) {
          results = claim.rows.map(() => ({ status: 'rejected', reason: err }) as const);
        }
        const published: string[] = [];
        const failed: { id: string; delayMs: number; error: string }[] = [];
        claim.rows.forEach((row, i) => {
          const r = results[i];
          if (r?.status === 'fulfilled') published.push(row.id);
          else failed.push({ id: row.id, delayMs: this.retryDelay(row.attempts), error: errText(r?.reason) });
        });
        await claim.settle(published, failed);
        this.m?.published.inc(published.length);
        if (failed.length) {
          this.m?.failures.inc(failed.length);
          this.log.warn(
            { failed: failed.length, published: published.length, error: failed[0]!.error },
            'outbox publish failed; retried later',
          );
        }
        span.setAttribute('outbox.published', published.length);
        return published.length;
      } catch (err) {
        await claim.release().catch(() => undefined);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private retryDelay(attempts: number): number {
    const base = this.o.retryBaseMs ?? 500;
    const cap = this.o.retryCapMs ?? 60_000;
    return Math.min(cap, base * 2 ** Math.min(attempts, 20));
  }

  private async run(): Promise<void> {
    let dbErrors = 0;
    while (this.running) {
      let moved: number;
      this.kicked = false; // rows committed from here on kick again
      try {
        moved = await this.relayOnce();
        await this.refreshStats();
        dbErrors = 0;
      } catch (err) {
        dbErrors++;
        this.log.warn({ err }, 'outbox relay round failed (database); retrying');
        await this.sleep(this.retryDelay(dbErrors));
        continue;
      }
      // A full batch: more may be waiting. Otherwise wait for a kick (after its linger) or the poll.
      if (moved < (this.o.batchSize ?? 200)) await this.sleep(this.kicked ? (this.o.lingerMs ?? 100) : (this.o.pollMs ?? 250));
    }
  }

  private async refreshStats(force = false): Promise<void> {
    if (!this.m) return;
    const now = Date.now();
    if (!force && now - this.lastStats < (this.o.statsEveryMs ?? 5_000)) return;
    this.lastStats = now;
    const s = await outboxStats(this.o.pool);
    this.m.pending.set(s.pending);
    this.m.oldest.set(s.oldestAgeSeconds);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

function errText(reason: unknown): string {
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  return maskSecrets(text);
}
