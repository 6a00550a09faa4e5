/**
 * Invariants decided in SQL over what Postgres kept: duplicated rows and the fence history.
 *
 * Evidence the schema keeps: `sync_runs` (fence, outcome, error code, started_at = the fence bump's
 * statement time, finished_at = clock_timestamp() of the finish) and `transactions.updated_at` (the
 * writing statement's time). What it does NOT keep is the fence of the run that wrote each row
 * (nor of the cursor), so a stale write can be proven only once a newer fence's run has finished
 * before it; a stale write that lands while the newer run is still running is invisible here. A
 * `written_fence` column on `transactions` (set by commitPage) would make the check exact; it needs
 * a migration number, so it is left as a proposal.
 */
import type { Pool } from 'pg';
import { invariant } from './result';
import type { InvariantResult } from './types';
import { INTERRUPTED_CODES } from './world';

const short = (id: string) => id.slice(0, 8);

/**
 * duplicated: one provider transaction stored twice — within an account (the unique key makes it
 * impossible unless the key is gone; counted without relying on it), across two accounts of the
 * same provider (wallet references are unique per provider; Mono ids are globally unique), or
 * counted as added by runs more often than rows exist (Σ sync_runs.added > rows: a row inserted
 * twice, once deleted).
 */
export async function checkDuplicates(pool: Pool): Promise<InvariantResult> {
  const within = await pool.query<{ account_id: string; provider: string; provider_txn_id: string; n: number }>(
    `SELECT t.account_id, a.provider, t.provider_txn_id, count(*)::int AS n FROM transactions t JOIN accounts a ON a.id = t.account_id
      GROUP BY t.account_id, a.provider, t.provider_txn_id HAVING count(*) > 1`,
  );
  const across = await pool.query<{ provider: string; provider_txn_id: string; n: number }>(
    `SELECT a.provider, t.provider_txn_id, count(DISTINCT t.account_id)::int AS n
       FROM transactions t JOIN accounts a ON a.id = t.account_id
      GROUP BY a.provider, t.provider_txn_id HAVING count(DISTINCT t.account_id) > 1`,
  );
  const counted = await pool.query<{ account_id: string; added: number; rows: number }>(
    `SELECT r.account_id, r.added::int AS added, coalesce(t.n, 0)::int AS rows
       FROM (SELECT account_id, sum(added) AS added FROM sync_runs GROUP BY account_id) r
       LEFT JOIN (SELECT account_id, count(*) AS n FROM transactions GROUP BY account_id) t ON t.account_id = r.account_id
      WHERE r.added > coalesce(t.n, 0)`,
  );
  const bad = [
    ...within.rows.map((r) => `${short(r.account_id)} txn ${r.provider_txn_id} stored ${r.n}×`),
    ...across.rows.map((r) => `${r.provider} txn ${r.provider_txn_id} on ${r.n} accounts`),
    ...counted.rows.map((r) => `${short(r.account_id)}: runs added ${r.added} rows, ${r.rows} exist`),
  ];
  // Which providers' rows were stored twice (Mono statements and wallet references are re-read by different paths).
  const perProvider = new Map<string, number>();
  for (const r of within.rows) perProvider.set(r.provider, (perProvider.get(r.provider) ?? 0) + 1);
  const note = perProvider.size
    ? `ids stored more than once by provider: ${[...perProvider].map(([p, n]) => `${p} ${n}`).join(', ')}`
    : undefined;
  return invariant('duplicated', 'rows per (account, id), ids across accounts, Σ added ≤ rows', bad, note);
}

/**
 * fences, four ways:
 * 1. the account's fence is never behind a fence a run was granted (max(sync_runs.fence) ≤ accounts.fence);
 * 2. no fence granted twice (one run per (account, fence));
 * 3. no run recorded its outcome (the fenced finish statement) after a run holding a newer fence
 *    had already finished: finish order = fence order;
 * 4. no row written after a newer fence's run had finished, by a run holding an older fence: every
 *    row write (updated_at) falls inside some run's [started_at, finished_at] whose fence no finished
 *    run had superseded by then. Wallet rows that reference intake inserted (pending, never
 *    modified) are not run writes and are skipped.
 */
export async function checkFences(pool: Pool): Promise<InvariantResult> {
  const interrupted = [...INTERRUPTED_CODES];
  const behind = await pool.query<{ id: string; fence: string; max: string }>(
    `SELECT a.id, a.fence::text AS fence, r.max::text AS max
       FROM accounts a JOIN (SELECT account_id, max(fence) AS max FROM sync_runs GROUP BY account_id) r ON r.account_id = a.id
      WHERE r.max > a.fence`,
  );
  const twice = await pool.query<{ account_id: string; fence: string; n: number }>(
    `SELECT account_id, fence::text AS fence, count(*)::int AS n FROM sync_runs GROUP BY account_id, fence HAVING count(*) > 1`,
  );
  const order = await pool.query<{ account_id: string; old: string; newer: string }>(
    `SELECT r1.account_id, r1.fence::text AS old, min(r2.fence)::text AS newer
       FROM sync_runs r1
       JOIN sync_runs r2 ON r2.account_id = r1.account_id AND r2.fence > r1.fence AND r2.finished_at < r1.finished_at
      WHERE r1.finished_at IS NOT NULL AND r1.outcome <> 'running' AND coalesce(r1.error_code, '') <> ALL($1::text[])
      GROUP BY r1.account_id, r1.fence`,
    [interrupted],
  );
  const stale = await pool.query<{ account_id: string; provider_txn_id: string; at: Date }>(
    `SELECT t.account_id, t.provider_txn_id, t.updated_at AS at
       FROM transactions t JOIN accounts a ON a.id = t.account_id
      WHERE NOT (a.provider IN ('momo', 'airtel') AND t.status = 'pending' AND t.updated_at = t.first_seen_at)
        AND NOT EXISTS (
          SELECT 1 FROM sync_runs r
           WHERE r.account_id = t.account_id AND r.started_at <= t.updated_at AND (r.finished_at IS NULL OR r.finished_at >= t.updated_at)
             AND NOT EXISTS (SELECT 1 FROM sync_runs r2
                              WHERE r2.account_id = r.account_id AND r2.fence > r.fence AND r2.finished_at < t.updated_at))
     `,
  );
  const bad = [
    ...behind.rows.map((r) => `${short(r.id)}: account fence ${r.fence} < run fence ${r.max}`),
    ...twice.rows.map((r) => `${short(r.account_id)}: fence ${r.fence} granted to ${r.n} runs`),
    ...order.rows.map((r) => `${short(r.account_id)}: fence ${r.old} committed after fence ${r.newer} finished`),
    ...stale.rows.map((r) => `${short(r.account_id)}: txn ${r.provider_txn_id} written at ${r.at.toISOString()} by no current fence`),
  ];
  const counts = await pool.query<{ runs: number; accounts: number }>(
    'SELECT count(*)::int AS runs, count(DISTINCT account_id)::int AS accounts FROM sync_runs',
  );
  const c = counts.rows[0]!;
  return invariant(
    'fences',
    `${c.runs} runs on ${c.accounts} accounts: fence never behind, never granted twice, finishes in fence order, no stale row writes`,
    bad,
  );
}
