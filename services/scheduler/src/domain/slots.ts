import { Cron } from 'croner';
import { isValidTimezone } from '@intellifin/domain';

/** The shared IANA zone check (sync-api validates with the same one). */
export { isValidTimezone };

/**
 * Slot computation: the instants at which a plan fires, from a cron expression evaluated in an
 * IANA time zone by croner, optionally filtered to a local time-of-day window. Croner handles DST:
 * a wall-clock time that does not exist (spring forward) fires once at the shifted instant, one
 * that exists twice (fall back) fires once.
 */
export class InvalidScheduleError extends Error {
  readonly code = 'invalid_schedule';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScheduleError';
  }
}

export interface SlotSpec {
  cron: string;
  timezone: string;
  /** Local `HH:MM` bounds, both included; null = no window. */
  window: { start: string; end: string } | null;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  return f;
}

/** The wall-clock `HH:MM` of an instant in a zone. */
export function localTimeOfDay(at: Date, timezone: string): string {
  const parts = formatter(timezone).formatToParts(at);
  const h = parts.find((p) => p.type === 'hour')?.value ?? '00';
  const m = parts.find((p) => p.type === 'minute')?.value ?? '00';
  return `${h}:${m}`;
}

export function inWindow(at: Date, timezone: string, window: SlotSpec['window']): boolean {
  if (!window) return true;
  const t = localTimeOfDay(at, timezone);
  return window.start <= window.end ? t >= window.start && t <= window.end : t >= window.start || t <= window.end; // overnight windows wrap
}

const crons = new Map<string, Cron>();

function cronFor(spec: SlotSpec): Cron {
  const key = `${spec.timezone}\u0000${spec.cron}`;
  let c = crons.get(key);
  if (!c) {
    if (!isValidTimezone(spec.timezone)) throw new InvalidScheduleError(`unknown time zone "${spec.timezone}"`);
    try {
      // No callback: croner only evaluates the pattern, it schedules nothing.
      c = new Cron(spec.cron, { timezone: spec.timezone, legacyMode: true });
      c.nextRun(new Date(0));
    } catch (err) {
      throw new InvalidScheduleError(`invalid cron "${spec.cron}": ${err instanceof Error ? err.message : String(err)}`);
    }
    if (crons.size > 1000) crons.clear();
    crons.set(key, c);
  }
  return c;
}

/** Throws InvalidScheduleError unless cron, zone and window are usable. */
export function validateSlotSpec(spec: SlotSpec): void {
  cronFor(spec);
}

/** The first slot strictly after `after` (window applied), or null if there is none within `limit` fires. */
export function nextSlot(spec: SlotSpec, after: Date, limit = 10_000): Date | null {
  const c = cronFor(spec);
  let t: Date | null = after;
  for (let i = 0; i < limit; i++) {
    t = c.nextRun(t);
    if (!t) return null;
    if (inWindow(t, spec.timezone, spec.window)) return t;
  }
  return null;
}

const firstAfter = new Map<string, Date | null>();

function firstSlotAfter(spec: SlotSpec, after: Date): Date | null {
  const key = `${spec.timezone}\u0000${spec.cron}\u0000${spec.window ? `${spec.window.start}-${spec.window.end}` : ''}\u0000${after.getTime()}`;
  let v = firstAfter.get(key);
  if (v === undefined) {
    v = nextSlot(spec, after);
    if (firstAfter.size > 10_000) firstAfter.clear();
    firstAfter.set(key, v);
  }
  return v;
}

export interface DueSlots {
  /** The most recent slot in (after, now], the one to execute; null if none fell in that range. */
  latest: Date | null;
  /** How many slots in (after, now] are skipped because a later one exists (catch-up runs once). */
  skipped: number;
}

/**
 * Slots that came due in (after, now]. Catch-up semantics: only the latest is executed, however
 * many were missed. Iterates forward from `after` (at most `limit` cron fires, so a very old
 * `after` is clamped by the caller).
 */
export function dueSlots(spec: SlotSpec, after: Date, now: Date, limit = 50_000): DueSlots {
  // Planning passes run every few seconds and almost always find nothing due; croner with a time
  // zone costs ~0.25 ms per step, so the first slot after `after` is memoised.
  const first = firstSlotAfter(spec, after);
  if (first === null || first.getTime() > now.getTime()) return { latest: null, skipped: 0 };
  const c = cronFor(spec);
  let latest: Date | null = null;
  let count = 0;
  let t: Date | null = after;
  for (let i = 0; i < limit; i++) {
    t = c.nextRun(t);
    if (!t || t.getTime() > now.getTime()) break;
    if (inWindow(t, spec.timezone, spec.window)) {
      latest = t;
      count++;
    }
  }
  return { latest, skipped: Math.max(0, count - 1) };
}
