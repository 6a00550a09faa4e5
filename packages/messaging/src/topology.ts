import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type StreamConfig,
} from '@nats-io/jetstream';
import { ValidationError } from '@intellifin/core';

/**
 * JetStream streams and consumers of the sync system, as data (ARCHITECTURE §2,
 * reliability-research §1.14). Everything is parametrised by an optional namespace so that test
 * files can create isolated copies on one server: namespace `t1a2b` gives stream `SYNC_CMDS_t1a2b`
 * and subjects `t1a2b.sync.cmd.…`. Production has no namespace.
 *
 * Only 2.9-compatible settings are used: a single `filter_subject` per consumer, no BackOff (see
 * research §1.5: BackOff distorts `nak(delay)` and `working()`), no metadata/compression.
 */

export const PROVIDERS = ['mono', 'momo', 'airtel'] as const;
export type Provider = (typeof PROVIDERS)[number];

export function isProvider(value: string): value is Provider {
  return (PROVIDERS as readonly string[]).includes(value);
}

/** Providers whose accounts are merchant wallets (no statement; references and callbacks instead). */
export const WALLET_PROVIDERS = ['momo', 'airtel'] as const;
export type WalletProvider = (typeof WALLET_PROVIDERS)[number];
/** What a WALLET_INTAKE message carries: a reference registration (`ref`) or a provider callback (`cb`). */
export type WalletIntakeKind = 'ref' | 'cb';

/** Event kinds on SYNC_EVENTS: `sync.evt.<kind>.<provider>.<accountId>`. */
export const EVENT_KINDS = ['run', 'auth', 'status'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** The durable (and service) name of a provider's worker consumer (the bulk lane). */
export function workerName(provider: Provider): `${Provider}-worker` {
  return `${provider}-worker`;
}

/** The durable name of a provider's priority-lane consumer. */
export function priorityWorkerName(provider: Provider): `${Provider}-worker-priority` {
  return `${provider}-worker-priority`;
}

/**
 * The two lanes of SYNC_CMDS. `bulk`: scheduled (and every other background) work, subject
 * `sync.cmd.<provider>.<accountId>`. `priority`: a person is waiting (manual, webhook), subject
 * `sync.cmd.<provider>.<accountId>.priority`. Each lane has its own durable consumer per provider,
 * so a "Sync now" never queues behind a planning pass's commands.
 */
export const LANES = ['bulk', 'priority'] as const;
export type Lane = (typeof LANES)[number];

/** The last subject token of a priority-lane command. */
const PRIORITY_TOKEN = 'priority';

/** Triggers a person is waiting on (a tap, a link, a repair) or a provider pushed. */
const PRIORITY_TRIGGERS: ReadonlySet<string> = new Set(['manual', 'webhook', 'link', 'repair']);

/** The lane a trigger's commands travel in: manual, webhook, link and repair → priority; the rest → bulk. */
export function laneOf(trigger: string): Lane {
  return PRIORITY_TRIGGERS.has(trigger) ? 'priority' : 'bulk';
}

/**
 * Subject-safe token for account ids: letters, digits, `_` and `-`, 1–128 chars. Excludes `.`,
 * `*`, `>`, whitespace and everything else a NATS subject token cannot or should not carry.
 * UUIDs and base32 ids fit.
 */
const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;

export function isSubjectToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

export function assertAccountId(accountId: string): void {
  if (typeof accountId !== 'string' || !TOKEN_RE.test(accountId)) {
    throw new ValidationError('invalid_account_id', 'account id is not a subject-safe token ([A-Za-z0-9_-]{1,128})', [
      { path: 'accountId', message: 'must match [A-Za-z0-9_-]{1,128}' },
    ]);
  }
}

function assertProvider(provider: string): asserts provider is Provider {
  if (!isProvider(provider)) {
    throw new ValidationError('invalid_provider', `unknown provider "${provider}"`, [
      { path: 'provider', message: `one of ${PROVIDERS.join(', ')}` },
    ]);
  }
}

function assertLane(lane: string): asserts lane is Lane {
  if (!(LANES as readonly string[]).includes(lane)) {
    throw new ValidationError('invalid_lane', `unknown lane "${lane}"`, [{ path: 'lane', message: `one of ${LANES.join(', ')}` }]);
  }
}

const NS_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface TopologyOptions {
  /** Test isolation: suffix of stream names and prefix of subjects. Lower-case token. */
  namespace?: string;
  /** AckWait of the worker consumers. Default 60 s. */
  ackWaitMs?: number;
  /** Poison cap of the worker consumers (every delivery counts, naks included). Default 15. */
  maxDeliver?: number;
  /** Cap of delivered-but-unacked messages per consumer (delayed naks count too). Default 1000. */
  maxAckPending?: number;
  /** Dedup window of SYNC_CMDS (≥ 2 min). Default 10 min. */
  duplicateWindowMs?: number;
  /** MaxAge of SYNC_CMDS. Default 24 h. */
  commandMaxAgeMs?: number;
  /** MaxAge of SYNC_EVENTS. Default 7 days. */
  eventMaxAgeMs?: number;
  /** MaxAge of SYNC_DLQ. Default 30 days. */
  dlqMaxAgeMs?: number;
  /** MaxAge of the advisory capture stream. Default 7 days. */
  advisoryMaxAgeMs?: number;
  /** Replicas of every stream (3 in a production cluster). Default 1. */
  replicas?: number;
  /** AckWait of the dead-letter watcher's consumer. Default 30 s. */
  watcherAckWaitMs?: number;
}

export type StreamSpec = Partial<StreamConfig> & { name: string; subjects: string[] };
export interface ConsumerSpec {
  stream: string;
  config: Partial<ConsumerConfig> & { durable_name: string };
}

export interface CommandAddress {
  provider: Provider;
  accountId: string;
  lane: Lane;
}

export interface EventAddress {
  provider: Provider;
  accountId: string;
  kind: EventKind;
}

export interface Topology {
  readonly namespace: string | undefined;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly streams: {
    readonly commands: StreamSpec;
    readonly events: StreamSpec;
    readonly deadLetters: StreamSpec;
    readonly advisories: StreamSpec;
    /** `WALLET_INTAKE`: MoMo/Airtel reference registrations and provider callbacks (see walletIntakeSubject). */
    readonly walletIntake: StreamSpec;
  };
  /** One durable pull consumer per provider worker on SYNC_CMDS: the bulk lane. */
  readonly workers: Readonly<Record<Provider, ConsumerSpec>>;
  /** One durable pull consumer per provider on the priority lane (`<provider>-worker-priority`). */
  readonly priorityWorkers: Readonly<Record<Provider, ConsumerSpec>>;
  /** The durable consumer the dead-letter watcher reads the advisory stream with. */
  readonly deadLetterWatcher: ConsumerSpec;
  /** The notifier's durable consumer on SYNC_EVENTS: every provider's auth events, `[ns.]sync.evt.auth.*.*`. */
  readonly notifier: ConsumerSpec;
  /** One durable pull consumer per wallet provider on WALLET_INTAKE (`<provider>-worker-intake`), filter `wallet.<provider>.>`. */
  readonly walletIntakeConsumers: Readonly<Record<WalletProvider, ConsumerSpec>>;
  /**
   * `[ns.]wallet.<provider>.ref.<accountId>` (a reference registration) or `[ns.]wallet.<provider>.cb`
   * (a provider callback, not yet tied to an account).
   */
  walletIntakeSubject(provider: WalletProvider, kind: WalletIntakeKind, accountId?: string): string;

  /** `[ns.]sync.cmd.<provider>.<accountId>` (bulk) or `[ns.]sync.cmd.<provider>.<accountId>.priority`. */
  commandSubject(provider: Provider, accountId: string, lane?: Lane): string;
  /** The subject of a command: its provider, account and the lane of its trigger. */
  commandSubjectFor(cmd: { provider: Provider; accountId: string; trigger: string }): string;
  /** `[ns.]sync.cmd.<provider>.*` (bulk) or `[ns.]sync.cmd.<provider>.*.priority`: one lane's filter. */
  commandFilter(provider: Provider, lane?: Lane): string;
  /** The consumer of a provider's lane: `workers[provider]` or `priorityWorkers[provider]`. */
  laneConsumer(provider: Provider, lane: Lane): ConsumerSpec;
  /** `[ns.]sync.evt.<kind>.<provider>.<accountId>` */
  eventSubject(kind: EventKind, provider: Provider, accountId: string): string;
  /** `[ns.]sync.dlq.<original subject without namespace>` */
  deadLetterSubject(originalSubject: string): string;
  /** Parses a command subject; throws `ValidationError` if it is not one of this topology's. */
  parseCommandSubject(subject: string): CommandAddress;
  /** Like parseCommandSubject, but returns undefined instead of throwing. */
  tryParseCommandSubject(subject: string): CommandAddress | undefined;
  parseEventSubject(subject: string): EventAddress;
  /** The subject without the namespace prefix (identity without a namespace). */
  stripNamespace(subject: string): string;
  /** The kind of a subject for metrics labels: `cmd`, `evt.run`, `evt.auth`, `evt.status`, `dlq`, `other`. */
  subjectKind(subject: string): string;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** ms → ns for stream/consumer configs (JetStream durations are nanoseconds). */
export function nanosFromMs(ms: number): number {
  return Math.round(ms) * 1_000_000;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new ValidationError('invalid_topology', `${name} must be a positive integer, got ${value}`);
  return value;
}

export function createTopology(opts: TopologyOptions = {}): Topology {
  const ns = opts.namespace === undefined || opts.namespace === '' ? undefined : opts.namespace;
  if (ns !== undefined && !NS_RE.test(ns)) {
    throw new ValidationError('invalid_topology', `namespace "${ns}" must match ${NS_RE}`);
  }
  const ackWaitMs = positiveInt('ackWaitMs', opts.ackWaitMs ?? 60 * SECOND);
  const maxDeliver = positiveInt('maxDeliver', opts.maxDeliver ?? 15);
  const maxAckPending = positiveInt('maxAckPending', opts.maxAckPending ?? 1000);
  const duplicateWindowMs = positiveInt('duplicateWindowMs', opts.duplicateWindowMs ?? 10 * MINUTE);
  const commandMaxAgeMs = positiveInt('commandMaxAgeMs', opts.commandMaxAgeMs ?? DAY);
  if (duplicateWindowMs > commandMaxAgeMs) throw new ValidationError('invalid_topology', 'duplicateWindowMs must be ≤ commandMaxAgeMs');
  const replicas = positiveInt('replicas', opts.replicas ?? 1);

  const streamName = (base: string) => (ns ? `${base}_${ns}` : base);
  const prefix = ns ? `${ns}.` : '';
  const sub = (rest: string) => `${prefix}${rest}`;

  const commandsName = streamName('SYNC_CMDS');
  const commands: StreamSpec = {
    name: commandsName,
    description: 'Sync commands, one per account (coalesced); work queue consumed by the provider workers',
    // Bulk lane (4 tokens) and priority lane (5 tokens, last `priority`): disjoint subject sets.
    subjects: [sub('sync.cmd.*.*'), sub(`sync.cmd.*.*.${PRIORITY_TOKEN}`)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 1,
    max_age: nanosFromMs(commandMaxAgeMs),
    duplicate_window: nanosFromMs(duplicateWindowMs),
    num_replicas: replicas,
  };
  const events: StreamSpec = {
    name: streamName('SYNC_EVENTS'),
    description: 'Sync run / auth / status events for the notifier and the API',
    subjects: [sub('sync.evt.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanosFromMs(opts.eventMaxAgeMs ?? 7 * DAY),
    duplicate_window: nanosFromMs(2 * MINUTE),
    num_replicas: replicas,
  };
  const deadLetters: StreamSpec = {
    name: streamName('SYNC_DLQ'),
    description: 'Dead-lettered sync commands with reason, deliveries and original subject in headers',
    subjects: [sub('sync.dlq.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanosFromMs(opts.dlqMaxAgeMs ?? 30 * DAY),
    // msgID = dlq:<stream>:<seq>: the runner and the advisory watcher may both copy one message.
    duplicate_window: nanosFromMs(10 * MINUTE),
    num_replicas: replicas,
  };
  const advisories: StreamSpec = {
    name: streamName('SYNC_ADVISORIES'),
    description: 'Captured MAX_DELIVERIES / MSG_TERMINATED advisories of SYNC_CMDS consumers',
    subjects: [
      `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${commandsName}.*`,
      `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${commandsName}.*`,
    ],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanosFromMs(opts.advisoryMaxAgeMs ?? 7 * DAY),
    num_replicas: replicas,
  };

  const walletIntake: StreamSpec = {
    name: streamName('WALLET_INTAKE'),
    description: 'MoMo/Airtel reference registrations and provider callbacks; work queue consumed by the wallet workers',
    // One wildcard: each consumer's filter (wallet.<provider>.>) must be a subset of one stream subject (NATS 2.9).
    subjects: [sub('wallet.*.>')],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanosFromMs(opts.eventMaxAgeMs ?? 7 * DAY),
    // msgID = ref:<provider>:<reference>:<content digest> / cb:<provider>:<reference>:<body digest>.
    duplicate_window: nanosFromMs(duplicateWindowMs),
    num_replicas: replicas,
  };
  const walletIntakeConsumers = Object.fromEntries(
    WALLET_PROVIDERS.map((p): [WalletProvider, ConsumerSpec] => [
      p,
      {
        stream: walletIntake.name,
        config: {
          durable_name: `${p}-worker-intake`,
          description: `${p} reference registrations and callbacks`,
          filter_subject: sub(`wallet.${p}.>`),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          replay_policy: ReplayPolicy.Instant,
          ack_wait: nanosFromMs(ackWaitMs),
          max_deliver: maxDeliver,
          max_ack_pending: maxAckPending,
        },
      },
    ]),
  ) as Record<WalletProvider, ConsumerSpec>;

  const filter = (p: Provider, lane: Lane) => sub(lane === 'bulk' ? `sync.cmd.${p}.*` : `sync.cmd.${p}.*.${PRIORITY_TOKEN}`);
  const workerConsumers = (lane: Lane) =>
    Object.fromEntries(
      PROVIDERS.map((p): [Provider, ConsumerSpec] => [
        p,
        {
          stream: commandsName,
          config: {
            durable_name: lane === 'bulk' ? workerName(p) : priorityWorkerName(p),
            description: lane === 'bulk' ? `${p} sync worker` : `${p} sync worker, priority lane (manual and webhook triggers)`,
            // Work-queue consumers must not overlap: the two lanes' filters match disjoint subjects.
            filter_subject: filter(p, lane),
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            replay_policy: ReplayPolicy.Instant,
            ack_wait: nanosFromMs(ackWaitMs),
            max_deliver: maxDeliver,
            max_ack_pending: maxAckPending,
            // No backoff (research §1.5), no inactive_threshold (would delete idle durables).
          },
        },
      ]),
    ) as Record<Provider, ConsumerSpec>;
  const workers = workerConsumers('bulk');
  const priorityWorkers = workerConsumers('priority');

  const deadLetterWatcher: ConsumerSpec = {
    stream: advisories.name,
    config: {
      durable_name: 'dead-letter-watcher',
      description: 'Copies max-delivered commands to the DLQ',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanosFromMs(opts.watcherAckWaitMs ?? 30 * SECOND),
      max_ack_pending: 100,
    },
  };

  const notifier: ConsumerSpec = {
    stream: events.name,
    config: {
      durable_name: 'notifier',
      description: 'Re-auth pushes: auth events (reauth_required, repaired) of every provider',
      filter_subject: sub('sync.evt.auth.*.*'),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanosFromMs(ackWaitMs),
      max_deliver: maxDeliver,
      max_ack_pending: maxAckPending,
    },
  };

  const stripNamespace = (subject: string): string => (prefix && subject.startsWith(prefix) ? subject.slice(prefix.length) : subject);

  const tryParseCommandSubject = (subject: string): CommandAddress | undefined => {
    if (prefix && !subject.startsWith(prefix)) return undefined;
    const t = stripNamespace(subject).split('.');
    if (t[0] !== 'sync' || t[1] !== 'cmd') return undefined;
    if (t.length !== 4 && !(t.length === 5 && t[4] === PRIORITY_TOKEN)) return undefined;
    const [, , provider, accountId] = t as [string, string, string, string];
    if (!isProvider(provider) || !isSubjectToken(accountId)) return undefined;
    return { provider, accountId, lane: t.length === 5 ? 'priority' : 'bulk' };
  };

  const commandSubject = (provider: Provider, accountId: string, lane: Lane = 'bulk'): string => {
    assertProvider(provider);
    assertAccountId(accountId);
    assertLane(lane);
    return sub(lane === 'bulk' ? `sync.cmd.${provider}.${accountId}` : `sync.cmd.${provider}.${accountId}.${PRIORITY_TOKEN}`);
  };

  return {
    namespace: ns,
    ackWaitMs,
    maxDeliver,
    streams: { commands, events, deadLetters, advisories, walletIntake },
    workers,
    priorityWorkers,
    deadLetterWatcher,
    notifier,
    walletIntakeConsumers,
    walletIntakeSubject(provider, kind, accountId) {
      if (!(WALLET_PROVIDERS as readonly string[]).includes(provider))
        throw new ValidationError('invalid_provider', `"${provider}" is not a wallet provider`, [
          { path: 'provider', message: `one of ${WALLET_PROVIDERS.join(', ')}` },
        ]);
      if (kind === 'cb') return sub(`wallet.${provider}.cb`);
      if (kind !== 'ref') throw new ValidationError('invalid_intake_kind', `unknown wallet intake kind "${String(kind)}"`);
      assertAccountId(accountId ?? '');
      return sub(`wallet.${provider}.ref.${accountId}`);
    },
    commandSubject,
    commandSubjectFor(cmd) {
      return commandSubject(cmd.provider, cmd.accountId, laneOf(cmd.trigger));
    },
    commandFilter(provider, lane = 'bulk') {
      assertProvider(provider);
      assertLane(lane);
      return filter(provider, lane);
    },
    laneConsumer(provider, lane) {
      assertProvider(provider);
      assertLane(lane);
      return lane === 'bulk' ? workers[provider] : priorityWorkers[provider];
    },
    eventSubject(kind, provider, accountId) {
      if (!(EVENT_KINDS as readonly string[]).includes(kind))
        throw new ValidationError('invalid_event_kind', `unknown event kind "${kind}"`);
      assertProvider(provider);
      assertAccountId(accountId);
      return sub(`sync.evt.${kind}.${provider}.${accountId}`);
    },
    deadLetterSubject(originalSubject) {
      return sub(`sync.dlq.${stripNamespace(originalSubject)}`);
    },
    parseCommandSubject(subject) {
      const a = tryParseCommandSubject(subject);
      if (!a) throw new ValidationError('invalid_subject', `not a command subject of this topology: ${subject}`);
      return a;
    },
    tryParseCommandSubject,
    parseEventSubject(subject) {
      const t = prefix && !subject.startsWith(prefix) ? [] : stripNamespace(subject).split('.');
      if (t.length === 5 && t[0] === 'sync' && t[1] === 'evt') {
        const [, , kind, provider, accountId] = t as [string, string, string, string, string];
        if ((EVENT_KINDS as readonly string[]).includes(kind) && isProvider(provider) && isSubjectToken(accountId)) {
          return { kind: kind as EventKind, provider, accountId };
        }
      }
      throw new ValidationError('invalid_subject', `not an event subject of this topology: ${subject}`);
    },
    stripNamespace,
    subjectKind(subject) {
      const t = stripNamespace(subject).split('.');
      if (t[0] === 'wallet' && (t[2] === 'ref' || t[2] === 'cb')) return `wallet.${t[2]}`;
      if (t[0] !== 'sync') return 'other';
      if (t[1] === 'cmd') return 'cmd';
      if (t[1] === 'dlq') return 'dlq';
      if (t[1] === 'evt' && t[2] && (EVENT_KINDS as readonly string[]).includes(t[2])) return `evt.${t[2]}`;
      return 'other';
    },
  };
}

/** The production topology (no namespace, default timers). */
export const DEFAULT_TOPOLOGY: Topology = createTopology();
