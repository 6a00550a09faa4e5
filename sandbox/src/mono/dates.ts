/**
 * Mono's `start`/`end` query dates (DD-MM-YYYY, providers.md §1.4) as instants. Which time zone's
 * midnight starts a day is undocumented [U]; the window zone is a setting (UTC by default).
 */
const DATE_RE = /^(\d{2})-(\d{2})-(\d{4})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `timeZone` from UTC at instant `ms` (local wall time − UTC), in ms. */
export function zoneOffsetMs(timeZone: string, ms: number): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  const part: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(ms))) if (p.type !== 'literal') part[p.type] = Number(p.value);
  const wall = Date.UTC(
    part.year as number,
    (part.month as number) - 1,
    part.day as number,
    part.hour as number,
    part.minute as number,
    part.second as number,
  );
  return wall - Math.floor(ms / 1000) * 1000;
}

/** The instant local midnight starts calendar day y-mo-d in `timeZone` ('UTC' = UTC midnight). */
export function zonedMidnight(y: number, mo: number, d: number, timeZone: string): number {
  const utc = Date.UTC(y, mo - 1, d);
  if (timeZone === 'UTC') return utc;
  const first = utc - zoneOffsetMs(timeZone, utc);
  return utc - zoneOffsetMs(timeZone, first); // re-read the offset at the answer (DST)
}

/** Whether `timeZone` is an IANA zone name this runtime knows. */
export function isTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * DD-MM-YYYY → the day's bounds as instants: `start` = local midnight in `timeZone` (default UTC),
 * `next` = the following local midnight. undefined if not a real date in that format.
 */
export function parseMonoDay(s: string, timeZone = 'UTC'): { start: number; next: number } | undefined {
  const m = DATE_RE.exec(s);
  if (!m) return undefined;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const back = new Date(Date.UTC(y, mo - 1, d));
  if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1) return undefined;
  return { start: zonedMidnight(y, mo, d, timeZone), next: zonedMidnight(back.getUTCFullYear(), back.getUTCMonth() + 1, d + 1, timeZone) };
}

/** DD-MM-YYYY → midnight starting that day in `timeZone` (default UTC), or undefined. */
export function parseMonoDate(s: string, timeZone = 'UTC'): number | undefined {
  return parseMonoDay(s, timeZone)?.start;
}
