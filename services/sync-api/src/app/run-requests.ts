/**
 * The provider requests a run made, as its worker stored them (`sync_runs.requests`): the first and
 * last few requests (route template, status, duration, Retry-After) and totals per route and status.
 * Read defensively: a row the shape does not fit (an older format) reads as null, never a failure.
 */
export interface RunRequestView {
  /** Milliseconds after the run started. */
  atMs: number;
  route: string;
  /** HTTP status; 0 = no response (connection failed, timed out). */
  status: number;
  durationMs: number;
  retryAfterMs: number | null;
}

export interface RunRequestsView {
  total: number;
  omitted: number;
  first: RunRequestView[];
  last: RunRequestView[];
  totals: { route: string; status: number; count: number; totalMs: number; maxMs: number }[];
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function entry(v: unknown): RunRequestView | null {
  if (!isObj(v) || !isInt(v.atMs) || typeof v.route !== 'string' || !isInt(v.status) || !isInt(v.durationMs)) return null;
  return {
    atMs: v.atMs,
    route: v.route,
    status: v.status,
    durationMs: v.durationMs,
    retryAfterMs: isInt(v.retryAfterMs) ? v.retryAfterMs : null,
  };
}

export function runRequestsView(stored: unknown): RunRequestsView | null {
  if (!isObj(stored) || !isInt(stored.total) || !isInt(stored.omitted)) return null;
  if (!Array.isArray(stored.first) || !Array.isArray(stored.last) || !Array.isArray(stored.totals)) return null;
  const first = stored.first.map(entry);
  const last = stored.last.map(entry);
  const totals = stored.totals.map((t: unknown) =>
    isObj(t) && typeof t.route === 'string' && isInt(t.status) && isInt(t.count) && isInt(t.totalMs) && isInt(t.maxMs)
      ? { route: t.route, status: t.status, count: t.count, totalMs: t.totalMs, maxMs: t.maxMs }
      : null,
  );
  if (first.includes(null) || last.includes(null) || totals.includes(null)) return null;
  return {
    total: stored.total,
    omitted: stored.omitted,
    first: first as RunRequestView[],
    last: last as RunRequestView[],
    totals: totals as RunRequestsView['totals'],
  };
}
