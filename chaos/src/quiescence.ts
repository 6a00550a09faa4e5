/**
 * Quiescence: the system has nothing left to do for the load. Every account is terminal (synced
 * with no re-run owed, `auth_required`, or `error`/`disabled`: dead-lettered or given up, which
 * the scheduler retries only after its error backoff), no run is in flight (a run row a killed
 * process left `running` on an account that then ended in error is never closed: the checker
 * reports it),
 * every JetStream consumer has num_pending = 0 and num_ack_pending = 0, the outbox is empty, no
 * push is waiting to be sent, no lease key is left in Redis, and the wallet reference load owes
 * nothing (every registration accepted by sync-api, and every account with registered references
 * polled by a successful run that started after its references were registered and after those the
 * simulator settles soon had settled: `env/references.ts`), and every "Sync now" tap planned is
 * answered (`env/taps.ts`; the work a tap queued then shows as an outbox row, a pending or
 * unacked JetStream message, a running run or an unsatisfied re-run request, all waited for above).
 * Polled from the direct (not proxied)
 * connections, bounded in time.
 */
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { sleep } from './env/servers';

export interface QuiescenceState {
  nonTerminal: number;
  running: number;
  outbox: number;
  pendingPushes: number;
  /** Scheduled syncs due now and not yet published (the scheduler deletes a row after its PubAck). */
  dueSyncs: number;
  leaseKeys: number;
  /** What the harness's reference load still owes (registrations not accepted, accounts not polled since). */
  references: number;
  /** "Sync now" taps planned but not yet answered by sync-api. */
  taps: number;
  consumers: { name: string; pending: number; ackPending: number; redelivered: number }[];
}

export function isQuiet(s: QuiescenceState): boolean {
  return (
    s.nonTerminal === 0 &&
    s.running === 0 &&
    s.outbox === 0 &&
    s.pendingPushes === 0 &&
    s.dueSyncs === 0 &&
    s.leaseKeys === 0 &&
    s.references === 0 &&
    s.taps === 0 &&
    s.consumers.every((c) => c.pending === 0 && c.ackPending === 0)
  );
}

export function describe(s: QuiescenceState): string {
  const busy = s.consumers.filter((c) => c.pending || c.ackPending).map((c) => `${c.name} ${c.pending}/${c.ackPending}`);
  return (
    `non-terminal ${s.nonTerminal}, running ${s.running}, outbox ${s.outbox}, pushes ${s.pendingPushes}, due ${s.dueSyncs}, ` +
    `lease keys ${s.leaseKeys}, references owed ${s.references}, taps owed ${s.taps}, consumers pending/ack-pending: ${busy.length ? busy.join(', ') : 'all 0'}`
  );
}

interface JszConsumer {
  name: string;
  num_pending?: number;
  num_ack_pending?: number;
  num_redelivered?: number;
}
interface Jsz {
  account_details?: { stream_detail?: { name: string; consumer_detail?: JszConsumer[] }[] }[];
}

export async function consumerStates(natsMonitorUrl: string): Promise<QuiescenceState['consumers']> {
  const res = await fetch(`${natsMonitorUrl}/jsz?consumers=true&accounts=true`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`nats monitor answered ${res.status}`);
  const jsz = (await res.json()) as Jsz;
  const out: QuiescenceState['consumers'] = [];
  for (const acc of jsz.account_details ?? [])
    for (const st of acc.stream_detail ?? [])
      for (const c of st.consumer_detail ?? [])
        out.push({
          name: `${st.name}/${c.name}`,
          pending: c.num_pending ?? 0,
          ackPending: c.num_ack_pending ?? 0,
          redelivered: c.num_redelivered ?? 0,
        });
  return out;
}

export async function leaseKeyCount(redis: Redis): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', '*lease:acct:*', 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

/**
 * A re-run request a later successful run already covered (it started after the request's issue
 * instant and its scope covers it): nothing is owed. The flag can outlive its run when the request
 * is recorded after that run's finish statement but before its lease is released (seen in S4);
 * the next run clears it.
 */
const RERUN_SATISFIED = `(last_success_started_at >= rerun_requested_at
  AND sync_scope_covers(last_success_mode, last_success_realtime, rerun_mode, rerun_realtime))`;

/** Whether each account ended as the truth says is the checker's question (final-state, dlq). */
export interface QuietUrls {
  pg: string;
  redis: string;
  natsMonitor: string;
  /** The reference load's outstanding work (`ReferenceDriver.outstanding`); absent: none. */
  references?: () => number;
  /** The tap load's unanswered taps (`TapDriver.outstanding`); absent: none. */
  taps?: () => number;
}

export async function readState(urls: QuietUrls): Promise<QuiescenceState> {
  const pg = new Client({ connectionString: urls.pg, connectionTimeoutMillis: 5_000, query_timeout: 20_000 });
  pg.on('error', () => undefined);
  const redis = new Redis(urls.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, commandTimeout: 5_000 });
  redis.on('error', () => undefined);
  try {
    await pg.connect();
    const { rows } = await pg.query<{ non_terminal: string; running: string; outbox: string; pushes: string; due: string }>(
      `SELECT
         (SELECT count(*) FROM accounts
           WHERE NOT ((status = 'active' AND last_success_at IS NOT NULL
                       AND (rerun_mode IS NULL OR ${RERUN_SATISFIED}))
                      OR status IN ('auth_required', 'error', 'disabled'))) AS non_terminal,
         (SELECT count(*) FROM sync_runs r JOIN accounts a ON a.id = r.account_id
           WHERE r.outcome = 'running' AND a.status NOT IN ('auth_required', 'error', 'disabled')) AS running,
         (SELECT count(*) FROM outbox) AS outbox,
         (SELECT count(*) FROM notifications WHERE status IN ('pending', 'cancelling') AND due_at <= now()) AS pushes,
         (SELECT count(*) FROM sync_due WHERE due_at <= now()) AS due`,
    );
    await redis.connect();
    const r = rows[0]!;
    return {
      nonTerminal: Number(r.non_terminal),
      running: Number(r.running),
      outbox: Number(r.outbox),
      pendingPushes: Number(r.pushes),
      dueSyncs: Number(r.due),
      leaseKeys: await leaseKeyCount(redis),
      references: urls.references?.() ?? 0,
      taps: urls.taps?.() ?? 0,
      consumers: await consumerStates(urls.natsMonitor),
    };
  } finally {
    await pg.end().catch(() => undefined);
    redis.disconnect();
  }
}

/**
 * Polls until quiet (seen three times in a row, 2 s apart, so work held in a process's memory —
 * a publish retried after a NATS restart, a delayed nak — has time to show), or until
 * `timeoutMs`. Returns the last state and whether it was quiet.
 */
export async function awaitQuiescence(
  urls: QuietUrls,
  timeoutMs: number,
  onProgress: (s: QuiescenceState) => void,
): Promise<{ quiet: boolean; state: QuiescenceState | undefined; error?: string }> {
  const until = Date.now() + timeoutMs;
  let quietStreak = 0;
  let last: QuiescenceState | undefined;
  let lastError: string | undefined;
  let lastReport = 0;
  while (Date.now() < until) {
    try {
      last = await readState(urls);
      lastError = undefined;
      if (isQuiet(last)) {
        if (++quietStreak >= 3) return { quiet: true, state: last };
      } else quietStreak = 0;
      if (Date.now() - lastReport > 15_000) {
        onProgress(last);
        lastReport = Date.now();
      }
    } catch (err) {
      // A server the nemesis just restarted: try again.
      lastError = err instanceof Error ? err.message : String(err);
      quietStreak = 0;
    }
    await sleep(2_000);
  }
  return { quiet: false, state: last, ...(lastError ? { error: lastError } : {}) };
}
