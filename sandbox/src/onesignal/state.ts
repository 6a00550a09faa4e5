/**
 * OneSignal simulator state: one app with its keys, the reachability of users (by external id),
 * idempotency records and every notification the API answered with HTTP 200.
 */
import { DAY } from '../shared/clock';
import { alnum, unit, uuidV4 } from '../shared/prng';
import type { SimulatorCore } from '../shared/server';

export type UserState = 'subscribed' | 'partial' | 'unsubscribed';

export interface OneSignalSettings {
  appId: string | undefined;
  /** App API key, sent as `Authorization: Key <key>`. */
  appApiKey: string | undefined;
  /** Legacy REST API key, sent as `Authorization: Basic <key>`. */
  legacyRestKey: string | undefined;
  /** Create/cancel requests per second per app before 429 (OneSignal free tier: 150). */
  rateLimitPerSecond: number;
  /** View requests (GET /notifications/:id) per second per app before 429 (providers.md §4.5: 1). */
  viewRateLimitPerSecond: number;
  /** Share of external ids with a live push subscription; partial = some devices opted out. */
  subscribedPercent: number;
  partialPercent: number;
  idempotencyDays: number;
}

export const ONESIGNAL_DEFAULTS: OneSignalSettings = {
  appId: undefined,
  appApiKey: undefined,
  legacyRestKey: undefined,
  rateLimitPerSecond: 150,
  viewRateLimitPerSecond: 1,
  subscribedPercent: 85,
  partialPercent: 6,
  idempotencyDays: 30,
};

export interface StoredResponse {
  status: number;
  body: Record<string, unknown>;
}

/** scheduled: `send_after` in the future; delivered: went out to its reachable users; unreachable: nobody to send to. */
export type DeliveryState = 'scheduled' | 'delivered' | 'canceled' | 'unreachable';

export interface NotificationRecord {
  id: string;
  receivedAt: string;
  path: string;
  targeting: string;
  externalIds: string[];
  reachable: string[];
  invalid: string[];
  headings: unknown;
  contents: unknown;
  data: unknown;
  url: unknown;
  appUrl: unknown;
  webUrl: unknown;
  idempotencyKey: string | null;
  replays: number;
  canceled: boolean;
  /** The requested `send_after` (ISO), when one was given. */
  sendAfter: string | null;
  delivery: DeliveryState;
  deliveredAt: string | null;
  response: StoredResponse;
}

export class OneSignalState {
  settings!: OneSignalSettings;
  appId = '';
  appApiKey = '';
  legacyRestKey = '';
  revoked = false;
  readonly overrides = new Map<string, UserState>();
  readonly idempotency = new Map<string, { at: number; record: NotificationRecord }>();
  notifications: NotificationRecord[] = [];
  private window = { second: -1, count: 0 };
  private viewWindow = { second: -1, count: 0 };
  private seq = 0;

  constructor(
    private readonly core: SimulatorCore,
    settings: OneSignalSettings,
  ) {
    this.reinit(settings);
  }

  reinit(settings: OneSignalSettings): void {
    this.settings = settings;
    const seed = this.core.seed;
    this.appId = settings.appId ?? uuidV4(seed, 'onesignal-app');
    this.appApiKey = settings.appApiKey ?? `os_v2_app_${alnum(48, seed, 'onesignal-app-key').toLowerCase()}`;
    this.legacyRestKey = settings.legacyRestKey ?? alnum(48, seed, 'onesignal-rest-key');
    this.revoked = false;
    this.overrides.clear();
    this.idempotency.clear();
    this.notifications = [];
    this.window = { second: -1, count: 0 };
    this.viewWindow = { second: -1, count: 0 };
    this.seq = 0;
  }

  userState(externalId: string): UserState {
    const o = this.overrides.get(externalId);
    if (o) return o;
    const r = unit(this.core.seed, 'onesignal-user', externalId) * 100;
    if (r < this.settings.subscribedPercent) return 'subscribed';
    if (r < this.settings.subscribedPercent + this.settings.partialPercent) return 'partial';
    return 'unsubscribed';
  }

  /** Count a create/cancel call; false when the per-second budget is spent. */
  takeRateBudget(): boolean {
    const second = Math.floor(this.core.clock.now() / 1000);
    if (second !== this.window.second) this.window = { second, count: 0 };
    this.window.count++;
    return this.window.count <= this.settings.rateLimitPerSecond;
  }

  /** Count a view call; false when the per-second view budget is spent. */
  takeViewBudget(): boolean {
    const second = Math.floor(this.core.clock.now() / 1000);
    if (second !== this.viewWindow.second) this.viewWindow = { second, count: 0 };
    this.viewWindow.count++;
    return this.viewWindow.count <= this.settings.viewRateLimitPerSecond;
  }

  replay(key: string): NotificationRecord | undefined {
    const hit = this.idempotency.get(key.toLowerCase());
    if (!hit || this.core.clock.now() - hit.at > this.settings.idempotencyDays * DAY) return undefined;
    hit.record.replays++;
    return hit.record;
  }

  newId(): string {
    return uuidV4(this.core.seed, 'onesignal-notification', ++this.seq);
  }

  /**
   * Records an HTTP-200 create. A created message with reachable users is delivered now, or at its
   * `send_after` when that is later (unless it is cancelled before).
   */
  record(rec: NotificationRecord): void {
    if (rec.id === '') rec.delivery = 'unreachable';
    else {
      const at = rec.sendAfter === null ? NaN : Date.parse(rec.sendAfter);
      const deliver = () => {
        if (rec.delivery !== 'scheduled') return;
        rec.delivery = 'delivered';
        rec.deliveredAt = this.core.clock.iso();
      };
      rec.delivery = 'scheduled';
      if (Number.isFinite(at) && at > this.core.clock.now()) this.core.clock.schedule(at, deliver);
      else deliver();
    }
    this.notifications.push(rec);
    if (rec.idempotencyKey !== null) this.idempotency.set(rec.idempotencyKey.toLowerCase(), { at: this.core.clock.now(), record: rec });
  }
}
