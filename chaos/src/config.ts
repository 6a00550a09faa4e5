/**
 * Fixed settings of the chaos harness: test ports (never the shared servers' standard ports),
 * profiles, compressed timers and the environment every service process gets.
 */

/**
 * `CHAOS_PORT_OFFSET` (0–999, default 0) moves every port, so that two runs (e.g. the full profile
 * and a deliberately broken build from another checkout) can share a machine.
 */
export function chaosPortOffset(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CHAOS_PORT_OFFSET;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,3}$/.test(raw)) throw new Error(`CHAOS_PORT_OFFSET must be an integer from 0 to 999, got "${raw}"`);
  return Number(raw);
}

const OFFSET = chaosPortOffset();

export const CHAOS_PORTS = {
  nats: 14222 + OFFSET,
  natsMonitor: 18222 + OFFSET,
  redis: 16379 + OFFSET,
  postgres: 15432 + OFFSET,
  /** Health/metrics servers of the service processes: 19100 + 40 × offset + the process's index. */
  healthBase: 19100 + 40 * OFFSET,
  /** sync-api's HTTP port. */
  syncApiHttp: 18080 + OFFSET,
  /** sync-api's gRPC port (its default, 50051, would not move with the offset). */
  syncApiGrpc: 18500 + OFFSET,
} as const;

export type ProfileName = 'quick' | 'full';

export interface Profile {
  name: ProfileName;
  /** Accounts across the three providers (about a third each). */
  accounts: number;
  /** Scenarios run by default. */
  scenarios: string[];
  /** Worker processes per provider. */
  workersPerProvider: number;
  /** How long a nemesis acts (it stops earlier when the system quiesces first, but never before its minimum). */
  faultWindowMs: number;
  /** Upper bound on one scenario's wait for quiescence after its nemesis stopped. */
  quiescenceTimeoutMs: number;
  /** Mono transactions per account (the simulator generates them from the seed). */
  monoTransactionsPerAccount: number;
  /**
   * Wallet references the simulator settles within this long after the start are waited for (a
   * run must poll them after they settle: the pending → final path); later ones stay pending.
   * Short in the quick profile, which CI runs: the wait sets each scenario's minimum length.
   */
  settleHorizonMs: number;
}

export const PROFILES: Record<ProfileName, Profile> = {
  quick: {
    name: 'quick',
    accounts: 2_000,
    scenarios: ['S0', 'S1', 'S2', 'S3', 'S4', 'S6', 'S8', 'S10'],
    workersPerProvider: 2,
    faultWindowMs: 45_000,
    quiescenceTimeoutMs: 240_000,
    monoTransactionsPerAccount: 30,
    settleHorizonMs: 45_000,
  },
  full: {
    name: 'full',
    accounts: 10_000,
    scenarios: ['S0', 'S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8', 'S9', 'S10', 'S11', 'S12'],
    workersPerProvider: 2,
    faultWindowMs: 120_000,
    quiescenceTimeoutMs: 900_000,
    monoTransactionsPerAccount: 30,
    settleHorizonMs: 120_000,
  },
};

/** Compressed timers (production values in brackets). Lease TTL ≤ AckWait, as the engine requires. */
export const TIMERS = {
  ackWaitMs: 10_000, // [60 s]
  leaseTtlMs: 8_000, // [48 s]
  maxDeliver: 6, // [15]
  providerTimeoutMs: 4_000, // [10–15 s]
  shutdownDeadlineMs: 4_000, // [10 s]
  schedulerTickMs: 1_000, // [5 s]
  leaderLeaseTtlMs: 4_000, // [15 s]
  leaderPollMs: 1_000, // [5 s]
  manualSyncIntervalMs: 5_000, // [60 s] per-account "Sync now" limit (sync-api)
};

/** Test-only secrets and settings shared by every service process (no production value is used here). */
export const BASE_SERVICE_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  CREDENTIALS_ENCRYPTION_KEY: 'dev:ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=',
  MONO_SECRET_KEY: 'test_sk_sandbox_mono',
  MONO_WEBHOOK_SECRET: 'sandbox-webhook-secret',
  MOMO_TARGET_ENVIRONMENT: 'mtnzambia',
  ONESIGNAL_APP_ID: '00000000-0000-4000-8000-000000000000',
  ONESIGNAL_API_KEY: 'sandbox-onesignal-key',
  JWT_ISSUER: 'https://auth.intellifin.local',
  JWT_AUDIENCE: 'intellifin-sync',
  JWT_SECRET: 'chaos-only-hs256-secret-not-for-production',
  SERVICE_TOKEN: 'chaos-only-service-token-not-for-production',
  MIGRATE_ON_START: 'false',
  OTEL_SDK_DISABLED: 'true',
  NATS_ACK_WAIT_MS: String(TIMERS.ackWaitMs),
  NATS_MAX_DELIVER: String(TIMERS.maxDeliver),
  LEASE_TTL_MS: String(TIMERS.leaseTtlMs),
  SHUTDOWN_DEADLINE_MS: String(TIMERS.shutdownDeadlineMs),
  MONO_TIMEOUT_MS: String(TIMERS.providerTimeoutMs),
  MOMO_TIMEOUT_MS: String(TIMERS.providerTimeoutMs),
  AIRTEL_TIMEOUT_MS: String(TIMERS.providerTimeoutMs),
  ONESIGNAL_TIMEOUT_MS: String(TIMERS.providerTimeoutMs),
  SCHEDULER_TICK_MS: String(TIMERS.schedulerTickMs),
  LEADER_LEASE_TTL_MS: String(TIMERS.leaderLeaseTtlMs),
  LEADER_POLL_MS: String(TIMERS.leaderPollMs),
  MANUAL_SYNC_INTERVAL_MS: String(TIMERS.manualSyncIntervalMs),
  // The whole load may be dispatched at once; the workers' own request budgets still apply.
  SCHEDULER_BUDGET_MONO: '500/5000/100',
  SCHEDULER_BUDGET_MOMO: '500/5000/100',
  SCHEDULER_BUDGET_AIRTEL: '500/5000/100',
  // Fewer Postgres connections per process: 6 workers share one small server.
  WORKER_CONCURRENCY: '6',
  INTAKE_CONCURRENCY: '2',
  NOTIFIER_QUIET_HOURS: '00:00-00:00',
  NOTIFIER_POLL_MS: '500',
  NOTIFIER_RETRY_BASE_MS: '500',
  NOTIFIER_RETRY_CAP_MS: '5000',
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: String(CHAOS_PORTS.syncApiHttp),
  GRPC_PORT: String(CHAOS_PORTS.syncApiGrpc),
};
