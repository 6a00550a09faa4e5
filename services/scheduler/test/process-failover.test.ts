import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { enqueueDueSync, serviceDatabaseUrl, setProviderEnabled } from '@intellifin/persistence';
import { infrastructureUrls, uniqueSuffix } from '@intellifin/testing';
import { readLease } from '../src/adapters/leader-lease.repo';
import { harness, seedAccount, seedOrg, waitFor, type Harness } from './helpers';

/**
 * Two real scheduler processes (src/main.ts) on one database and one JetStream namespace, with a
 * short leader lease. The leader is killed with SIGKILL — no shutdown hook runs, its lease is
 * simply never renewed — and the survivor must take over and dispatch what became due after the
 * kill, while nothing the dead leader published is published again.
 */
const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(__dirname, '..', 'src', 'main.ts');

interface Started {
  proc: ChildProcess;
  /** Log lines (JSON) the process wrote, for waiting on its milestones. */
  lines: string[];
}

function startScheduler(h: Harness, instanceId: string): Started {
  const child = spawn(process.execPath, ['--stack-trace-limit=0', '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: serviceDatabaseUrl(h.db.url, 'intellifin_scheduler'),
      REDIS_URL: infrastructureUrls().redisUrl,
      NATS_URL: infrastructureUrls().natsUrl,
      NATS_NAMESPACE: h.topology.namespace,
      MIGRATE_ON_START: 'false',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'info',
      SCHEDULER_INSTANCE_ID: instanceId,
      SCHEDULER_TICK_MS: '200',
      LEADER_LEASE_TTL_MS: '1500',
      LEADER_POLL_MS: '250',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[${instanceId}] ${d}`));
  return { proc: child, lines };
}

describe('leader failover between processes', () => {
  let h: Harness;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    h = await harness(new Date());
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await h.close();
  });

  it('a SIGKILLed leader is replaced within the lease TTL and nothing is lost or doubled', async () => {
    // Only the syncs enqueued below exist: every plan is off, so the wall clock cannot add any.
    for (const p of ['mono', 'momo', 'airtel'] as const) await setProviderEnabled(h.pool, p, false);
    const org = await seedOrg(h.pool);
    const before: string[] = [];
    const after: string[] = [];
    for (let i = 0; i < 20; i++) before.push(await seedAccount(h.pool, org, i % 2 ? 'mono' : 'momo'));
    for (let i = 0; i < 20; i++) after.push(await seedAccount(h.pool, org, i % 2 ? 'mono' : 'airtel'));
    const enqueue = async (ids: string[], provider: (i: number) => 'mono' | 'momo' | 'airtel', slot: Date) => {
      for (const [i, accountId] of ids.entries()) {
        await enqueueDueSync(h.pool, {
          accountId,
          orgId: org,
          provider: provider(i),
          dueAt: new Date(Date.now() - 1000),
          plannedSlot: slot,
          mode: 'transactions',
          trigger: 'scheduled',
        });
      }
    };
    await enqueue(before, (i) => (i % 2 ? 'mono' : 'momo'), new Date('2026-03-23T06:00:00Z'));

    const a = `a-${uniqueSuffix(2)}`;
    const b = `b-${uniqueSuffix(2)}`;
    const { proc: procA } = startScheduler(h, a);
    children.push(procA);
    await waitFor(async () => (await readLease(h.pool, 'scheduler'))?.holder === a, 'a to lead', 30_000);
    await waitFor(async () => (await h.storedCommands()) === before.length, 'a to dispatch the first batch', 30_000);
    const epochA = (await readLease(h.pool, 'scheduler'))!.epoch;

    const { proc: procB, lines: linesB } = startScheduler(h, b);
    children.push(procB);
    // b is up and polling as a follower before the leader dies.
    await waitFor(() => linesB.some((l) => l.includes('"scheduler started"')), 'b to start', 30_000);
    expect((await readLease(h.pool, 'scheduler'))!.holder).toBe(a);
    procA.kill('SIGKILL');
    await new Promise((r) => procA.once('exit', r));

    await enqueue(after, (i) => (i % 2 ? 'mono' : 'airtel'), new Date('2026-03-23T07:00:00Z'));
    await waitFor(async () => (await readLease(h.pool, 'scheduler'))?.holder === b, 'b to take over', 30_000);
    await waitFor(async () => (await h.storedCommands()) === before.length + after.length, 'b to dispatch the second batch', 30_000);

    const lease = (await readLease(h.pool, 'scheduler'))!;
    expect(lease.epoch).toBe(epochA + 1n);
    // The pending syncs are deleted once published (right after the PubAcks: wait for it).
    await waitFor(
      async () => (await h.pool.query('SELECT count(*)::int AS n FROM sync_due')).rows[0].n === 0,
      'the published syncs to be cleared',
      30_000,
    );
    // One message per account in the stream, none re-published: SYNC_CMDS stored exactly 40.
    const info = await h.jsm.streams.info(h.topology.streams.commands.name);
    expect(Number(info.state.last_seq)).toBe(40);
    const subjects = new Set<string>();
    for (let seq = 1; seq <= 40; seq++) {
      const m = await h.jsm.streams.getMessage(h.topology.streams.commands.name, { seq });
      if (m) subjects.add(m.subject);
    }
    expect(subjects).toEqual(
      new Set(
        [...before, ...after].map((id, i) =>
          h.topology.commandSubject(i < 20 ? (i % 2 ? 'mono' : 'momo') : (i - 20) % 2 ? 'mono' : 'airtel', id),
        ),
      ),
    );
    procB.kill('SIGTERM');
    await new Promise((r) => procB.once('exit', r));
  });
});
