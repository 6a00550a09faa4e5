import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { infrastructureUrls } from '@intellifin/testing';
import {
  ConsumerRunner,
  DeadLetterWatcher,
  DLQ_HEADERS,
  jsonCodec,
  PubAckInbox,
  publishDeadLetter,
  Publisher,
  type DeadLetter,
} from '../src';
import { deferred, harness, metricValue, waitFor, type Harness } from './helpers';

const ROOT = join(__dirname, '..', '..', '..');

describe('a process killed mid-message (real NATS, child process)', () => {
  let h: Harness;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    h = await harness({ ackWaitMs: 1_500, maxDeliver: 5 });
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await h.close();
  });

  it('leaves the message to be redelivered to another consumer after the ack wait', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology });
    const { seq } = await pub.publish(h.topology.commandSubject('mono', 'crash1'), { accountId: 'crash1' }, { msgId: 'crash1:1' });

    const started = deferred<string>();
    let out = '';
    // `node --import tsx` rather than the tsx CLI: the CLI runs the script in a grandchild that
    // would survive a SIGKILL of the CLI process.
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'hanging-worker.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: infrastructureUrls().natsUrl,
        MSG_NAMESPACE: h.topology.namespace!,
        MSG_ACK_WAIT_MS: String(h.topology.ackWaitMs),
        MSG_MAX_DELIVER: String(h.topology.maxDeliver),
        MSG_PROVIDER: 'mono',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith('STARTED '));
      if (line) started.resolve(line);
    });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child!.once('exit', (_code, signal) => r(signal)));
    const line = await Promise.race([
      started.promise,
      exited.then(() => Promise.reject(new Error(`worker exited early: ${err}`))),
      new Promise<string>((_r, reject) => setTimeout(() => reject(new Error(`worker did not start: ${out} ${err}`)), 30_000).unref()),
    ]);
    expect(line).toBe(`STARTED ${seq} 1`);

    // The child holds the message (heartbeating): it is pending on the consumer, not available.
    const before = await h.jsm.consumers.info(h.topology.streams.commands.name, 'mono-worker');
    expect(before.num_ack_pending).toBe(1);
    expect(before.num_pending).toBe(0);

    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const got = deferred<{ seq: number; deliveryCount: number; accountId: string }>();
    const runner = new ConsumerRunner({
      nc: h.nc,
      js: h.js,
      topology: h.topology,
      consumer: h.topology.workers.mono,
      codec: jsonCodec<{ accountId: string }>(),
      logger: h.logger,
      handler: async (_m, ctx) => got.resolve({ seq: ctx.streamSeq, deliveryCount: ctx.deliveryCount, accountId: ctx.payload.accountId }),
    });
    await runner.start();
    try {
      expect(await got.promise).toEqual({ seq, deliveryCount: 2, accountId: 'crash1' });
      await waitFor(async () => (await h.jsm.streams.info(h.topology.streams.commands.name)).state.messages === 0, 'ack after redelivery');
    } finally {
      await runner.stop(2_000);
    }
  });
});

describe('DeadLetterWatcher (real NATS)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ ackWaitMs: 1_000, maxDeliver: 2 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('moves a message that hit max deliveries without any nak (never acked) to the DLQ and deletes it; a replaced one is left alone', async () => {
    const pub = new Publisher({ nc: h.nc, topology: h.topology });
    const cmds = h.topology.streams.commands.name;
    const subjA = h.topology.commandSubject('momo', 'hangA');
    const subjB = h.topology.commandSubject('momo', 'hangB');
    const a = await pub.publish(subjA, { accountId: 'hangA' }, { msgId: 'hangA:1', headers: { 'X-Trigger': 'schedule' } });
    await pub.publish(subjB, { accountId: 'hangB' }, { msgId: 'hangB:1' });

    // A "worker" that takes messages and never acks, nor naks: every delivery ends by ack-wait expiry.
    const consumer = await h.js.consumers.get(cmds, 'momo-worker');
    const deliveries: string[] = [];
    await waitFor(
      async () => {
        const m = await consumer.next({ expires: 1_000 });
        if (m) deliveries.push(`${m.subject.split('.').pop()}#${m.info.deliveryCount}`);
        return (await h.jsm.streams.info(h.topology.streams.advisories.name)).state.messages >= 2;
      },
      'two MAX_DELIVERIES advisories captured',
      30_000,
    );
    expect(deliveries.sort()).toEqual(['hangA#1', 'hangA#2', 'hangB#1', 'hangB#2']);
    // The poison messages stay in a WorkQueue stream after max deliveries.
    expect((await h.jsm.streams.getMessage(cmds, { seq: a.seq }))?.seq).toBe(a.seq);
    // Meanwhile a newer command for B replaces B's poison message (coalescing self-heals).
    const b2 = await pub.publish(subjB, { accountId: 'hangB', n: 2 }, { msgId: 'hangB:2' });

    const dead: DeadLetter[] = [];
    const outcomes: string[] = [];
    const watcher = new DeadLetterWatcher({
      nc: h.nc,
      js: h.js,
      jsm: h.jsm,
      topology: h.topology,
      logger: h.logger,
      registry: h.registry,
      onDeadLetter: (dl) => void dead.push(dl),
      onProcessed: (e) => void outcomes.push(e.outcome),
    });
    await watcher.start(); // started after the fact: the advisories were kept in the capture stream
    try {
      await waitFor(() => outcomes.length >= 2, 'both advisories processed');
    } finally {
      await watcher.stop();
    }
    expect(outcomes.sort()).toEqual(['dead_lettered', 'gone']);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      source: 'advisory',
      provider: 'momo',
      accountId: 'hangA',
      streamSeq: a.seq,
      deliveryCount: 2,
      errorCode: 'max_deliveries',
      consumer: 'momo-worker',
      dlqDuplicate: false,
    });

    const copy = await h.jsm.streams.getMessage(h.topology.streams.deadLetters.name, { last_by_subj: h.topology.deadLetterSubject(subjA) });
    expect(copy?.json()).toEqual({ accountId: 'hangA' });
    expect(copy?.header.get(DLQ_HEADERS.source)).toBe('advisory');
    expect(copy?.header.get(DLQ_HEADERS.reason)).toMatch(/max deliveries exceeded \(2\)/);
    expect(copy?.header.get(DLQ_HEADERS.originalSeq)).toBe(String(a.seq));
    expect(copy?.header.get('X-Trigger')).toBe('schedule');
    // The original is deleted from SYNC_CMDS; B's newer command is still there, untouched.
    expect(await h.jsm.streams.getMessage(cmds, { seq: a.seq })).toBeNull();
    const si = await h.jsm.streams.info(cmds, { subjects_filter: '>' });
    expect(si.state.subjects).toEqual({ [subjB]: 1 });
    expect((await h.jsm.streams.getMessage(cmds, { last_by_subj: subjB }))?.seq).toBe(b2.seq);
    expect(await metricValue(h.registry, 'intellifin_sync_dead_letters_total', { consumer: 'momo-worker', source: 'advisory' })).toBe(1);
  });

  it('copies one message to the DLQ once, whether the runner or the watcher (or both) copy it', async () => {
    const input = {
      source: 'runner' as const,
      reason: 'permanent error unknown_account:\r\n404',
      errorKind: 'permanent',
      errorCode: 'unknown_account',
      originalSubject: h.topology.commandSubject('airtel', 'twice1'),
      originalStream: h.topology.streams.commands.name,
      streamSeq: 987654,
      deliveryCount: 1,
      consumer: 'airtel-worker',
      data: new TextEncoder().encode('{"accountId":"twice1"}'),
      headers: undefined,
    };
    const acks = new PubAckInbox(h.nc);
    const first = await publishDeadLetter(acks, h.topology, input);
    const second = await publishDeadLetter(acks, h.topology, { ...input, source: 'advisory', reason: 'max deliveries exceeded' });
    expect(first).toMatchObject({ dlqDuplicate: false, provider: 'airtel', accountId: 'twice1' });
    expect(second).toMatchObject({ dlqDuplicate: true, dlqSeq: first.dlqSeq });
    const copy = await h.jsm.streams.getMessage(h.topology.streams.deadLetters.name, { seq: first.dlqSeq });
    expect(copy?.header.get(DLQ_HEADERS.reason)).toBe('permanent error unknown_account: 404'); // CR/LF cannot travel in headers
  });
});
