/**
 * Mono webhook delivery with its faults (providers.md §1.10.12): drop, reorder (held back until the
 * account's next webhook), duplicate. Every draw is a pure function of the seed and a delivery number.
 */
import type { OutboundItem } from '../shared/outbox';
import { unit } from '../shared/prng';
import type { SimulatorCore } from '../shared/server';
import type { MonoSettings } from './settings';
import type { WebhookEvent } from './webhooks';

export class WebhookDelivery {
  private webhookSeq = 0;
  /** Webhook deliveries per account id (the reorder draw's delivery number). */
  private readonly accountDeliveries = new Map<string, number>();
  /** Per account id: a delivery held back by the reorder fault. */
  private readonly held = new Map<string, { item: OutboundItem; n: number }>();

  constructor(
    private readonly core: SimulatorCore,
    private readonly settings: () => MonoSettings,
  ) {}

  /** Forget every delivery number and held delivery (a reset): a held delivery's timer then sends nothing. */
  clear(): void {
    this.webhookSeq = 0;
    this.accountDeliveries.clear();
    this.held.clear();
  }

  private get clock() {
    return this.core.clock;
  }

  /**
   * Send a webhook, applying the delivery faults: drop (never sent), reorder (held back until the
   * account's next webhook has been sent, or `webhookReorderHoldSeconds` later), duplicate (sent
   * twice). Every draw is a pure function of the seed and a delivery number.
   */
  emit(event: WebhookEvent, account: string): void {
    const s = this.settings();
    const n = ++this.webhookSeq;
    const an = (this.accountDeliveries.get(account) ?? 0) + 1;
    this.accountDeliveries.set(account, an);
    const item: OutboundItem = {
      kind: event.event,
      url: s.webhookUrl ?? '',
      method: 'POST' as const,
      headers: { 'mono-webhook-secret': s.webhookSecret },
      secretHeaders: ['mono-webhook-secret'],
      body: event,
      account,
      maxAttempts: 4,
      retryDelaysMs: [1_000, 5_000, 25_000],
    };
    if (!s.webhookUrl || unit(this.core.seed, 'wh-drop', n) * 100 < s.webhookDropPercent) {
      this.core.outbox.drop(item);
      return;
    }
    const held = this.held.get(account);
    if (held) {
      // This delivery overtakes the held one, which follows it.
      this.held.delete(account);
      this.send(item, n);
      this.send(held.item, held.n);
      return;
    }
    if (unit(this.core.seed, 'wh-reorder', account, an) * 100 < s.webhookReorderPercent) {
      const entry = { item: { ...item, faults: ['reordered'] }, n };
      this.held.set(account, entry);
      this.clock.schedule(this.clock.now() + s.webhookReorderHoldSeconds * 1000, () => {
        if (this.held.get(account) !== entry) return;
        this.held.delete(account);
        this.send(entry.item, entry.n);
      });
      return;
    }
    this.send(item, n);
  }

  private send(item: OutboundItem, n: number): void {
    this.core.outbox.enqueue(item);
    if (unit(this.core.seed, 'wh-dup', n) * 100 < this.settings().webhookDuplicatePercent) {
      this.core.outbox.enqueue({ ...item, faults: [...(item.faults ?? []), 'duplicate'] });
    }
  }
}
