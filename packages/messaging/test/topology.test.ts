import { RetentionPolicy } from '@nats-io/jetstream';
import { ValidationError } from '@intellifin/core';
import { infrastructureUrls, uniqueSuffix } from '@intellifin/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  connectNats,
  createTopology,
  deleteTopology,
  ensureStream,
  ensureTopology,
  jsonCodec,
  Publisher,
  DEFAULT_TOPOLOGY,
  laneOf,
  nanosFromMs,
} from '../src';
import { harness, metricValue, silentLogger, type Harness } from './helpers';

describe('topology as data', () => {
  it('production topology: names, subjects and 2.9-compatible settings', () => {
    const t = DEFAULT_TOPOLOGY;
    expect(t.streams.commands).toMatchObject({
      name: 'SYNC_CMDS',
      subjects: ['sync.cmd.*.*', 'sync.cmd.*.*.priority'],
      retention: RetentionPolicy.Workqueue,
      storage: 'file',
      discard: 'old',
      max_msgs_per_subject: 1,
      duplicate_window: nanosFromMs(10 * 60_000),
      max_age: nanosFromMs(24 * 3600_000),
    });
    expect(t.streams.events).toMatchObject({ name: 'SYNC_EVENTS', subjects: ['sync.evt.>'], retention: RetentionPolicy.Limits });
    expect(t.streams.deadLetters).toMatchObject({ name: 'SYNC_DLQ', subjects: ['sync.dlq.>'], max_age: nanosFromMs(30 * 24 * 3600_000) });
    expect(t.streams.advisories.subjects).toEqual([
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.SYNC_CMDS.*',
      '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.SYNC_CMDS.*',
    ]);
    expect(t.workers.mono).toEqual({
      stream: 'SYNC_CMDS',
      config: expect.objectContaining({
        durable_name: 'mono-worker',
        filter_subject: 'sync.cmd.mono.*',
        ack_policy: 'explicit',
        ack_wait: nanosFromMs(60_000),
        max_deliver: 15,
        max_ack_pending: 1000,
      }),
    });
    expect(t.workers.momo.config.durable_name).toBe('momo-worker');
    expect(t.workers.airtel.config.filter_subject).toBe('sync.cmd.airtel.*');
    expect(t.priorityWorkers.mono).toEqual({
      stream: 'SYNC_CMDS',
      config: expect.objectContaining({
        durable_name: 'mono-worker-priority',
        filter_subject: 'sync.cmd.mono.*.priority',
        ack_policy: 'explicit',
        ack_wait: nanosFromMs(60_000),
        max_deliver: 15,
      }),
    });
    expect(t.laneConsumer('airtel', 'priority')).toBe(t.priorityWorkers.airtel);
    expect(t.laneConsumer('airtel', 'bulk')).toBe(t.workers.airtel);
    for (const w of [...Object.values(t.workers), ...Object.values(t.priorityWorkers)]) {
      expect(w.config).not.toHaveProperty('backoff');
      expect(w.config).not.toHaveProperty('filter_subjects');
    }
  });

  it('namespaces stream names and subjects, and builds/parses subjects', () => {
    const t = createTopology({ namespace: 't1a2b', ackWaitMs: 1500, maxDeliver: 3 });
    expect(t.streams.commands.name).toBe('SYNC_CMDS_t1a2b');
    expect(t.streams.deadLetters.name).toBe('SYNC_DLQ_t1a2b');
    expect(t.streams.advisories.subjects[0]).toBe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.SYNC_CMDS_t1a2b.*');
    expect(t.workers.momo.config).toMatchObject({ filter_subject: 't1a2b.sync.cmd.momo.*', ack_wait: 1_500_000_000, max_deliver: 3 });
    const s = t.commandSubject('momo', 'acc_1-X');
    expect(s).toBe('t1a2b.sync.cmd.momo.acc_1-X');
    expect(t.parseCommandSubject(s)).toEqual({ provider: 'momo', accountId: 'acc_1-X', lane: 'bulk' });
    const p = t.commandSubject('momo', 'acc_1-X', 'priority');
    expect(p).toBe('t1a2b.sync.cmd.momo.acc_1-X.priority');
    expect(t.parseCommandSubject(p)).toEqual({ provider: 'momo', accountId: 'acc_1-X', lane: 'priority' });
    expect(t.commandFilter('momo', 'priority')).toBe('t1a2b.sync.cmd.momo.*.priority');
    expect(t.priorityWorkers.momo.config.filter_subject).toBe(t.commandFilter('momo', 'priority'));
    expect(t.subjectKind(p)).toBe('cmd');
    expect(t.deadLetterSubject(p)).toBe('t1a2b.sync.dlq.sync.cmd.momo.acc_1-X.priority');
    // An account may be called "priority": its bulk subject has four tokens and stays bulk.
    expect(t.parseCommandSubject(t.commandSubject('mono', 'priority'))).toEqual({ provider: 'mono', accountId: 'priority', lane: 'bulk' });
    expect(t.tryParseCommandSubject('t1a2b.sync.cmd.momo.acc.urgent')).toBeUndefined();
    expect(t.tryParseCommandSubject('sync.cmd.momo.acc')).toBeUndefined(); // not this namespace
    expect(t.eventSubject('auth', 'mono', 'a1')).toBe('t1a2b.sync.evt.auth.mono.a1');
    expect(t.parseEventSubject('t1a2b.sync.evt.run.airtel.a1')).toEqual({ kind: 'run', provider: 'airtel', accountId: 'a1' });
    expect(t.deadLetterSubject(s)).toBe('t1a2b.sync.dlq.sync.cmd.momo.acc_1-X');
    expect(t.subjectKind(s)).toBe('cmd');
    expect(t.subjectKind('t1a2b.sync.evt.run.mono.a')).toBe('evt.run');
  });

  it('rejects account ids that are not subject-safe tokens, and unknown providers', () => {
    const t = createTopology();
    for (const bad of ['a.b', 'a*', '>', 'a b', '', 'x'.repeat(129), 'ä']) {
      expect(() => t.commandSubject('mono', bad)).toThrow(ValidationError);
    }
    expect(() => t.commandSubject('mtn' as never, 'a')).toThrow(ValidationError);
    expect(() => t.parseCommandSubject('sync.cmd.mono.a.b')).toThrow(ValidationError);
    expect(() => createTopology({ namespace: 'Bad.NS' })).toThrow(ValidationError);
    expect(() => t.commandSubject('mono', 'a', 'urgent' as never)).toThrow(/lane/);
  });

  it('routes manual and webhook triggers to the priority lane, everything else to bulk', () => {
    const t = createTopology({ namespace: 'lanes1' });
    expect(laneOf('manual')).toBe('priority');
    expect(laneOf('webhook')).toBe('priority');
    expect(laneOf('scheduled')).toBe('bulk');
    expect(laneOf('stale_recovery')).toBe('bulk');
    const base = { provider: 'airtel' as const, accountId: 'acc9' };
    expect(t.commandSubjectFor({ ...base, trigger: 'manual' })).toBe('lanes1.sync.cmd.airtel.acc9.priority');
    expect(t.commandSubjectFor({ ...base, trigger: 'webhook' })).toBe('lanes1.sync.cmd.airtel.acc9.priority');
    expect(t.commandSubjectFor({ ...base, trigger: 'scheduled' })).toBe('lanes1.sync.cmd.airtel.acc9');
  });
});

describe('ensureTopology, publish dedup and coalescing (real NATS)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ ackWaitMs: 2_000 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('is idempotent: again, and twice at once from two connections', async () => {
    await ensureTopology(h.jsm, h.topology);
    const nc2 = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'second-process' });
    try {
      const jsm2 = await jetstreamManager(nc2);
      await Promise.all([ensureTopology(h.jsm, h.topology), ensureTopology(jsm2, h.topology)]);
    } finally {
      await nc2.close();
    }
    const consumers: string[] = [];
    for await (const c of h.jsm.consumers.list(h.topology.streams.commands.name)) consumers.push(c.name);
    expect(consumers.sort()).toEqual([
      'airtel-worker',
      'airtel-worker-priority',
      'momo-worker',
      'momo-worker-priority',
      'mono-worker',
      'mono-worker-priority',
    ]);
    const si = await h.jsm.streams.info(h.topology.streams.commands.name);
    expect(si.config).toMatchObject({ retention: 'workqueue', max_msgs_per_subject: 1, duplicate_window: nanosFromMs(600_000) });
  });

  it('updates an existing SYNC_CMDS from before the lanes in place: queued commands kept, priority consumers added', async () => {
    const t = createTopology({ namespace: `t${uniqueSuffix()}` });
    const cmds = t.streams.commands.name;
    // The stream and consumers as the previous release created them.
    await h.jsm.streams.add({ ...t.streams.commands, subjects: [`${t.namespace!}.sync.cmd.*.*`] });
    await h.jsm.consumers.add(cmds, t.workers.mono.config);
    try {
      const pub = new Publisher({ nc: h.nc, topology: t });
      const old = await pub.publish(t.commandSubject('mono', 'queued1'), { n: 1 }, { msgId: 'queued1:1' });
      await expect(pub.publish(t.commandSubject('mono', 'p1', 'priority'), { n: 2 })).rejects.toMatchObject({ code: 'publish_no_stream' });

      await ensureTopology(h.jsm, t);

      const si = await h.jsm.streams.info(cmds);
      expect(si.config.subjects).toEqual(t.streams.commands.subjects);
      expect(si.state.messages).toBe(1); // the queued command survived the update
      const stored = await h.jsm.streams.getMessage(cmds, { seq: old.seq });
      expect(stored?.json()).toEqual({ n: 1 });
      const prio = await pub.publish(t.commandSubject('mono', 'p1', 'priority'), { n: 2 });
      expect(prio.stream).toBe(cmds);
      const ci = await h.jsm.consumers.info(cmds, 'mono-worker-priority');
      expect(ci.config.filter_subject).toBe(t.commandFilter('mono', 'priority'));
      expect(ci.num_pending).toBe(1); // the priority command, not the bulk one
      expect((await h.jsm.consumers.info(cmds, 'mono-worker')).num_pending).toBe(1); // the bulk one only
    } finally {
      await deleteTopology(h.jsm, t);
    }
  });

  it('a stream whose subjects another stream already owns is refused, not retried forever', async () => {
    const t = createTopology({ namespace: `t${uniqueSuffix()}` });
    const squatter = `SQUAT_${t.namespace!}`;
    await h.jsm.streams.add({ name: squatter, subjects: [`${t.namespace!}.sync.cmd.>`] });
    try {
      await expect(ensureStream(h.jsm, t.streams.commands)).rejects.toMatchObject({ code: 10065 });
      await expect(h.jsm.streams.info(t.streams.commands.name)).rejects.toThrow(/not found/i);
    } finally {
      await h.jsm.streams.delete(squatter);
    }
  });

  it('brand-new namespace ensured by two processes at once', async () => {
    const t = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: 1_000 });
    const [a, b] = await Promise.all([
      connectNats({ servers: infrastructureUrls().natsUrl, name: 'p1' }),
      connectNats({ servers: infrastructureUrls().natsUrl, name: 'p2' }),
    ]);
    try {
      const [ja, jb] = await Promise.all([jetstreamManager(a), jetstreamManager(b)]);
      await Promise.all([ensureTopology(ja, t), ensureTopology(jb, t), ensureTopology(ja, t)]);
      const ci = await ja.consumers.info(t.streams.commands.name, 'airtel-worker');
      expect(ci.config.ack_wait).toBe(1_000_000_000);
      // A changed definition is applied in place at the next start-up.
      const t2 = createTopology({ namespace: t.namespace!, ackWaitMs: 3_000, maxDeliver: 4, eventMaxAgeMs: 3_600_000 });
      await ensureTopology(jb, t2);
      const ci2 = await ja.consumers.info(t.streams.commands.name, 'airtel-worker');
      expect(ci2.config).toMatchObject({ ack_wait: 3_000_000_000, max_deliver: 4 });
      expect((await ja.streams.info(t.streams.events.name)).config.max_age).toBe(nanosFromMs(3_600_000));
    } finally {
      await deleteTopology(await jetstreamManager(a), t);
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('publish with the same msgID is a duplicate; metrics count it', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology, registry: h.registry, logger: silentLogger() });
    const subject = h.topology.commandSubject('mono', 'dedup1');
    const first = await pub.publish(subject, { accountId: 'dedup1', trigger: 'schedule' }, { msgId: 'dedup1:42' });
    const again = await pub.publish(subject, { accountId: 'dedup1', trigger: 'schedule' }, { msgId: 'dedup1:42' });
    expect(first).toMatchObject({ stream: h.topology.streams.commands.name, duplicate: false });
    expect(again).toEqual({ stream: first.stream, seq: first.seq, duplicate: true });
    expect(await metricValue(h.registry, 'intellifin_sync_messages_published_total', { kind: 'cmd', duplicate: 'true' })).toBe(1);
    expect(await metricValue(h.registry, 'intellifin_sync_messages_published_total', { kind: 'cmd', duplicate: 'false' })).toBe(1);
  });

  it('coalesces commands per account: two commands, one message, the newest wins', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology });
    const subject = h.topology.commandSubject('momo', 'coalesce1');
    await pub.publish(subject, { n: 1 }, { msgId: 'coalesce1:1' });
    const second = await pub.publish(subject, { n: 2 }, { msgId: 'coalesce1:manual-7' });
    await pub.publish(h.topology.commandSubject('momo', 'other'), { n: 3 }, { msgId: 'other:1' });
    const si = await h.jsm.streams.info(h.topology.streams.commands.name, { subjects_filter: h.topology.commandFilter('momo') });
    expect(si.state.subjects).toEqual({ [subject]: 1, [h.topology.commandSubject('momo', 'other')]: 1 });
    const stored = await h.jsm.streams.getMessage(h.topology.streams.commands.name, { last_by_subj: subject });
    expect(stored?.seq).toBe(second.seq);
    expect(stored?.json()).toEqual({ n: 2 });
  });

  it('validates payloads with the caller schema before publishing', async () => {
    const parse = (d: unknown): { accountId: string } => {
      if (typeof d !== 'object' || d === null || typeof (d as { accountId?: unknown }).accountId !== 'string')
        throw new Error('accountId required');
      return { accountId: (d as { accountId: string }).accountId };
    };
    const pub = new Publisher({ nc: h.nc, topology: h.topology });
    const subject = h.topology.commandSubject('airtel', 'val1');
    await expect(pub.publish(subject, { nope: 1 } as never, { codec: jsonCodec(parse) })).rejects.toThrow(ValidationError);
    expect(await h.jsm.streams.getMessage(h.topology.streams.commands.name, { last_by_subj: subject })).toBeNull();
    const ok = await pub.publish(subject, { accountId: 'val1', extra: 'dropped' } as never, { codec: jsonCodec(parse) });
    const stored = await h.jsm.streams.getMessage(h.topology.streams.commands.name, { seq: ok.seq });
    expect(stored?.json()).toEqual({ accountId: 'val1' });
    expect(stored?.header.get('Content-Type')).toBe('application/json');
  });
});
