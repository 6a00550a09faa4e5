import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger, Registry, type Logger } from '@intellifin/core';
import type { SyncMode, SyncTrigger } from '@intellifin/domain';
import {
  connectNats,
  createTopology,
  deleteTopology,
  ensureTopology,
  Publisher,
  syncCommandCodec,
  type SettledEvent,
  type SyncCommand,
  type Topology,
} from '@intellifin/messaging';
import { insertAccount, insertOrganization } from '@intellifin/persistence';
import { startMono, type RunningSimulator } from '@intellifin/sandbox';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  uniqueSuffix,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@intellifin/testing';
import { createMonoWorker, type MonoWorker, type MonoWorkerDeps } from '../src/app';

export const EPOCH = '2026-03-02T00:00:00.000Z';
export const SECRET = 'test_sk_sandbox_mono';

export interface Env {
  db: TestDatabase;
  redis: TestRedis;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  publisher: Publisher;
  mono: RunningSimulator<unknown>;
  logger: Logger;
  orgId: string;
  /** Sandbox account id → our account id. */
  accounts: Map<string, string>;
  settled: SettledEvent[];
  workers: MonoWorker[];
  startWorker(over?: Partial<MonoWorkerDeps>): Promise<MonoWorker>;
  publish(accountId: string, over?: Partial<SyncCommand>): Promise<void>;
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface EnvOptions {
  accounts: number;
  transactionsPerAccount: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  clock?: 'manual' | 'real';
  seed?: number;
}

export const logger = (): Logger => createLogger({ service: 'mono-worker-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export async function startEnv(o: EnvOptions): Promise<Env> {
  const log = logger();
  const [db, mono] = await Promise.all([
    createTestDatabase({ poolSize: 20 }),
    startMono({
      port: 0,
      seed: o.seed ?? 7,
      epoch: EPOCH,
      clock: o.clock ?? 'manual',
      accounts: o.accounts,
      transactionsPerAccount: o.transactionsPerAccount,
    }),
  ]);
  const redis = createTestRedis();
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'mono-worker-test' });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const topology = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: o.ackWaitMs ?? 5_000, maxDeliver: o.maxDeliver ?? 15 });
  await ensureTopology(jsm, topology);
  const publisher = new Publisher({ nc, topology });
  const orgId = await insertOrganization(db.pool, 'test org');
  const accounts = new Map<string, string>();
  const list = (await (await fetch(`${mono.url}/__sandbox/accounts?limit=${o.accounts}`)).json()) as {
    accounts: { id: string; currency: string }[];
  };
  for (const a of list.accounts) {
    const row = await insertAccount(db.pool, { orgId, provider: 'mono', providerAccountId: a.id, type: 'bank', currency: a.currency });
    accounts.set(a.id, row.id);
  }
  const settled: SettledEvent[] = [];
  const workers: MonoWorker[] = [];
  const env: Env = {
    db,
    redis,
    nc,
    js,
    jsm,
    topology,
    publisher,
    mono,
    logger: log,
    orgId,
    accounts,
    settled,
    workers,
    async startWorker(over = {}) {
      const w = createMonoWorker({
        nc,
        js,
        topology,
        publisher,
        pool: db.poolAs('intellifin_worker'),
        redis: redis.redis,
        logger: log,
        registry: new Registry(),
        workerId: `test-${workers.length}`,
        mono: { baseUrl: mono.url, secretKey: SECRET, timeoutMs: 1_500, pageSize: 50 },
        rate: { ratePerSecond: 5_000, burst: 5_000 },
        leaseTtlMs: 4_000,
        keyPrefix: redis.prefix,
        monoWindow: { overlapDays: 3, historyDays: 100 },
        clock: () => new Date(mono.core.clock.now()),
        backoff: { baseMs: 50, capMs: 500 },
        fencedNakDelayMs: 200,
        leaseBusyDelayMs: 100,
        onSettled: (e) => settled.push(e),
        concurrency: 8,
        ...over,
      });
      await w.start();
      workers.push(w);
      return w;
    },
    async publish(providerAccountId, over = {}) {
      const accountId = accounts.get(providerAccountId) ?? providerAccountId;
      const cmd: SyncCommand = {
        commandId: randomUUID(),
        accountId,
        orgId,
        provider: 'mono',
        trigger: 'scheduled' as SyncTrigger,
        mode: 'transactions' as SyncMode,
        realtime: false,
        triggerId: randomUUID(),
        issuedAt: new Date().toISOString(),
        ...over,
      };
      await publisher.publish(topology.commandSubject('mono', accountId), cmd, {
        codec: syncCommandCodec,
        msgId: `${accountId}:${cmd.triggerId ?? cmd.plannedSlot}`,
      });
    },
    async control<T = any>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await fetch(`${mono.url}/__sandbox${path}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async close() {
      for (const w of workers) await w.stop(2_000).catch(() => undefined);
      await deleteTopology(jsm, topology).catch(() => undefined);
      await nc.close();
      await mono.close();
      await redis.cleanup();
      await db.drop();
    },
  };
  return env;
}

export { waitFor };

/** Waits until every command was settled for good (stream empty, nothing pending on the consumer). */
export async function quiesce(env: Env, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const s = await env.jsm.streams.info(env.topology.streams.commands.name);
      if (s.state.messages !== 0) return false;
      for (const lane of ['bulk', 'priority'] as const) {
        const c = await env.jsm.consumers.info(
          env.topology.streams.commands.name,
          env.topology.laneConsumer('mono', lane).config.durable_name,
        );
        if (c.num_ack_pending !== 0 || c.num_pending !== 0) return false;
      }
      // Events and re-run commands committed but not yet published are still work in flight.
      const { rows } = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
      return rows[0]!.n === 0;
    },
    'quiescence',
    timeoutMs,
  );
}

export interface TruthRow {
  id: string;
  amount: number;
  type: 'debit' | 'credit';
  status: 'pending' | 'posted';
  narration: string;
  date: string;
}

/** What Mono serves now for every account: the truth rows with `servedNow`, as served (pending as of the snapshot). */
export async function servedTruth(env: Env): Promise<Map<string, Map<string, TruthRow>>> {
  const out = new Map<string, Map<string, TruthRow>>();
  for (let offset = 0; ; offset += 100) {
    const page = await env.control<{ total: number; accounts: any[] }>('GET', `/truth?offset=${offset}&limit=100`);
    for (const a of page.accounts) {
      const snap = Date.parse(a.snapshotAt);
      const rows = new Map<string, TruthRow>();
      for (const t of a.transactions) {
        if (!t.servedNow) continue;
        const pending = Date.parse(t.postedAt) > snap;
        rows.set(t.id, {
          id: t.id,
          amount: t.amount,
          type: t.type,
          status: pending ? 'pending' : 'posted',
          narration: pending && t.pendingNarration ? t.pendingNarration : t.narration,
          date: t.date,
        });
      }
      out.set(a.id, rows);
    }
    if (offset + 100 >= page.total) break;
  }
  return out;
}

/** Our stored transactions per sandbox account id. */
export async function stored(env: Env): Promise<Map<string, Map<string, TruthRow>>> {
  const { rows } = await env.db.pool.query<{
    pid: string;
    provider_txn_id: string;
    amount_minor: bigint;
    direction: 'debit' | 'credit';
    status: 'pending' | 'posted';
    narration: string;
    booked_at: Date;
  }>(
    `SELECT a.provider_account_id AS pid, t.provider_txn_id, t.amount_minor, t.direction, t.status, t.narration, t.booked_at
       FROM transactions t JOIN accounts a ON a.id = t.account_id`,
  );
  const out = new Map<string, Map<string, TruthRow>>();
  for (const pid of env.accounts.keys()) out.set(pid, new Map());
  for (const r of rows) {
    out.get(r.pid)!.set(r.provider_txn_id, {
      id: r.provider_txn_id,
      amount: Number(r.amount_minor),
      type: r.direction,
      status: r.status,
      narration: r.narration,
      date: r.booked_at.toISOString(),
    });
  }
  return out;
}

/** Accounts whose stored rows differ from what Mono serves (ids, amounts, statuses, narrations, dates). */
export function differences(
  truth: Map<string, Map<string, TruthRow>>,
  db: Map<string, Map<string, TruthRow>>,
  only?: Set<string>,
): string[] {
  const diffs: string[] = [];
  for (const [pid, rows] of truth) {
    if (only && !only.has(pid)) continue;
    const mine = db.get(pid) ?? new Map();
    for (const [id, t] of rows) {
      const m = mine.get(id);
      if (!m) diffs.push(`${pid}: missing ${id}`);
      else if (JSON.stringify(m) !== JSON.stringify(t)) diffs.push(`${pid}: ${id} differs: ${JSON.stringify(m)} vs ${JSON.stringify(t)}`);
    }
    for (const id of mine.keys()) if (!rows.has(id)) diffs.push(`${pid}: extra ${id}`);
  }
  return diffs;
}

export interface LoggedRequest {
  seq: number;
  time: string;
  method: string;
  route: string;
  account: string | null;
  status: number;
  fence: string | null;
  n: number;
  faults: string[];
}

/** The sandbox's request log (arrival times on the sandbox clock; status 0 = hung or reset). */
export async function requestLog(env: Env, account?: string): Promise<LoggedRequest[]> {
  const q = account ? `&account=${account}` : '';
  return (await env.control<{ requests: LoggedRequest[] }>('GET', `/requests?limit=100000${q}`)).requests;
}
