import { Agent, request, type Dispatcher } from 'undici';
import { RetryableError } from '@intellifin/core';
import { parseRetryAfterMs, retryDelayMs } from '@intellifin/domain';
import { currentRunFence, sleep, type ProviderRequestObserver, type RequestGate } from '@intellifin/sync-engine';
import { businessError, tokenError, transportError } from './momo.errors';

export interface MomoClientOptions {
  baseUrl: string;
  /** Per-provider request budget shared by every replica (Redis). */
  gate: RequestGate;
  /** Time to the response headers, and between body chunks. Default 10 s. */
  timeoutMs?: number;
  /** Attempts per request for transient failures before the run gives up (the command is nak-ed). Default 3. */
  attempts?: number;
  /** Longest Retry-After waited out inside a run; longer ones end the run with a nak. Default 5 s. */
  maxInlineWaitMs?: number;
  /** Keep-alive connections to MoMo. Default 32. */
  connections?: number;
  observe?: ProviderRequestObserver;
  /** The clock Retry-After dates are read against. */
  clock?: () => Date;
}

export interface MomoCall {
  /** Route template for metrics and messages, e.g. `GET /collection/v1_0/requesttopay/:ref`. */
  route: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  signal: AbortSignal;
  /** `token`: failures mapped as the token endpoint's (`product` names it). */
  token?: { product: string };
  /** Statuses returned to the caller instead of thrown (404 on a status lookup). */
  passStatuses?: readonly number[];
}

export interface MomoResponse {
  status: number;
  body: unknown;
}

/**
 * A thin MoMo HTTP client: undici with keep-alive and timeouts, the run's fence as
 * `X-Request-Fence`, the shared rate budget before every request (token requests included), a 429
 * closes the budget for every replica for its `Retry-After` (so no request goes before it), and a
 * few in-run retries of transient failures. JSON bodies are parsed; a 2xx body that is not JSON is a
 * `ValidationError`.
 */
export class MomoClient {
  private readonly agent: Agent;
  private readonly o: Required<Omit<MomoClientOptions, 'observe' | 'clock'>> & Pick<MomoClientOptions, 'observe'>;
  private readonly clock: () => Date;

  constructor(opts: MomoClientOptions) {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    this.o = {
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
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

  async call(c: MomoCall): Promise<MomoResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(c);
      } catch (err) {
        if (!(err instanceof RetryableError) || c.signal.aborted || attempt + 1 >= this.o.attempts) throw err;
        const ra = err.retryAfterMs;
        if (ra !== undefined && ra > this.o.maxInlineWaitMs) throw err;
        // A Retry-After is enforced by the shared budget's pause (acquire waits it out); other
        // transient failures back off briefly.
        if (ra === undefined) await sleep(retryDelayMs({ attempt, policy: { baseMs: 100, capMs: 1_000 } }), c.signal);
      }
    }
  }

  private async once(c: MomoCall): Promise<MomoResponse> {
    await this.o.gate.acquire(c.signal);
    const headers: Record<string, string> = { accept: 'application/json', ...c.headers };
    const fence = currentRunFence();
    if (fence !== undefined) headers['x-request-fence'] = fence;
    const started = performance.now();
    const observe = (status: number, retryAfterMs?: number) =>
      this.o.observe?.(c.route, status, (performance.now() - started) / 1000, retryAfterMs);
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(this.o.baseUrl + c.path, { method: c.method, headers, signal: c.signal, dispatcher: this.agent });
      text = await res.body.text();
    } catch (err) {
      observe(0);
      if (c.signal.aborted) throw c.signal.reason as Error;
      throw transportError(c.route, err);
    }
    let body: unknown;
    let parsed = true;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = false;
    }
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    if (ok || c.passStatuses?.includes(res.statusCode)) {
      // A body that is not JSON at all (truncated, garbled by a proxy) is a transport failure:
      // retried; JSON of the wrong shape is the mapper's ValidationError.
      if (!parsed)
        throw new RetryableError('momo_malformed_body', `MoMo ${c.route} answered ${res.statusCode} with a body that is not JSON`);
      observe(res.statusCode);
      return { status: res.statusCode, body };
    }
    const ra = res.headers['retry-after'];
    const retryAfter = Array.isArray(ra) ? ra[0] : ra;
    const now = this.clock();
    const err = c.token
      ? tokenError(c.token.product, res.statusCode, parsed ? body : undefined, retryAfter, now)
      : businessError(c.route, res.statusCode, parsed ? body : undefined, retryAfter, now);
    // Close the shared budget before anyone hears of the 429: no request of any replica goes before Retry-After.
    if (res.statusCode === 429) await this.o.gate.pause((err as RetryableError).retryAfterMs ?? 1_000);
    observe(res.statusCode, parseRetryAfterMs(retryAfter, now));
    throw err;
  }
}
