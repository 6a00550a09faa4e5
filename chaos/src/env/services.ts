/**
 * The real services as separate processes, each in its own process group (service-kit's
 * spawnInGroup, as `npm start`): the scheduler, N processes of each provider worker, the notifier
 * and sync-api. A supervisor respawns a process that died (as an orchestrator would) after 0.5–1 s,
 * at most `maxRespawns` times per scenario; the nemesis signals processes by their pid. Peak RSS is
 * sampled from /proc every second.
 */
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { serviceDatabaseUrl, serviceRole } from '@intellifin/persistence';
import { signalGroup, spawnInGroup, type GroupChild } from '@intellifin/service-kit';
import { BASE_SERVICE_ENV, CHAOS_PORTS } from '../config';
import type { Rng } from '../prng';
import { sleep } from './servers';

export type ServiceName = 'scheduler' | 'mono-worker' | 'momo-worker' | 'airtel-worker' | 'notifier' | 'sync-api';
export const WORKERS = ['mono-worker', 'momo-worker', 'airtel-worker'] as const;

export interface ProcessSlot {
  /** e.g. `mono-worker#2` */
  id: string;
  service: ServiceName;
  index: number;
  child: GroupChild | undefined;
  /** Set while the nemesis keeps it down on purpose (no respawn). */
  held: boolean;
  stopped: boolean;
  paused: boolean;
  starts: number;
  /** The nemesis (or the harness) signalled this process to exit: its next exit is planned. */
  exitExpected: boolean;
  exits: { code: number | null; signal: string | null; at: number; planned: boolean }[];
}

export interface FleetOptions {
  root: string;
  logDir: string;
  runner: 'tsx' | 'dist';
  /** Service environment: URLs (through the proxies), timers, poison hook. DATABASE_URL is the owner URL; each process gets its role's. */
  env: Record<string, string>;
  workersPerProvider: number;
  schedulers?: number;
  maxRespawns?: number;
  rng: Rng;
  log: (line: string) => void;
}

/** The node flags of the service's own `npm start` script (`node <flags> --import tsx src/main.ts`). */
function nodeFlags(root: string, service: ServiceName): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'services', service, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const words = (pkg.scripts?.start ?? '').split(/\s+/);
  const end = words.indexOf('--import');
  return words[0] === 'node' && end > 0 ? words.slice(1, end) : [];
}

export function rssKb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Every service process group alive, so that an exiting harness never leaves one behind. */
const liveGroups = new Set<number>();
export function killAllServiceGroups(): void {
  for (const pid of liveGroups) {
    signalGroup(pid, 'SIGCONT');
    signalGroup(pid, 'SIGKILL');
  }
}
process.on('exit', killAllServiceGroups);

/** Counter families the harness reports (summed over labels, except the settle outcome). */
const COUNTERS = /^intellifin_sync_(fenced_write_rejections_total|lease_lost_total|run_timeouts_total|messages_handled_total)\b/;

/** Prometheus text → `name` (or `name{outcome}` for settled messages) → value. */
export function parseCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
    if (!m || !COUNTERS.test(m[1]!)) continue;
    const outcome = /outcome="([^"]*)"/.exec(m[2] ?? '')?.[1];
    const key = m[1]!.endsWith('messages_handled_total') && outcome ? `${m[1]}{${outcome}}` : m[1]!;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

export class Fleet {
  readonly slots: ProcessSlot[] = [];
  readonly peakRssKb = new Map<string, number>();
  private respawns = 0;
  private closing = false;
  private sampler: NodeJS.Timeout | undefined;
  private readonly extraPids = new Map<string, () => number | undefined>();
  private readonly logs = new Map<string, WriteStream>();
  /** The last metrics scrape of each process incarnation (`id@start`), so a killed one's counts are kept. */
  private readonly scrapes = new Map<string, Map<string, number>>();

  constructor(private readonly o: FleetOptions) {
    let index = 0;
    const add = (service: ServiceName, n: number) => {
      for (let i = 1; i <= n; i++)
        this.slots.push({
          id: `${service}#${i}`,
          service,
          index: index++,
          child: undefined,
          held: false,
          stopped: false,
          paused: false,
          exitExpected: false,
          starts: 0,
          exits: [],
        });
    };
    add('scheduler', o.schedulers ?? 1);
    for (const w of WORKERS) add(w, o.workersPerProvider);
    add('notifier', 1);
    add('sync-api', 1);
  }

  get respawnCount(): number {
    return this.respawns;
  }

  /** Exits nobody asked for (a crash, a process giving up on a server), per process. */
  unplannedExits(): { id: string; how: string }[] {
    return this.slots.flatMap((s) => s.exits.filter((e) => !e.planned).map((e) => ({ id: s.id, how: e.signal ?? `code ${e.code}` })));
  }

  /** Also sample these processes' RSS (servers, simulators) under `name`. */
  watchRss(name: string, pid: () => number | undefined): void {
    this.extraPids.set(name, pid);
  }

  async startAll(): Promise<void> {
    for (const s of this.slots) this.spawn(s);
    let tick = 0;
    this.sampler = setInterval(() => {
      this.sampleRss();
      if (++tick % 3 === 0) void this.scrapeMetrics();
    }, 1_000);
    this.sampler.unref();
  }

  /** Reads the counters of interest from every running worker's /metrics (see `COUNTERS`). */
  async scrapeMetrics(): Promise<void> {
    await Promise.all(
      this.workers()
        .filter((s) => s.child && !s.child.exit && !s.paused)
        .map(async (s) => {
          try {
            const res = await fetch(`http://127.0.0.1:${CHAOS_PORTS.healthBase + s.index}/metrics`, { signal: AbortSignal.timeout(2_000) });
            if (res.ok) this.scrapes.set(`${s.id}@${s.starts}`, parseCounters(await res.text()));
          } catch {
            /* the process is busy or going: keep its last scrape */
          }
        }),
    );
  }

  /** Counters summed over every process incarnation's last scrape. */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.scrapes.values()) for (const [k, v] of m) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** Resolves once every process answers its health port (`/readyz`), at most `ms`. */
  async waitReady(ms: number): Promise<void> {
    const until = Date.now() + ms;
    const pending = new Set(this.slots.map((s) => s.id));
    while (pending.size && Date.now() < until) {
      for (const s of this.slots) {
        if (!pending.has(s.id)) continue;
        try {
          const res = await fetch(`http://127.0.0.1:${CHAOS_PORTS.healthBase + s.index}/readyz`, { signal: AbortSignal.timeout(1_000) });
          if (res.ok) pending.delete(s.id);
        } catch {
          /* not yet */
        }
      }
      if (pending.size) await sleep(500);
    }
    if (pending.size) throw new Error(`services not ready within ${ms} ms: ${[...pending].join(', ')} (logs in ${this.o.logDir})`);
  }

  private sampleRss(): void {
    const note = (name: string, kb: number | undefined) => {
      if (kb !== undefined && kb > (this.peakRssKb.get(name) ?? 0)) this.peakRssKb.set(name, kb);
    };
    for (const s of this.slots) if (s.child && !s.child.exit) note(s.id, rssKb(s.child.pid));
    for (const [name, pid] of this.extraPids) note(name, rssKb(pid()));
  }

  private logStream(s: ProcessSlot): WriteStream {
    let w = this.logs.get(s.id);
    if (!w) {
      w = createWriteStream(join(this.o.logDir, `${s.id.replace('#', '-')}.log`), { flags: 'a' });
      this.logs.set(s.id, w);
    }
    return w;
  }

  private spawn(s: ProcessSlot): void {
    const { root } = this.o;
    const main =
      this.o.runner === 'dist' && existsSync(join(root, 'services', s.service, 'dist', 'main.js'))
        ? [join(root, 'services', s.service, 'dist', 'main.js')]
        : ['--import', 'tsx', join(root, 'services', s.service, 'src', 'main.ts')];
    const env: Record<string, string> = {
      ...BASE_SERVICE_ENV,
      ...this.o.env,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      DATABASE_URL: serviceDatabaseUrl(this.o.env.DATABASE_URL!, serviceRole(s.service)),
      HEALTH_PORT: String(CHAOS_PORTS.healthBase + s.index),
      OTEL_SERVICE_NAME: s.service,
      SCHEDULER_INSTANCE_ID: `chaos-${s.id}-${s.starts}`,
      NOTIFIER_INSTANCE_ID: `chaos-${s.id}-${s.starts}`,
    };
    const child = spawnInGroup(s.id, process.execPath, [...nodeFlags(root, s.service), ...main], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = this.logStream(s);
    out.write(`--- start ${s.starts + 1} pid ${child.pid} at ${new Date().toISOString()}\n`);
    child.process.stdout?.pipe(out, { end: false });
    child.process.stderr?.pipe(out, { end: false });
    s.child = child;
    liveGroups.add(child.pid);
    s.starts++;
    s.paused = false;
    void child.exited.then((exit) => {
      liveGroups.delete(child.pid);
      const planned = s.exitExpected || this.closing;
      s.exitExpected = false;
      s.exits.push({ code: exit.code, signal: exit.signal, at: Date.now(), planned });
      if (!planned) this.o.log(`${s.id} exited by itself (${exit.signal ?? `code ${exit.code}`})`);
      out.write(`--- exit code ${exit.code} signal ${exit.signal} at ${new Date().toISOString()}\n`);
      if (s.child !== child) return;
      if (this.closing || s.held || s.stopped) return;
      if (this.respawns >= (this.o.maxRespawns ?? 400)) {
        this.o.log(`${s.id} exited (${exit.signal ?? exit.code}); respawn budget spent, left down`);
        return;
      }
      this.respawns++;
      const delay = this.o.rng.int(500, 1_000);
      setTimeout(() => {
        if (!this.closing && !s.held && !s.stopped && s.child === child) this.spawn(s);
      }, delay).unref();
    });
  }

  workers(service?: ServiceName): ProcessSlot[] {
    return this.slots.filter((s) => (service ? s.service === service : (WORKERS as readonly string[]).includes(s.service)));
  }

  slot(id: string): ProcessSlot {
    const s = this.slots.find((x) => x.id === id);
    if (!s) throw new Error(`no process ${id}`);
    return s;
  }

  /** Sends a signal to the slot's process group; false when it is not running. */
  signal(s: ProcessSlot, sig: NodeJS.Signals): boolean {
    if (!s.child || s.child.exit) return false;
    if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') s.exitExpected = true;
    if (sig === 'SIGSTOP') s.paused = true;
    if (sig === 'SIGCONT') s.paused = false;
    return signalGroup(s.child.pid, sig);
  }

  /** Stops a process for good (no respawn), e.g. the second scheduler of S11. */
  async kill(s: ProcessSlot, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    s.stopped = true;
    this.signal(s, 'SIGCONT');
    this.signal(s, sig);
    if (s.child) await Promise.race([s.child.exited, sleep(15_000)]);
  }

  /** Gracefully stops every process (SIGTERM, then SIGKILL after `graceMs`). */
  async stopAll(graceMs = 8_000): Promise<void> {
    this.closing = true;
    if (this.sampler) clearInterval(this.sampler);
    const live = this.slots.filter((s) => s.child && !s.child.exit);
    for (const s of live) {
      signalGroup(s.child!.pid, 'SIGCONT');
      signalGroup(s.child!.pid, 'SIGTERM');
    }
    await Promise.all(
      live.map(async (s) => {
        const gone = await Promise.race([s.child!.exited.then(() => true), sleep(graceMs).then(() => false)]);
        if (!gone) {
          signalGroup(s.child!.pid, 'SIGKILL');
          await Promise.race([s.child!.exited, sleep(5_000)]);
        }
      }),
    );
    for (const w of this.logs.values()) w.end();
  }
}
