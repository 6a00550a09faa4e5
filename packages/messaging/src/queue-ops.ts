import { AckPolicy, DeliverPolicy, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { DLQ_HEADERS } from './dead-letters';
import { LANES, nanosFromMs, PROVIDERS, type Lane, type Provider, type Topology } from './topology';

/**
 * Operator reads and actions on the command queue (sync-api's operator routes): per-lane consumer
 * numbers of SYNC_CMDS, and the command dead letters in SYNC_DLQ (list, one by sequence, delete).
 * These are system-wide: callers decide who may see them and filter by organisation themselves.
 * Only command dead letters (`sync.dlq.sync.cmd.…`) are read here; wallet-intake dead letters
 * (`sync.dlq.wallet.…`) carry no command and are not listed.
 */

export interface LaneQueueStats {
  provider: Provider;
  lane: Lane;
  /** The durable consumer's name. */
  consumer: string;
  /** False when the consumer does not exist (numbers are then 0). */
  exists: boolean;
  /** Messages not yet delivered. */
  pending: number;
  /** Delivered and not yet acknowledged (in flight, or nak-ed with a delay). */
  inFlight: number;
  /** Messages delivered more than once and not yet acknowledged. */
  redelivered: number;
  /** Pull requests waiting (idle worker capacity). */
  waiting: number;
  /** Dead letters of this provider's lane in SYNC_DLQ. */
  deadLetters: number;
}

const SCAN_CONSUMER_INACTIVE_MS = 30_000;
const FETCH_EXPIRES_MS = 5_000;

function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError && (err.code === 10014 || err.code === 10037 || err.code === 10059 || /not found/i.test(err.message))
  );
}

/** The DLQ subject filter of a provider's lane (or of every command dead letter). */
export function deadLetterFilter(topology: Topology, provider?: Provider, lane?: Lane): string {
  if (!provider) return topology.deadLetterSubject('sync.cmd.>');
  if (!lane) return topology.deadLetterSubject(`sync.cmd.${provider}.>`);
  return topology.deadLetterSubject(topology.commandFilter(provider, lane));
}

/**
 * A short-lived consumer over the DLQ (memory storage, no acks, removed afterwards and by the
 * server after 30 s idle): its `num_pending` counts the matching messages, and it reads them.
 */
async function withScanConsumer<T>(
  jsm: JetStreamManager,
  topology: Topology,
  filter: string,
  startSeq: number,
  fn: (name: string, pending: number) => Promise<T>,
): Promise<T> {
  const stream = topology.streams.deadLetters.name;
  const info = await jsm.consumers.add(stream, {
    filter_subject: filter,
    ...(startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : { deliver_policy: DeliverPolicy.All }),
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanosFromMs(SCAN_CONSUMER_INACTIVE_MS),
  });
  try {
    return await fn(info.name, info.num_pending);
  } finally {
    await jsm.consumers.delete(stream, info.name).catch(() => undefined);
  }
}

/** Number of dead letters matching a filter (server-side count). */
export async function countDeadLetters(jsm: JetStreamManager, topology: Topology, filter: string): Promise<number> {
  return withScanConsumer(jsm, topology, filter, 1, async (_name, pending) => pending);
}

/** Pending, in flight, redelivered and DLQ size of every provider's bulk and priority lane. */
export async function queueStats(jsm: JetStreamManager, topology: Topology): Promise<LaneQueueStats[]> {
  const lanes = PROVIDERS.flatMap((provider) => LANES.map((lane) => ({ provider, lane })));
  return Promise.all(
    lanes.map(async ({ provider, lane }): Promise<LaneQueueStats> => {
      const spec = topology.laneConsumer(provider, lane);
      const deadLetters = await countDeadLetters(jsm, topology, deadLetterFilter(topology, provider, lane));
      try {
        const ci = await jsm.consumers.info(spec.stream, spec.config.durable_name);
        return {
          provider,
          lane,
          consumer: spec.config.durable_name,
          exists: true,
          pending: ci.num_pending,
          inFlight: ci.num_ack_pending,
          redelivered: ci.num_redelivered,
          waiting: ci.num_waiting,
          deadLetters,
        };
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return {
          provider,
          lane,
          consumer: spec.config.durable_name,
          exists: false,
          pending: 0,
          inFlight: 0,
          redelivered: 0,
          waiting: 0,
          deadLetters,
        };
      }
    }),
  );
}

/** A command dead letter as stored in SYNC_DLQ (headers from `publishDeadLetter`). */
export interface StoredDeadLetter {
  /** Sequence in SYNC_DLQ: the dead letter's id. */
  seq: number;
  /** When the DLQ stored it. */
  storedAt: Date;
  originalSubject: string;
  provider: Provider | undefined;
  lane: Lane | undefined;
  accountId: string | undefined;
  source: string | undefined;
  errorKind: string | undefined;
  errorCode: string | undefined;
  reason: string | undefined;
  /** `Dlq-At`, else the stored time. */
  failedAt: Date;
  deliveries: number | undefined;
  consumer: string | undefined;
  /** The original message payload (the command, JSON). */
  data: Uint8Array;
}

function fromStored(m: { seq: number; subject: string; header: MsgHdrs | undefined; data: Uint8Array; time: Date }, topology: Topology) {
  const h = (name: string): string | undefined => m.header?.get(name) || undefined;
  const originalSubject = h(DLQ_HEADERS.originalSubject) ?? '';
  const addr = topology.tryParseCommandSubject(originalSubject);
  const at = h(DLQ_HEADERS.at);
  const failedAt = at && !Number.isNaN(Date.parse(at)) ? new Date(at) : m.time;
  const deliveries = Number(h(DLQ_HEADERS.deliveries));
  return {
    seq: m.seq,
    storedAt: m.time,
    originalSubject,
    provider: addr?.provider,
    lane: addr?.lane,
    accountId: addr?.accountId,
    source: h(DLQ_HEADERS.source),
    errorKind: h(DLQ_HEADERS.errorKind),
    errorCode: h(DLQ_HEADERS.errorCode),
    reason: h(DLQ_HEADERS.reason),
    failedAt,
    deliveries: Number.isInteger(deliveries) ? deliveries : undefined,
    consumer: h(DLQ_HEADERS.consumer),
    data: m.data,
  } satisfies StoredDeadLetter;
}

/**
 * Reads up to `max` command dead letters from sequence `fromSeq` on, oldest first (optionally one
 * provider's). `nextSeq` is where the next read starts, or null when nothing matching is left.
 */
export async function scanDeadLetters(
  jsm: JetStreamManager,
  topology: Topology,
  o: { fromSeq: number; max: number; provider?: Provider },
): Promise<{ deadLetters: StoredDeadLetter[]; nextSeq: number | null }> {
  const filter = deadLetterFilter(topology, o.provider);
  return withScanConsumer(jsm, topology, filter, Math.max(1, o.fromSeq), async (name, pending) => {
    const want = Math.min(pending, o.max);
    if (want === 0) return { deadLetters: [], nextSeq: null };
    const consumer = await jsm.jetstream().consumers.get(topology.streams.deadLetters.name, name);
    const out: StoredDeadLetter[] = [];
    const batch = await consumer.fetch({ max_messages: want, expires: FETCH_EXPIRES_MS });
    for await (const m of batch) {
      out.push(fromStored({ seq: m.seq, subject: m.subject, header: m.headers, data: m.data, time: m.time }, topology));
      if (out.length >= want) break;
    }
    const last = out[out.length - 1];
    // More matched than were read: continue after the last one read.
    return { deadLetters: out, nextSeq: last && pending > out.length ? last.seq + 1 : null };
  });
}

/** One dead letter by its DLQ sequence; null when it is gone or is not a command dead letter. */
export async function getDeadLetter(jsm: JetStreamManager, topology: Topology, seq: number): Promise<StoredDeadLetter | null> {
  let m;
  try {
    m = await jsm.streams.getMessage(topology.streams.deadLetters.name, { seq });
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  if (!m) return null;
  const prefix = deadLetterFilter(topology).slice(0, -1); // `[ns.]sync.dlq.sync.cmd.`
  if (!m.subject.startsWith(prefix)) return null;
  return fromStored({ seq: m.seq, subject: m.subject, header: m.header, data: m.data, time: m.time }, topology);
}

/** Removes a dead letter; false when it was already gone. */
export async function deleteDeadLetter(jsm: JetStreamManager, topology: Topology, seq: number): Promise<boolean> {
  try {
    return await jsm.streams.deleteMessage(topology.streams.deadLetters.name, seq, false);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
