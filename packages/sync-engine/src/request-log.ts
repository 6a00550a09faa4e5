/**
 * The provider requests one run made, kept compact and bounded for the run's record
 * (`sync_runs.requests`): the first `head` and the last `tail` requests in full (route template,
 * HTTP status, duration, Retry-After), and totals per route and status over all of them. Routes are
 * the adapters' templates (`GET /v2/accounts/:id/transactions`): no ids, query strings or tokens;
 * anything else is cut to a bounded token. Memory and stored size are bounded however many requests
 * the run makes.
 */

export interface RequestEntry {
  /** When the request was sent, in milliseconds since the run started. */
  atMs: number;
  route: string;
  /** HTTP status; 0 = no response (connection failed, timed out, aborted). */
  status: number;
  durationMs: number;
  /** The provider's Retry-After, in milliseconds, when it sent one. */
  retryAfterMs?: number;
}

export interface RequestTotal {
  route: string;
  status: number;
  count: number;
  totalMs: number;
  maxMs: number;
}

export interface RequestSummary {
  /** Every request the run made. */
  total: number;
  /** Requests in neither `first` nor `last`. */
  omitted: number;
  first: RequestEntry[];
  last: RequestEntry[];
  /** Per route and status, largest count first (at most `maxTotals` rows; the rest under route `other`). */
  totals: RequestTotal[];
}

export interface RequestLogLimits {
  head?: number;
  tail?: number;
  maxTotals?: number;
}

const ROUTE_MAX = 96;

/** A route as stored: the template as given, one line, bounded; no query string. */
export function safeRoute(route: string): string {
  const r = route
    .replace(/[\r\n\t]+/g, ' ')
    .split('?')[0]!
    .trim();
  return r.length > ROUTE_MAX ? `${r.slice(0, ROUTE_MAX - 1)}…` : r;
}

export class RunRequestLog {
  private readonly head: number;
  private readonly tail: number;
  private readonly maxTotals: number;
  private readonly first: RequestEntry[] = [];
  /** Ring buffer of the latest `tail` requests after the first `head`. */
  private readonly ring: RequestEntry[] = [];
  private ringStart = 0;
  private count = 0;
  private readonly totals = new Map<string, RequestTotal>();
  private readonly startedMs: number;
  private readonly now: () => number;

  constructor(limits: RequestLogLimits = {}, now: () => number = () => performance.now()) {
    this.head = limits.head ?? 10;
    this.tail = limits.tail ?? 10;
    this.maxTotals = limits.maxTotals ?? 20;
    this.now = now;
    this.startedMs = now();
  }

  record(route: string, status: number, seconds: number, retryAfterMs?: number): void {
    const entry: RequestEntry = {
      atMs: Math.max(0, Math.round(this.now() - this.startedMs - seconds * 1000)),
      route: safeRoute(route),
      status: Number.isInteger(status) && status >= 0 && status < 1000 ? status : 0,
      durationMs: Math.max(0, Math.round(seconds * 1000)),
      ...(retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
        ? { retryAfterMs: Math.round(retryAfterMs) }
        : {}),
    };
    this.count++;
    if (this.first.length < this.head) this.first.push(entry);
    else if (this.tail > 0) {
      if (this.ring.length < this.tail) this.ring.push(entry);
      else {
        this.ring[this.ringStart] = entry;
        this.ringStart = (this.ringStart + 1) % this.tail;
      }
    }
    const key = `${entry.route} ${entry.status}`;
    let total = this.totals.get(key);
    if (!total && this.totals.size >= this.maxTotals) {
      // Past the bound, new route/status pairs are counted together per status.
      const other = `\u0000other ${entry.status}`;
      total = this.totals.get(other);
      if (!total) this.totals.set(other, (total = { route: 'other', status: entry.status, count: 0, totalMs: 0, maxMs: 0 }));
    }
    if (!total) this.totals.set(key, (total = { route: entry.route, status: entry.status, count: 0, totalMs: 0, maxMs: 0 }));
    total.count++;
    total.totalMs += entry.durationMs;
    total.maxMs = Math.max(total.maxMs, entry.durationMs);
  }

  get size(): number {
    return this.count;
  }

  summary(): RequestSummary {
    const last = [...this.ring.slice(this.ringStart), ...this.ring.slice(0, this.ringStart)];
    return {
      total: this.count,
      omitted: this.count - this.first.length - last.length,
      first: [...this.first],
      last,
      totals: [...this.totals.values()].sort((a, b) => b.count - a.count || a.route.localeCompare(b.route) || a.status - b.status),
    };
  }
}
