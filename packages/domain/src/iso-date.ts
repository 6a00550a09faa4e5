import { DomainError } from './errors';

/** A calendar date `YYYY-MM-DD` (UTC calendar unless stated otherwise). */
export type IsoDate = string;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** True for a real calendar date in `YYYY-MM-DD` form (rejects 2025-02-30, 2025-2-3, …). */
export function isIsoDate(value: unknown): value is IsoDate {
  if (typeof value !== 'string') return false;
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

export function parseIsoDate(value: unknown): IsoDate {
  if (!isIsoDate(value)) {
    throw new DomainError('invalid_date', `not a YYYY-MM-DD date: ${String(value).slice(0, 32)}`);
  }
  return value;
}

/** The UTC calendar date of an instant. */
export function toIsoDate(instant: Date): IsoDate {
  if (Number.isNaN(instant.getTime())) throw new DomainError('invalid_date', 'invalid Date');
  return instant.toISOString().slice(0, 10);
}

/** Midnight UTC at the start of the date. */
export function isoDateToDate(date: IsoDate): Date {
  return new Date(`${parseIsoDate(date)}T00:00:00.000Z`);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  if (!Number.isInteger(days)) throw new DomainError('invalid_days', `days must be an integer, got ${days}`);
  return toIsoDate(new Date(isoDateToDate(date).getTime() + days * DAY_MS));
}

/** -1, 0, 1 (ISO dates order lexicographically). */
export function compareIsoDates(a: IsoDate, b: IsoDate): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function maxIsoDate(a: IsoDate, b: IsoDate): IsoDate {
  return a >= b ? a : b;
}

export function minIsoDate(a: IsoDate, b: IsoDate): IsoDate {
  return a <= b ? a : b;
}

/** Whole days from `a` to `b` (positive when b is later). */
export function daysBetween(a: IsoDate, b: IsoDate): number {
  return Math.round((isoDateToDate(b).getTime() - isoDateToDate(a).getTime()) / DAY_MS);
}
