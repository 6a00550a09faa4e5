import type { InvariantResult } from './types';

/** At most this many offenders are named in a detail line. */
const SAMPLE = 3;

/**
 * An invariant's result: `violations` are one-line descriptions of each offender (ids and codes
 * only; never account numbers, MSISDNs or secrets). `checked` says what was examined.
 */
export function invariant(name: string, checked: string, violations: readonly string[], note?: string): InvariantResult {
  const ok = violations.length === 0;
  const tail = note ? `; ${note}` : '';
  const detail = ok
    ? `${checked}${tail}`
    : `${checked}${tail}; e.g. ${violations.slice(0, SAMPLE).join('; ')}${violations.length > SAMPLE ? `; +${violations.length - SAMPLE} more` : ''}`;
  return { name, ok, count: violations.length, detail };
}

/** An invariant that could not be evaluated (its evidence was unreachable or incomplete): a failure, never a silent pass. */
export function unverifiable(name: string, why: string): InvariantResult {
  return { name, ok: false, count: 1, detail: `could not be checked: ${why}`.slice(0, 400) };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The UTC calendar day of an instant, `YYYY-MM-DD`. */
export function utcDay(at: string | number | Date): string {
  return new Date(at).toISOString().slice(0, 10);
}
