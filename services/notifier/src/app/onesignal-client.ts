/**
 * OneSignal REST client (providers.md §4): `POST /notifications` to one user by
 * `include_aliases.external_id`, `DELETE /notifications/:id` and `GET /notifications/:id` (view, to
 * confirm a scheduled push went out). It classifies each answer; the
 * dispatcher decides what to do. The API key goes only into the Authorization header: it is never
 * in a returned reason, a log line or an error.
 */
import { parseRetryAfterMs } from '@intellifin/domain';

export interface OneSignalClientOptions {
  baseUrl: string;
  appId: string;
  apiKey: string;
  timeoutMs: number;
  now?: () => Date;
}

export interface PushRequest {
  externalId: string;
  headings: Record<string, string>;
  contents: Record<string, string>;
  data: Record<string, string>;
  appUrl: string;
  webUrl: string;
  idempotencyKey: string;
  /** Quiet hours: deliver at this instant instead of now. */
  sendAfter?: Date;
}

/** What a request came to. `retry`: 429, 5xx, timeout or network error; `failed`: any other refusal. */
export type SendResult =
  | { kind: 'created'; status: number; id: string; replayed: boolean }
  | { kind: 'undeliverable'; status: number; id: string | null; replayed: boolean; reason: string }
  | { kind: 'retry'; status: number | null; retryAfterMs?: number; reason: string }
  | { kind: 'failed'; status: number; reason: string };

export type CancelResult =
  | { kind: 'canceled'; status: number }
  | { kind: 'already_delivered'; status: number; reason: string }
  | { kind: 'retry'; status: number | null; retryAfterMs?: number; reason: string }
  | { kind: 'failed'; status: number; reason: string };

/** A view (`GET /notifications/:id`): whether OneSignal finished sending the message. */
export type ViewResult =
  | { kind: 'completed'; status: number; successful: number; failed: number; errored: number }
  | { kind: 'canceled'; status: number }
  | { kind: 'not_yet'; status: number; remaining: number }
  | { kind: 'retry'; status: number | null; retryAfterMs?: number; reason: string }
  | { kind: 'failed'; status: number; reason: string };

const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

const short = (v: unknown) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return (s ?? '').slice(0, 300);
};

export class OneSignalClient {
  private readonly base: string;
  constructor(private readonly o: OneSignalClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  /** The OneSignal app every request goes to (its rate limit is per app). */
  get appId(): string {
    return this.o.appId;
  }

  async send(p: PushRequest): Promise<SendResult> {
    const body: Record<string, unknown> = {
      app_id: this.o.appId,
      target_channel: 'push',
      include_aliases: { external_id: [p.externalId] },
      headings: p.headings,
      contents: p.contents,
      data: p.data,
      app_url: p.appUrl,
      web_url: p.webUrl,
      idempotency_key: p.idempotencyKey,
    };
    if (p.sendAfter) body.send_after = p.sendAfter.toISOString();
    const r = await this.request('POST', '/notifications', body);
    if ('error' in r) return { kind: 'retry', status: null, reason: r.error };
    const replayed = r.res.headers.get('idempotent-replayed') === 'true';
    if (r.res.status === 200) {
      const b = (r.json ?? {}) as { id?: unknown; errors?: unknown };
      const id = typeof b.id === 'string' ? b.id : '';
      // A 200 may still report a partial failure (§4.3): nobody reachable (id ""), or opted-out aliases.
      if (id === '')
        return { kind: 'undeliverable', status: 200, id: null, replayed, reason: `nobody reachable: ${short(b.errors ?? 'empty id')}` };
      if (b.errors !== undefined && b.errors !== null)
        return { kind: 'undeliverable', status: 200, id, replayed, reason: `partial failure: ${short(b.errors)}` };
      return { kind: 'created', status: 200, id, replayed };
    }
    return this.refusal(r.res, r.json);
  }

  async cancel(onesignalId: string): Promise<CancelResult> {
    const r = await this.request('DELETE', `/notifications/${encodeURIComponent(onesignalId)}?app_id=${encodeURIComponent(this.o.appId)}`);
    if ('error' in r) return { kind: 'retry', status: null, reason: r.error };
    if (r.res.status === 200) return { kind: 'canceled', status: 200 };
    if (r.res.status === 400)
      return { kind: 'already_delivered', status: 400, reason: short((r.json as { errors?: unknown })?.errors ?? r.json) };
    return this.refusal(r.res, r.json);
  }

  /** Views are limited to 1 request per second per app (providers.md §4.5); the caller paces them. */
  async view(onesignalId: string): Promise<ViewResult> {
    const r = await this.request('GET', `/notifications/${encodeURIComponent(onesignalId)}?app_id=${encodeURIComponent(this.o.appId)}`);
    if ('error' in r) return { kind: 'retry', status: null, reason: r.error };
    if (r.res.status !== 200) return this.refusal(r.res, r.json);
    const b = (r.json ?? {}) as Partial<Record<'canceled' | 'completed_at' | 'successful' | 'failed' | 'errored' | 'remaining', unknown>>;
    if (b.canceled === true) return { kind: 'canceled', status: 200 };
    if (b.completed_at === null || b.completed_at === undefined) return { kind: 'not_yet', status: 200, remaining: count(b.remaining) };
    return { kind: 'completed', status: 200, successful: count(b.successful), failed: count(b.failed), errored: count(b.errored) };
  }

  private refusal(res: Response, json: unknown): Exclude<SendResult, { kind: 'created' | 'undeliverable' }> {
    const reason = `HTTP ${res.status}: ${short((json as { errors?: unknown } | undefined)?.errors ?? json ?? '')}`;
    if (res.status === 429) {
      const retryAfterMs = parseRetryAfterMs(res.headers.get('retry-after'), this.o.now?.() ?? new Date());
      return { kind: 'retry', status: 429, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), reason };
    }
    if (res.status >= 500 || res.status === 408) return { kind: 'retry', status: res.status, reason };
    return { kind: 'failed', status: res.status, reason };
  }

  private async request(method: string, path: string, body?: unknown): Promise<{ res: Response; json: unknown } | { error: string }> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Key ${this.o.apiKey}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = text;
      }
      return { res, json };
    } catch (err) {
      const name = err instanceof Error ? err.name : 'Error';
      return {
        error: name === 'TimeoutError' || name === 'AbortError' ? `timeout after ${this.o.timeoutMs} ms` : `network error (${name})`,
      };
    }
  }
}
