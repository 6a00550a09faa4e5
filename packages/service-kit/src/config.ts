import { z } from 'zod';
import { ConfigError, positiveIntVar, type logLevelVar } from '@intellifin/core';

/**
 * Every wait on a server is bounded. These variables set the bounds; every service schema spreads
 * `connectionLimitsEnv` so they are validated with the rest of its configuration.
 */
export const connectionLimitsEnv = {
  /** Connecting to Postgres, or waiting for a free client of a full pool. */
  PG_CONNECT_TIMEOUT_MS: positiveIntVar(5_000),
  /** Server side: Postgres cancels a longer statement. */
  PG_STATEMENT_TIMEOUT_MS: positiveIntVar(60_000),
  /** Client side: give up on a query whose answer never comes; must exceed PG_STATEMENT_TIMEOUT_MS. */
  PG_QUERY_TIMEOUT_MS: positiveIntVar(65_000),
  /** Server side: a session left idle inside a transaction is ended (its locks released). */
  PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveIntVar(60_000),
  REDIS_CONNECT_TIMEOUT_MS: positiveIntVar(5_000),
  /** A Redis command without an answer within this fails. */
  REDIS_COMMAND_TIMEOUT_MS: positiveIntVar(5_000),
  /** How many reconnections a queued Redis command waits through before it fails. */
  REDIS_MAX_RETRIES_PER_REQUEST: z.coerce.number().int().min(0).max(20).default(3),
  NATS_CONNECT_TIMEOUT_MS: positiveIntVar(5_000),
  /**
   * AckWait of the worker consumers (the topology's default, 60 s). Every process sharing the
   * consumers must be given the same value; the chaos harness compresses it (with LEASE_TTL_MS ≤ it).
   */
  NATS_ACK_WAIT_MS: positiveIntVar(60_000),
  /** MaxDeliver (poison cap) of the worker consumers (the topology's default, 15). Same rule as above. */
  NATS_MAX_DELIVER: positiveIntVar(15),
};

export type ConnectionLimits = z.infer<z.ZodObject<typeof connectionLimitsEnv>>;

/** What the kit reads from a service's configuration; each service schema provides these keys. */
export interface ServiceConfigBase extends ConnectionLimits {
  LOG_LEVEL: z.infer<typeof logLevelVar>;
  HEALTH_PORT: number;
  DATABASE_URL?: string;
  REDIS_URL?: string;
  NATS_URL?: string;
  NATS_NAMESPACE?: string | undefined;
  MIGRATE_ON_START?: boolean;
}

/** Cross-field rules of the limits (throws ConfigError naming the variable). */
export function checkConnectionLimits(c: ConnectionLimits): void {
  if (c.PG_QUERY_TIMEOUT_MS <= c.PG_STATEMENT_TIMEOUT_MS)
    throw new ConfigError([
      'PG_QUERY_TIMEOUT_MS: must be greater than PG_STATEMENT_TIMEOUT_MS (the server cancels first, so the connection stays usable)',
    ]);
}
