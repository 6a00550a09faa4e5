import type { Logger, Tracer } from '@intellifin/core';
import type { AccountRef, BackoffPolicy, ProviderId, ProviderPort } from '@intellifin/domain';
import type { Publisher, Topology } from '@intellifin/messaging';
import type { Pool } from '@intellifin/persistence';
import type { Redis } from 'ioredis';
import type { EngineMetrics } from './metrics';

export interface SyncEngineOptions {
  provider: ProviderId;
  adapter: ProviderPort;
  pool: Pool;
  redis: Redis;
  publisher: Publisher;
  topology: Topology;
  logger: Logger;
  /** Identifies this process in lease tokens and run rows. */
  workerId: string;
  /** Lease TTL; keep it ≤ the consumer's AckWait (a redelivered command then finds the lease free). */
  leaseTtlMs: number;
  /**
   * The longest a run may take. Past it the run is aborted, its lease and heartbeats stop, and the
   * command is handed back, so a hung query or provider can never hold a worker slot, a message and
   * an account for ever. Default 10 minutes.
   */
  maxRunMs?: number;
  /** Prefix of the lease keys (tests isolate with it). */
  keyPrefix?: string;
  metrics?: EngineMetrics;
  tracer?: Tracer;
  /** The engine's clock (tests pin it to the provider sandbox's clock). Default: the system clock. */
  clock?: () => Date;
  /** Backoff of retryable failures without Retry-After. Default: the domain's (1 s doubling to 5 min). */
  backoff?: BackoffPolicy;
  /** Delay of the nak when the account's lease is busy and no run is left to honour a re-run. Default 2 s. */
  leaseBusyDelayMs?: number;
  /** Delay of the nak after a fenced rejection (another run took the account). Default 30 s. */
  fencedNakDelayMs?: number;
  /** Delay of the nak while our own Postgres, Redis or NATS is out. Default 5 s. */
  outageNakDelayMs?: number;
  /** Where the provider's re-link widget sends the user back to (the app's deep link). */
  reauthRedirectUrl?: string;
  /**
   * Asks the provider whether an `auth_required` account's consent works again. Without it (or when
   * it cannot tell), a run for such an account may read what the provider still serves, but the
   * account stays `auth_required`: only evidence of working consent repairs it.
   */
  consentProbe?: ConsentProbe;
  /** Told after a run's outcome (and its events) committed: the outbox relay publishes at once. */
  onCommitted?: () => void;
  /** Told of every failure of our own servers (the worker pauses and fails readiness). */
  onInfrastructureError?: (err: unknown) => boolean;
}

/**
 * Evidence that consent works again, for an account in `auth_required`. A provider's cached data
 * (Mono keeps serving the statement frozen at the revocation) is not such evidence: a run that only
 * read it must not flip the account back to `active`.
 */
export interface ConsentProbe {
  /**
   * `valid`: the provider reached the account with the user's consent just now. `unknown`: it could
   * not tell (rate-limited, institution down). Throws the provider's auth error when consent is
   * still withdrawn.
   */
  checkConsent(req: { account: AccountRef; signal: AbortSignal }): Promise<'valid' | 'unknown'>;
}

/** Triggers that take the priority lane: a person, or the provider itself, is waiting. */
export const PRIORITY_TRIGGERS = ['manual', 'webhook'] as const;
