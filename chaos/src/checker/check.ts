/**
 * The checker: after quiescence, reads the database, the simulators (truth, request logs),
 * JetStream and Redis once, and states each invariant with its count (see README.md in this
 * folder). Every invariant is evaluated on its own: one whose evidence cannot be read is reported
 * as failed ("could not be checked"), never skipped.
 */
import { Pool } from 'pg';
import { checkCursors, checkFinalState, checkRows } from './data';
import { checkDuplicates, checkFences } from './fences';
import { checkLeases } from './leases';
import { checkReauthPushes } from './notify';
import { amplification, checkSingleFetcher, findOverlaps, retryAfterViolations, type Overlap, type SimulatorName } from './requests';
import { errorText, invariant, unverifiable } from './result';
import {
  fetchMonoTruth,
  fetchOneSignalRecords,
  fetchRequestLog,
  fetchWalletTruth,
  simulatorOffsetMs,
  type RequestLogDump,
} from './sources';
import { checkDeadLetters, checkEvents, commandConsumerFigures, openStreams, type StreamSession } from './streams';
import { buildTruth, type Truth } from './truth';
import type { CheckContext, CheckReport, InvariantResult, Measurements } from './types';
import { INTERRUPTED_CODES, loadWorld, type DbWorld } from './world';

const SIMULATORS: readonly SimulatorName[] = ['mono', 'momo', 'airtel', 'onesignal'];

/**
 * Scenarios whose faults let a paused or robbed run keep fetching after its lease is gone (S2
 * pause, S6 lease theft, S7 expiring leases, S9 proxy faults, S12 the soak that rotates them):
 * overlapping fetches are measured there, and the fences invariant proves they never committed.
 */
const OVERLAP_SCENARIOS = new Set(['S2', 'S6', 'S7', 'S9', 'S12']);

export function overlapsAllowed(ctx: Pick<CheckContext, 'scenario' | 'allowOverlaps'>): boolean {
  return ctx.allowOverlaps ?? OVERLAP_SCENARIOS.has(ctx.scenario.split(/[^A-Za-z0-9]/)[0]!.toUpperCase());
}

async function attempt<T>(what: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await what() };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

export async function checkInvariants(ctx: CheckContext): Promise<CheckReport> {
  const pool = new Pool({ connectionString: ctx.pgUrl, max: 4, application_name: 'chaos-checker' });
  pool.on('error', () => undefined);
  const invariants: InvariantResult[] = [];
  const m: Measurements = {
    quiescenceMs: ctx.finishedAt.getTime() - ctx.startedAt.getTime(),
    amplification: {},
    redeliveries: null,
    naksByReason: {},
    fencedRejections: 0,
    runsByOutcome: {},
    overlaps: 0,
    dlqMessages: 0,
    extra: {},
  };
  let streams: StreamSession | undefined;
  try {
    const [world, truth, logs, records] = await Promise.all([
      attempt(() => loadWorld(pool)),
      attempt(() => loadTruth(ctx)),
      Promise.all(SIMULATORS.map(async (s) => [s, await attempt(() => fetchRequestLog(ctx.simulators[s]))] as const)),
      attempt(() => fetchOneSignalRecords(ctx.simulators.onesignal)),
    ]);
    const logOf = new Map(logs);

    // Rows, states and cursors against the truth.
    if (world.ok && truth.ok) {
      invariants.push(...checkRows(world.value, truth.value));
    } else {
      const why = !world.ok ? `database: ${world.error}` : !truth.ok ? `simulator truth: ${truth.error}` : '';
      for (const n of ['lost', 'unexpected', 'row-values']) invariants.push(unverifiable(n, why));
    }
    invariants.push(await sqlInvariant('duplicated', () => checkDuplicates(pool)));
    invariants.push(
      world.ok && truth.ok
        ? checkFinalState(world.value, truth.value, ctx.poison, ctx.finishedAt)
        : unverifiable('final-state', !world.ok ? world.error : !truth.ok ? truth.error : ''),
    );
    invariants.push(world.ok && truth.ok ? checkCursors(world.value, truth.value) : unverifiable('cursor', !world.ok ? world.error : ''));
    invariants.push(await sqlInvariant('fences', () => checkFences(pool)));

    // Request logs: one fence at a time, Retry-After, amplification.
    invariants.push(...requestInvariantList(ctx, logOf, world.ok ? world.value : undefined, m));

    // JetStream: dead letters, events, consumer counters.
    const s = await attempt(() => openStreams(ctx.natsUrl, ctx.natsNamespace));
    if (s.ok) streams = s.value;
    const dlq = streams ? await attempt(() => checkDeadLetters(streams!, ctx.poison)) : undefined;
    if (dlq?.ok) {
      invariants.push(dlq.value.result);
      m.dlqMessages = dlq.value.messages;
    } else invariants.push(unverifiable('dlq', dlq && !dlq.ok ? dlq.error : `NATS: ${!s.ok ? s.error : ''}`));

    invariants.push(
      !records.ok
        ? unverifiable('reauth-push', `OneSignal simulator: ${records.error}`)
        : !world.ok
          ? unverifiable('reauth-push', world.error)
          : await sqlInvariant('reauth-push', () => checkReauthPushes(pool, world.value, records.value)),
    );

    if (streams && world.ok) {
      const outbox = await attempt(async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]!.n);
      const ev = outbox.ok ? await attempt(() => checkEvents(streams!, world.value, outbox.value, pool)) : outbox;
      invariants.push(ev.ok ? (ev.value as InvariantResult) : unverifiable('events', ev.error));
      const figures = await attempt(() => commandConsumerFigures(streams!));
      if (figures.ok) {
        m.redeliveries = figures.value.redeliveries;
        m.extra['commands.stored'] = figures.value.commands;
        m.extra['commands.deliveries'] = figures.value.deliveries;
        m.extra['commands.ack_pending_at_end'] = figures.value.ackPending;
        m.extra['commands.pending_at_end'] = figures.value.pending;
      }
    } else invariants.push(unverifiable('events', !world.ok ? world.error : `NATS: ${!s.ok ? s.error : ''}`));

    invariants.push(await sqlInvariant('leases', () => checkLeases(ctx.redisUrl, ctx.redisPrefix, newRunAccounts(pool, ctx.finishedAt))));

    if (world.ok) runFigures(world.value, m);
  } finally {
    await streams?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
  return { scenario: ctx.scenario, invariants, measurements: m };
}

/** Accounts with a run that started after quiescence was declared: a lease they hold is that run's. */
function newRunAccounts(pool: Pool, since: Date): (accountIds: string[]) => Promise<Set<string>> {
  return async (accountIds) => {
    if (accountIds.length === 0) return new Set();
    const { rows } = await pool.query<{ account_id: string }>(
      'SELECT DISTINCT account_id::text FROM sync_runs WHERE account_id::text = ANY($1::text[]) AND started_at >= $2',
      [accountIds, since],
    );
    return new Set(rows.map((r) => r.account_id));
  };
}

async function sqlInvariant(name: string, fn: () => Promise<InvariantResult>): Promise<InvariantResult> {
  const r = await attempt(fn);
  return r.ok ? r.value : unverifiable(name, r.error);
}

async function loadTruth(ctx: CheckContext): Promise<Truth> {
  const [mono, momo, airtel, om, oo, oa] = await Promise.all([
    fetchMonoTruth(ctx.simulators.mono),
    fetchWalletTruth(ctx.simulators.momo),
    fetchWalletTruth(ctx.simulators.airtel),
    simulatorOffsetMs(ctx.simulators.mono),
    simulatorOffsetMs(ctx.simulators.momo),
    simulatorOffsetMs(ctx.simulators.airtel),
  ]);
  return buildTruth(mono, momo, airtel, { mono: om, momo: oo, airtel: oa }, ctx.monoHistoryDays);
}

type LogResult = { ok: true; value: RequestLogDump } | { ok: false; error: string };

/** The two request-log invariants (single-fetcher, retry-after) and the request figures. */
export function requestInvariantList(
  ctx: CheckContext,
  logs: Map<SimulatorName, LogResult>,
  world: DbWorld | undefined,
  m: Measurements,
): InvariantResult[] {
  const unreadable = SIMULATORS.filter((s) => !logs.get(s)?.ok).map((s) => {
    const l = logs.get(s);
    return `${s}: ${l && !l.ok ? l.error : 'no log'}`;
  });
  const dropped = SIMULATORS.filter((s) => {
    const l = logs.get(s);
    return l?.ok && l.value.dropped > 0;
  });
  const incomplete = dropped.length ? `request log overflowed at ${dropped.join(', ')} (raise requestLogCapacity)` : undefined;
  const overlaps: Overlap[] = [];
  const retry: string[] = [];
  const staleFence = { count: 0 };
  for (const s of SIMULATORS) {
    const l = logs.get(s);
    if (!l?.ok) continue;
    const entries = l.value.entries;
    m.extra[`${s}.requests`] = entries.length;
    m.extra[`${s}.faulted`] = entries.filter((e) => e.faults.length > 0).length;
    retry.push(...retryAfterViolations(s, entries, undefined, overlapsAllowed(ctx) ? staleFence : undefined));
    if (s === 'onesignal') continue;
    overlaps.push(...findOverlaps(s, entries));
    if (world) m.amplification[s] = amplification(s, entries, world);
  }
  m.overlaps = overlaps.length;
  if (overlapsAllowed(ctx)) m.extra['retry_after.stale_fence_requests'] = staleFence.count;
  const out: InvariantResult[] = [];
  if (unreadable.length) {
    out.push(unverifiable('single-fetcher', unreadable.join('; ')), unverifiable('retry-after', unreadable.join('; ')));
    return out;
  }
  const fetcher = checkSingleFetcher(overlaps, overlapsAllowed(ctx), incomplete);
  out.push(incomplete && fetcher.ok && !overlapsAllowed(ctx) ? unverifiable('single-fetcher', incomplete) : fetcher);
  const ra = invariant('retry-after', 'no request to an account and route inside an advertised Retry-After window', retry, incomplete);
  out.push(incomplete && ra.ok ? unverifiable('retry-after', incomplete) : ra);
  return out;
}

/** Runs by outcome, fenced rejections and the codes runs were handed back with. */
function runFigures(world: DbWorld, m: Measurements): void {
  for (const r of world.runs) {
    m.runsByOutcome[r.outcome] = (m.runsByOutcome[r.outcome] ?? 0) + 1;
    // Only a fenced run whose row was still open records 'fenced'; when the newer run's start had
    // already closed it, it reads 'abandoned' (as a crashed run's does): the workers' own
    // fenced-rejection counter is the exact figure, this one a lower bound.
    if (r.errorCode === 'fenced') m.fencedRejections++;
    if (r.errorCode === 'abandoned') m.extra['runs.taken_over'] = (m.extra['runs.taken_over'] ?? 0) + 1;
    // A run that failed retryably or was interrupted handed its command back (nak or requeue).
    if (r.outcome !== 'running' && r.outcome !== 'succeeded' && (r.errorKind === 'retryable' || INTERRUPTED_CODES.has(r.errorCode ?? ''))) {
      const code = r.errorCode ?? 'unknown';
      m.naksByReason[code] = (m.naksByReason[code] ?? 0) + 1;
    }
  }
}
