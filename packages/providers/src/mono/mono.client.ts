import { Agent, request, type Dispatcher } from 'undici';
import { currentRunFence, sleep, type ProviderRequestObserver, type RequestGate } from '@intellifin/sync-engine';
import { parseRetryAfterMs, retryDelayMs } from '@intellifin/domain';
import { RetryableError } from '@intellifin/core';
import { errorForStatus, malformed, transportError } from './mono.errors';

export interface MonoClientOptions {
  baseUrl: string;
  secretKey: string;
  /** Per-provider request budget shared by every replica (Redis). */
  gate: RequestGate;
  /** Time to the response headers, and between body chunks. Default 15 s. */
  timeoutMs?: number;
  /** Attempts per request for transient failures before the run gives up (and the command is nak-ed). Default 3. */
  attempts?: number;
  /** Longest Retry-After waited out inside a run; longer ones end the run with a nak. Default 5 s. */
  maxInlineWaitMs?: number;
  /** Keep-alive connections to Mono. Default 32. */
  connections?: number;
  observe?: ProviderRequestObserver;
  /** The clock Retry-After dates are read against. */
  clock?: () => Date;
}

export interface MonoResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: unknown;
}

interface Call {
  route: string;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
  signal: AbortSignal;
  /**
   * The route has its own per-account limit (the legacy sync: one per account per 2 minutes): its
   * 429 says nothing about the provider-wide budget, so it neither pauses the shared budget nor is
   * retried.
   */
  accountLimited?: boolean;
}

/**
 * A thin Mono HTTP client: undici with keep-alive and timeouts, `mono-sec-key`, the run's fence as
 * `X-Request-Fence`, the shared rate budget before every request, 429 → budget paused for every
 * replica for `Retry-After`, and a few in-run retries of transient failures. Returns parsed JSON
 * for 2xx; throws the core error taxonomy otherwise (see mono.errors.ts).
 */
export class MonoClient {
  private readonly agent: Agent;
  private readonly o: Required<Omit<MonoClientOptions, 'observe' | 'clock'>> & Pick<MonoClientOptions, 'observe'>;
  private readonly clock: () => Date;

  constructor(opts: MonoClientOptions) {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    this.o = {
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
      secretKey: opts.secretKey,
      gate: opts.gate,
      timeoutMs,
      attempts: opts.attempts ?? 3,
      maxInlineWaitMs: opts.maxInlineWaitMs ?? 5_000,
      connections: opts.connections ?? 32,
      observe: opts.observe,
    };
    this.clock = opts.clock ?? (() => new Date());
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: this.o.connections,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: timeoutMs },
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  get(
    route: string,
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
    headers?: Record<string, string>,
  ): Promise<MonoResponse> {
    return this.call({ route, method: 'GET', path, query, signal, ...(headers ? { headers } : {}) });
  }

  post(route: string, path: string, body: unknown, signal: AbortSignal, opts: { accountLimited?: boolean } = {}): Promise<MonoResponse> {
    return this.call({ route, method: 'POST', path, body, signal, ...(opts.accountLimited ? { accountLimited: true } : {}) });
  }

  private async call(c: Call): Promise<MonoResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(c);
      } catch (err) {
        if (!(err instanceof RetryableError) || c.signal.aborted || attempt + 1 >= this.o.attempts) throw err;
        if (err.code === 'mono_key_rejected') throw err;
        if (c.accountLimited && err.code === 'mono_rate_limited') throw err;
        const ra = err.retryAfterMs;
        if (ra !== undefined && ra > this.o.maxInlineWaitMs) throw err;
        // A Retry-After is enforced by the shared budget's pause (acquire waits it out); other
        // failures back off briefly before the next attempt.
        if (ra === undefined) await sleep(retryDelayMs({ attempt, policy: { baseMs: 100, capMs: 1_000 } }), c.signal);
      }
    }
  }

  private async once(c: Call): Promise<MonoResponse> {
    await this.o.gate.acquire(c.signal);
    const url = new URL(this.o.baseUrl + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { 'mono-sec-key': this.o.secretKey, accept: 'application/json', ...(c.headers ?? {}) };
    const fence = currentRunFence();
    if (fence !== undefined) headers['x-request-fence'] = fence;
    let payload: string | undefined;
    if (c.body !== undefined) {
      payload = JSON.stringify(c.body);
      headers['content-type'] = 'application/json';
    }
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method: c.method, headers, body: payload ?? null, signal: c.signal, dispatcher: this.agent });
    } catch (err) {
      this.o.observe?.(c.route, 0, (performance.now() - started) / 1000);
      if (c.signal.aborted) throw c.signal.reason as Error;
      throw transportError(c.route, err);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      this.o.observe?.(c.route, 0, (performance.now() - started) / 1000);
      if (c.signal.aborted) throw c.signal.reason as Error;
      throw transportError(c.route, err);
    }
    const h = (name: string): string | undefined => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const seconds = (performance.now() - started) / 1000;
    this.o.observe?.(c.route, res.statusCode, seconds, ok ? undefined : parseRetryAfterMs(h('retry-after'), this.clock()));
    if (!ok) {
      const err = errorForStatus(c.route, res.statusCode, h('retry-after'), this.clock());
      if (res.statusCode === 429 && !c.accountLimited) {
        // Close the budget for every replica for as long as Mono asked (a short default without a header).
        await this.o.gate.pause((err as RetryableError).retryAfterMs ?? 1_000);
      }
      throw err;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw malformed(c.route, 'not JSON');
    }
    return {
      status: res.statusCode,
      headers: { 'x-job-status': h('x-job-status'), 'x-job-id': h('x-job-id'), 'x-has-new-data': h('x-has-new-data') },
      body,
    };
  }
}
