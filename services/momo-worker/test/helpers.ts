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
import { startMomo, type MomoOptions, type RunningSimulator } from '@intellifin/sandbox';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  uniqueSuffix,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@intellifin/testing';
import { publishRegistration, type ReferenceRegistration } from '@intellifin/wallet-sync';
import { createMomoWorker, type MomoWorker, type MomoWorkerDeps } from '../src/app';

export const EPOCH = '2026-03-02T00:00:00.000Z';
export const KEY_RING = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

export interface SimAccount {
  id: string;
  currency: string;
  credentials: { apiUser: string; apiKey: string; subscriptionKeys: { collection: string; disbursement: string } };
}

export interface TruthRef {
  id: string;
  kind: 'requesttopay' | 'transfer' | 'deposit';
  externalId: string;
  amount: number;
  amountWire: string;
  currency: string;
  party: { partyIdType: string; partyId: string };
  createdAt: string;
  status: string;
  reason: string | null;
  finalStatus: string | null;
  financialTransactionId: string | null;
}

export interface TruthAccount {
  id: string;
  balance: number;
  currency: string;
  references: TruthRef[];
}

export interface Env {
  db: TestDatabase;
  redis: TestRedis;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  publisher: Publisher;
  momo: RunningSimulator<unknown>;
  logger: Logger;
  orgId: string;
  /** Sandbox account id → our account id. */
  accounts: Map<string, string>;
  sim: SimAccount[];
  settled: SettledEvent[];
  workers: MomoWorker[];
  startWorker(over?: Partial<MomoWorkerDeps>): Promise<MomoWorker>;
  /** A sync command for a sandbox account (or our account id). */
  publish(account: string, over?: Partial<SyncCommand>): Promise<void>;
  /** Registers every reference the simulator knows (through WALLET_INTAKE) and waits until all are stored. */
  registerAll(filter?: (r: TruthRef) => boolean): Promise<number>;
  truth(): Promise<TruthAccount[]>;
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface EnvOptions {
  accounts: number;
  referencesPerAccount: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  seed?: number;
  momo?: Partial<MomoOptions>;
  /** Accounts sharing one credential (the first account's). */
  sharedCredential?: boolean;
}

export const logger = (): Logger => createLogger({ service: 'momo-worker-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function registrationOf(accountId: string, r: TruthRef): ReferenceRegistration {
  return {
    accountId,
    referenceId: r.id,
    kind: r.kind === 'requesttopay' ? 'collection' : 'payout',
    amountMinor: String(r.amount),
    currency: r.currency,
    externalId: r.externalId,
    party: { type: r.party.partyIdType as 'MSISDN', id: r.party.partyId },
    createdAt: r.createdAt,
  };
}

export async function startEnv(o: EnvOptions): Promise<Env> {
  const log = logger();
  const [db, momo] = await Promise.all([
    createTestDatabase({ poolSize: 20 }),
    startMomo({
      port: 0,
      seed: o.seed ?? 11,
      epoch: EPOCH,
      clock: 'manual',
      accounts: o.accounts,
      referencesPerAccount: o.referencesPerAccount,
      ...o.momo,
    }),
  ]);
  const redis = createTestRedis();
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'momo-worker-test' });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const topology = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: o.ackWaitMs ?? 5_000, maxDeliver: o.maxDeliver ?? 15 });
  await ensureTopology(jsm, topology, { workers: ['momo'] });
  const publisher = new Publisher({ nc, topology });
  const orgId = await insertOrganization(db.pool, 'test org');
  const cipher = new CredentialsCipher(KEY_RING);
  const accounts = new Map<string, string>();
  const sim: SimAccount[] = [];
  for (let offset = 0; offset < o.accounts; offset += 500) {
    const page = (await (await fetch(`${momo.url}/__sandbox/accounts?offset=${offset}&limit=500`)).json()) as { accounts: SimAccount[] };
    sim.push(...page.accounts);
  }
  let shared: string | undefined;
  for (const a of sim) {
    const credentialId =
      o.sharedCredential && shared
        ? shared
        : await insertCredential(db.pool, cipher, {
            orgId,
            provider: 'momo',
            secret: { apiUser: a.credentials.apiUser, apiKey: a.credentials.apiKey, subscriptionKeys: a.credentials.subscriptionKeys },
          });
    shared ??= credentialId;
    const row = await insertAccount(db.pool, {
      orgId,
      provider: 'momo',
      providerAccountId: a.id,
      type: 'mobile_money',
      currency: a.currency,
      credentialId,
    });
    accounts.set(a.id, row.id);
  }
  const settled: SettledEvent[] = [];
  const workers: MomoWorker[] = [];
  const control = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${momo.url}/__sandbox${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const truth = async (): Promise<TruthAccount[]> => {
    const out: TruthAccount[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await control<{ total: number; accounts: TruthAccount[] }>('GET', `/truth?offset=${offset}&limit=100`);
      out.push(...page.accounts);
      if (offset + 100 >= page.total) break;
    }
    return out;
  };
  const env: Env = {
    db,
    redis,
    nc,
    js,
    jsm,
    topology,
    publisher,
    momo,
    logger: log,
    orgId,
    accounts,
    sim,
    settled,
    workers,
    truth,
    control,
    async startWorker(over = {}) {
      const w = createMomoWorker({
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
        // Timeouts well above what a loaded 2-core box needs: a timed-out token request that MoMo
        // served is a second token request (counted by the token tests).
        momo: { baseUrl: momo.url, targetEnvironment: 'mtnzambia', timeoutMs: 5_000, pageSize: 20, notFoundGraceMs: 10 * 60_000 },
        rate: { ratePerSecond: 5_000, burst: 5_000 },
        leaseTtlMs: 4_000,
        keyPrefix: redis.prefix,
        clock: () => new Date(momo.core.clock.now()),
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
    async publish(account, over = {}) {
      const accountId = accounts.get(account) ?? account;
      const cmd: SyncCommand = {
        commandId: randomUUID(),
        accountId,
        orgId,
        provider: 'momo',
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
      const all = await truth();
      const pending: Promise<unknown>[] = [];
      for (const a of all) {
        for (const r of a.references) {
          if (!filter(r)) continue;
          pending.push(publishRegistration(publisher, topology, 'momo', registrationOf(accounts.get(a.id)!, r)));
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
      await momo.close();
      await redis.cleanup();
      await db.drop();
    },
  };
  return env;
}

export { waitFor };

/** Waits until every command and intake message was settled for good and the outbox is empty. */
export async function quiesce(env: Env, timeoutMs = 45_000): Promise<void> {
  await waitFor(
    async () => {
      for (const stream of [env.topology.streams.commands.name, env.topology.streams.walletIntake.name]) {
        const s = await env.jsm.streams.info(stream);
        if (s.state.messages !== 0) return false;
      }
      const consumers = [
        [env.topology.streams.commands.name, env.topology.laneConsumer('momo', 'bulk').config.durable_name],
        [env.topology.streams.commands.name, env.topology.laneConsumer('momo', 'priority').config.durable_name],
        [env.topology.streams.walletIntake.name, env.topology.walletIntakeConsumers.momo.config.durable_name],
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

/** Publishes a full sync for every account and waits until all settled. */
export async function syncAll(env: Env, over: Partial<SyncCommand> = {}, timeoutMs?: number): Promise<void> {
  await Promise.all([...env.accounts.keys()].map((a) => env.publish(a, over)));
  await quiesce(env, timeoutMs);
}

export interface StoredRef {
  status: string;
  amount: number;
  ledgerId: string | null;
  reason: string | null;
}

/** Expected stored state of a reference from the simulator's truth now. */
export function expected(r: TruthRef): StoredRef {
  const status =
    r.status === 'SUCCESSFUL' ? 'posted' : r.status === 'FAILED' ? 'failed' : r.status === 'REJECTED_AFTER_ACCEPT' ? 'failed' : 'pending';
  return {
    status,
    amount: r.amount,
    ledgerId: r.status === 'SUCCESSFUL' ? r.financialTransactionId : null,
    reason: r.status === 'FAILED' ? r.reason : r.status === 'REJECTED_AFTER_ACCEPT' ? 'not_found' : null,
  };
}

/** Differences between the simulator's truth and what we store (references and balances); empty when equal. */
export async function differences(env: Env, opts: { balances?: boolean } = {}): Promise<string[]> {
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
    for (const r of a.references) {
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

export async function requestLog(env: Env): Promise<LoggedRequest[]> {
  return (await env.control<{ requests: LoggedRequest[] }>('GET', '/requests?limit=100000')).requests;
}

/** Routes MoMo documents (providers.md §2); anything else would be an invented history path. */
export const DOCUMENTED_ROUTES = new Set([
  'POST /collection/token/',
  'POST /disbursement/token/',
  'GET /collection/v1_0/account/balance',
  'GET /disbursement/v1_0/account/balance',
  'GET /collection/v1_0/requesttopay/:referenceId',
  'GET /disbursement/v1_0/transfer/:referenceId',
]);
