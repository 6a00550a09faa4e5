import { createLogger, Registry, type Logger } from '@intellifin/core';
import { infrastructureUrls, uniqueSuffix } from '@intellifin/testing';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, createTopology, deleteTopology, ensureTopology, type Topology, type TopologyOptions } from '../src';

export interface Harness {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  logger: Logger;
  registry: Registry;
  close(): Promise<void>;
}

export const silentLogger = (): Logger => createLogger({ service: 'messaging-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A connection and an isolated, ensured topology (namespace `t<random>`); `close()` deletes the streams. */
export async function harness(opts: Omit<TopologyOptions, 'namespace'> = {}): Promise<Harness> {
  const logger = silentLogger();
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'messaging-test', logger });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const topology = createTopology({ namespace: `t${uniqueSuffix()}`, ...opts });
  await ensureTopology(jsm, topology);
  return {
    nc,
    js,
    jsm,
    topology,
    logger,
    registry: new Registry(),
    async close() {
      await deleteTopology(jsm, topology).catch(() => undefined);
      await nc.close();
    },
  };
}

export { waitFor } from '@intellifin/testing';

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as { value: number; labels: Record<string, string | number> }[] | undefined)?.find((x) =>
    Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val),
  );
  return v?.value ?? 0;
}
