/**
 * What each simulator saw: one entry per API request (control routes under /__sandbox are not
 * logged). Secrets never enter the log: only whether auth was absent, present-but-invalid or valid.
 */
export type AuthSeen = 'absent' | 'invalid' | 'valid';

export interface RequestLogEntry {
  seq: number;
  /** Simulator clock at arrival, ISO-8601. */
  time: string;
  /**
   * Simulator clock when the exchange ended (response sent, or the connection closed: a reset, a
   * hang the client gave up on). Null while it is still open. With `time` it bounds the interval
   * in which the request was in flight (the chaos checker's overlap test).
   */
  end: string | null;
  /** The Retry-After the response advertised, in ms (from seconds or an HTTP date), else null. */
  retryAfterMs: number | null;
  method: string;
  /** Route template, e.g. /v2/accounts/:id/transactions; '(unmatched)' for 404s. */
  route: string;
  /** Path without the query string. */
  path: string;
  account: string | null;
  /** HTTP status sent, or 0 when the connection was reset or left hanging. */
  status: number;
  auth: AuthSeen;
  /** Value of the X-Request-Fence header, if the client sent one. */
  fence: string | null;
  /** Per (route, account) request number used for fault decisions. */
  n: number;
  /** Ids of the fault rules that fired. */
  faults: string[];
}

export interface RequestLogQuery {
  since?: number;
  route?: string;
  account?: string;
  method?: string;
  limit?: number;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;
  private evicted = 0;

  constructor(private readonly capacity = 100_000) {}

  add(entry: Omit<RequestLogEntry, 'seq'>): RequestLogEntry {
    const full = { seq: ++this.seq, ...entry };
    this.entries.push(full);
    if (this.entries.length > this.capacity) {
      const over = this.entries.length - this.capacity;
      this.entries.splice(0, over);
      this.evicted += over;
    }
    return full;
  }

  /** The sequence number of the newest entry (0 when none was ever added since the last clear). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Entries evicted because the log was full: a reader that needs every entry must see 0. */
  get dropped(): number {
    return this.evicted;
  }

  list(q: RequestLogQuery = {}): RequestLogEntry[] {
    const out: RequestLogEntry[] = [];
    for (const e of this.entries) {
      if (q.since !== undefined && e.seq <= q.since) continue;
      if (q.route !== undefined && e.route !== q.route) continue;
      if (q.account !== undefined && e.account !== q.account) continue;
      if (q.method !== undefined && e.method !== q.method.toUpperCase()) continue;
      out.push(e);
      if (q.limit !== undefined && out.length >= q.limit) break;
    }
    return out;
  }

  clear(): void {
    this.entries = [];
    this.evicted = 0;
  }

  get size(): number {
    return this.entries.length;
  }
}
