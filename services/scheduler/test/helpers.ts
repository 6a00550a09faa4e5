import { createLogger, Registry, type Logger } from '@intellifin/core';
import { PROVIDER_ACCOUNT_TYPE, type ProviderId } from '@intellifin/domain';
import {
  connectNats,
  createTopology,
  deleteTopology,
  ensureTopology,
  jetstreamManager,
  Publisher,
  type BatchItem,
  type PayloadCodec,
  type PublishOptions,
  type PublishResult,
  type Topology,
} from '@intellifin/messaging';
import { enqueueDueSync, insertAccount, insertOrganization, type Pool } from '@intellifin/persistence';
import { createTestDatabase, infrastructureUrls, uniqueSuffix, type TestDatabase } from '@intellifin/testing';
import { type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { LeaderElector } from '../src/app/leader';
import { schedulerMetrics } from '../src/app/metrics';
import { Scheduler, type SchedulerDeps } from '../src/app/scheduler';
import type { SyncCommand } from '@intellifin/messaging';
import { ManualClock } from '../src/domain/clock';

export const silentLogger = (): Logger => createLogger({ service: 'scheduler-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Sent {
  /** The planner's clock when the command went out. */
  at: Date;
  subject: string;
  msgId: string;
  command: SyncCommand;
  duplicate: boolean;
}

/** A real publisher that also remembers what it sent and when (by the manual clock). */
export class RecordingPublisher extends Publisher {
  readonly sent: Sent[] = [];
  constructor(
    opts: ConstructorParameters<typeof Publisher>[0],
    private readonly clock: ManualClock,
  ) {
    super(opts);
  }

  override async publish<T>(subject: string, payload: T, opts: PublishOptions<T> = {}): Promise<PublishResult> {
    const r = await super.publish(subject, payload, opts);
    this.sent.push({
      at: this.clock.now(),
      subject,
      msgId: opts.msgId ?? '',
      command: payload as unknown as SyncCommand,
      duplicate: r.duplicate,
    });
    return r;
  }

  override async publishBatch<T>(items: readonly BatchItem<T>[], codec?: PayloadCodec<T>): Promise<PromiseSettledResult<PublishResult>[]> {
    const results = await super.publishBatch(items, codec);
    results.forEach((r, i) => {
      const it = items[i]!;
      if (r.status === 'fulfilled')
        this.sent.push({
          at: this.clock.now(),
          subject: it.subject,
          msgId: it.msgId ?? '',
          command: it.payload as unknown as SyncCommand,
          duplicate: r.value.duplicate,
        });
    });
    return results;
  }
}

export interface Harness {
  db: TestDatabase;
  /** Superuser: fixtures and assertions. */
  pool: Pool;
  /** As intellifin_scheduler: for the scheduler's own code. */
  servicePool: Pool;
  nc: NatsConnection;
  jsm: JetStreamManager;
  topology: Topology;
  clock: ManualClock;
  close(): Promise<void>;
  /** Messages ever stored in SYNC_CMDS (duplicates dropped by msgID are not stored). */
  storedCommands(): Promise<number>;
}

export async function harness(start: Date | string): Promise<Harness> {
  const db = await createTestDatabase({ poolSize: 12 });
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'scheduler-test' });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology({ namespace: `s${uniqueSuffix()}` });
  await ensureTopology(jsm, topology, { deadLetterWatcher: false });
  return {
    db,
    pool: db.pool,
    servicePool: db.poolAs('intellifin_scheduler'),
    nc,
    jsm,
    topology,
    clock: new ManualClock(start),
    storedCommands: async () => Number((await jsm.streams.info(topology.streams.commands.name)).state.last_seq),
    async close() {
      await deleteTopology(jsm, topology).catch(() => undefined);
      await nc.close();
      await db.drop();
    },
  };
}

export interface Instance {
  scheduler: Scheduler;
  elector: LeaderElector;
  publisher: RecordingPublisher;
  registry: Registry;
}

export function instance(
  h: Harness,
  opts: { holder?: string; ttlMs?: number; pollMs?: number; overrides?: Partial<SchedulerDeps> } = {},
): Instance {
  const logger = silentLogger();
  const registry = new Registry();
  const metrics = schedulerMetrics(registry);
  const publisher = new RecordingPublisher({ nc: h.nc, topology: h.topology, registry, logger }, h.clock);
  const elector = new LeaderElector({
    pool: h.servicePool,
    holder: opts.holder ?? `test-${uniqueSuffix(3)}`,
    ttlMs: opts.ttlMs ?? 60_000,
    pollMs: opts.pollMs ?? 1_000,
    logger,
    metrics,
  });
  const scheduler = new Scheduler({
    pool: h.servicePool,
    publisher,
    topology: h.topology,
    logger,
    metrics,
    clock: h.clock,
    elector,
    pageSize: 500,
    maxInFlight: 200,
    maxPerPass: 100_000,
    errorBackoff: { baseMs: 30 * 60_000, capMs: 24 * 3_600_000 },
    maintenance: { cron: '0 3 * * *', timezone: 'Africa/Lusaka', syncRunsRetentionDays: 90, webhookEventsRetentionDays: 30 },
    tickMs: 1_000,
    ...opts.overrides,
  });
  return { scheduler, elector, publisher, registry };
}

export async function seedOrg(pool: Pool, name = `Org ${uniqueSuffix(2)}`): Promise<string> {
  return insertOrganization(pool, name);
}

export async function seedAccount(
  pool: Pool,
  orgId: string,
  provider: ProviderId,
  opts: {
    status?: 'active' | 'auth_required' | 'error' | 'disabled';
    lastSuccessAt?: Date;
    createdAt?: Date;
    consecutiveFailures?: number;
    lastAttemptAt?: Date;
    nextSyncAt?: Date;
  } = {},
): Promise<string> {
  const a = await insertAccount(pool, {
    orgId,
    provider,
    providerAccountId: `${provider}_${uniqueSuffix(4)}`,
    type: PROVIDER_ACCOUNT_TYPE[provider],
    currency: 'ZMW',
  });
  if (opts.nextSyncAt) {
    await enqueueDueSync(pool, {
      accountId: a.id,
      orgId,
      provider,
      dueAt: opts.nextSyncAt,
      plannedSlot: opts.nextSyncAt,
      mode: 'transactions',
      trigger: 'scheduled',
    });
  }
  await pool.query(
    `UPDATE accounts SET status = $2, last_success_at = $3, created_at = COALESCE($4, created_at), consecutive_failures = $5, last_attempt_at = $6 WHERE id = $1`,
    [
      a.id,
      opts.status ?? 'active',
      opts.lastSuccessAt ?? null,
      opts.createdAt ?? null,
      opts.consecutiveFailures ?? 0,
      opts.lastAttemptAt ?? null,
    ],
  );
  return a.id;
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const vals = (m?.values as { value: number; labels: Record<string, string | number> }[] | undefined) ?? [];
  return vals.filter((x) => Object.entries(labels).every(([k, v]) => String(x.labels[k]) === v)).reduce((s, x) => s + x.value, 0);
}

export { waitFor } from '@intellifin/testing';

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** Africa/Lusaka is UTC+2 all year (no DST): local wall time → instant. */
export function lusaka(date: string, hhmm: string): Date {
  return new Date(new Date(`${date}T${hhmm}:00Z`).getTime() - 2 * HOUR);
}
