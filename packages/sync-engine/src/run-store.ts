import type { ErrorKind } from '@intellifin/core';
import type { AccountStatus, RunOutcome, SyncCounts } from '@intellifin/domain';
import { checkFence, finishRun, insertRun, takeFence, withTransaction, type NewRun, type Pool, type Queryable } from '@intellifin/persistence';

/**
 * The engine's account writes beyond `commitPage`. These belong in `@intellifin/persistence`
 * (accounts repo) once the schema work there settles; they live here for now.
 *
 * None of them touches `next_sync_at`: the scheduler owns it.
 */

export interface RunStart {
  fence: bigint;
  cursor: unknown;
  status: AccountStatus;
  runId: string;
  /** Database time of the fence bump: a cancel requested at or after it applies to this run. */
  startedAt: Date;
  /** Older runs of the account left `running` (crashed workers) that this start closed as abandoned. */
  abandonedRuns: number;
}

/** Bumps the fence and records the `running` run row, in one transaction. Null if the account is gone. */
export async function beginRun(pool: Pool, run: Omit<NewRun, 'fence'>): Promise<RunStart | null> {
  return withTransaction(pool, async (client) => {
    const grant = await takeFence(client, run.accountId);
    if (!grant) return null;
    const { rows } = await client.query<{ status: AccountStatus; started_at: Date }>(
      'SELECT status, last_attempt_at AS started_at FROM accounts WHERE id = $1',
      [run.accountId],
    );
    // A run row still `running` under an older fence belongs to a run that can no longer write
    // (its process died, or it lost the account): close it, so history shows one outcome per run.
    // Bounded to a day so the (account_id, started_at) index keeps it cheap; older strays are rare.
    const orphans = await client.query(
      `UPDATE sync_runs SET outcome = 'failed', finished_at = clock_timestamp(), error_kind = 'retryable', error_code = 'abandoned',
              error_hint = 'the run never finished (worker crashed or lost the account); a newer run took over',
              duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::int
        WHERE account_id = $1 AND started_at > now() - interval '1 day' AND outcome = 'running' AND fence < $2`,
      [run.accountId, grant.fence.toString()],
    );
    const runId = await insertRun(client, { ...run, fence: grant.fence });
    return { fence: grant.fence, cursor: grant.cursor, status: rows[0]!.status, runId, startedAt: rows[0]!.started_at, abandonedRuns: orphans.rowCount ?? 0 };
  });
}

/** True when a cancel was requested for the account's run that started at `startedAt`. */
export async function cancelRequested(db: Queryable, accountId: string, startedAt: Date): Promise<boolean> {
  const { rows } = await db.query<{ c: boolean }>('SELECT cancel_requested_at >= $2 AS c FROM accounts WHERE id = $1', [accountId, startedAt]);
  return rows[0]?.c === true;
}

export interface RunFinish {
  accountId: string;
  fence: bigint;
  runId: string;
  outcome: RunOutcome;
  status: AccountStatus;
  counts: SyncCounts;
  pages: number;
  windowFrom: Date | null;
  windowTo: Date | null;
  errorKind: ErrorKind | null;
  errorCode: string | null;
  errorHint: string | null;
  /** Stored for the notifier when the account needs re-linking; cleared on success. */
  reauthUrl?: string | null;
}

/**
 * Records how the run ended and the account's resulting status, fenced: a run that lost the
 * account writes nothing here (`FencedWriteError`).
 */
export async function finishRunFenced(pool: Pool, f: RunFinish): Promise<void> {
  await withTransaction(pool, async (client) => {
    await checkFence(client, f.accountId, f.fence);
    await finishRun(client, f.runId, {
      outcome: f.outcome,
      windowFrom: f.windowFrom,
      windowTo: f.windowTo,
      pages: f.pages,
      added: f.counts.added,
      modified: f.counts.modified,
      unchanged: f.counts.unchanged,
      errorKind: f.errorKind,
      errorCode: f.errorCode,
      errorHint: f.errorHint,
    });
    if (f.outcome === 'succeeded' && f.status === 'auth_required') {
      // Read the provider's cached data, but consent is not proven to work: the account keeps its
      // re-link state (URL, error) and its last success (the data is as old as the revocation).
      await client.query('UPDATE accounts SET status = $2 WHERE id = $1', [f.accountId, f.status]);
    } else if (f.outcome === 'succeeded') {
      await client.query(
        `UPDATE accounts SET status = $2, last_success_at = now(), consecutive_failures = 0, last_error_code = NULL, last_error = NULL,
                reauth_url = NULL, reauth_url_expires_at = NULL WHERE id = $1`,
        [f.accountId, f.status],
      );
    } else if (f.outcome === 'cancelled') {
      await client.query('UPDATE accounts SET status = $2, cancel_requested_at = NULL WHERE id = $1', [f.accountId, f.status]);
    } else {
      await client.query(
        `UPDATE accounts SET status = $2, consecutive_failures = consecutive_failures + 1, last_error_code = $3, last_error = $4,
                reauth_url = CASE WHEN $5::boolean THEN $6 ELSE reauth_url END WHERE id = $1`,
        [f.accountId, f.status, f.errorCode, f.errorHint, f.reauthUrl !== undefined, f.reauthUrl ?? null],
      );
    }
  });
}

/** Closes a run row the run could not finish under its fence (it lost the account). The account is not touched. */
export async function abandonRun(db: Queryable, runId: string, outcome: RunOutcome, errorKind: ErrorKind, code: string, hint: string, pages: number, counts: SyncCounts): Promise<void> {
  await finishRun(db, runId, { outcome, pages, ...counts, errorKind, errorCode: code, errorHint: hint });
}

/** Stores a balance under the run's fence. */
export async function storeBalance(pool: Pool, accountId: string, fence: bigint, minor: bigint, asOf: Date): Promise<void> {
  await withTransaction(pool, async (client) => {
    await checkFence(client, accountId, fence);
    await client.query('UPDATE accounts SET balance_minor = $2, balance_as_of = $3 WHERE id = $1', [accountId, minor.toString(), asOf]);
  });
}

/**
 * A dead-lettered command whose run never recorded an outcome (crash loop, poison): the account
 * shows `error` with the reason. Not fenced (no run owns it); never overrides `auth_required`
 * or `disabled`.
 */
export async function markDeadLettered(db: Queryable, accountId: string, code: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE accounts SET status = 'error', last_error_code = $2, last_error = $3, updated_at = now()
      WHERE id = $1 AND status IN ('active', 'error')`,
    [accountId, code, reason.slice(0, 500)],
  );
}
