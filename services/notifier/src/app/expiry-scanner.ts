/** Periodically queues "reconnect soon" pushes for consents and credentials about to expire. */
import type { Logger } from '@intellifin/core';
import type { Pool } from 'pg';
import { idempotencyKey } from '../domain/idempotency';
import { deepLink, webUrl, type LinkSettings } from '../domain/links';
import { expiryEpisode, findExpiring, queueExpiryWarning } from '../store/expiry';

export interface ExpiryScannerOptions {
  pool: Pool;
  logger: Logger;
  clock: () => Date;
  links: LinkSettings;
  warnDays: number;
  intervalMs: number;
  onWork: () => void;
}

export class ExpiryScanner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = true;

  constructor(private readonly o: ExpiryScannerOptions) {}

  start(): void {
    this.stopped = false;
    this.loop(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One scan; returns how many warnings this call queued. */
  async scan(): Promise<number> {
    const now = this.o.clock();
    let queued = 0;
    for (const e of await findExpiring(this.o.pool, { now, warnDays: this.o.warnDays, limit: 1000 })) {
      const episode = expiryEpisode(e.what, e.expiresAt);
      const ok = await queueExpiryWarning(this.o.pool, e, {
        idempotencyKey: idempotencyKey(e.provider, e.accountId, episode, 'expiry_warning'),
        deepLink: deepLink(this.o.links, e.accountId, e.provider),
        webUrl: webUrl(this.o.links, e.accountId, e.provider),
        now,
      });
      if (ok) queued++;
    }
    if (queued > 0) {
      this.o.logger.info({ queued }, 'reconnect-soon warnings queued');
      this.o.onWork();
    }
    return queued;
  }

  private loop(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.scan().catch((err: unknown) => {
        this.o.logger.error({ err }, 'expiry scan failed; retrying at the next interval');
        return 0;
      });
      void this.running.finally(() => this.loop(this.o.intervalMs));
    }, ms);
  }
}
