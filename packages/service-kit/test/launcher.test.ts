import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, createTopology, deleteTopology, jetstreamManager } from '@intellifin/messaging';
import { createTestDatabase, infrastructureUrls, uniqueSuffix, waitFor, type TestDatabase } from '@intellifin/testing';
import { refusedPort } from './helpers';

/**
 * `npm start` (tsx scripts/start.ts) as a new user runs it: on a throw-away database, with the
 * sandboxes on free ports, health servers on free ports and its own JetStream namespace.
 */
const ROOT = join(__dirname, '..', '..', '..');
const TSX_CLI = require.resolve('tsx/cli');
// The services the launcher runs: those with a src/main.ts (as it finds them).
const SERVICES = readdirSync(join(ROOT, 'services'))
  .filter((s) => existsSync(join(ROOT, 'services', s, 'src', 'main.ts')))
  .sort();

/** Start time (clock ticks since boot) of a live process, or undefined when there is none. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Every live process: pid → { ppid, pgid, start }. */
function processTable(): Map<number, { ppid: number; pgid: number; start: string }> {
  const table = new Map<number, { ppid: number; pgid: number; start: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(f[1]), pgid: Number(f[2]), start: f[19]! });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

function descendants(root: number): Map<number, string> {
  const table = processTable();
  const out = new Map<number, string>();
  let frontier = [root];
  while (frontier.length) {
    const next: number[] = [];
    for (const [pid, p] of table) {
      if (!frontier.includes(p.ppid) || out.has(pid)) continue;
      out.set(pid, p.start);
      next.push(pid);
    }
    frontier = next;
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '(gone)';
  }
}

/**
 * Waits (bounded) until none of `tree` is alive: helpers such as esbuild's service process end
 * on their own once their parent is gone, a moment after it. Fails listing what is left.
 */
async function expectAllGone(tree: Map<number, string>, what: string): Promise<void> {
  const alive = () => [...tree].filter(([pid, start]) => startTime(pid) === start).map(([pid]) => `${pid} ${cmdline(pid)}`);
  await waitFor(() => alive().length === 0, what, 15_000).catch(() => {
    throw new Error(`still running after ${what}:\n${alive().join('\n')}`);
  });
}

describe('npm start (scripts/start.ts)', () => {
  let db: TestDatabase;
  const namespace = `start${uniqueSuffix(3)}`;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      REDIS_URL: infrastructureUrls().redisUrl,
      NATS_URL: infrastructureUrls().natsUrl,
      NATS_NAMESPACE: namespace,
      HEALTH_PORT: '0',
      MONO_BASE_URL: 'http://127.0.0.1:0',
      MOMO_BASE_URL: 'http://127.0.0.1:0',
      AIRTEL_BASE_URL: 'http://127.0.0.1:0',
      ONESIGNAL_BASE_URL: 'http://127.0.0.1:0',
      START_STOP_GRACE_MS: '20000',
      LOG_LEVEL: 'info',
    };
  });
  afterAll(async () => {
    const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'launcher-test-cleanup' });
    await deleteTopology(await jetstreamManager(nc), createTopology({ namespace }));
    await nc.close();
    await db.drop();
  });

  it('exits non-zero naming the service when a service cannot start, leaving nothing running', async () => {
    const dead = await refusedPort();
    const launcher = spawn(process.execPath, [TSX_CLI, 'scripts/start.ts'], {
      cwd: ROOT,
      env: { ...env, NATS_URL: `nats://127.0.0.1:${dead}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    launcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    launcher.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const tree = new Map<number, string>();
    const sample = setInterval(() => descendants(launcher.pid!).forEach((s, p) => tree.set(p, s)), 100);
    const exit = await waitFor(
      () => (launcher.exitCode !== null || launcher.signalCode !== null ? { code: launcher.exitCode } : undefined),
      'the launcher to exit after its services failed',
      120_000,
    );
    clearInterval(sample);
    expect(exit.code).not.toBe(0);
    expect(err).toMatch(new RegExp(`start: (${SERVICES.join('|')}) exited with code 1; stopping everything`));
    expect(err).toMatch(new RegExp(`\\[(${SERVICES.join('|')})\\] \\1: cannot reach NATS at 127\\.0\\.0\\.1:${dead} \\(NATS_URL\\)`));
    const pids = [...out.matchAll(/"pid":(\d+),"msg":"service started"/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(SERVICES.length);
    // Nothing the launcher started is alive (same pid and start time).
    await expectAllGone(tree, 'the launcher exited');
  });

  it('SIGTERM stops the whole tree: every service exits and no process of it survives', async () => {
    const launcher = spawn(process.execPath, [TSX_CLI, 'scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    launcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    launcher.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    try {
      await waitFor(() => (out.match(/"msg":"service ready"/g) ?? []).length === SERVICES.length, 'every service ready', 120_000);
      const pids = [...out.matchAll(/"service":"([a-z-]+)","pid":(\d+),"msg":"service started"/g)].map((m) => Number(m[2]));
      expect(pids).toHaveLength(SERVICES.length);
      const tree = descendants(launcher.pid!);
      for (const pid of pids) expect(tree.has(pid)).toBe(true);

      launcher.kill('SIGTERM');
      const exit = await waitFor(
        () => (launcher.exitCode !== null || launcher.signalCode !== null ? { code: launcher.exitCode } : undefined),
        'the launcher to exit after SIGTERM',
        60_000,
      );
      expect(exit.code).toBe(0);
      // Each service shut down on its own (no SIGKILL needed), and nothing of the tree is left:
      // neither a process of it nor any member of a service's process group.
      expect(out.match(/"msg":"shutdown complete"/g)).toHaveLength(SERVICES.length);
      expect(out).toContain('"killed":[]');
      expect([...processTable().values()].filter((p) => pids.includes(p.pgid))).toEqual([]);
      await expectAllGone(tree, 'the launcher exited on SIGTERM');
    } finally {
      if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGKILL');
    }
  });
});
