import type { JsMsg } from '@nats-io/jetstream';
import { ConsumerRunner, jsonCodec, Publisher, REQUEUE_HEADERS, type ConsumerSpec, type MessageHandler, type SettledEvent } from '../src';
import { deferred, harness, metricValue, waitFor, type Harness } from './helpers';

interface Cmd {
  accountId: string;
  n?: number;
}

interface Seen {
  accountId: string;
  n: number | undefined;
  deliveryCount: number;
  streamSeq: number;
  requeueReason: string | undefined;
  requeueCount: string | undefined;
  msgId: string | undefined;
  custom: string | undefined;
}

const seen = (m: JsMsg, payload: Cmd, deliveryCount: number, streamSeq: number): Seen => ({
  accountId: payload.accountId,
  n: payload.n,
  deliveryCount,
  streamSeq,
  requeueReason: m.headers?.get(REQUEUE_HEADERS.reason) || undefined,
  requeueCount: m.headers?.get(REQUEUE_HEADERS.count) || undefined,
  msgId: m.headers?.get('Nats-Msg-Id') || undefined,
  custom: m.headers?.get('X-Trigger') || undefined,
});

describe('requeue instead of dead-letter (real NATS)', () => {
  let h: Harness;
  let pub: Publisher;
  const runners: ConsumerRunner<Cmd>[] = [];

  beforeAll(async () => {
    h = await harness({ ackWaitMs: 3_000, maxDeliver: 3 });
    pub = new Publisher({ nc: h.nc, topology: h.topology });
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop(2_000)));
  });
  afterAll(async () => {
    await h.close();
  });

  function runner(consumer: ConsumerSpec, handler: MessageHandler<Cmd>, settled: SettledEvent[]) {
    const r = new ConsumerRunner<Cmd>({
      nc: h.nc,
      js: h.js,
      topology: h.topology,
      consumer,
      codec: jsonCodec<Cmd>(),
      handler,
      logger: h.logger,
      registry: h.registry,
      concurrency: 1,
      onSettled: (e) => void settled.push(e),
    });
    runners.push(r);
    return r;
  }

  const dlqCount = async () => (await h.jsm.streams.info(h.topology.streams.deadLetters.name)).state.messages;
  const requeues = (reason: string, result: string) =>
    metricValue(h.registry, 'intellifin_sync_messages_requeued_total', { reason, result });

  it('{ requeue } publishes the same payload and headers as a fresh message, then acks this delivery', async () => {
    const subject = h.topology.commandSubject('mono', 'rq1');
    const log: Seen[] = [];
    const settled: SettledEvent[] = [];
    const r = runner(
      h.topology.workers.mono,
      (m, ctx) => {
        log.push(seen(m, ctx.payload, ctx.deliveryCount, ctx.streamSeq));
        return log.length === 1 ? { requeue: 'fenced' } : undefined;
      },
      settled,
    );
    await r.start();
    const first = await pub.publish(subject, { accountId: 'rq1', n: 7 }, { msgId: 'rq1:1', headers: { 'X-Trigger': 'manual' } });
    await waitFor(() => settled.some((e) => e.outcome === 'ack'), 'the fresh copy handled');
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ n: 7, deliveryCount: 1, streamSeq: first.seq, msgId: 'rq1:1', requeueReason: undefined });
    // A fresh message: new sequence, delivery count 1, same payload and custom headers, no msgID (it would be a duplicate).
    expect(log[1]).toMatchObject({
      n: 7,
      deliveryCount: 1,
      requeueReason: 'fenced',
      requeueCount: '1',
      custom: 'manual',
      msgId: undefined,
    });
    expect(log[1]!.streamSeq).toBeGreaterThan(first.seq);
    // (The copy may be handled before the original's ack is confirmed: find the requeue by outcome, not position.)
    await waitFor(() => settled.length === 2, 'both settlements');
    expect(settled.find((e) => e.outcome === 'requeue')).toMatchObject({
      requeue: 'requeued',
      requeuedSeq: log[1]!.streamSeq,
      reason: 'fenced',
      streamSeq: first.seq,
    });
    expect(await requeues('fenced', 'requeued')).toBe(1);
    await waitFor(
      async () => (await h.jsm.streams.info(h.topology.streams.commands.name, { subjects_filter: subject })).state.messages === 0,
      'acked',
    );
  });

  it('{ nak, requeueIfLast } naks until the last delivery, then requeues: never dead-lettered', async () => {
    const subject = h.topology.commandSubject('momo', 'rq2');
    const log: Seen[] = [];
    const settled: SettledEvent[] = [];
    const r = runner(
      h.topology.workers.momo,
      (m, ctx) => {
        log.push(seen(m, ctx.payload, ctx.deliveryCount, ctx.streamSeq));
        if (log.length <= 3) return { nak: 10, reason: 'lease_busy', requeueIfLast: true };
        return undefined;
      },
      settled,
    );
    await r.start();
    await pub.publish(subject, { accountId: 'rq2' }, { msgId: 'rq2:1' });
    await waitFor(() => settled.length === 4, 'handled after the requeue');
    expect(log.map((s) => s.deliveryCount)).toEqual([1, 2, 3, 1]);
    expect(settled.map((e) => `${e.outcome} ${e.deliveryCount}`).sort()).toEqual(['ack 1', 'nak 1', 'nak 2', 'requeue 3']);
    expect(log[3]).toMatchObject({ requeueReason: 'lease_busy', requeueCount: '1' });
    expect(await dlqCount()).toBe(0);
    expect(await requeues('lease_busy', 'requeued')).toBe(1);
  });

  it('a requeue never overwrites a newer command for the subject: superseded, acked, the newer one runs', async () => {
    const subject = h.topology.commandSubject('airtel', 'rq3');
    const log: Seen[] = [];
    const settled: SettledEvent[] = [];
    const r = runner(
      h.topology.workers.airtel,
      async (m, ctx) => {
        log.push(seen(m, ctx.payload, ctx.deliveryCount, ctx.streamSeq));
        if (ctx.payload.n === 1) {
          // A newer command arrives while this one runs (it replaces it in the stream).
          await pub.publish(subject, { accountId: 'rq3', n: 2 }, { msgId: 'rq3:2' });
          return { requeue: 'lease_lost' };
        }
        return undefined;
      },
      settled,
    );
    await r.start();
    await pub.publish(subject, { accountId: 'rq3', n: 1 }, { msgId: 'rq3:1' });
    await waitFor(() => settled.some((e) => e.outcome === 'ack'), 'the newer command handled');
    expect(log.map((s) => s.n)).toEqual([1, 2]);
    expect(log[1]!.requeueReason).toBeUndefined(); // the newer command itself, not a copy of the old one
    await waitFor(() => settled.length === 2, 'both settlements');
    const requeue = settled.find((e) => e.outcome === 'requeue');
    expect(requeue).toMatchObject({ requeue: 'superseded', reason: 'lease_lost' });
    expect(requeue!.requeuedSeq).toBeUndefined();
    expect(await requeues('lease_lost', 'superseded')).toBe(1);
    await waitFor(
      async () => (await h.jsm.streams.info(h.topology.streams.commands.name, { subjects_filter: subject })).state.messages === 0,
      'nothing left',
    );
  });

  it('a handler interrupted at the stop deadline on its last delivery is requeued, not dead-lettered', async () => {
    const subject = h.topology.commandSubject('mono', 'rq4', 'priority');
    const log: Seen[] = [];
    const settled: SettledEvent[] = [];
    const onLast = deferred();
    const unblock = deferred();
    const r = runner(
      h.topology.priorityWorkers.mono,
      async (m, ctx) => {
        log.push(seen(m, ctx.payload, ctx.deliveryCount, ctx.streamSeq));
        if (!ctx.lastDelivery) return { nak: 10, reason: 'lease_busy' };
        onLast.resolve();
        await unblock.promise; // ignores the abort: runs past the stop deadline
        return undefined;
      },
      settled,
    );
    await r.start();
    await pub.publish(subject, { accountId: 'rq4' }, { msgId: 'rq4:1' });
    await onLast.promise;
    await r.stop(200);
    unblock.resolve(); // its late result is ignored: the message was settled at the deadline
    expect(settled.at(-1)).toMatchObject({ outcome: 'requeue', requeue: 'requeued', reason: 'shutdown_deadline', deliveryCount: 3 });
    expect(await dlqCount()).toBe(0);

    // The next worker gets it as a fresh command.
    const after: Seen[] = [];
    const r2 = runner(
      h.topology.priorityWorkers.mono,
      (m, ctx) => void after.push(seen(m, ctx.payload, ctx.deliveryCount, ctx.streamSeq)),
      [],
    );
    await r2.start();
    await waitFor(() => after.length >= 1, 'redelivered to the next worker');
    expect(after[0]).toMatchObject({ accountId: 'rq4', deliveryCount: 1, requeueReason: 'shutdown_deadline', requeueCount: '1' });
    expect(await requeues('shutdown_deadline', 'requeued')).toBe(1);
  });

  it('a handler that gives up on the abort signal on its last delivery is requeued (reason shutdown)', async () => {
    const subject = h.topology.commandSubject('momo', 'rq5', 'priority');
    const settled: SettledEvent[] = [];
    const onLast = deferred();
    const r = runner(
      h.topology.priorityWorkers.momo,
      async (_m, ctx) => {
        if (!ctx.lastDelivery) return { nak: 10, reason: 'lease_busy' };
        onLast.resolve();
        await new Promise<void>((res) => ctx.signal.addEventListener('abort', () => res(), { once: true }));
        throw ctx.signal.reason;
      },
      settled,
    );
    await r.start();
    await pub.publish(subject, { accountId: 'rq5' }, { msgId: 'rq5:1' });
    await onLast.promise;
    await r.stop(5_000);
    expect(settled.at(-1)).toMatchObject({ outcome: 'requeue', requeue: 'requeued', reason: 'shutdown', deliveryCount: 3 });
    const stored = await h.jsm.streams.getMessage(h.topology.streams.commands.name, { last_by_subj: subject });
    expect(stored?.header.get(REQUEUE_HEADERS.reason)).toBe('shutdown');
    expect(stored?.json()).toEqual({ accountId: 'rq5' });
    expect(await dlqCount()).toBe(0);
  });
});
