/**
 * The checker's contract with the chaos harness. The harness brings the system to quiescence
 * (every account terminal, consumers drained, outbox relayed), then calls `checkInvariants` once
 * per scenario and prints `renderReport(allReports)`; the process exits non-zero when any
 * invariant failed (`failedCount(reports) > 0`).
 *
 * Implementation: `./index.ts` exports `checkInvariants`, `renderReport` and `failedCount`.
 */

export type ProviderName = 'mono' | 'momo' | 'airtel';

export interface PoisonAccount {
  /** Our account id (accounts.id), not the provider's. */
  accountId: string;
  provider: ProviderName;
  /** 'throw': the handler throws deterministically; 'crash': the process dies when handling it. */
  kind: 'throw' | 'crash';
}

export interface CheckContext {
  /** Owner/superuser URL of the chaos database (direct, not through a fault proxy). */
  pgUrl: string;
  /** Direct NATS URL (not proxied). */
  natsUrl: string;
  /** NATS monitoring base URL (e.g. http://127.0.0.1:18222), for /jsz consumer state. */
  natsMonitorUrl: string;
  /** Direct Redis URL (not proxied). */
  redisUrl: string;
  /** NATS namespace the services ran with (subject/stream prefix), if any. */
  natsNamespace?: string;
  /** Redis key prefix the services ran with, if any. */
  redisPrefix?: string;
  /** Direct base URLs of the simulators (not proxied), e.g. http://127.0.0.1:17001. */
  simulators: { mono: string; momo: string; airtel: string; onesignal: string };
  /** The poison the nemesis injected; the DLQ must hold exactly these. */
  poison: PoisonAccount[];
  /** Scenario window (load start, quiescence reached). */
  startedAt: Date;
  finishedAt: Date;
  /** Scenario id, e.g. 'S1'; it names the report's rows. */
  scenario: string;
  /**
   * Whether overlapping fetches of one account by two fences are tolerated (measured, not failed).
   * Default: allowed in S2, S6, S7, S9 and S12 (pauses, lease theft, expiring leases, proxy faults,
   * the soak), where a run may keep fetching after losing its lease; the fences invariant still
   * proves such a run never committed.
   */
  allowOverlaps?: boolean;
  /** The mono-worker's MONO_HISTORY_DAYS (how far back a first sync reaches), if not the default 90. */
  monoHistoryDays?: number;
}

export interface InvariantResult {
  /** Stable name, e.g. 'lost', 'unexpected', 'duplicated', 'final-state', 'cursor', ... */
  name: string;
  ok: boolean;
  /** Number of violations (0 when ok). */
  count: number;
  /** One line: what was checked and, on failure, the first few offenders (no secrets/PII). */
  detail: string;
}

export interface ProviderAmplification {
  /** Provider API requests the simulator logged in the window (control routes excluded). */
  requests: number;
  /** The minimum a fault-free run would have needed for the same accounts and data. */
  minimum: number;
  /** requests ÷ minimum (NaN when minimum is 0). */
  ratio: number;
}

export interface Measurements {
  /** finishedAt − startedAt. */
  quiescenceMs: number;
  amplification: Partial<Record<ProviderName, ProviderAmplification>>;
  /** JetStream num_redelivered summed over the command consumers, when the monitor answers. */
  redeliveries: number | null;
  /** Naks by reason, when derivable (from sync_runs outcomes / error codes); else {}. */
  naksByReason: Record<string, number>;
  /** Runs whose commit was refused because a newer fence had taken the account. */
  fencedRejections: number;
  /** sync_runs in the window, by outcome (status). */
  runsByOutcome: Record<string, number>;
  /** Overlapping fetches by different fences (measured; the invariant decides pass/fail). */
  overlaps: number;
  /** Messages in the DLQ stream. */
  dlqMessages: number;
  /** Free-form extra figures (e.g. per-provider 429s served). */
  extra: Record<string, number>;
}

export interface CheckReport {
  scenario: string;
  invariants: InvariantResult[];
  measurements: Measurements;
}

export type CheckInvariants = (ctx: CheckContext) => Promise<CheckReport>;
/** Jepsen-like table: scenario × invariant with counts, then measurements, ending `N passed, N failed`. */
export type RenderReport = (reports: CheckReport[]) => string;
