import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { counter, maskSecrets, METRIC_PREFIX, type Logger, type Registry } from '@intellifin/core';
import { HEADER_MSG_ID, PubAckInbox } from './pub-ack-inbox';
import type { Provider, Topology } from './topology';

/** Headers of a message in SYNC_DLQ (besides the original's own headers, which are kept). */
export const DLQ_HEADERS = {
  reason: 'Dlq-Reason',
  source: 'Dlq-Source',
  errorKind: 'Dlq-Error-Kind',
  errorCode: 'Dlq-Error-Code',
  originalSubject: 'Dlq-Original-Subject',
  originalStream: 'Dlq-Original-Stream',
  originalSeq: 'Dlq-Original-Seq',
  originalMsgId: 'Dlq-Original-Msg-Id',
  deliveries: 'Dlq-Deliveries',
  consumer: 'Dlq-Consumer',
  at: 'Dlq-At',
} as const;

/** `runner`: the consumer runner gave up on a message it handled; `advisory`: the server's max-deliveries advisory (crash loops, hangs). */
export type DeadLetterSource = 'runner' | 'advisory';

export interface DeadLetter {
  source: DeadLetterSource;
  /** Human-readable reason (also in the `Dlq-Reason` header). */
  reason: string;
  /** `auth | retryable | permanent | validation` for runner dead letters, `max_deliveries` for advisories. */
  errorKind: string;
  /** Stable code (`AppError.code`, `malformed_payload`, `max_deliveries`). */
  errorCode: string;
  originalSubject: string;
  originalStream: string;
  /** Sequence of the original message in SYNC_CMDS. */
  streamSeq: number;
  deliveryCount: number;
  consumer: string;
  /** Parsed from the subject when it is a command subject of the topology. */
  provider: Provider | undefined;
  accountId: string | undefined;
  /** The original payload bytes. */
  data: Uint8Array;
  /** The original headers. */
  headers: MsgHdrs | undefined;
  /** Where the copy landed in SYNC_DLQ, and whether the DLQ had it already. */
  dlqSeq: number;
  dlqDuplicate: boolean;
}

/**
 * Called once a dead letter is safely in SYNC_DLQ and before the original is removed; the service
 * records it (e.g. marks the account `error` with the reason). If it throws, the original stays
 * and the dead-lettering is retried later (the DLQ copy is deduplicated by its msgID).
 */
export type OnDeadLetter = (dl: DeadLetter) => Promise<void> | void;

export interface DeadLetterInput {
  source: DeadLetterSource;
  reason: string;
  errorKind: string;
  errorCode: string;
  originalSubject: string;
  originalStream: string;
  streamSeq: number;
  deliveryCount: number;
  consumer: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

/** Header values may not contain CR/LF; keep them short. */
/** A header value: one line, bounded, and with secrets, MSISDNs and account numbers masked (as in logs). */
export function headerSafe(v: string, max = 500): string {
  const s = maskSecrets(v.replace(/[\r\n]+/g, ' ')).trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The DLQ msgID of a command: the runner and the advisory watcher may both copy it; one copy is kept. */
export function deadLetterMsgId(originalStream: string, streamSeq: number): string {
  return `dlq:${originalStream}:${streamSeq}`;
}

const DEAD_LETTER_PUBLISH_TIMEOUT_MS = 5_000;

/**
 * Copies a message into SYNC_DLQ under `sync.dlq.<original subject>` with its payload, its
 * headers and the reason / deliveries / origin. Idempotent within the DLQ's duplicate window.
 */
export async function publishDeadLetter(acks: PubAckInbox, topology: Topology, input: DeadLetterInput): Promise<DeadLetter> {
  const h = natsHeaders();
  if (input.headers) {
    for (const [k, values] of input.headers) {
      if (/^nats-/i.test(k)) continue; // Nats-Msg-Id etc. belong to the original publish
      for (const v of values) h.append(k, v);
    }
    const msgId = input.headers.get(HEADER_MSG_ID);
    if (msgId) h.set(DLQ_HEADERS.originalMsgId, msgId);
  }
  h.set(DLQ_HEADERS.reason, headerSafe(input.reason) || 'unknown');
  h.set(DLQ_HEADERS.source, input.source);
  h.set(DLQ_HEADERS.errorKind, headerSafe(input.errorKind, 64));
  h.set(DLQ_HEADERS.errorCode, headerSafe(input.errorCode, 128));
  h.set(DLQ_HEADERS.originalSubject, input.originalSubject);
  h.set(DLQ_HEADERS.originalStream, input.originalStream);
  h.set(DLQ_HEADERS.originalSeq, String(input.streamSeq));
  h.set(DLQ_HEADERS.deliveries, String(input.deliveryCount));
  h.set(DLQ_HEADERS.consumer, input.consumer);
  h.set(DLQ_HEADERS.at, new Date().toISOString());
  h.set(HEADER_MSG_ID, deadLetterMsgId(input.originalStream, input.streamSeq));
  const ack = await acks.publishOne(
    { subject: topology.deadLetterSubject(input.originalSubject), data: input.data, headers: h },
    DEAD_LETTER_PUBLISH_TIMEOUT_MS,
  );
  const addr = topology.tryParseCommandSubject(input.originalSubject);
  return {
    ...input,
    reason: headerSafe(input.reason),
    provider: addr?.provider,
    accountId: addr?.accountId,
    dlqSeq: ack.seq,
    dlqDuplicate: ack.duplicate,
  };
}

/** Dead-letter metrics shared by the runner and the watcher. */
export function deadLetterCounter(registry: Registry) {
  return counter(
    registry,
    `${METRIC_PREFIX}dead_letters_total`,
    'Messages copied to SYNC_DLQ, by consumer and source (runner | advisory)',
    ['consumer', 'source'],
  );
}

// ---------------------------------------------------------------------------------------------
// Advisory watcher

/** `io.nats.jetstream.advisory.v1.max_deliver` */
export interface MaxDeliveriesAdvisory {
  type: 'io.nats.jetstream.advisory.v1.max_deliver';
  id?: string;
  timestamp?: string;
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export const MAX_DELIVER_ADVISORY = 'io.nats.jetstream.advisory.v1.max_deliver';
export const TERMINATED_ADVISORY = 'io.nats.jetstream.advisory.v1.terminated';

export interface DeadLetterWatcherOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  logger: Logger;
  registry?: Registry;
  onDeadLetter?: OnDeadLetter;
  /** Delay before a failed advisory is retried. Default 5 s. */
  retryDelayMs?: number;
  /** Called after each advisory is processed (tests, diagnostics). */
  onProcessed?: (e: { type: string; streamSeq: number | undefined; outcome: 'dead_lettered' | 'gone' | 'ignored' | 'retry' }) => void;
}

/**
 * Reads the advisory-capture stream with a durable consumer. For each MAX_DELIVERIES advisory on
 * SYNC_CMDS: load the message by `stream_seq` (gone → nothing to do: it was replaced by a newer
 * command or already handled), copy it to SYNC_DLQ (idempotent msgID), call `onDeadLetter`, delete
 * the original from SYNC_CMDS (a max-delivered message stays in a WorkQueue stream otherwise), and
 * ack the advisory. This is the safety net for messages the runner never saw fail: crash loops and
 * hangs where the ack wait expired on every delivery. TERMINATED advisories are acked and skipped:
 * the runner dead-letters before it terms.
 */
export class DeadLetterWatcher {
  private readonly opts: DeadLetterWatcherOptions;
  private readonly log: Logger;
  private readonly dlqCount;
  private readonly acks: PubAckInbox;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(opts: DeadLetterWatcherOptions) {
    this.opts = opts;
    this.acks = new PubAckInbox(opts.nc);
    this.log = opts.logger.child({ component: 'dead-letter-watcher', stream: opts.topology.streams.advisories.name });
    this.dlqCount = opts.registry ? deadLetterCounter(opts.registry) : undefined;
  }

  async start(): Promise<void> {
    if (this.loop) throw new Error('dead-letter watcher already started');
    const { stream, config } = this.opts.topology.deadLetterWatcher;
    const consumer = await this.opts.js.consumers.get(stream, config.durable_name);
    this.loop = (async () => {
      while (!this.stopping && !this.opts.nc.isClosed()) {
        try {
          const messages = await consumer.consume({ max_messages: 10 });
          this.messages = messages;
          if (this.stopping) await messages.close();
          void (async () => {
            for await (const s of messages.status()) {
              if (
                s.type === 'heartbeats_missed' ||
                s.type === 'consumer_not_found' ||
                s.type === 'consumer_deleted' ||
                s.type === 'stream_not_found'
              ) {
                this.log.warn({ status: s.type }, 'advisory consumer status');
              }
            }
          })().catch(() => undefined);
          for await (const m of messages) {
            if (this.stopping) {
              m.nak();
              continue;
            }
            await this.process(m);
          }
        } catch (err) {
          if (this.stopping) break;
          this.log.error({ err }, 'advisory consume failed; retrying in 1s');
        }
        if (!this.stopping && !this.opts.nc.isClosed()) await new Promise((r) => setTimeout(r, 1_000));
      }
    })();
    this.log.info('dead-letter watcher started');
  }

  /** Stops pulling and waits for the advisory being processed (if any) to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }

  private async process(m: JsMsg): Promise<void> {
    let adv: { type?: string; stream?: string; consumer?: string; stream_seq?: number; deliveries?: number };
    try {
      adv = m.json();
    } catch (err) {
      this.log.error({ err, seq: m.seq }, 'unparseable advisory; skipping');
      m.ack();
      this.opts.onProcessed?.({ type: 'unknown', streamSeq: undefined, outcome: 'ignored' });
      return;
    }
    const cmds = this.opts.topology.streams.commands.name;
    if (adv.type !== MAX_DELIVER_ADVISORY || adv.stream !== cmds || typeof adv.stream_seq !== 'number') {
      m.ack();
      this.opts.onProcessed?.({ type: adv.type ?? 'unknown', streamSeq: adv.stream_seq, outcome: 'ignored' });
      return;
    }
    const seq = adv.stream_seq;
    const log = this.log.child({ originalSeq: seq, consumer: adv.consumer, deliveries: adv.deliveries });
    try {
      const stored = await this.opts.jsm.streams.getMessage(cmds, { seq });
      if (!stored) {
        log.info('max-delivered command is gone (replaced by a newer command or already handled)');
        m.ack();
        this.opts.onProcessed?.({ type: adv.type, streamSeq: seq, outcome: 'gone' });
        return;
      }
      const deliveries = adv.deliveries ?? 0;
      const dl = await publishDeadLetter(this.acks, this.opts.topology, {
        source: 'advisory',
        reason: `max deliveries exceeded (${deliveries}) without an ack: the handler crashed, hung or never finished within the ack wait`,
        errorKind: 'max_deliveries',
        errorCode: 'max_deliveries',
        originalSubject: stored.subject,
        originalStream: cmds,
        streamSeq: seq,
        deliveryCount: deliveries,
        consumer: adv.consumer ?? 'unknown',
        data: stored.data,
        headers: stored.header,
      });
      if (!dl.dlqDuplicate) this.dlqCount?.inc({ consumer: adv.consumer ?? 'unknown', source: 'advisory' });
      await this.opts.onDeadLetter?.(dl);
      await this.deleteOriginal(cmds, seq);
      m.ack();
      log.warn({ subject: stored.subject, dlqSeq: dl.dlqSeq, duplicate: dl.dlqDuplicate }, 'max-delivered command moved to the DLQ');
      this.opts.onProcessed?.({ type: adv.type, streamSeq: seq, outcome: 'dead_lettered' });
    } catch (err) {
      log.error({ err }, 'dead-lettering a max-delivered command failed; will retry');
      m.nak(this.opts.retryDelayMs ?? 5_000);
      this.opts.onProcessed?.({ type: adv.type, streamSeq: seq, outcome: 'retry' });
    }
  }

  private async deleteOriginal(stream: string, seq: number): Promise<void> {
    try {
      await this.opts.jsm.streams.deleteMessage(stream, seq, false);
    } catch (err) {
      // Already gone (replaced, or deleted by a concurrent watcher): the goal is reached.
      if (err instanceof JetStreamApiError && (err.code === 10037 || /no message found|not found/i.test(err.message))) return;
      throw err;
    }
  }
}
