/**
 * Quiet hours in the user's time zone: no push between `start` and `end` local time (default
 * 21:00–07:00). A push due inside the window is scheduled for its end (OneSignal `send_after`).
 */
export interface QuietHours {
  /** Minutes after local midnight when quiet begins (21:00 → 1260). */
  startMinute: number;
  /** Minutes after local midnight when quiet ends (07:00 → 420). */
  endMinute: number;
}

/** Parses `HH:MM-HH:MM`; throws naming the problem. An empty window (start = end) means none. */
export function parseQuietHours(spec: string): QuietHours {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(spec.trim());
  const minute = (h: string, mm: string) => Number(h) * 60 + Number(mm);
  if (!m || Number(m[1]) > 23 || Number(m[3]) > 23 || Number(m[2]) > 59 || Number(m[4]) > 59)
    throw new Error(`quiet hours "${spec}" must be HH:MM-HH:MM, e.g. 21:00-07:00`);
  return { startMinute: minute(m[1]!, m[2]!), endMinute: minute(m[3]!, m[4]!) };
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
}

/** Seconds since local midnight of `at` in `tz`. */
export function localSecondOfDay(at: Date, tz: string): number {
  const parts = Object.fromEntries(
    formatter(tz)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second);
}

function inWindow(minuteOfDay: number, q: QuietHours): boolean {
  if (q.startMinute === q.endMinute) return false;
  return q.startMinute < q.endMinute
    ? minuteOfDay >= q.startMinute && minuteOfDay < q.endMinute
    : minuteOfDay >= q.startMinute || minuteOfDay < q.endMinute;
}

/**
 * When a push due at `at` may go out: `undefined` when now is outside quiet hours, otherwise the
 * instant quiet hours end in `tz` (found by stepping a minute at a time, so DST shifts are handled).
 */
export function quietHoursEnd(at: Date, tz: string, q: QuietHours): Date | undefined {
  const second = localSecondOfDay(at, tz);
  if (!inWindow(Math.floor(second / 60), q)) return undefined;
  // Start from the whole local minute, then walk forward until the window is left (≤ 24 h).
  let t = at.getTime() - (second % 60) * 1000;
  for (let i = 0; i < 24 * 60 + 1; i++) {
    t += 60_000;
    if (!inWindow(Math.floor(localSecondOfDay(new Date(t), tz) / 60), q)) return new Date(t);
  }
  return undefined;
}
