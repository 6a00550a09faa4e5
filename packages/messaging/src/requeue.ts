import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { RequeueResultKind } from './consumer-types';
import {
  HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE,
  HEADER_MSG_ID,
  JS_WRONG_LAST_SEQUENCE,
  PublishRejectedError,
  type PubAckInbox,
} from './pub-ack-inbox';

/** Headers a requeued copy carries besides the original's own. */
export const REQUEUE_HEADERS = {
  /** Why the last copy was requeued (a short code: `shutdown`, `lease_busy`, …). */
  reason: 'Requeue-Reason',
  /** How many times this command has been requeued (1 on the first copy). */
  count: 'Requeue-Count',
  /** The stream sequence of the message this copy replaced. */
  ofSeq: 'Requeue-Of-Seq',
  /** The `Nats-Msg-Id` the command was first published with, kept through every requeue: the command's identity. */
  ofMsgId: 'Requeue-Of-Msg-Id',
} as const;

/** A command's identity across requeues: its first publish's msgID (or, without one, its stream sequence). */
export function commandIdentity(m: { seq: number; headers?: MsgHdrs | undefined }): string {
  return m.headers?.get(REQUEUE_HEADERS.ofMsgId) || m.headers?.get(HEADER_MSG_ID) || `seq:${m.seq}`;
}

const REQUEUE_PUBLISH_TIMEOUT_MS = 5_000;

export type RequeueResult =
  { result: Extract<RequeueResultKind, 'requeued'>; seq: number } | { result: Extract<RequeueResultKind, 'superseded'> };

/** A short metric-label-safe form of a reason (bounded set of codes in practice; never free text). */
export function reasonLabel(reason: string): string {
  const s = reason
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 48);
  return s || 'unspecified';
}

/** The headers of the fresh copy: the original's (trace context, content type, custom ones), minus `Nats-*`, plus the requeue's. */
export function requeueHeaders(original: MsgHdrs | undefined, reason: string, originalSeq: number): MsgHdrs {
  const h = natsHeaders();
  let previous = 0;
  if (original) {
    for (const [k, values] of original) {
      // Nats-Msg-Id would make the copy a duplicate of the original within the dedup window (and be
      // dropped); Nats-Expected-* belonged to the original publish.
      if (/^nats-/i.test(k)) continue;
      if (k.toLowerCase() === REQUEUE_HEADERS.count.toLowerCase()) {
        previous = Number(values[0]) || 0;
        continue;
      }
      if (k.toLowerCase() === REQUEUE_HEADERS.reason.toLowerCase() || k.toLowerCase() === REQUEUE_HEADERS.ofSeq.toLowerCase()) continue;
      for (const v of values) h.append(k, v);
    }
  }
  const firstMsgId = original?.get(REQUEUE_HEADERS.ofMsgId) || original?.get(HEADER_MSG_ID);
  if (firstMsgId) h.set(REQUEUE_HEADERS.ofMsgId, firstMsgId);
  h.set(REQUEUE_HEADERS.reason, reasonLabel(reason));
  h.set(REQUEUE_HEADERS.count, String(previous + 1));
  h.set(REQUEUE_HEADERS.ofSeq, String(originalSeq));
  h.set(HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, String(originalSeq));
  return h;
}

/**
 * Publishes a delivered message again as a FRESH message (delivery count 1) on its own subject,
 * with the same payload and headers, only if it is still the subject's newest message
 * (`Nats-Expected-Last-Subject-Sequence` = its stream sequence). With `max_msgs_per_subject: 1`
 * the copy replaces the original in the stream. A newer command for the subject is never
 * overwritten: the stream then answers "wrong last sequence" and the result is `superseded` (the
 * newer command carries the latest ask). Does not ack; any other failure is thrown (retryable).
 */
export async function requeueMessage(acks: PubAckInbox, m: JsMsg, reason: string): Promise<RequeueResult> {
  try {
    const ack = await acks.publishOne(
      { subject: m.subject, data: m.data, headers: requeueHeaders(m.headers, reason, m.seq) },
      REQUEUE_PUBLISH_TIMEOUT_MS,
    );
    return { result: 'requeued', seq: ack.seq };
  } catch (err) {
    if (err instanceof PublishRejectedError && err.errCode === JS_WRONG_LAST_SEQUENCE) return { result: 'superseded' };
    throw err;
  }
}
