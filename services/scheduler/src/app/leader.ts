import { performance } from 'node:perf_hooks';
import type { Logger } from '@intellifin/core';
import type { Pool } from '@intellifin/persistence';
import { releaseLease, renewLease, tryAcquireLease, type Fence } from '../adapters/leader-lease.repo';
import type { SchedulerMetrics } from './metrics';

export interface LeaderElectorOptions {
  pool: Pool;
  /** Unique per process (host, pid, random). */
  holder: string;
  /** Lease name; one per scheduler deployment. */
  name?: string;
  /** Lease time to live. A dead leader is replaced within ttl + pollMs. */
  ttlMs: number;
  /** How often the leader renews and followers try to take over (≤ ttl / 3). */
  pollMs: number;
  logger: Logger;
  metrics?: SchedulerMetrics;
}

/**
 * Leader election over the Postgres lease. The leader renews every `pollMs`; followers try to take
 * an expired lease at the same pace. Locally, leadership is trusted only until `ttl − margin`
 * after the start of the last successful renewal (measured with the monotonic clock, before the
 * query left): a leader cut off from Postgres stops planning before anyone else can take over.
 * Correctness does not rest on this — every write is fenced by the epoch — it avoids wasted work.
 */
export class LeaderElector {
  readonly name: string;
  private epoch: bigint | undefined;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private polling: Promise<boolean> | undefined;
  private readonly marginMs: number;

  constructor(private readonly o: LeaderElectorOptions) {
    if (!(o.pollMs > 0) || !(o.ttlMs >= 2 * o.pollMs)) throw new Error('leader lease: ttl must be at least twice the poll interval');
    this.name = o.name ?? 'scheduler';
    this.marginMs = Math.min(o.ttlMs / 5, 2_000);
  }

  get holder(): string {
    return this.o.holder;
  }

  /** Our fence while we hold a lease that is locally still valid; undefined otherwise. */
  get fence(): Fence | undefined {
    if (this.epoch === undefined || performance.now() > this.validUntil) return undefined;
    return { name: this.name, holder: this.o.holder, epoch: this.epoch };
  }

  get isLeader(): boolean {
    return this.fence !== undefined;
  }

  /** One acquire-or-renew attempt; resolves to whether we lead afterwards. Concurrent calls share one attempt. */
  poll(): Promise<boolean> {
    this.polling ??= this.attempt().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async attempt(): Promise<boolean> {
    const started = performance.now();
    const wasLeader = this.epoch !== undefined;
    try {
      const lease =
        this.epoch !== undefined
          ? await renewLease(this.o.pool, this.name, this.o.holder, this.epoch, this.o.ttlMs)
          : await tryAcquireLease(this.o.pool, this.name, this.o.holder, this.o.ttlMs);
      if (lease) {
        this.epoch = lease.epoch;
        this.validUntil = started + this.o.ttlMs - this.marginMs;
        if (!wasLeader) {
          this.o.logger.info({ holder: this.o.holder, epoch: lease.epoch.toString() }, 'scheduler leadership acquired');
          this.o.metrics?.leaderChanges.inc({ change: 'acquired' });
        }
      } else if (wasLeader) {
        this.lost('lease taken over');
      }
    } catch (err) {
      // Postgres unreachable: keep what we have until it runs out locally.
      this.o.logger.warn({ err, holder: this.o.holder }, 'leader lease attempt failed');
      if (this.epoch !== undefined && performance.now() > this.validUntil) this.lost('lease expired while the database was unreachable');
    }
    this.report();
    return this.isLeader;
  }

  /** Drops leadership locally (a fenced write found the lease gone). */
  lost(reason: string): void {
    if (this.epoch === undefined) return;
    this.o.logger.warn({ holder: this.o.holder, epoch: this.epoch.toString(), reason }, 'scheduler leadership lost');
    this.o.metrics?.leaderChanges.inc({ change: 'lost' });
    this.epoch = undefined;
    this.validUntil = 0;
    this.report();
  }

  private report(): void {
    this.o.metrics?.leader.set(this.isLeader ? 1 : 0);
    if (this.epoch !== undefined) this.o.metrics?.leaderEpoch.set(Number(this.epoch));
  }

  /** Polls every `pollMs` until stopped. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      void this.poll().finally(() => {
        if (this.running) this.timer = setTimeout(loop, this.o.pollMs);
      });
    };
    loop();
  }

  /** Stops polling; with `release` (graceful shutdown) ends the lease so a follower takes over at once. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    const epoch = this.epoch;
    this.epoch = undefined;
    this.validUntil = 0;
    this.report();
    if ((opts.release ?? true) && epoch !== undefined) {
      await releaseLease(this.o.pool, this.name, this.o.holder, epoch).catch((err: unknown) =>
        this.o.logger.warn({ err }, 'releasing the leader lease failed'),
      );
    }
  }
}
