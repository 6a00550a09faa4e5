import type { Redis } from 'ioredis';

/** What the journal holds for a delivery being handled (the shape of `@intellifin/messaging`'s DeliveryNote). */
export interface JournalNote {
  strikes: number;
  solo: boolean;
  /** The command's identity (its first msgID). */
  id: string;
}

export interface RedisDeliveryJournalOptions {
  /** How long a note outlives its delivery when nobody forgets it (the message was replaced or dead-lettered by the advisory watcher). Default 24 h. */
  ttlMs?: number;
  /** Prepended to every key (tests isolate with a unique prefix). */
  keyPrefix?: string;
}

const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The delivery journal of crash-loop isolation (`@intellifin/messaging` suspect-isolation.ts) in
 * Redis: one key per command subject being handled (`<prefix>delivery:<subject>`), value
 * `<strikes>:<0|1 solo>:<command id>`, set when a handler starts and deleted before its delivery
 * is settled. A
 * note left behind means the process died or stalled while handling the message. Every worker
 * replica shares it, since a redelivery may land on any of them.
 */
export class RedisDeliveryJournal {
  private readonly ttlMs: number;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    opts: RedisDeliveryJournalOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.prefix = opts.keyPrefix ?? '';
  }

  async recall(key: string): Promise<JournalNote | undefined> {
    const v = await this.redis.get(this.prefix + key);
    if (v === null) return undefined;
    const m = /^(\d+):([01]):(.+)$/s.exec(v);
    // An unreadable note is of no command we know: as if there were none.
    if (!m) return undefined;
    return { strikes: Number(m[1]), solo: m[2] === '1', id: m[3]! };
  }

  async note(key: string, note: JournalNote): Promise<void> {
    await this.redis.set(this.prefix + key, `${note.strikes}:${note.solo ? 1 : 0}:${note.id}`, 'PX', this.ttlMs);
  }

  async forget(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}
