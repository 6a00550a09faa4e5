import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@intellifin/core';
import { Publisher, type Topology } from '@intellifin/messaging';
import { createMonoWorker, type MonoWorker, type MonoWorkerDeps } from '@intellifin/mono-worker/src/app';
import type { RunningSimulator } from '@intellifin/sandbox';
import type { TestDatabase, TestRedis } from '@intellifin/testing';
import { logger } from './helpers';

/**
 * An in-process mono-worker against the Mono simulator, on the test's database (as
 * `intellifin_worker`), Redis prefix and NATS topology: the end-to-end tests' worker. Started.
 */
export async function startMonoWorker(o: {
  nc: NatsConnection;
  topology: Topology;
  db: TestDatabase;
  redis: TestRedis;
  mono: RunningSimulator<unknown>;
  workerId: string;
  over?: Partial<MonoWorkerDeps>;
}): Promise<MonoWorker> {
  const worker = createMonoWorker({
    nc: o.nc,
    js: jetstream(o.nc),
    topology: o.topology,
    publisher: new Publisher({ nc: o.nc, topology: o.topology }),
    pool: o.db.poolAs('intellifin_worker'),
    redis: o.redis.redis,
    logger: logger(),
    registry: new Registry(),
    workerId: o.workerId,
    mono: { baseUrl: o.mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 2_000, pageSize: 5 },
    rate: { ratePerSecond: 5_000, burst: 5_000 },
    leaseTtlMs: 5_000,
    keyPrefix: o.redis.prefix,
    monoWindow: { overlapDays: 3, historyDays: 100 },
    clock: () => new Date(o.mono.core.clock.now()),
    concurrency: 2,
    ...o.over,
  });
  await worker.start();
  return worker;
}
