import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { createLogger } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  connectNats,
  createTopology,
  deleteTopology,
  DLQ_HEADERS,
  ensureTopology,
  NORMAL_DELIVERY,
  Publisher,
  SuspectIsolation,
  type Topology,
} from '@intellifin/messaging';
import { RedisDeliveryJournal } from '@intellifin/persistence';
import { createTestRedis, infrastructureUrls, uniqueSuffix, waitFor, type TestRedis } from '@intellifin/testing';

/**
 * Crash-loop isolation across real processes (NATS, Redis): a command that SIGKILLs every process
 * handling it is dead-lettered as `crash_loop`, and the commands that were in flight beside it
 * when it struck (and died with it) run alone afterwards and are acked, never dead-lettered.
 */
const ROOT = join(__dirname, '..', '..', '..');
const FIXTURE = join(__dirname, 'fixtures', 'crashing-worker.ts');
const INNOCENT = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'];
const CRASH_STRIKES = 2;

interface Line {
  kind: 'START' | 'DONE';
  id: string;
  deliveryCount: number;
  others: number;
}

describe('crash-loop isolation (real NATS and Redis, worker processes)', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let topology: Topology;
  let r: TestRedis;
  const children = new Set<ChildProcess>();
  const lines: Line[] = [];
  let spawned = 0;
  let stopping = false;

  beforeAll(async () => {
    nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'crash-isolation-test' });
    jsm = await jetstreamManager(nc);
    // MaxDeliver 6: the culprit needs 1 + CRASH_STRIKES deaths and one more delivery to be judged.
    topology = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: 1_500, maxDeliver: 6 });
    await ensureTopology(jsm, topology);
    r = createTestRedis();
  });
  afterAll(async () => {
    stopping = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await deleteTopology(jsm, topology).catch(() => undefined);
    await nc.close();
    await r.cleanup();
  });

  /** Starts a worker process and, like an orchestrator, starts a new one whenever it dies (bounded). */
  function supervise(): void {
    if (stopping || spawned >= 12) return;
    spawned++;
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: infrastructureUrls().natsUrl,
        REDIS_URL: infrastructureUrls().redisUrl,
        JOURNAL_PREFIX: r.prefix,
        MSG_NAMESPACE: topology.namespace!,
        MSG_ACK_WAIT_MS: String(topology.ackWaitMs),
        MSG_MAX_DELIVER: String(topology.maxDeliver),
        CRASH_STRIKES: String(CRASH_STRIKES),
        WORK_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        const m = /^(START|DONE) (\S+) (\d+)(?: (\d+))?$/.exec(l);
        if (m) lines.push({ kind: m[1] as Line['kind'], id: m[2]!, deliveryCount: Number(m[3]), others: Number(m[4] ?? 0) });
      }
    });
    child.once('exit', () => {
      children.delete(child);
      setTimeout(supervise, 200).unref();
    });
  }

  it('dead-letters the command that kills its process and acks every command that died beside it', async () => {
    const pub = new Publisher({ nc, topology });
    // The culprit last: it starts as the first four innocent commands finish, while the other
    // three run beside it, so its first crash takes innocent commands with it.
    for (const id of [...INNOCENT, 'poison'])
      await pub.publish(topology.commandSubject('mono', id), { accountId: id }, { msgId: `${id}:1` });
    supervise();

    const dlqSubject = topology.deadLetterSubject(topology.commandSubject('mono', 'poison'));
    await waitFor(
      async () => {
        const done = new Set(lines.filter((l) => l.kind === 'DONE').map((l) => l.id));
        if (!INNOCENT.every((id) => done.has(id))) return false;
        const dl = await jsm.streams.getMessage(topology.streams.deadLetters.name, { last_by_subj: dlqSubject }).catch(() => null);
        return dl !== null;
      },
      'every innocent command done and the culprit dead-lettered',
      60_000,
      200,
    );

    const dl = await jsm.streams.getMessage(topology.streams.deadLetters.name, { last_by_subj: dlqSubject });
    expect(dl!.header.get(DLQ_HEADERS.errorCode)).toBe('crash_loop');
    expect(dl!.header.get(DLQ_HEADERS.source)).toBe('runner');

    // Nothing but the culprit in the DLQ, and nothing left pending.
    const dlq = await jsm.streams.info(topology.streams.deadLetters.name);
    expect(dlq.state.messages).toBe(1);
    await waitFor(async () => {
      const [bulk, prio] = await Promise.all([
        jsm.consumers.info(topology.streams.commands.name, topology.workers.mono.config.durable_name),
        jsm.consumers.info(topology.streams.commands.name, topology.priorityWorkers.mono.config.durable_name),
      ]);
      return bulk.num_pending + bulk.num_ack_pending + prio.num_pending + prio.num_ack_pending === 0;
    }, 'both lanes drained');

    const poisonStarts = lines.filter((l) => l.kind === 'START' && l.id === 'poison');
    // First delivery (beside others), then CRASH_STRIKES deaths while alone; the next delivery is judged without running.
    expect(poisonStarts).toHaveLength(1 + CRASH_STRIKES);
    // Every redelivery of the culprit ran with nothing else running in its process.
    expect(poisonStarts.slice(1).map((l) => l.others)).toEqual(Array(CRASH_STRIKES).fill(0));
    // The first crash took innocent commands with it, and they ran again (alone) and finished.
    const redone = lines.filter((l) => l.kind === 'DONE' && INNOCENT.includes(l.id) && l.deliveryCount > 1);
    expect(redone.length).toBeGreaterThan(0);
    expect(
      lines
        .filter((l) => l.kind === 'DONE' && INNOCENT.includes(l.id))
        .map((l) => l.id)
        .sort(),
    ).toEqual(expect.arrayContaining(INNOCENT));
    // The journal holds nothing for settled deliveries.
    expect(await r.redis.keys(`${r.prefix}delivery:*`)).toEqual([]);
  }, 90_000);
});

describe('crash-loop isolation without its journal', () => {
  it('handles a delivery as normal when Redis cannot be reached (MaxDeliver stays the safety net)', async () => {
    const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'crash-isolation-test-2' });
    const jsm = await jetstreamManager(nc);
    const topology = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: 1_500, maxDeliver: 6 });
    await ensureTopology(jsm, topology);
    // Nothing listens on port 1: every journal call fails at once.
    const deadRedis = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    try {
      const pub = new Publisher({ nc, topology });
      await pub.publish(topology.commandSubject('mono', 'x1'), { accountId: 'x1' }, { msgId: 'x1:1' });
      const consumer = await jetstream(nc).consumers.get(topology.streams.commands.name, topology.workers.mono.config.durable_name);
      const m = await consumer.next({ expires: 5_000 });
      const isolation = new SuspectIsolation({
        journal: new RedisDeliveryJournal(deadRedis),
        logger: createLogger({ service: 't', level: 'silent' }),
      });
      expect(await isolation.classify('mono-worker', m!)).toEqual(NORMAL_DELIVERY);
      // Noting and forgetting fail quietly too: the delivery goes on.
      await expect(isolation.noteStart(m!, NORMAL_DELIVERY)).resolves.toBeUndefined();
      await expect(isolation.forget(m!)).resolves.toBeUndefined();
      m!.ack();
    } finally {
      deadRedis.disconnect();
      await deleteTopology(jsm, topology).catch(() => undefined);
      await nc.close();
    }
  });
});
