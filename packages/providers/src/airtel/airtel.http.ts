import { Agent, request, type Dispatcher } from 'undici';
import { RetryableError } from '@intellifin/core';
import { parseRetryAfterMs, retryDelayMs } from '@intellifin/domain';
import { currentRunFence, sleep, type ProviderRequestObserver, type RequestGate } from '@intellifin/sync-engine';
import { transportError } from './airtel.errors';
import type { RawResponse } from './airtel.mapper';

export interface AirtelHttpOptions {
  baseUrl: string;
  /** Per-provider request budget shared by every replica (Redis). */
  gate: RequestGate;
  /** Time to the response headers, and between body chunks (a hung request ends here). Default 15 s. */
  timeoutMs?: number;
  /** Attempts per request for transient failures before the run gives up (and the command is nak-ed). Default 3. */
  attempts?: number;
  /** Longest Retry-After waited out inside a run; longer ones end the run with a nak of at least that long. Default 5 s. */
  maxInlineWaitMs?: number;
  /** Keep-alive connections to Airtel. Default 32. */
  connections?: number;
  observe?: ProviderRequestObserver;
  /** The clock Retry-After dates are read against. */
  clock?: () => Date;
}

export interface AirtelCall {
  /** Route template for metrics and messages (`GET /standard/v1/payments/:id`), never the concrete path. */
  route: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  signal: AbortSignal;
}

/**
 * The Airtel transport: undici with keep-alive and timeouts, the run's fence as `X-Request-Fence`,
 * the shared rate budget before every request, a 429 (HTTP or envelope) pausing that budget for
 * every replica for its `Retry-After`, and a few in-run retries of transient failures. `interpret`
 * turns each exchange into a result or an error of the core taxonomy (airtel.mapper.ts); only
 * `RetryableError`s are retried here.
 */
export class AirtelHttp {
  private readonly agent: Agent;
  private readonly baseUrl: string;
  private readonly gate: RequestGate;
  private readonly attempts: number;
  private readonly maxInlineWaitMs: number;
  private readonly observe: ProviderRequestObserver | undefined;
  readonly clock: () => Date;

  constructor(o: AirtelHttpOptions) {
    const timeoutMs = o.timeoutMs ?? 15_000;
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.gate = o.gate;
    this.attempts = o.attempts ?? 3;
    this.maxInlineWaitMs = o.maxInlineWaitMs ?? 5_000;
    this.observe = o.observe;
    this.clock = o.clock ?? (() => new Date());
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: o.connections ?? 32,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: timeoutMs },
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async call<T>(c: AirtelCall, interpret: (r: RawResponse) => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return interpret(await this.once(c));
      } catch (err) {
        if (err instanceof RetryableError && err.code === 'airtel_rate_limited') {
          // Close the budget for every replica for as long as Airtel asked (a short default without a header).
          await this.gate.pause(err.retryAfterMs ?? 1_000);
        }
        if (!(err instanceof RetryableError) || c.signal.aborted || attempt + 1 >= this.attempts) throw err;
        const ra = err.retryAfterMs;
        if (ra !== undefined && ra > this.maxInlineWaitMs) throw err;
        // A Retry-After is enforced by the shared budget's pause (acquire waits it out); other
        // failures back off briefly before the next attempt.
        if (ra === undefined) await sleep(retryDelayMs({ attempt, policy: { baseMs: 100, capMs: 1_000 } }), c.signal);
      }
    }
  }

  private async once(c: AirtelCall): Promise<RawResponse> {
    await this.gate.acquire(c.signal);
    const headers: Record<string, string> = { accept: '*/*', ...c.headers };
    const fence = currentRunFence();
    if (fence !== undefined) headers['x-request-fence'] = fence;
    let payload: string | null = null;
    if (c.body !== undefined) {
      payload = JSON.stringify(c.body);
      headers['content-type'] = 'application/json';
    }
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(this.baseUrl + c.path, { method: c.method, headers, body: payload, signal: c.signal, dispatcher: this.agent });
      text = await res.body.text();
    } catch (err) {
      this.observe?.(c.route, 0, (performance.now() - started) / 1000);
      if (c.signal.aborted) throw c.signal.reason as Error;
      throw transportError(c.route, err);
    }
    const ra = res.headers['retry-after'];
    const retryAfter = Array.isArray(ra) ? ra[0] : ra;
    const now = this.clock();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    this.observe?.(c.route, res.statusCode, (performance.now() - started) / 1000, ok ? undefined : parseRetryAfterMs(retryAfter, now));
    return { route: c.route, status: res.statusCode, retryAfter, text, now };
  }
}
