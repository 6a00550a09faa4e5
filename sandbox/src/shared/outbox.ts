/**
 * Outbound HTTP from a simulator to the system under test: Mono webhooks, MoMo and Airtel callbacks.
 * Deliveries are sent in enqueue order (one at a time), retried per the item's policy, and recorded
 * for the control API. Header values listed in `secretHeaders` are never recorded.
 *
 * Retry delays run on the `RetryScheduler` given to the constructor: the simulator clock when it is
 * manual (advancing the clock fires due retries), real timers otherwise.
 */
export type RetryScheduler = (delayMs: number, run: () => void) => void;

export interface OutboundItem {
  kind: string;
  url: string;
  method?: 'POST' | 'PUT';
  headers?: Record<string, string>;
  body: unknown;
  account?: string;
  /** Total attempts including the first (1 = never retried). */
  maxAttempts?: number;
  /** Real-time delays before each retry, in ms. */
  retryDelaysMs?: number[];
  /** Headers whose values are secrets; recorded as '[redacted]'. */
  secretHeaders?: string[];
  /** Injected delivery faults this item carries (recorded), e.g. 'duplicate', 'reordered'. */
  faults?: string[];
}

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  error: string | null;
}

export interface DeliveryRecord {
  seq: number;
  kind: string;
  url: string;
  method: string;
  account: string | null;
  /** Simulator clock when queued. */
  queuedAt: string;
  headers: Record<string, string>;
  body: unknown;
  attempts: DeliveryAttempt[];
  state: 'queued' | 'delivered' | 'failed' | 'dropped';
  /** Simulator time the next retry is due, while one is waiting. */
  nextAttemptAt: string | null;
  /** Present only when a delivery fault was injected. */
  faults?: string[];
}

export class Outbox {
  private records: DeliveryRecord[] = [];
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private timers = new Set<NodeJS.Timeout>();
  private inflight = 0;
  private closed = false;
  /** Retries waiting on the scheduler (not yet attempted). */
  private waiting = 0;
  /** Bumped by clear(): retries scheduled before it do nothing. */
  private generation = 0;

  constructor(
    private readonly nowIso: () => string,
    private readonly timeoutMs = 5_000,
    private readonly scheduler?: RetryScheduler,
  ) {}

  /** Record a delivery that the scenario decided never to send. */
  drop(item: OutboundItem): DeliveryRecord {
    const rec = this.record(item);
    rec.state = 'dropped';
    return rec;
  }

  enqueue(item: OutboundItem): DeliveryRecord {
    const rec = this.record(item);
    this.inflight++;
    this.chain = this.chain.then(() => this.attempt(rec, item, 1));
    return rec;
  }

  list(kind?: string): DeliveryRecord[] {
    return this.records.filter((r) => kind === undefined || r.kind === kind);
  }

  /** Forget records and cancel waiting retries (reset). Attempts already on the wire finish unrecorded. */
  clear(): void {
    this.records = [];
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.inflight -= this.waiting;
    this.waiting = 0;
  }

  /** Resolves when nothing is queued, in flight or waiting for a retry. */
  async idle(pollMs = 10, maxMs = 30_000): Promise<void> {
    const start = Date.now();
    while (this.inflight > 0 && Date.now() - start < maxMs) {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private record(item: OutboundItem): DeliveryRecord {
    const secret = new Set((item.secretHeaders ?? []).map((h) => h.toLowerCase()));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(item.headers ?? {})) headers[k] = secret.has(k.toLowerCase()) ? '[redacted]' : v;
    const rec: DeliveryRecord = {
      seq: ++this.seq,
      kind: item.kind,
      url: item.url,
      method: item.method ?? 'POST',
      account: item.account ?? null,
      queuedAt: this.nowIso(),
      headers,
      body: item.body,
      attempts: [],
      state: 'queued',
      nextAttemptAt: null,
    };
    if (item.faults && item.faults.length > 0) rec.faults = [...item.faults];
    this.records.push(rec);
    if (this.records.length > 50_000) this.records.splice(0, this.records.length - 50_000);
    return rec;
  }

  private async attempt(rec: DeliveryRecord, item: OutboundItem, n: number): Promise<void> {
    if (this.closed) {
      this.inflight--;
      return;
    }
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(item.url, {
        method: item.method ?? 'POST',
        headers: { 'content-type': 'application/json', ...(item.headers ?? {}) },
        body: JSON.stringify(item.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    rec.attempts.push({ at: this.nowIso(), status, error });
    const ok = status !== null && status >= 200 && status < 300;
    const max = item.maxAttempts ?? 1;
    if (ok) {
      rec.state = 'delivered';
      this.inflight--;
      return;
    }
    if (n >= max || this.closed) {
      rec.state = 'failed';
      this.inflight--;
      return;
    }
    const delay = item.retryDelaysMs?.[n - 1] ?? 1_000 * 2 ** (n - 1);
    const gen = this.generation;
    rec.nextAttemptAt = new Date(Date.parse(this.nowIso()) + delay).toISOString();
    this.waiting++;
    // Retries do not hold up later deliveries.
    const retry = () => {
      if (gen !== this.generation) return;
      this.waiting--;
      rec.nextAttemptAt = null;
      void this.attempt(rec, item, n + 1);
    };
    if (this.scheduler) {
      this.scheduler(delay, retry);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      retry();
    }, delay);
    t.unref();
    this.timers.add(t);
  }
}
