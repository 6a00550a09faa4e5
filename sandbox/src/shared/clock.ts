/**
 * The simulator clock. `now()` = epoch + manual advances (+ real elapsed time in `real` mode).
 * In `manual` mode time only moves through `advance()`, which makes lifecycles, token expiry and
 * rate windows fully deterministic for tests. Work due at a simulated instant (callbacks, webhooks,
 * job completions) is scheduled here and runs when the clock passes it.
 */
export type ClockMode = 'real' | 'manual';

interface Task {
  at: number;
  seq: number;
  run: () => void;
}

export class SimClock {
  private offsetMs = 0;
  private realStart = Date.now();
  private tasks: Task[] = [];
  private seq = 0;
  private ticker: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(
    public epochMs: number,
    public readonly mode: ClockMode,
  ) {}

  now(): number {
    return this.epochMs + this.offsetMs + (this.mode === 'real' ? Date.now() - this.realStart : 0);
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('advance needs a non-negative number of milliseconds');
    this.offsetMs += ms;
    this.runDue();
  }

  /** Back to the epoch with no pending work (used by reset). */
  reset(epochMs: number = this.epochMs): void {
    this.epochMs = epochMs;
    this.offsetMs = 0;
    this.realStart = Date.now();
    this.tasks = [];
  }

  schedule(at: number, run: () => void): void {
    const task = { at, seq: this.seq++, run };
    // Keep sorted by (at, seq); inserts are rare relative to reads.
    let i = this.tasks.length;
    while (i > 0 && (this.tasks[i - 1] as Task).at > at) i--;
    this.tasks.splice(i, 0, task);
    // Inside runDue the running loop picks the task up in (at, seq) order; no re-entrant drain.
    if (at <= this.now() && this.mode === 'manual' && !this.draining) this.runDue();
  }

  pending(): number {
    return this.tasks.length;
  }

  runDue(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      const now = this.now();
      while (this.tasks.length > 0 && (this.tasks[0] as Task).at <= now) {
        const t = this.tasks.shift() as Task;
        t.run();
      }
    } finally {
      this.draining = false;
    }
  }

  /** In real mode, poll for due work. Unref'd so it never keeps the process alive. */
  startTicker(intervalMs = 200): void {
    if (this.mode !== 'real' || this.ticker) return;
    this.ticker = setInterval(() => this.runDue(), intervalMs);
    this.ticker.unref();
  }

  stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Start of the current UTC day, used as the default epoch. */
export function startOfUtcDay(ms: number = Date.now()): number {
  return Math.floor(ms / DAY) * DAY;
}

/** Parse an epoch option: ms number, ISO string, or 'today'. */
export function parseEpoch(epoch: number | string | undefined): number {
  if (epoch === undefined || epoch === 'today') return startOfUtcDay();
  if (typeof epoch === 'number') return epoch;
  const ms = Date.parse(epoch);
  if (Number.isNaN(ms)) throw new Error(`invalid epoch: ${epoch}`);
  return ms;
}
