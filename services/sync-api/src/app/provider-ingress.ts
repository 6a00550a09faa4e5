import { createHash, timingSafeEqual } from 'node:crypto';
import { counter, trace, withSpan, type Registry, type Tracer } from '@intellifin/core';
import { withTransaction, type Pool } from '@intellifin/persistence';
import { maskBody } from '@intellifin/wallet-sync';
import { enqueueOutbox, ingestEvent, type IngressProvider } from './ingress.store';
import { canonicalJson, readMonoEvent, shortType } from './mono-events';

/**
 * Provider ingress, the part that answers the provider: verify, store (deduplicated), answer. Mono
 * webhooks are stored `pending` for the `WebhookProcessor`; MoMo and Airtel callbacks are stored
 * and, in the same transaction, put in the outbox for the workers' WALLET_INTAKE consumer (the
 * relay publishes them; the worker applies them in the account's fenced run). One statement or
 * one short transaction per request, so the answer goes back within a few milliseconds.
 */

/** Constant-time equality of a presented secret with the configured one (false when either is missing). */
export function secretMatches(presented: string | undefined, expected: string | undefined): boolean {
  if (presented === undefined || expected === undefined || expected.length === 0) return false;
  // Hash both: equal lengths for timingSafeEqual, and the secret's length is not revealed.
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface IngressResult {
  /** The stored row's id. */
  id: string;
  /** False when this was a repeat delivery of an event already stored. */
  stored: boolean;
}

export interface ProviderIngressOptions {
  /** Connected as `intellifin_api`. */
  pool: Pool;
  /** `topology.walletIntakeSubject(provider, 'cb')`. */
  callbackSubject: (provider: 'momo' | 'airtel') => string;
  /** A stored Mono event is new work (the processor starts at once). */
  onWebhookStored?: () => void;
  /** A callback was put in the outbox (the relay publishes at once). */
  onCallbackQueued?: () => void;
  /** Content-derived Mono event ids: an identical event this long after the first was processed is a new occurrence. */
  rearmAfterMs: number;
  registry?: Registry;
  tracer?: Tracer;
}

export type IngressOutcome = 'stored' | 'duplicate' | 'unauthorized' | 'invalid';

export class ProviderIngress {
  private readonly tracer: Tracer;
  private readonly received;

  constructor(private readonly o: ProviderIngressOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.received = o.registry
      ? counter(o.registry, 'intellifin_sync_api_webhooks_received_total', 'Provider webhooks and callbacks received, by type and result', [
          'provider',
          'type',
          'result',
        ])
      : undefined;
  }

  /** Counts a refused delivery (bad secret or token, invalid body); nothing is stored. */
  refused(provider: IngressProvider, result: 'unauthorized' | 'invalid'): void {
    this.received?.inc({ provider, type: 'unknown', result });
  }

  /** A verified Mono webhook: stored once per event (repeats counted), processed later. */
  async monoWebhook(body: { event: string; data: Record<string, unknown> }): Promise<IngressResult> {
    const ev = readMonoEvent(body);
    const type = shortType(ev.type);
    return withSpan(
      this.tracer,
      'sync-api.webhook_ingest',
      { attributes: { 'webhook.provider': 'mono', 'webhook.type': type } },
      async (span) => {
        const r = await ingestEvent(this.o.pool, {
          provider: 'mono',
          eventId: ev.eventId,
          eventType: ev.type.slice(0, 100),
          accountRef: ev.accountRef,
          payload: body,
          state: 'pending',
          rearmAfterMs: ev.derivedId ? this.o.rearmAfterMs : null,
        });
        span.setAttribute('webhook.result', r.fresh ? 'stored' : 'duplicate');
        this.received?.inc({ provider: 'mono', type, result: r.fresh ? 'stored' : 'duplicate' });
        if (r.fresh) this.o.onWebhookStored?.();
        return { id: r.id, stored: r.fresh };
      },
    );
  }

  /**
   * A MoMo or Airtel callback (already authenticated and shape-checked): stored once (deduplicated
   * by its content) with MSISDNs masked, and handed to the workers through the outbox as the
   * WALLET_INTAKE envelope `{ referenceId, body, receivedAt }`.
   */
  async walletCallback(provider: 'momo' | 'airtel', referenceId: string, body: unknown): Promise<IngressResult> {
    return withSpan(this.tracer, 'sync-api.callback_ingest', { attributes: { 'webhook.provider': provider } }, async (span) => {
      const masked = maskBody(body);
      const digest = createHash('sha256')
        .update(canonicalJson([referenceId, masked]))
        .digest('hex');
      const r = await withTransaction(this.o.pool, async (db) => {
        const stored = await ingestEvent(db, {
          provider,
          eventId: `cb:${digest}`,
          eventType: 'callback',
          accountRef: referenceId,
          payload: masked,
          state: 'forwarded',
          rearmAfterMs: null,
        });
        if (stored.fresh)
          await enqueueOutbox(db, `cb:${provider}:${digest.slice(0, 24)}`, this.o.callbackSubject(provider), {
            referenceId,
            body: masked,
            receivedAt: new Date().toISOString(),
          });
        return stored;
      });
      span.setAttribute('webhook.result', r.fresh ? 'stored' : 'duplicate');
      this.received?.inc({ provider, type: 'callback', result: r.fresh ? 'stored' : 'duplicate' });
      if (r.fresh) this.o.onCallbackQueued?.();
      return { id: r.id, stored: r.fresh };
    });
  }
}
