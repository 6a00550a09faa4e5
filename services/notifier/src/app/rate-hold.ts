/**
 * OneSignal's rate limit is per app: after a 429 with Retry-After on a create or a cancel, nothing
 * is sent to the app — by any replica — until the window ends. The hold is kept in Postgres (every
 * replica reads it) and in memory (this replica stops at once, before its write reaches Postgres,
 * and keeps holding if that write fails).
 */
import type { Logger } from '@intellifin/core';
import type { Pool } from '@intellifin/persistence';
import { extendHold, readHold } from '../store/holds';
import type { NotifierMetrics } from './metrics';

/** A Retry-After longer than this holds the app this long (the refused push itself still waits the whole Retry-After). */
export const MAX_HOLD_MS = 3_600_000;

export interface RateHoldOptions {
  pool: Pool;
  appId: string;
  instanceId: string;
  logger: Logger;
  metrics: NotifierMetrics;
  clock: () => Date;
}

export class RateHold {
  /** Clock time (ms) before which this replica sends nothing; 0 when it knows of no hold. */
  private until = 0;

  constructor(private readonly o: RateHoldOptions) {}

  /** The end of the hold this replica knows of, if it is still ahead (no I/O: for the claim loop). */
  local(): Date | undefined {
    return this.until > this.o.clock().getTime() ? new Date(this.until) : undefined;
  }

  /**
   * The end of the app's hold if it is still ahead, from memory and Postgres. Called just before
   * each request: only synchronous code may run between its answer and the request.
   */
  async current(): Promise<Date | undefined> {
    const stored = await readHold(this.o.pool, this.o.appId);
    if (stored) this.learn(stored.getTime());
    return this.local();
  }

  /**
   * A 429 with Retry-After was answered: holds the app at once (in memory, before any await) and
   * then in Postgres. Returns the hold's end (a later one stored by another replica wins).
   */
  async start(retryAfterMs: number, action: 'create' | 'cancel', notification: string): Promise<Date> {
    const at = this.o.clock();
    const holdMs = Math.min(Math.max(retryAfterMs, 0), MAX_HOLD_MS);
    const until = at.getTime() + holdMs;
    this.learn(until);
    this.o.metrics.holds.inc({ action });
    this.o.logger.warn(
      { notification, action, retryAfterMs, holdMs, heldUntil: new Date(until).toISOString() },
      'OneSignal rate limit (429 with Retry-After): no request to the app from any replica until the window ends',
    );
    try {
      const stored = await extendHold(this.o.pool, {
        appId: this.o.appId,
        until: new Date(until),
        retryAfterMs: holdMs,
        action,
        at,
        by: this.o.instanceId,
      });
      this.learn(stored.getTime());
    } catch (err) {
      this.o.logger.error({ err, notification }, 'storing the OneSignal hold failed; only this replica holds');
    }
    return new Date(this.until);
  }

  private learn(until: number): void {
    if (until <= this.until) return;
    this.until = until;
    this.o.metrics.holdUntil.set(until / 1000);
  }
}
