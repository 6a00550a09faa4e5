import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createLogger, Registry, startTracing, type Logger } from '@intellifin/core';
import {
  connectNats,
  createTopology,
  deleteTopology,
  ensureConsumer,
  ensureTopology,
  Publisher,
  type SettledEvent,
  type Topology,
} from '@intellifin/messaging';
import { insertAccount, insertOrganization, insertUser } from '@intellifin/persistence';
import { startOneSignal, type RunningSimulator } from '@intellifin/sandbox';
import { createTestDatabase, infrastructureUrls, uniqueSuffix, waitFor, type TestDatabase } from '@intellifin/testing';
import { createNotifier, type Notifier, type NotifierDeps } from '../src/app/notifier';
import { parseQuietHours } from '../src/domain/quiet-hours';

export const APP_ID = '5eb5a37e-b458-11e3-ac11-000c2940e62c';
export const API_KEY = 'os_v2_app_notifiertestkeydonotlog7x9';
export const HOUR = 3_600_000;

export interface Proxied {
  method: string;
  path: string;
  authorization: string | undefined;
  body: any;
}

/** Creates (POST) being answered right now, and the most there ever were at once. */
export interface InFlight {
  now: number;
  max: number;
}

/** Forwards every request to the simulator and records what the notifier sent (bodies included). */
async function recordingProxy(target: string): Promise<{ url: string; seen: Proxied[]; posts: InFlight; close(): Promise<void> }> {
  const seen: Proxied[] = [];
  const posts: InFlight = { now: 0, max: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        body: raw ? JSON.parse(raw) : undefined,
      });
      const headers = { ...req.headers };
      delete headers.host;
      const post = req.method === 'POST';
      if (post) posts.max = Math.max(posts.max, ++posts.now);
      const done = () => {
        if (post) posts.now--;
      };
      fetch(`${target}${req.url}`, {
        method: req.method ?? 'GET',
        headers: headers as Record<string, string>,
        ...(raw ? { body: raw } : {}),
      })
        .then(async (r) => {
          const out: Record<string, string> = {};
          r.headers.forEach((v, k) => (out[k] = v));
          delete out['content-length'];
          delete out['transfer-encoding'];
          const body = Buffer.from(await r.arrayBuffer());
          done();
          res.writeHead(r.status, out).end(body);
        })
        .catch(() => {
          done();
          res.destroy();
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, posts, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface Env {
  db: TestDatabase;
  sim: RunningSimulator<unknown>;
  nc: NatsConnection;
  jsm: JetStreamManager;
  topology: Topology;
  publisher: Publisher;
  orgId: string;
  seen: Proxied[];
  /** POSTs in flight at the simulator (through the proxy). */
  posts: InFlight;
  logLines: string[];
  logger: Logger;
  settled: SettledEvent[];
  notifiers: Notifier[];
  /** Spans ended so far (a real tracer provider with the W3C propagator, in memory). */
  spans(): ReadableSpan[];
  now(): Date;
  advance(ms: number): void;
  startNotifier(over?: Partial<NotifierDeps>): Promise<Notifier>;
  account(o?: {
    externalId?: string | null;
    displayName?: string;
    provider?: 'mono' | 'momo' | 'airtel';
    status?: string;
    /** users.time_zone (the column is free text). */
    timeZone?: string;
  }): Promise<{ accountId: string; userId: string | null; externalId: string | null }>;
  publishAuth(
    ev: { kind: 'reauth_required' | 'repaired'; accountId: string; provider?: string; runId?: string; at?: Date },
    copies?: number,
    traceparent?: string,
  ): Promise<string>;
  simNotifications(): Promise<any[]>;
  /** The simulator's request log (`GET /__sandbox/requests`), oldest first. */
  simRequests(query?: Record<string, string>): Promise<any[]>;
  /** Resolves after every running notifier finished `n` more dispatch passes. */
  passes(n?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEnv(epoch: string): Promise<Env> {
  const logLines: string[] = [];
  const logger = createLogger({
    service: 'notifier-test',
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  });
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing('notifier-test', { env: {}, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const [db, sim] = await Promise.all([
    createTestDatabase({ poolSize: 10 }),
    startOneSignal({
      port: 0,
      seed: 3,
      epoch,
      clock: 'manual',
      appId: APP_ID,
      appApiKey: API_KEY,
      subscribedPercent: 100,
      partialPercent: 0,
    }),
  ]);
  const proxy = await recordingProxy(sim.url);
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'notifier-test' });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology({ namespace: `t${uniqueSuffix()}`, ackWaitMs: 5_000, maxDeliver: 5 });
  await ensureTopology(jsm, topology, { workers: [], priorityLane: false, deadLetterWatcher: false });
  await ensureConsumer(jsm, topology.notifier);
  const publisher = new Publisher({ nc, topology });
  const orgId = await insertOrganization(db.pool, 'notifier test org');
  const settled: SettledEvent[] = [];
  const notifiers: Notifier[] = [];
  const now = () => new Date(sim.core.clock.now());
  const env: Env = {
    db,
    sim,
    nc,
    jsm,
    topology,
    publisher,
    orgId,
    seen: proxy.seen,
    posts: proxy.posts,
    logLines,
    logger,
    settled,
    notifiers,
    spans: () => exporter.getFinishedSpans(),
    now,
    advance: (ms) => sim.core.clock.advance(ms),
    async startNotifier(over = {}) {
      const n = createNotifier({
        nc,
        js: jetstream(nc),
        topology,
        pool: db.poolAs('intellifin_notifier'),
        logger,
        registry: new Registry(),
        tracer: tracing.tracer,
        instanceId: `notifier-test-${notifiers.length}`,
        onesignal: { baseUrl: proxy.url, appId: APP_ID, apiKey: API_KEY, timeoutMs: 2_000 },
        links: { deepLinkScheme: 'intellifin', webBaseUrl: 'https://app.example.test' },
        reminderDelaysMs: [24 * HOUR, 72 * HOUR],
        quietHours: parseQuietHours('21:00-07:00'),
        defaultTimeZone: 'Africa/Lusaka',
        expiryWarningDays: 7,
        expiryScanMs: 200,
        maxAttempts: 6,
        backoff: { baseMs: 1_000, capMs: 5_000 },
        pollMs: 40,
        claimLeaseMs: 60_000,
        concurrency: 4,
        sendConcurrency: 4,
        clock: now,
        onSettled: (e) => settled.push(e),
        ...over,
      });
      await n.start();
      notifiers.push(n);
      return n;
    },
    async account(o = {}) {
      const externalId = o.externalId === undefined ? `user-${randomUUID()}` : o.externalId;
      const userId = externalId === null ? null : await insertUser(db.pool, orgId, externalId);
      const a = await insertAccount(db.pool, {
        orgId,
        userId,
        provider: o.provider ?? 'mono',
        providerAccountId: `acct-${randomUUID()}`,
        type: o.provider === 'momo' || o.provider === 'airtel' ? 'mobile_money' : 'bank',
        currency: 'ZMW',
        displayName: o.displayName ?? 'Zanaco Current',
      });
      await db.pool.query('UPDATE accounts SET status = $2 WHERE id = $1', [a.id, o.status ?? 'auth_required']);
      if (o.timeZone !== undefined && userId !== null)
        await db.pool.query('UPDATE users SET time_zone = $2 WHERE id = $1', [userId, o.timeZone]);
      return { accountId: a.id, userId, externalId };
    },
    async publishAuth(ev, copies = 1, traceparent) {
      const runId = ev.runId ?? randomUUID();
      const provider = (ev.provider ?? 'mono') as 'mono';
      const payload = {
        kind: ev.kind,
        runId,
        accountId: ev.accountId,
        orgId,
        provider,
        at: (ev.at ?? now()).toISOString(),
        ...(ev.kind === 'reauth_required' ? { reason: 'consent revoked' } : {}),
      };
      // Several copies (distinct message ids, as relays re-publishing after the dedup window would).
      for (let i = 0; i < copies; i++) {
        await publisher.publish(topology.eventSubject('auth', provider, ev.accountId), payload, {
          msgId: `auth:${runId}:${i}`,
          ...(traceparent ? { headers: { traceparent } } : {}),
        });
      }
      return runId;
    },
    async simNotifications() {
      return ((await (await fetch(`${sim.url}/__sandbox/notifications`)).json()) as { notifications: any[] }).notifications;
    },
    async simRequests(query = {}) {
      const qs = new URLSearchParams({ limit: '100000', ...query });
      return ((await (await fetch(`${sim.url}/__sandbox/requests?${qs}`)).json()) as { requests: any[] }).requests;
    },
    async passes(n = 2) {
      const targets = notifiers.map((x) => x.dispatcher.passes + n);
      await waitFor(() => notifiers.every((x, i) => x.dispatcher.passes >= targets[i]!), `${n} dispatcher passes`, 20_000, 5);
    },
    async close() {
      for (const n of notifiers) await n.stop(2_000).catch(() => undefined);
      await deleteTopology(jsm, topology).catch(() => undefined);
      await nc.close();
      await proxy.close();
      await sim.close();
      await db.drop();
      await tracing.shutdown();
    },
  };
  return env;
}

export { waitFor };

export async function notificationRows(env: Env, accountId: string): Promise<any[]> {
  return (await env.db.pool.query('SELECT * FROM notifications WHERE account_id = $1 ORDER BY due_at, kind', [accountId])).rows;
}

export async function attemptRows(env: Env, accountId: string): Promise<any[]> {
  return (
    await env.db.pool.query(
      `SELECT t.* FROM notification_attempts t JOIN notifications n ON n.id = t.notification_id WHERE n.account_id = $1 ORDER BY t.id`,
      [accountId],
    )
  ).rows;
}

/** Adds fault rules at the simulator (sandbox/README.md, faults). */
export async function addFaults(env: Env, faults: Record<string, unknown>[]): Promise<void> {
  const r = await fetch(`${env.sim.url}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ faults }),
  });
  if (!r.ok) throw new Error(`adding faults failed: HTTP ${r.status} ${await r.text()}`);
}
