import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { counter, injectTraceHeaders, METRIC_PREFIX, ValidationError, type Logger, type Registry } from '@intellifin/core';
import { jsonCodec, type PayloadCodec } from './codec';
import { HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, HEADER_MSG_ID, PubAckInbox } from './pub-ack-inbox';
import type { Topology } from './topology';

export interface PublishOptions<T> {
  /**
   * `Nats-Msg-Id`: a re-publish with the same id inside the stream's duplicate window is dropped
   * and answered with `duplicate: true`. Commands use `<accountId>:<slot or trigger id>`.
   */
  msgId?: string;
  /** Payload codec. Default: the publisher's codec (JSON unless configured). */
  codec?: PayloadCodec<T>;
  /** Extra headers (e.g. a trigger kind). Trace headers are added from the active context. */
  headers?: Record<string, string>;
  /** Fail unless the subject's last sequence is this (optimistic concurrency). */
  expectLastSubjectSequence?: number;
  /** PubAck timeout. Default: the publisher's (5 s). */
  timeoutMs?: number;
}

export interface BatchItem<T> {
  subject: string;
  payload: T;
  /** `Nats-Msg-Id`, as in {@link PublishOptions.msgId}. */
  msgId?: string;
}

export interface PublishResult {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface PublisherOptions {
  nc: NatsConnection;
  /** Used to label metrics by subject kind (cmd, evt.run, …). */
  topology: Topology;
  registry?: Registry;
  logger?: Logger;
  /** Default codec for payloads. Default: JSON without schema. */
  codec?: PayloadCodec<unknown>;
  /** How long a publish waits for its PubAck. Default 5 s. */
  timeoutMs?: number;
}

export const HEADER_CONTENT_TYPE = 'Content-Type';

/** Publishes JSON (or any codec's) payloads to JetStream with dedup ids and trace context. */
export class Publisher {
  private readonly acks: PubAckInbox;
  private readonly timeoutMs: number;
  private readonly topology: Topology;
  private readonly logger: Logger | undefined;
  private readonly codec: PayloadCodec<unknown>;
  private readonly published;

  constructor(opts: PublisherOptions) {
    this.acks = new PubAckInbox(opts.nc);
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.topology = opts.topology;
    this.logger = opts.logger?.child({ component: 'publisher' });
    this.codec = opts.codec ?? jsonCodec();
    this.published = opts.registry
      ? counter(
          opts.registry,
          `${METRIC_PREFIX}messages_published_total`,
          'Messages published to JetStream, by subject kind and whether the stream dropped them as duplicates',
          ['kind', 'duplicate'],
        )
      : undefined;
  }

  async publish<T>(subject: string, payload: T, opts: PublishOptions<T> = {}): Promise<PublishResult> {
    const res = await this.acks.publishOne(this.encode(subject, payload, opts), opts.timeoutMs ?? this.timeoutMs);
    const kind = this.topology.subjectKind(subject);
    this.published?.inc({ kind, duplicate: String(res.duplicate) });
    this.logger?.debug({ subject, kind, seq: res.seq, duplicate: res.duplicate, msgId: opts.msgId }, 'published');
    return res;
  }

  /**
   * Publishes many messages at once: every message is encoded and written before any PubAck is
   * awaited, so they leave in one socket write. Results come back in input order, one settled
   * result per item: a payload that fails its schema or a publish that fails rejects only its own
   * item. Metrics are counted once per batch.
   */
  async publishBatch<T>(items: readonly BatchItem<T>[], codec?: PayloadCodec<T>): Promise<PromiseSettledResult<PublishResult>[]> {
    const results: PromiseSettledResult<PublishResult>[] = new Array(items.length);
    const toSend: ReturnType<Publisher['encode']>[] = [];
    const positions: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      try {
        toSend.push(this.encode(it.subject, it.payload, { msgId: it.msgId, codec }));
        positions.push(i);
      } catch (err) {
        results[i] = { status: 'rejected', reason: err };
      }
    }
    const acks = await this.acks.publish(toSend, this.timeoutMs);
    acks.forEach((r, k) => {
      results[positions[k]!] = r.ok ? { status: 'fulfilled', value: r.ack } : { status: 'rejected', reason: r.error };
    });
    if (this.published) {
      const byLabel = new Map<string, { kind: string; duplicate: string; n: number }>();
      results.forEach((r, i) => {
        if (r.status !== 'fulfilled') return;
        const kind = this.topology.subjectKind(items[i]!.subject);
        const duplicate = String(r.value.duplicate);
        const key = `${kind}|${duplicate}`;
        const c = byLabel.get(key);
        if (c) c.n++;
        else byLabel.set(key, { kind, duplicate, n: 1 });
      });
      for (const c of byLabel.values()) this.published.inc({ kind: c.kind, duplicate: c.duplicate }, c.n);
    }
    return results;
  }

  /** Encodes (validating) one message with its headers; throws a `ValidationError` on an invalid payload. */
  private encode<T>(subject: string, payload: T, opts: PublishOptions<T>): { subject: string; data: Uint8Array; headers: MsgHdrs } {
    const codec = (opts.codec ?? this.codec) as PayloadCodec<T>;
    let data: Uint8Array;
    try {
      data = codec.encode(payload);
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError(
        'invalid_payload',
        `payload for ${this.topology.subjectKind(subject)} does not match its schema: ${err instanceof Error ? err.message : String(err)}`,
        [],
        { cause: err },
      );
    }
    const h = buildHeaders(codec.contentType, opts.headers);
    if (opts.msgId !== undefined) h.set(HEADER_MSG_ID, opts.msgId);
    if (opts.expectLastSubjectSequence !== undefined) h.set(HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, String(opts.expectLastSubjectSequence));
    return { subject, data, headers: h };
  }
}

function buildHeaders(contentType: string, extra: Record<string, string> | undefined): MsgHdrs {
  const h = natsHeaders();
  h.set(HEADER_CONTENT_TYPE, contentType);
  for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v);
  injectTraceHeaders(h);
  return h;
}
