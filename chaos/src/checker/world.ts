/**
 * What the database says after quiescence: accounts, runs and rows, read once as the owner (row
 * level security does not apply to the owner/superuser the harness gives the checker).
 */
import type { Pool, PoolClient } from 'pg';
import type { ProviderName } from './types';

export interface DbAccount {
  id: string;
  provider: ProviderName;
  providerAccountId: string;
  status: string;
  fence: bigint;
  cursor: Record<string, unknown>;
  lastSuccessAt: Date | null;
  lastSuccessStartedAt: Date | null;
  lastErrorCode: string | null;
  userId: string | null;
}

export interface DbRun {
  id: string;
  accountId: string;
  fence: bigint;
  outcome: string;
  mode: string;
  errorKind: string | null;
  errorCode: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  windowFrom: Date | null;
  added: number;
}

export interface DbTxn {
  accountId: string;
  providerTxnId: string;
  amountMinor: bigint;
  currency: string;
  direction: string;
  status: string;
}

export interface DbWorld {
  accounts: DbAccount[];
  byId: Map<string, DbAccount>;
  runs: DbRun[];
  runsByAccount: Map<string, DbRun[]>;
  txns: DbTxn[];
  txnsByAccount: Map<string, DbTxn[]>;
  /** Wallet references registered per provider (0 = reference intake was not exercised). */
  registeredRefs: Record<'momo' | 'airtel', number>;
  /** account id → reference id → registered_at. */
  registry: Map<string, Map<string, Date>>;
}

/**
 * When a registered reference became visible to runs: its row's commit time (the harness's
 * Postgres runs with `track_commit_timestamp`), not `registered_at`, which is its transaction's
 * start: an intake transaction held open across a pause commits long after it, and a run that
 * started in between could not see the reference. Rows are insert-only, so `xmin` is the insert.
 * Falls back to `registered_at` where the commit time is unknown (frozen rows, the setting off).
 */
export const REFERENCE_VISIBLE_AT_SQL = (table: string): string =>
  `greatest(${table}.registered_at, coalesce(CASE WHEN current_setting('track_commit_timestamp') = 'on'
     THEN pg_xact_commit_timestamp(${table}.xmin) END, ${table}.registered_at))`;

/**
 * Codes a run closed with when it could NOT record an outcome under its fence (sync-engine
 * failures.ts `interrupted`, run-lifecycle `beginRun` orphans): such runs wrote no finish
 * statement, so they published no run event and concluded nothing.
 */
export const INTERRUPTED_CODES: ReadonlySet<string> = new Set([
  'fenced',
  'lease_lost',
  'run_timeout',
  'shutdown',
  'abandoned',
  'postgres_unavailable',
  'redis_unavailable',
  'nats_unavailable',
]);

/** A run that recorded its outcome with the fenced finish statement (and so published a run event). */
export function committedFinish(r: DbRun): boolean {
  return r.outcome !== 'running' && r.finishedAt !== null && !INTERRUPTED_CODES.has(r.errorCode ?? '');
}

/** A run that settled its command (the account's question was answered): the runs amplification counts as needed. */
export function concluding(r: DbRun): boolean {
  if (!committedFinish(r)) return false;
  if (r.outcome === 'succeeded') return true;
  if (r.outcome === 'cancelled') return true;
  return r.errorKind !== 'retryable';
}

/** The newest successful run that fetched transactions (mode transactions or full), if any. */
export function lastTransactionsSuccess(runs: readonly DbRun[] | undefined): DbRun | undefined {
  let best: DbRun | undefined;
  for (const r of runs ?? []) {
    if (r.outcome !== 'succeeded' || r.mode === 'balance') continue;
    if (!best || r.startedAt > best.startedAt) best = r;
  }
  return best;
}

function group<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/**
 * Reads accounts, runs, rows and the reference registry in ONE repeatable-read snapshot, so a run
 * that commits while the checker reads (a scheduled run after quiescence) is either wholly in the
 * world or wholly absent.
 */
export async function loadWorld(pool: Pool): Promise<DbWorld> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const world = await readWorld(client);
    await client.query('COMMIT');
    return world;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function readWorld(pool: PoolClient): Promise<DbWorld> {
  const acc = await pool.query<{
    id: string;
    provider: ProviderName;
    provider_account_id: string;
    status: string;
    fence: string;
    cursor: Record<string, unknown>;
    last_success_at: Date | null;
    last_success_started_at: Date | null;
    last_error_code: string | null;
    user_id: string | null;
  }>(
    `SELECT id, provider, provider_account_id, status, fence::text AS fence, cursor, last_success_at, last_success_started_at,
            last_error_code, user_id FROM accounts`,
  );
  const accounts: DbAccount[] = acc.rows.map((r) => ({
    id: r.id,
    provider: r.provider,
    providerAccountId: r.provider_account_id,
    status: r.status,
    fence: BigInt(r.fence),
    cursor: r.cursor ?? {},
    lastSuccessAt: r.last_success_at,
    lastSuccessStartedAt: r.last_success_started_at,
    lastErrorCode: r.last_error_code,
    userId: r.user_id,
  }));
  const run = await pool.query<{
    id: string;
    account_id: string;
    fence: string;
    outcome: string;
    mode: string;
    error_kind: string | null;
    error_code: string | null;
    started_at: Date;
    finished_at: Date | null;
    window_from: Date | null;
    added: number;
  }>(
    `SELECT id, account_id, fence::text AS fence, outcome, mode, error_kind, error_code, started_at, finished_at, window_from, added
       FROM sync_runs ORDER BY account_id, fence, started_at`,
  );
  const runs: DbRun[] = run.rows.map((r) => ({
    id: r.id,
    accountId: r.account_id,
    fence: BigInt(r.fence),
    outcome: r.outcome,
    mode: r.mode,
    errorKind: r.error_kind,
    errorCode: r.error_code,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    windowFrom: r.window_from,
    added: r.added,
  }));
  const tx = await pool.query<{
    account_id: string;
    provider_txn_id: string;
    amount_minor: string;
    currency: string;
    direction: string;
    status: string;
  }>('SELECT account_id, provider_txn_id, amount_minor::text AS amount_minor, currency, direction, status FROM transactions');
  const txns: DbTxn[] = tx.rows.map((r) => ({
    accountId: r.account_id,
    providerTxnId: r.provider_txn_id,
    amountMinor: BigInt(r.amount_minor),
    currency: r.currency.trim(),
    direction: r.direction,
    status: r.status,
  }));
  const reg = await pool.query<{ account_id: string; provider: 'momo' | 'airtel'; reference_id: string; registered_at: Date }>(
    `SELECT account_id, provider, reference_id, ${REFERENCE_VISIBLE_AT_SQL('wallet_references')} AS registered_at FROM wallet_references`,
  );
  const registry = new Map<string, Map<string, Date>>();
  const registeredRefs = { momo: 0, airtel: 0 };
  for (const r of reg.rows) {
    registeredRefs[r.provider]++;
    let m = registry.get(r.account_id);
    if (!m) registry.set(r.account_id, (m = new Map()));
    m.set(r.reference_id, r.registered_at);
  }
  return {
    accounts,
    byId: new Map(accounts.map((a) => [a.id, a])),
    runs,
    runsByAccount: group(runs, (r) => r.accountId),
    txns,
    txnsByAccount: group(txns, (t) => t.accountId),
    registeredRefs,
    registry,
  };
}
