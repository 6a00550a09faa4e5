import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { counter, injectTraceHeaders, METRIC_PREFIX, ValidationError, type Logger, type Registry } from '@intellifin/core';
import { jsonCodec, type PayloadCodec } from './codec';
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
  /** PubAck timeout. Default: the client's. */
  timeoutMs?: number;
}

export interface PublishResult {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface PublisherOptions {
  js: JetStreamClient;
  /** Used to label metrics by subject kind (cmd, evt.run, …). */
  topology: Topology;
  registry?: Registry;
  logger?: Logger;
  /** Default codec for payloads. Default: JSON without schema. */
  codec?: PayloadCodec<unknown>;
}

export const HEADER_CONTENT_TYPE = 'Content-Type';

/** Publishes JSON (or any codec's) payloads to JetStream with dedup ids and trace context. */
export class Publisher {
  private readonly js: JetStreamClient;
  private readonly topology: Topology;
  private readonly logger: Logger | undefined;
  private readonly codec: PayloadCodec<unknown>;
  private readonly published;

  constructor(opts: PublisherOptions) {
    this.js = opts.js;
    this.topology = opts.topology;
    this.logger = opts.logger?.child({ component: 'publisher' });
    this.codec = opts.codec ?? jsonCodec();
    this.published = opts.registry
      ? counter(opts.registry, `${METRIC_PREFIX}messages_published_total`, 'Messages published to JetStream, by subject kind and whether the stream dropped them as duplicates', ['kind', 'duplicate'])
      : undefined;
  }

  async publish<T>(subject: string, payload: T, opts: PublishOptions<T> = {}): Promise<PublishResult> {
    const codec = (opts.codec ?? this.codec) as PayloadCodec<T>;
    let data: Uint8Array;
    try {
      data = codec.encode(payload);
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError('invalid_payload', `payload for ${this.topology.subjectKind(subject)} does not match its schema: ${err instanceof Error ? err.message : String(err)}`, [], { cause: err });
    }
    const h = buildHeaders(codec.contentType, opts.headers);
    const ack = await this.js.publish(subject, data, {
      headers: h,
      ...(opts.msgId !== undefined ? { msgID: opts.msgId } : {}),
      ...(opts.expectLastSubjectSequence !== undefined ? { expect: { lastSubjectSequence: opts.expectLastSubjectSequence } } : {}),
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    });
    const kind = this.topology.subjectKind(subject);
    this.published?.inc({ kind, duplicate: String(ack.duplicate) });
    this.logger?.debug({ subject, kind, seq: ack.seq, duplicate: ack.duplicate, msgId: opts.msgId }, 'published');
    return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
  }
}

function buildHeaders(contentType: string, extra: Record<string, string> | undefined): MsgHdrs {
  const h = natsHeaders();
  h.set(HEADER_CONTENT_TYPE, contentType);
  for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v);
  injectTraceHeaders(h);
  return h;
}
