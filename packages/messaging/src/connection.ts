import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstreamManager, type ConsumerInfo, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from '@intellifin/core';
import type { ConsumerSpec, StreamSpec, Topology } from './topology';

export interface ConnectNatsOptions {
  /** One URL, a comma-separated list, or a list. */
  servers: string | string[];
  /** Connection name shown in the server's monitoring (use the service name). */
  name: string;
  logger?: Logger;
  /** Wait between reconnect attempts. Default 2 s. */
  reconnectTimeWaitMs?: number;
  /** Random extra wait added to each reconnect attempt. Default 1 s. */
  reconnectJitterMs?: number;
  /**
   * Keep retrying when the server is down at start-up instead of failing. Default false: a
   * process that cannot reach NATS at boot fails loudly and its supervisor restarts it.
   */
  waitOnFirstConnect?: boolean;
  /** Bound on establishing the connection (the client's default is 20 s). */
  timeoutMs?: number;
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * Connects with a name, reconnects forever (with jitter) and logs connection status changes.
 * The returned connection's `closed()` promise resolves when it is closed for good.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const servers =
    typeof opts.servers === 'string'
      ? opts.servers
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : opts.servers;
  const nc = await connect({
    servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnect: true,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 2_000,
    reconnectJitter: opts.reconnectJitterMs ?? 1_000,
    reconnectJitterTLS: opts.reconnectJitterMs ?? 1_000,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    timeout: opts.timeoutMs ?? 20_000,
    // No Error (with a stack) captured per request to decorate a later failure: services run with
    // --stack-trace-limit=0, so it would be an empty allocation per publish and per API call.
    noAsyncTraces: true,
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.pass !== undefined ? { pass: opts.pass } : {}),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  const log = opts.logger?.child({ component: 'nats', connection: opts.name });
  log?.info({ server: nc.getServer(), serverVersion: nc.info?.version }, 'nats connected');
  if (log) {
    void (async () => {
      for await (const s of nc.status()) {
        switch (s.type) {
          case 'disconnect':
            log.warn({ server: s.server }, 'nats disconnected');
            break;
          case 'reconnecting':
            log.debug('nats reconnecting');
            break;
          case 'reconnect':
            log.info({ server: s.server }, 'nats reconnected');
            break;
          case 'error':
            log.error({ err: s.error }, 'nats async error');
            break;
          case 'ldm':
            log.warn({ server: s.server }, 'nats server entering lame duck mode');
            break;
          case 'staleConnection':
            log.warn('nats stale connection');
            break;
          case 'slowConsumer':
            log.warn({ subject: s.sub.getSubject(), pending: s.pending }, 'nats slow consumer');
            break;
          case 'close':
            log.info('nats connection closed');
            break;
          default:
            break;
        }
      }
    })().catch((err: unknown) => log.error({ err }, 'nats status loop failed'));
  }
  return nc;
}

export { jetstreamManager };

const STREAM_NAME_IN_USE = 10058; // "stream name already in use with a different configuration"
const STREAM_SUBJECT_OVERLAP = 10065; // "subjects overlap with an existing stream"
const CONSUMER_EXISTS = 10148; // 2.10+: "consumer already exists" (action=create with a different config)
const CONSUMER_NAME_EXISTS = 10013; // "consumer name already in use"

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/**
 * Create the stream, or update it if it exists with a different configuration. Idempotent, and
 * safe when several processes call it at once: the server serialises stream creation and treats
 * an identical create as a no-op; a create/update race is retried. A create that races another
 * process's create of the same stream can also be refused as "subjects overlap" (seen on 2.9.10
 * for the advisory stream): it is retried too, and only a lasting overlap — another stream owns
 * the subjects — is an error.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<StreamInfo> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await jsm.streams.add(spec);
    } catch (err) {
      const code = apiCode(err);
      if (attempt >= 3 || (code !== STREAM_NAME_IN_USE && code !== STREAM_SUBJECT_OVERLAP)) throw err;
      if (code === STREAM_SUBJECT_OVERLAP) {
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
        continue;
      }
    }
    try {
      const { name, ...update } = spec;
      return await jsm.streams.update(name, update);
    } catch (err) {
      // Someone deleted it between our add and update (or updated concurrently): try again.
      if (attempt >= 3) throw err;
    }
  }
}

/**
 * Create the durable consumer or update its configuration. The client sends action=create: 2.9
 * ignores the action and updates a durable in place; 2.10+ returns the existing consumer when the
 * configuration is identical and "consumer already exists" when it differs, which we answer with
 * an explicit update.
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<ConsumerInfo> {
  try {
    return await jsm.consumers.add(spec.stream, spec.config);
  } catch (err) {
    const code = apiCode(err);
    if (code !== CONSUMER_EXISTS && code !== CONSUMER_NAME_EXISTS) throw err;
    return jsm.consumers.update(spec.stream, spec.config.durable_name, spec.config);
  }
}

export interface EnsureTopologyOptions {
  logger?: Logger;
  /** Which providers' worker consumers to ensure (both lanes). Default: all providers. */
  workers?: readonly (keyof Topology['workers'])[];
  /** Also ensure the priority-lane consumer of each of those providers. Default true. */
  priorityLane?: boolean;
  /** Also ensure the dead-letter watcher's consumer. Default true. */
  deadLetterWatcher?: boolean;
  /** Also ensure the WALLET_INTAKE consumer of each of those providers that is a wallet (momo, airtel). Default true. */
  walletIntake?: boolean;
}

/**
 * Creates or updates every stream and consumer of the topology. Run at start-up by every service.
 * An existing SYNC_CMDS with an older subject list (before the priority lane) is updated in place,
 * keeping its messages; the streams are in place before any consumer is ensured.
 */
export async function ensureTopology(jsm: JetStreamManager, topology: Topology, opts: EnsureTopologyOptions = {}): Promise<void> {
  const { commands, events, deadLetters, advisories, walletIntake } = topology.streams;
  await Promise.all([commands, events, deadLetters, advisories, walletIntake].map((s) => ensureStream(jsm, s)));
  const providers = opts.workers ?? (Object.keys(topology.workers) as (keyof Topology['workers'])[]);
  const consumers: ConsumerSpec[] = providers.map((p) => topology.workers[p]);
  if (opts.priorityLane ?? true) consumers.push(...providers.map((p) => topology.priorityWorkers[p]));
  if (opts.walletIntake ?? true)
    for (const p of providers) if (p === 'momo' || p === 'airtel') consumers.push(topology.walletIntakeConsumers[p]);
  if (opts.deadLetterWatcher ?? true) consumers.push(topology.deadLetterWatcher);
  await Promise.all(consumers.map((c) => ensureConsumer(jsm, c)));
  opts.logger?.info(
    {
      streams: [commands.name, events.name, deadLetters.name, advisories.name, walletIntake.name],
      consumers: consumers.map((c) => `${c.stream}/${c.config.durable_name}`),
    },
    'jetstream topology ensured',
  );
}

/** Deletes the topology's streams (and with them their consumers). For tests and tooling. */
export async function deleteTopology(jsm: JetStreamManager, topology: Topology): Promise<void> {
  const { commands, events, deadLetters, advisories, walletIntake } = topology.streams;
  await Promise.all(
    [commands, events, deadLetters, advisories, walletIntake].map((s) =>
      jsm.streams.delete(s.name).catch((err: unknown) => {
        if (apiCode(err) !== 10059) throw err; // stream not found
      }),
    ),
  );
}
