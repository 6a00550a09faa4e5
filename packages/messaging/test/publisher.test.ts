import { RetryableError, ValidationError } from '@intellifin/core';
import { infrastructureUrls } from '@intellifin/testing';
import { connectNats, jsonCodec, JS_WRONG_LAST_SEQUENCE, Publisher, PublishRejectedError } from '../src';
import { harness, metricValue, silentLogger, type Harness } from './helpers';

/** Publishing: every message's fate comes from its own PubAck (stored, duplicate, rejected, none). */
describe('Publisher', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  const parse = (d: unknown): { n: number } => {
    if (typeof (d as { n?: unknown })?.n !== 'number') throw new Error('n must be a number');
    return { n: (d as { n: number }).n };
  };

  it('publishBatch stores every message, answers in input order, and fails only the invalid item', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology, registry: h.registry, logger: silentLogger() });
    const items = Array.from({ length: 300 }, (_, i) => ({
      subject: h.topology.commandSubject('mono', `batch${i}`),
      payload: { n: i },
      msgId: `batch${i}:1`,
    }));
    items[7] = { ...items[7]!, payload: { n: 'seven' } as never };
    const results = await pub.publishBatch(items, jsonCodec(parse));

    expect(results).toHaveLength(300);
    expect(results[7]).toMatchObject({ status: 'rejected', reason: expect.any(ValidationError) });
    const stored = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    expect(stored).toHaveLength(299);
    expect(stored.every((a) => a.stream === h.topology.streams.commands.name && !a.duplicate)).toBe(true);
    expect(new Set(stored.map((a) => a.seq)).size).toBe(299);
    // Input order: the ack at position i is the message of subject i.
    for (const i of [0, 150, 299]) {
      const r = results[i]!;
      if (r.status !== 'fulfilled') throw new Error(`item ${i} failed`);
      const msg = await h.jsm.streams.getMessage(h.topology.streams.commands.name, { seq: r.value.seq });
      expect(msg?.subject).toBe(items[i]!.subject);
      expect(msg?.json()).toEqual({ n: i });
      expect(msg?.header.get('Nats-Msg-Id')).toBe(`batch${i}:1`);
    }
    expect(await h.jsm.streams.getMessage(h.topology.streams.commands.name, { last_by_subj: items[7]!.subject })).toBeNull();

    // The same batch again: every stored message is a duplicate, nothing new is stored.
    const info = await h.jsm.streams.info(h.topology.streams.commands.name);
    const again = await pub.publishBatch(
      items.filter((_, i) => i !== 7),
      jsonCodec(parse),
    );
    expect(again.every((r) => r.status === 'fulfilled' && r.value.duplicate)).toBe(true);
    expect((await h.jsm.streams.info(h.topology.streams.commands.name)).state.last_seq).toBe(info.state.last_seq);
    expect(await metricValue(h.registry, 'intellifin_sync_messages_published_total', { kind: 'cmd', duplicate: 'false' })).toBe(299);
    expect(await metricValue(h.registry, 'intellifin_sync_messages_published_total', { kind: 'cmd', duplicate: 'true' })).toBe(299);
  });

  it('an expected last subject sequence that does not hold is rejected with JetStream’s code', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology });
    const subject = h.topology.commandSubject('momo', 'expect1');
    const first = await pub.publish(subject, { n: 1 });
    const stale = pub.publish(subject, { n: 2 }, { expectLastSubjectSequence: first.seq + 1000 });
    await expect(stale).rejects.toBeInstanceOf(PublishRejectedError);
    await expect(stale).rejects.toMatchObject({ errCode: JS_WRONG_LAST_SEQUENCE, kind: 'retryable' });
    const ok = await pub.publish(subject, { n: 3 }, { expectLastSubjectSequence: first.seq });
    expect(ok.seq).toBeGreaterThan(first.seq);
    expect((await h.jsm.streams.getMessage(h.topology.streams.commands.name, { last_by_subj: subject }))?.json()).toEqual({ n: 3 });
  });

  it('a subject no stream captures fails at once as retryable (no responders)', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology, timeoutMs: 30_000 });
    const err = await pub.publish(`${h.topology.namespace}.nowhere.x`, { n: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect(err).toMatchObject({ code: 'publish_no_stream' });
  });

  it('a publish whose PubAck never comes fails after the timeout; a closed connection fails what is pending', async () => {
    // A plain subscriber (not a stream) takes the message and never answers.
    const subject = `${h.topology.namespace}.silent.x`;
    const silent = h.nc.subscribe(subject);
    await h.nc.flush();
    try {
      const pub = new Publisher({ nc: h.nc, topology: h.topology, timeoutMs: 200 });
      const [res] = await pub.publishBatch([{ subject, payload: { n: 1 } }]);
      expect(res).toMatchObject({ status: 'rejected', reason: { code: 'publish_timeout' } });

      const nc2 = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'publisher-close-test' });
      const pub2 = new Publisher({ nc: nc2, topology: h.topology, timeoutMs: 60_000 });
      const pending = pub2.publish(subject, { n: 2 });
      await nc2.flush();
      await nc2.close();
      await expect(pending).rejects.toMatchObject({ code: 'publish_connection_closed' });
    } finally {
      silent.unsubscribe();
    }
  });
});
