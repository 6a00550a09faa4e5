import type { PoolClient } from '@intellifin/persistence';
import type { AccountFacts } from './account-status';

/**
 * Reads of accounts and their sync facts, inside an org-scoped transaction (`withOrgScope`: row
 * level security hides every other organisation). `owner` limits to one user's accounts (callers
 * with only the `user` role); null reads the whole organisation.
 *
 * Every per-account fact is a LATERAL … LIMIT 1 (index lookups per account, whatever the planner
 * estimates): as a hash join, `sync_due` was read whole, and the history check (an EXISTS)
 * became a hashed subplan over every succeeded run of every account (issue #13 bench).
 */
const ACCOUNT_FACTS_SQL = `
SELECT a.id, a.provider, a.type, a.display_name AS "displayName", a.currency, a.balance_minor AS "balanceMinor",
       a.balance_as_of AS "balanceAsOf", a.status, a.last_success_at AS "lastSuccessAt", a.last_attempt_at AS "lastAttemptAt",
       a.last_error_code AS "lastErrorCode", a.last_error AS "lastError", a.consent_expires_at AS "consentExpiresAt",
       d.due_at AS "nextSyncAt",
       lr.outcome AS "lastRunOutcome", lr.started_at AS "lastRunStartedAt", lr.error_code AS "lastRunErrorCode",
       lr.error_kind AS "lastRunErrorKind",
       q.command_id::text AS "queuedCommandId", q.issued_at AS "queuedAt",
       hc.complete IS NOT NULL AS "historyComplete",
       now() AS "dbNow"
  FROM accounts a
  LEFT JOIN LATERAL (SELECT sd.due_at FROM sync_due sd WHERE sd.account_id = a.id LIMIT 1) d ON true
  LEFT JOIN LATERAL (
    SELECT r.outcome, r.started_at, r.error_code, r.error_kind FROM sync_runs r
     WHERE r.account_id = a.id ORDER BY r.started_at DESC, r.id DESC LIMIT 1
  ) lr ON true
  LEFT JOIN LATERAL (
    SELECT s.command_id, s.issued_at FROM sync_requests s
     WHERE s.account_id = a.id AND s.status = 'queued' AND s.issued_at > now() - make_interval(secs => $3::float8 / 1000)
       AND (lr.started_at IS NULL OR s.issued_at > lr.started_at)
     ORDER BY s.issued_at DESC LIMIT 1
  ) q ON true
  LEFT JOIN LATERAL (
    SELECT true AS complete FROM sync_runs h
     WHERE h.account_id = a.id AND h.outcome = 'succeeded'
       AND (h.mode = 'full' OR h.window_from IS NULL OR h.window_to - h.window_from >= make_interval(days => $2::int - 1))
     LIMIT 1
  ) hc ON true
 WHERE ($1::text IS NULL OR a.user_id IN (SELECT u.id FROM users u WHERE u.external_id = $1))`;

export interface FactsOptions {
  historyDays: number;
  queuedTtlMs: number;
}

export async function listAccountFacts(db: PoolClient, owner: string | null, o: FactsOptions): Promise<AccountFacts[]> {
  const { rows } = await db.query<AccountFacts>({
    name: 'sync-api.account-facts.list',
    text: `${ACCOUNT_FACTS_SQL} ORDER BY a.created_at, a.id`,
    values: [owner, o.historyDays, o.queuedTtlMs],
  });
  return rows;
}

export async function getAccountFacts(
  db: PoolClient,
  owner: string | null,
  accountId: string,
  o: FactsOptions,
): Promise<AccountFacts | null> {
  const { rows } = await db.query<AccountFacts>({
    name: 'sync-api.account-facts.one',
    text: `${ACCOUNT_FACTS_SQL} AND a.id = $4`,
    values: [owner, o.historyDays, o.queuedTtlMs, accountId],
  });
  return rows[0] ?? null;
}

/** Whether the caller may see the account (org by row-level security, owner by the filter). */
export async function accountVisible(db: PoolClient, owner: string | null, accountId: string): Promise<boolean> {
  const { rows } = await db.query({
    name: 'sync-api.account-visible',
    text: `SELECT 1 FROM accounts a WHERE a.id = $2 AND ($1::text IS NULL OR a.user_id IN (SELECT u.id FROM users u WHERE u.external_id = $1))`,
    values: [owner, accountId],
  });
  return rows.length === 1;
}
