import type { ConsumerMessages, DeliverPolicy, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { counter, gauge, type Logger, type Registry } from '@intellifin/core';
import { ACCOUNT_STATUSES, PROVIDERS, RUN_OUTCOMES, type ProviderId } from '@intellifin/domain';
import { jetstreamManager, type Topology } from '@intellifin/messaging';
import { withOrgScope, type Pool } from '@intellifin/persistence';
import { accountVisible } from './accounts.query';
import { ownerFilter, type Caller } from './caller';

/**
 * The live status feed: one ordered (ephemeral) consumer on SYNC_EVENTS per sync-api process,
 * fanned out to subscribers (gRPC `WatchSyncStatus`, REST `GET /v1/events`). Each subscriber sees
 * only its caller's scope: its organisation, and for a caller with only the `user` role only the
 * accounts linked to them (checked in the database under the caller's org scope, cached briefly).
 *
 * Bounded memory: each subscriber has a queue of at most `bufferSize` events; one that falls
 * further behind is ended with reason `slow_consumer` (its transport says so and closes), never
 * buffered without limit. The feed keeps the last `replaySize` events so a reconnecting client can
 * resume after the id it last saw (`Last-Event-ID`); an id older than that gets `reset` (re-read
 * the state, then follow).
 */
export const STATUS_EVENT_KINDS = ['queued', 'run_started', 'run_finished', 'reauth_required', 'repaired'] as const;
export type StatusEventKind = (typeof STATUS_EVENT_KINDS)[number];

export interface StatusEvent {
  /** The SYNC_EVENTS stream sequence: increasing, the SSE event id. */
  seq: number;
  kind: StatusEventKind;
  orgId: string;
  accountId: string;
  provider: ProviderId;
  /** Null for `queued` (no run yet). */
  runId: string | null;
  /** The command the run serves (`queued`, `run_started`, `run_finished`); null when not known. */
  commandId: string | null;
  /** run_finished only. */
  outcome: string | null;
  counts: { added: number; modified: number; unchanged: number } | null;
  errorCode: string | null;
  /**
   * The account's status after the change (run_finished; `auth_required` / `active` for the auth
   * events). Null for `queued` and `run_started`: they change the run's status, not the account's.
   */
  statusAfter: string | null;
  occurredAt: string;
}

/** Why a subscription ended: the transport closed it, it fell behind, or the server is stopping. */
export type EndReason = 'closed' | 'slow_consumer' | 'shutdown';

/** The engine's run event (`RunEvent` in @intellifin/sync-engine), as much as the feed needs. */
const runEvent = z.object({
  runId: z.string().min(1),
  commandId: z.string().min(1).optional(),
  accountId: z.uuid(),
  orgId: z.uuid(),
  provider: z.enum(PROVIDERS),
  outcome: z.enum(RUN_OUTCOMES),
  accountStatus: z.enum(ACCOUNT_STATUSES),
  added: z.number().int().nonnegative(),
  modified: z.number().int().nonnegative(),
  unchanged: z.number().int().nonnegative(),
  errorCode: z.string().optional(),
  finishedAt: z.string(),
});

/** The engine's auth event (`AuthEvent`). */
const authEvent = z.object({
  kind: z.enum(['reauth_required', 'repaired']),
  runId: z.string().min(1),
  accountId: z.uuid(),
  orgId: z.uuid(),
  provider: z.enum(PROVIDERS),
  reason: z.string().optional(),
  at: z.string(),
});

/** The status events (kind `status`): written with the request (`queueCommand`) and with the run row (`beginRun`). */
const statusKindEvent = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('queued'),
    commandId: z.string().min(1),
    accountId: z.uuid(),
    orgId: z.uuid(),
    provider: z.enum(PROVIDERS),
    issuedAt: z.string(),
  }),
  z.object({
    kind: z.literal('run_started'),
    runId: z.string().min(1),
    commandId: z.string().min(1).nullish(),
    accountId: z.uuid(),
    orgId: z.uuid(),
    provider: z.enum(PROVIDERS),
    startedAt: z.string(),
  }),
]);

const decoder = new TextDecoder();

/** The feed's event of one SYNC_EVENTS message, or null for one it does not show (unknown, malformed). */
export function statusEventOf(kind: string, seq: number, data: Uint8Array): StatusEvent | null {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  if (kind === 'run') {
    const r = runEvent.safeParse(raw);
    if (!r.success) return null;
    const e = r.data;
    return {
      seq,
      kind: 'run_finished',
      orgId: e.orgId,
      accountId: e.accountId,
      provider: e.provider,
      runId: e.runId,
      commandId: e.commandId ?? null,
      outcome: e.outcome,
      counts: { added: e.added, modified: e.modified, unchanged: e.unchanged },
      errorCode: e.errorCode ?? null,
      statusAfter: e.accountStatus,
      occurredAt: e.finishedAt,
    };
  }
  if (kind === 'auth') {
    const r = authEvent.safeParse(raw);
    if (!r.success) return null;
    const e = r.data;
    return {
      seq,
      kind: e.kind,
      orgId: e.orgId,
      accountId: e.accountId,
      provider: e.provider,
      runId: e.runId,
      commandId: null,
      outcome: null,
      counts: null,
      errorCode: e.kind === 'reauth_required' ? (e.reason ?? null) : null,
      statusAfter: e.kind === 'repaired' ? 'active' : 'auth_required',
      occurredAt: e.at,
    };
  }
  if (kind === 'status') {
    const r = statusKindEvent.safeParse(raw);
    if (!r.success) return null;
    const e = r.data;
    return {
      seq,
      kind: e.kind,
      orgId: e.orgId,
      accountId: e.accountId,
      provider: e.provider,
      runId: e.kind === 'run_started' ? e.runId : null,
      commandId: e.commandId ?? null,
      outcome: null,
      counts: null,
      errorCode: null,
      statusAfter: null,
      occurredAt: e.kind === 'queued' ? e.issuedAt : e.startedAt,
    };
  }
  return null;
}

export interface SubscribeOptions {
  /** Only these accounts (empty or absent: all the caller may see). */
  accountIds?: readonly string[];
  providers?: readonly ProviderId[];
  /** Resume after this event id (the last one the client saw). */
  afterSeq?: number;
}

/** One subscriber's view of the feed: an async iterator of its events, ended by `close()` or by the feed. */
export class StatusSubscription implements AsyncIterable<StatusEvent> {
  private readonly queue: StatusEvent[] = [];
  private waiter: (() => void) | undefined;
  private ended: EndReason | undefined;
  private signalEnd!: (reason: EndReason) => void;
  /** Settles when the subscription ends (a transport waiting on a full socket stops waiting). */
  readonly whenEnded = new Promise<EndReason>((resolve) => (this.signalEnd = resolve));
  /** Set when the client resumed from an id the feed no longer holds: re-read the state first. */
  readonly reset: boolean;

  constructor(
    private readonly feed: StatusFeed,
    readonly caller: Caller,
    private readonly opts: SubscribeOptions,
    private readonly bufferSize: number,
    backlog: { events: StatusEvent[]; reset: boolean },
  ) {
    this.reset = backlog.reset;
    for (const e of backlog.events) this.offer(e);
  }

  /** Why it ended, once it has. */
  get endReason(): EndReason | undefined {
    return this.ended;
  }

  /** Called by the feed for every event: queues it when it is in scope (cheap checks only). */
  offer(e: StatusEvent): void {
    if (this.ended || e.orgId !== this.caller.orgId) return;
    if (this.opts.afterSeq !== undefined && e.seq <= this.opts.afterSeq) return; // the client has it
    if (this.opts.accountIds?.length && !this.opts.accountIds.includes(e.accountId)) return;
    if (this.opts.providers?.length && !this.opts.providers.includes(e.provider)) return;
    if (this.queue.length >= this.bufferSize) {
      this.end('slow_consumer');
      return;
    }
    this.queue.push(e);
    this.wake();
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.signalEnd(reason);
    this.queue.length = 0;
    this.feed.forget(this, reason);
    this.wake();
  }

  close(): void {
    this.end('closed');
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StatusEvent> {
    for (;;) {
      while (this.queue.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.waiter = resolve));
      if (this.ended) return;
      const e = this.queue.shift()!;
      if (await this.feed.visible(this.caller, e.accountId)) yield e;
    }
  }
}

export interface StatusFeedOptions {
  nc: NatsConnection;
  topology: Topology;
  /** Connected as `intellifin_api` (visibility checks run under the caller's org scope). */
  pool: Pool;
  logger: Logger;
  registry?: Registry;
  /** Events queued per subscriber before it is dropped as too slow. Default 256. */
  bufferSize?: number;
  /** Recent events kept for resuming clients. Default 1000. */
  replaySize?: number;
  /** How long an account's visibility to a user is cached. Default 30 s. */
  visibilityTtlMs?: number;
}

export class StatusFeed {
  private readonly subscribers = new Set<StatusSubscription>();

  /** Open subscriptions (SSE streams and watch calls). */
  get subscriberCount(): number {
    return this.subscribers.size;
  }
  private readonly recent: StatusEvent[] = [];
  private readonly visibility = new Map<string, { visible: boolean; until: number }>();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private readonly m;

  constructor(private readonly o: StatusFeedOptions) {
    this.m = o.registry
      ? {
          events: counter(o.registry, 'intellifin_sync_api_status_events_total', 'SYNC_EVENTS messages read by the status feed, by kind', [
            'kind',
          ]),
          subscribers: gauge(o.registry, 'intellifin_sync_api_status_subscribers', 'Open status feed subscriptions (gRPC watch, SSE)'),
          ended: counter(o.registry, 'intellifin_sync_api_status_subscriptions_ended_total', 'Status subscriptions ended, by reason', [
            'reason',
          ]),
        }
      : undefined;
  }

  /** Starts following SYNC_EVENTS from now (an ordered consumer: recreated by the client after a gap). */
  async start(): Promise<void> {
    const stream = this.o.topology.streams.events;
    const js = (await jetstreamManager(this.o.nc)).jetstream();
    const consumer = await js.consumers.get(stream.name, {
      // One subject (every event kind): a list needs NATS 2.10.
      filter_subjects: stream.subjects[0]!,
      deliver_policy: 'new' as DeliverPolicy,
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.loop = (async () => {
      for await (const msg of messages) this.dispatch(msg);
    })().catch((err: unknown) => {
      if (!this.stopped) this.o.logger.error({ err }, 'status feed stopped reading SYNC_EVENTS');
    });
  }

  private dispatch(msg: JsMsg): void {
    let kind = 'other';
    try {
      kind = this.o.topology.parseEventSubject(msg.subject).kind;
    } catch {
      // not an event subject of this topology: skipped
    }
    const e = statusEventOf(kind, msg.seq, msg.data);
    this.m?.events.inc({ kind: e ? e.kind : 'skipped' });
    if (!e) return;
    this.recent.push(e);
    if (this.recent.length > (this.o.replaySize ?? 1000)) this.recent.shift();
    for (const s of this.subscribers) s.offer(e);
  }

  /** The sequence of the newest event read (0: none yet). */
  get lastSeq(): number {
    return this.recent[this.recent.length - 1]?.seq ?? 0;
  }

  subscribe(caller: Caller, opts: SubscribeOptions = {}): StatusSubscription {
    let backlog: { events: StatusEvent[]; reset: boolean } = { events: [], reset: false };
    if (opts.afterSeq !== undefined) {
      const oldest = this.recent[0];
      const lastSeen = this.recent[this.recent.length - 1];
      // Resumable when the feed holds every event after afterSeq (or afterSeq is its newest).
      if (lastSeen && opts.afterSeq >= lastSeen.seq) backlog = { events: [], reset: false };
      else if (oldest && opts.afterSeq >= oldest.seq - 1)
        backlog = { events: this.recent.filter((e) => e.seq > opts.afterSeq!), reset: false };
      else backlog = { events: [], reset: true };
    }
    const sub = new StatusSubscription(this, caller, opts, this.o.bufferSize ?? 256, backlog);
    if (this.stopped) sub.end('shutdown');
    else if (!sub.endReason) {
      this.subscribers.add(sub);
      this.m?.subscribers.set(this.subscribers.size);
    }
    return sub;
  }

  /** Called by a subscription when it ends. */
  forget(sub: StatusSubscription, reason: EndReason): void {
    if (this.subscribers.delete(sub)) this.m?.subscribers.set(this.subscribers.size);
    this.m?.ended.inc({ reason });
  }

  /** May this caller see this account? Operators and admins: their whole org (already matched); users: their own accounts. */
  async visible(caller: Caller, accountId: string): Promise<boolean> {
    const owner = ownerFilter(caller);
    if (owner === null) return true;
    const key = `${caller.orgId}|${owner}|${accountId}`;
    const now = Date.now();
    const hit = this.visibility.get(key);
    if (hit && hit.until > now) return hit.visible;
    let visible: boolean;
    try {
      visible = await withOrgScope(this.o.pool, caller.orgId, (db) => accountVisible(db, owner, accountId));
    } catch (err) {
      // Unknown is not visible: an event is dropped rather than shown to the wrong user.
      this.o.logger.warn({ err }, 'status feed: visibility check failed; event not shown');
      return false;
    }
    if (this.visibility.size >= 10_000) this.visibility.clear();
    this.visibility.set(key, { visible, until: now + (this.o.visibilityTtlMs ?? 30_000) });
    return visible;
  }

  /** Stops reading and ends every subscription with `shutdown`. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.subscribers]) s.end('shutdown');
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}
