/**
 * The test world of a wallet worker (MoMo, Airtel), shared by their test suites: a database of
 * its own, a Redis prefix and a NATS namespace, the provider's simulator as the ground truth, its
 * accounts linked with encrypted credentials, workers started in-process, and the checks that
 * compare what we store with the simulator's truth. Each worker's `test/helpers.ts` gives the
 * provider's specifics (`WalletEnvSpec`); everything else lives here once.
 */
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
import { CredentialsCipher, insertAccount, insertCredential, insertOrganization } from '@intellifin/persistence';
import type { RunningSimulator } from '@intellifin/sandbox';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  uniqueSuffix,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@intellifin/testing';
import { publishRegistration, type ReferenceRegistration, type WalletWorkerCommonDeps } from '../src';

export const EPOCH = '2026-03-02T00:00:00.000Z';
export const KEY_RING = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

/** What every simulated wallet account has; the spec's `credentialOf` reads the rest. */
export interface WalletSimAccount {
  id: string;
  currency: string;
}

/** What every truth reference has; the spec maps the rest. */
export interface WalletTruthRef {
  id: string;
  amount: number;
  currency: string;
  createdAt: string;
}

export interface WalletTruthAccount<R> {
  id: string;
  balance: number;
  currency: string;
  refs: R[];
}

/** The stored state of a reference, as the worker should have it from the truth. */
export interface StoredRef {
  status: string;
  amount: number;
  ledgerId: string | null;
  reason: string | null;
}

export interface SimulatorOptions {
  seed: number;
  accounts: number;
  referencesPerAccount: number;
}

/** A provider's specifics. */
export interface WalletEnvSpec<S extends WalletSimAccount, R extends WalletTruthRef, W extends TestWorker, D, O> {
  provider: 'momo' | 'airtel';
  startSimulator(o: SimulatorOptions, over: O | undefined): Promise<RunningSimulator<unknown>>;
  /** The credential secret stored (encrypted) for a simulated account. */
  credentialOf(a: S): Record<string, unknown>;
  /** The account's references in the simulator's `/truth` answer. */
  refsOf(truthAccount: Record<string, unknown>): R[];
  /** The registration the platform would publish for a truth reference. */
  registrationOf(accountId: string, r: R): ReferenceRegistration;
  /** The stored state a truth reference should end in. */
  expected(r: R): StoredRef;
  /** Creates (does not start) a worker over the common deps, talking to the simulator at `simUrl`. */
  createWorker(common: WalletWorkerCommonDeps, simUrl: string, over: Partial<D>): W;
}

export interface TestWorker {
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
}

export interface WalletEnv<S, R, W, D> {
  db: TestDatabase;
  redis: TestRedis;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  publisher: Publisher;
  simulator: RunningSimulator<unknown>;
  logger: Logger;
  orgId: string;
  /** Sandbox account id → our account id. */
  accounts: Map<string, string>;
  sim: S[];
  settled: SettledEvent[];
  workers: W[];
  startWorker(over?: Partial<D>): Promise<W>;
  /** A sync command for a sandbox account (or our account id). */
  publish(account: string, over?: Partial<SyncCommand>): Promise<void>;
  /** Registers every reference the simulator knows (through WALLET_INTAKE) and waits until all are stored. */
  registerAll(filter?: (r: R) => boolean): Promise<number>;
  truth(): Promise<WalletTruthAccount<R>[]>;
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface WalletEnvOptions<O> {
  accounts: number;
  referencesPerAccount: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  seed?: number;
  simulator?: O;
  /** Accounts sharing one credential (the first account's). */
  sharedCredential?: boolean;
}

export async function startWalletEnv<S extends WalletSimAccount, R extends WalletTruthRef, W extends TestWorker, D, O>(
  spec: WalletEnvSpec<S, R, W, D, O>,
  o: WalletEnvOptions<O>,
): Promise<WalletEnv<S, R, W, D>> {
  const name = `${spec.provider}-worker-test`;
  const log = createLogger({ service: name, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const [db, simulator] = await Promise.all([
    createTestDatabase({ poolSize: 20 }),
    spec.startSimulator({ seed: o.seed ?? 11, accounts: o.accounts, referencesPerAccount: o.referencesPerAccount }, o.simulator),
  ]);
  const redis = createTestRedis();
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const topology = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: o.ackWaitMs ?? 5_000, maxDeliver: o.maxDeliver ?? 15 });
  await ensureTopology(jsm, topology, { workers: [spec.provider] });
  const publisher = new Publisher({ nc, topology });
  const orgId = await insertOrganization(db.pool, 'test org');
  const cipher = new CredentialsCipher(KEY_RING);
  const accounts = new Map<string, string>();
  const sim: S[] = [];
  for (let offset = 0; offset < o.accounts; offset += 500) {
    const res = await fetch(`${simulator.url}/__sandbox/accounts?offset=${offset}&limit=500`);
    sim.push(...((await res.json()) as { accounts: S[] }).accounts);
  }
  let shared: string | undefined;
  for (const a of sim) {
    const credentialId =
      o.sharedCredential && shared
        ? shared
        : await insertCredential(db.pool, cipher, { orgId, provider: spec.provider, secret: spec.credentialOf(a) });
    shared ??= credentialId;
    const row = await insertAccount(db.pool, {
      orgId,
      provider: spec.provider,
      providerAccountId: a.id,
      type: 'mobile_money',
      currency: a.currency,
      credentialId,
    });
    accounts.set(a.id, row.id);
  }
  const settled: SettledEvent[] = [];
  const workers: W[] = [];
  const control = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${simulator.url}/__sandbox${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const truth = async (): Promise<WalletTruthAccount<R>[]> => {
    const out: WalletTruthAccount<R>[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await control<{ total: number; accounts: (Record<string, unknown> & Omit<WalletTruthAccount<R>, 'refs'>)[] }>(
        'GET',
        `/truth?offset=${offset}&limit=100`,
      );
      for (const a of page.accounts) out.push({ id: a.id, balance: a.balance, currency: a.currency, refs: spec.refsOf(a) });
      if (offset + 100 >= page.total) break;
    }
    return out;
  };
  return {
    db,
    redis,
    nc,
    js,
    jsm,
    topology,
    publisher,
    simulator,
    logger: log,
    orgId,
    accounts,
    sim,
    settled,
    workers,
    truth,
    control,
    async startWorker(over = {}) {
      const common: WalletWorkerCommonDeps = {
        nc,
        js,
        topology,
        publisher,
        pool: db.poolAs('intellifin_worker'),
        redis: redis.redis,
        logger: log,
        registry: new Registry(),
        workerId: `test-${workers.length}`,
        credentialsKeyRing: KEY_RING,
        rate: { ratePerSecond: 5_000, burst: 5_000 },
        leaseTtlMs: 4_000,
        keyPrefix: redis.prefix,
        clock: () => new Date(simulator.core.clock.now()),
        backoff: { baseMs: 50, capMs: 500 },
        fencedNakDelayMs: 200,
        leaseBusyDelayMs: 100,
        onSettled: (e) => settled.push(e),
        concurrency: 8,
      };
      const w = spec.createWorker(common, simulator.url, over);
      await w.start();
      workers.push(w);
      return w;
    },
    async publish(account, over = {}) {
      const accountId = accounts.get(account) ?? account;
      const cmd: SyncCommand = {
        commandId: randomUUID(),
        accountId,
        orgId,
        provider: spec.provider,
        trigger: 'scheduled' as SyncTrigger,
        mode: 'full' as SyncMode,
        realtime: false,
        triggerId: randomUUID(),
        // From the database clock, as the engine compares it with run starts.
        issuedAt: (await db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now.toISOString(),
        ...over,
      };
      await publisher.publish(topology.commandSubjectFor(cmd), cmd, {
        codec: syncCommandCodec,
        msgId: `${accountId}:${cmd.triggerId ?? cmd.plannedSlot}`,
      });
    },
    async registerAll(filter = () => true) {
      let n = 0;
      const pending: Promise<unknown>[] = [];
      for (const a of await truth()) {
        for (const r of a.refs) {
          if (!filter(r)) continue;
          pending.push(publishRegistration(publisher, topology, spec.provider, spec.registrationOf(accounts.get(a.id)!, r)));
          n++;
        }
      }
      await Promise.all(pending);
      await waitFor(
        async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM wallet_references')).rows[0]!.n >= n,
        'references registered',
        30_000,
      );
      return n;
    },
    async close() {
      for (const w of workers) await w.stop(2_000).catch(() => undefined);
      await deleteTopology(jsm, topology).catch(() => undefined);
      await nc.close();
      await simulator.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}

type AnyEnv = WalletEnv<WalletSimAccount, WalletTruthRef, TestWorker, unknown>;

/** Waits until every command and intake message was settled for good and the outbox is empty. */
export async function quiesceWallet(env: AnyEnv, provider: 'momo' | 'airtel', timeoutMs = 45_000): Promise<void> {
  await waitFor(
    async () => {
      for (const stream of [env.topology.streams.commands.name, env.topology.streams.walletIntake.name]) {
        const s = await env.jsm.streams.info(stream);
        if (s.state.messages !== 0) return false;
      }
      const consumers = [
        [env.topology.streams.commands.name, env.topology.laneConsumer(provider, 'bulk').config.durable_name],
        [env.topology.streams.commands.name, env.topology.laneConsumer(provider, 'priority').config.durable_name],
        [env.topology.streams.walletIntake.name, env.topology.walletIntakeConsumers[provider].config.durable_name],
      ] as const;
      for (const [stream, name] of consumers) {
        const c = await env.jsm.consumers.info(stream, name);
        if (c.num_ack_pending !== 0 || c.num_pending !== 0) return false;
      }
      const { rows } = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
      return rows[0]!.n === 0;
    },
    'quiescence',
    timeoutMs,
  );
}

/** Differences between the simulator's truth and what we store (references and balances); empty when equal. */
export async function walletDifferences<R extends WalletTruthRef>(
  env: WalletEnv<WalletSimAccount, R, TestWorker, unknown>,
  expected: (r: R) => StoredRef,
  opts: { balances?: boolean } = {},
): Promise<string[]> {
  const truth = await env.truth();
  const { rows } = await env.db.pool.query<{
    pid: string;
    provider_txn_id: string;
    amount_minor: string;
    status: string;
    secondary_id: string | null;
    reason: string | null;
  }>(
    `SELECT a.provider_account_id AS pid, t.provider_txn_id, t.amount_minor::text, t.status, t.secondary_id, t.raw->>'reason' AS reason
       FROM transactions t JOIN accounts a ON a.id = t.account_id`,
  );
  const mine = new Map<string, StoredRef>();
  for (const r of rows)
    mine.set(`${r.pid}/${r.provider_txn_id}`, {
      status: r.status,
      amount: Number(r.amount_minor),
      ledgerId: r.secondary_id,
      reason: r.reason,
    });
  const diffs: string[] = [];
  let expectedRows = 0;
  for (const a of truth) {
    for (const r of a.refs) {
      expectedRows++;
      const m = mine.get(`${a.id}/${r.id}`);
      const e = expected(r);
      if (!m) diffs.push(`${a.id}: missing ${r.id}`);
      else if (JSON.stringify(m) !== JSON.stringify(e)) diffs.push(`${a.id}: ${r.id} ${JSON.stringify(m)} vs truth ${JSON.stringify(e)}`);
    }
  }
  if (rows.length !== expectedRows) diffs.push(`${rows.length} stored rows for ${expectedRows} references`);
  if (opts.balances ?? true) {
    const { rows: bal } = await env.db.pool.query<{ pid: string; balance_minor: string | null }>(
      'SELECT provider_account_id AS pid, balance_minor::text FROM accounts',
    );
    const byPid = new Map(bal.map((b) => [b.pid, b.balance_minor === null ? null : Number(b.balance_minor)]));
    for (const a of truth) if (byPid.get(a.id) !== a.balance) diffs.push(`${a.id}: balance ${byPid.get(a.id)} vs truth ${a.balance}`);
  }
  return diffs;
}

export interface LoggedRequest {
  seq: number;
  time: string;
  method: string;
  route: string;
  path: string;
  account: string | null;
  status: number;
  n: number;
  faults: string[];
}

export async function walletRequestLog(env: { control: AnyEnv['control'] }): Promise<LoggedRequest[]> {
  return (await env.control<{ requests: LoggedRequest[] }>('GET', '/requests?limit=100000')).requests;
}

export { waitFor };
