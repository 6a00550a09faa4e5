/**
 * The harness's own NATS, Redis and Postgres, on test ports in a temporary directory, so that a
 * nemesis can kill, pause and restart them without ever touching the shared servers on the
 * standard ports. Loopback only. Postgres runs as the `postgres` user (it refuses root).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CHAOS_PORTS } from '../config';

/** The newest PostgreSQL installed the Debian way (`/usr/lib/postgresql/<major>/bin`), the one CI starts. */
function newestPostgresBin(root = '/usr/lib/postgresql'): string {
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'pg_ctl'))) : [];
  if (!majors.length) throw new Error(`no PostgreSQL server binaries under ${root}/<major>/bin (the chaos harness runs its own cluster)`);
  return join(root, majors.sort((a, b) => Number(b) - Number(a))[0]!, 'bin');
}

const PG_BIN = newestPostgresBin();
const NATS_BIN = '/usr/sbin/nats-server';
const REDIS_BIN = '/usr/bin/redis-server';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function portOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/** A server the nemesis can kill -9, pause, resume and restart. */
export interface ManagedServer {
  readonly name: string;
  readonly port: number;
  pid(): number | undefined;
  start(): Promise<void>;
  kill9(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Orderly stop (the harness's teardown). */
  stop(): Promise<void>;
}

function signal(pid: number | undefined, sig: NodeJS.Signals): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number | undefined, ms: number): Promise<void> {
  if (!pid) return;
  const until = Date.now() + ms;
  while (Date.now() < until && alive(pid)) await sleep(50);
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server that is our direct child (nats-server, redis-server). */
class ChildServer implements ManagedServer {
  private child: ChildProcess | undefined;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
    private readonly logFile: string,
  ) {}
  pid() {
    return this.child?.pid;
  }
  async start() {
    if (await portOpen(this.port)) throw new Error(`${this.name}: port ${this.port} is already in use (a previous chaos run still up?)`);
    const out = openSync(this.logFile, 'a');
    this.child = spawn(this.command, this.args, { stdio: ['ignore', out, out], detached: true });
    this.child.unref();
    await waitFor(this.name, () => portOpen(this.port), 20_000);
  }
  async kill9() {
    const pid = this.pid();
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGKILL');
    await waitGone(pid, 5_000);
    this.child = undefined;
  }
  pause() {
    signal(this.pid(), 'SIGSTOP');
  }
  resume() {
    signal(this.pid(), 'SIGCONT');
  }
  async stop() {
    const pid = this.pid();
    if (!alive(pid)) return;
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGTERM');
    await waitGone(pid, 5_000);
    if (alive(pid)) await this.kill9();
    this.child = undefined;
  }
}

function asPostgres(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('/usr/sbin/runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Postgres 15 via initdb + pg_ctl, run as the postgres user. */
class PostgresServer implements ManagedServer {
  readonly name = 'postgres';
  constructor(
    readonly port: number,
    private readonly dataDir: string,
    private readonly socketDir: string,
    private readonly logFile: string,
  ) {}
  pid(): number | undefined {
    const f = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(f)) return undefined;
    const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  }
  init() {
    const r = asPostgres([join(PG_BIN, 'initdb'), '-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    if (r.status !== 0) throw new Error(`initdb failed: ${r.out.slice(-500)}`);
    writeFileSync(
      join(this.dataDir, 'postgresql.auto.conf'),
      [
        `port = ${this.port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${this.socketDir}'`,
        'max_connections = 400',
        'fsync = on',
        'shared_buffers = 128MB',
        // The checker reads when registered references became visible (REFERENCE_VISIBLE_AT_SQL).
        'track_commit_timestamp = on',
        '',
      ].join('\n'),
    );
    spawnSync('chown', ['postgres:postgres', join(this.dataDir, 'postgresql.auto.conf')]);
  }
  async start() {
    if (await portOpen(this.port)) throw new Error(`postgres: port ${this.port} is already in use (a previous chaos run still up?)`);
    const r = asPostgres([join(PG_BIN, 'pg_ctl'), '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', 'start']);
    if (r.status !== 0) throw new Error(`pg_ctl start failed: ${r.out.slice(-500)}`);
    await waitFor('postgres', () => portOpen(this.port), 20_000);
  }
  /** `pg_ctl stop -m immediate`: no checkpoint, crash recovery at the next start. */
  async stopImmediate() {
    signal(this.pid(), 'SIGCONT');
    asPostgres([join(PG_BIN, 'pg_ctl'), '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
  }
  async kill9() {
    const pid = this.pid();
    signal(pid, 'SIGKILL');
    await waitGone(pid, 5_000);
  }
  pause() {
    signal(this.pid(), 'SIGSTOP');
  }
  resume() {
    signal(this.pid(), 'SIGCONT');
  }
  async stop() {
    if (!this.pid()) return;
    signal(this.pid(), 'SIGCONT');
    asPostgres([join(PG_BIN, 'pg_ctl'), '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
  }
}

export interface Servers {
  dir: string;
  nats: ManagedServer;
  redis: ManagedServer;
  postgres: PostgresServer;
  /** Direct URLs (the harness and the checker; services go through the fault proxies). */
  urls: { pg: string; nats: string; natsMonitor: string; redis: string };
  stop(): Promise<void>;
}

export type { PostgresServer };

/** Starts the three servers in `dir` (which it chowns to postgres, as initdb requires). */
export async function startServers(dir: string): Promise<Servers> {
  chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  for (const sub of ['nats', 'redis']) mkdirSync(join(dir, sub), { recursive: true });
  const pgData = join(dir, 'pg');
  const pgSock = join(dir, 'pgsock');
  mkdirSync(pgSock, { recursive: true });
  chownSync(pgSock, uidOf('postgres'), gidOf('postgres'));

  const nats = new ChildServer(
    'nats-server',
    CHAOS_PORTS.nats,
    NATS_BIN,
    ['-a', '127.0.0.1', '-p', String(CHAOS_PORTS.nats), '-m', String(CHAOS_PORTS.natsMonitor), '-js', '-sd', join(dir, 'nats')],
    join(dir, 'nats.log'),
  );
  const redis = new ChildServer(
    'redis-server',
    CHAOS_PORTS.redis,
    REDIS_BIN,
    [
      '--port',
      String(CHAOS_PORTS.redis),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      join(dir, 'redis'),
      '--maxclients',
      '2000',
    ],
    join(dir, 'redis.log'),
  );
  const postgres = new PostgresServer(CHAOS_PORTS.postgres, pgData, pgSock, join(dir, 'pg.log'));
  const started: ManagedServer[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    postgres.init();
    for (const s of [nats, redis, postgres]) {
      await s.start();
      started.push(s);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    nats,
    redis,
    postgres,
    urls: {
      pg: `postgres://postgres@127.0.0.1:${CHAOS_PORTS.postgres}/postgres`,
      nats: `nats://127.0.0.1:${CHAOS_PORTS.nats}`,
      natsMonitor: `http://127.0.0.1:${CHAOS_PORTS.natsMonitor}`,
      redis: `redis://127.0.0.1:${CHAOS_PORTS.redis}`,
    },
    stop,
  };
}

function idOf(flag: '-u' | '-g', user: string): number {
  const r = spawnSync('id', [flag, user], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isInteger(n)) throw new Error(`no ${user} user on this machine (Postgres must run as it)`);
  return n;
}
const uidOf = (u: string) => idOf('-u', u);
const gidOf = (u: string) => idOf('-g', u);
