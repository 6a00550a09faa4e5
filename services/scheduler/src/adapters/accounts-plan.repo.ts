import type { ProviderId, SyncMode, SyncTrigger } from '@intellifin/domain';
import type { Queryable } from '@intellifin/persistence';
import { jitterOffsetSql } from '../domain/jitter';
import type { PlanGroup } from '../domain/overrides';

/**
 * The scheduler's pending syncs, in the narrow queue table `sync_due` (migration 0005):
 * - `markGroup` (a slot of a plan fired): one set-based INSERT … ON CONFLICT giving every member
 *   of the group a pending sync — `due_at` = base + the account's jitter offset (later for
 *   `error` accounts, by their backoff), merged with any sync already pending (earliest time
 *   wins, modes merge, the first planned slot is kept so the Nats-Msg-Id stays stable);
 * - `markGroupBatch`: the same for many org or account groups of one plan that fire together
 *   with the same settings, in one statement (a pass with thousands of overrides stays a few
 *   statements), counting what it marked per group;
 * - `listDue`: keyset pages over `sync_due_provider_due` of what is due now, each row flagged
 *   by whether its account is still `active` or `error`, with the database's clock;
 * - `clearDispatched`: one DELETE of the pending syncs that were published (or found
 *   unschedulable), only where each is still the one that was read (a re-mark meanwhile keeps it).
 * `auth_required` and `disabled` accounts are never marked; their pending syncs are deleted when
 * the status is set (trigger of migration 0012), and by dispatch if one slipped in meanwhile.
 */
export interface MarkInput {
  group: Pick<PlanGroup, 'provider' | 'scope' | 'excludeOrgIds' | 'excludeAccountIds'>;
  slot: Date;
  /** Start of the spread window: the slot, or now when the slot is executed late (catch-up). */
  base: Date;
  spreadMs: number;
  mode: SyncMode;
  trigger: SyncTrigger;
  /** `stale` plan: only accounts without a successful sync since this instant. */
  staleBefore?: Date;
  /** Backoff of `error` accounts: element k-1 = delay after k consecutive failures (last repeats). */
  errorBackoffMs: readonly number[];
}

/** The INSERT … SELECT … ON CONFLICT of a mark; `$2` / `$3` are the member org / account ids (arrays, null = any). */
const MARK_SQL = `INSERT INTO sync_due AS d (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
     SELECT id, provider, org_id,
            GREATEST(
              $6::timestamptz + (${jitterOffsetSql('id', '$7')}) * interval '1 millisecond',
              CASE WHEN status = 'error' AND consecutive_failures > 0 THEN
                COALESCE(last_attempt_at, $6::timestamptz)
                  + ($12::bigint[])[LEAST(consecutive_failures, cardinality($12::bigint[]))] * interval '1 millisecond'
              END),
            $8::timestamptz, $9, $10
       FROM accounts
      WHERE provider = $1 AND status IN ('active', 'error')
        AND ($3::uuid[] IS NULL OR id = ANY($3::uuid[]))
        AND ($2::uuid[] IS NULL OR org_id = ANY($2::uuid[]))
        AND org_id <> ALL($4::uuid[]) AND id <> ALL($5::uuid[])
        AND ($11::timestamptz IS NULL OR last_success_at < $11::timestamptz OR (last_success_at IS NULL AND created_at < $11::timestamptz))
     ON CONFLICT (account_id) DO UPDATE SET
       due_at = LEAST(d.due_at, EXCLUDED.due_at),
       mode = CASE WHEN d.mode = EXCLUDED.mode THEN d.mode ELSE 'full' END,
       trigger = CASE WHEN EXCLUDED.mode = 'full' AND d.mode <> 'full' THEN EXCLUDED.trigger ELSE d.trigger END`;

function markParams(m: Omit<MarkInput, 'group'> & { group: Pick<PlanGroup, 'provider' | 'excludeOrgIds' | 'excludeAccountIds'> }) {
  return [
    m.group.provider,
    null as string[] | null,
    null as string[] | null,
    m.group.excludeOrgIds,
    m.group.excludeAccountIds,
    m.base,
    Math.max(0, Math.floor(m.spreadMs)),
    m.slot,
    m.mode,
    m.trigger,
    m.staleBefore ?? null,
    m.errorBackoffMs.length ? m.errorBackoffMs.map((n) => Math.round(n)) : [0],
  ];
}

/** Marks the members of one group (provider, organisation or account scope); returns how many. */
export async function markGroup(db: Queryable, m: MarkInput): Promise<number> {
  const params = markParams(m);
  const { orgId, accountId } = m.group.scope;
  if (accountId !== null) params[2] = [accountId];
  else if (orgId !== null) params[1] = [orgId];
  const { rowCount } = await db.query(MARK_SQL, params);
  return rowCount ?? 0;
}

export interface MarkBatchInput extends Omit<MarkInput, 'group'> {
  /** What the groups share: provider and the exclusions (equal for all org groups, or all account groups, of a plan). */
  group: Pick<PlanGroup, 'provider' | 'excludeOrgIds' | 'excludeAccountIds'>;
  /** Org scope: the groups' organisations; account scope: the groups' accounts. Disjoint groups, so one statement marks them all. */
  members: { kind: 'org'; orgIds: readonly string[] } | { kind: 'account'; accountIds: readonly string[] };
}

/**
 * Marks the members of many org (or account) groups of one plan whose slot fires with the same
 * settings, in one statement; returns the accounts marked per organisation (per account).
 */
export async function markGroupBatch(db: Queryable, m: MarkBatchInput): Promise<Map<string, number>> {
  const params = markParams(m);
  if (m.members.kind === 'account') params[2] = [...m.members.accountIds];
  else params[1] = [...m.members.orgIds];
  const key = m.members.kind === 'account' ? 'account_id' : 'org_id';
  const { rows } = await db.query<{ k: string; n: number }>(
    `WITH marked AS (${MARK_SQL} RETURNING d.${key} AS k) SELECT k::text AS k, count(*)::int AS n FROM marked GROUP BY k`,
    params,
  );
  return new Map(rows.map((r) => [r.k, r.n]));
}

export interface DueRow {
  id: string;
  orgId: string;
  provider: ProviderId;
  /** `due_at` exactly as stored (text keeps the microseconds a JS Date would drop). */
  dueText: string;
  /** `due_at` in epoch milliseconds (for the planning lag). */
  dueMs: number;
  plannedSlot: Date;
  mode: SyncMode;
  trigger: SyncTrigger;
  /** False when the account is gone or no longer `active` / `error`: not published, its row is deleted. */
  schedulable: boolean;
}

export interface DueCursor {
  dueText: string;
  id: string;
}

export interface DuePage {
  rows: DueRow[];
  /** The database's clock when the page was read (epoch ms; null for an empty page): the `issuedAt` of its commands. */
  dbNowMs: number | null;
}

export async function listDue(
  db: Queryable,
  opts: { provider: ProviderId; now: Date; limit: number; after?: DueCursor | undefined },
): Promise<DuePage> {
  // Instants travel as epoch milliseconds (float8): turning 100k timestamp texts into Dates was a
  // visible share of a dispatch pass's client CPU. Served by sync_due_provider_due; the join is one
  // primary-key probe per row, as before, but a row of an unschedulable account comes back flagged
  // (and is then deleted) instead of being skipped here and walked again by every later pass.
  // "dbNowMs" is the statement's now() (the query runs in its own transaction), computed once as an
  // InitPlan: as a per-row expression its cost tipped the planner into a parallel Gather Merge per page.
  const { rows } = await db.query<Omit<DueRow, 'plannedSlot'> & { slotMs: number; dbNowMs: number }>(
    `SELECT d.account_id AS id, d.org_id AS "orgId", d.provider, d.due_at::text AS "dueText",
            (extract(epoch FROM d.due_at) * 1000)::float8 AS "dueMs", (extract(epoch FROM d.planned_slot) * 1000)::float8 AS "slotMs",
            d.mode, d.trigger, coalesce(a.status IN ('active', 'error'), false) AS schedulable,
            (SELECT (extract(epoch FROM now()) * 1000)::float8) AS "dbNowMs"
       FROM sync_due d
       LEFT JOIN accounts a ON a.id = d.account_id
      WHERE d.provider = $1 AND d.due_at <= $2
        AND ($3::timestamptz IS NULL OR (d.due_at, d.account_id) > ($3::timestamptz, $4::uuid))
      ORDER BY d.due_at, d.account_id
      LIMIT $5`,
    [opts.provider, opts.now, opts.after?.dueText ?? null, opts.after?.id ?? null, opts.limit],
  );
  return {
    rows: rows.map(({ slotMs, dbNowMs: _t, ...r }) => ({ ...r, plannedSlot: new Date(slotMs) })),
    dbNowMs: rows[0]?.dbNowMs ?? null,
  };
}

/**
 * Refreshes the planner statistics of `sync_due`. A slot that marks many accounts changes the
 * table wholesale moments before dispatch reads it; autovacuum's analyze comes later, and until then
 * the planner misjudges the keyset pages (a hash join over all accounts, or a parallel plan, per
 * page: 4× the database CPU of the index walk measured on 100k due accounts).
 * ANALYZE needs the table's owner: the scheduler's role calls the owner's function (migration 0010).
 */
export async function analyzeDue(db: Queryable): Promise<void> {
  await db.query('SELECT analyze_sync_due()');
}

/** Deletes the pending syncs of published (or unschedulable) accounts whose `due_at` is still what was read. */
export async function clearDispatched(db: Queryable, rows: readonly Pick<DueRow, 'id' | 'dueText'>[]): Promise<number> {
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `DELETE FROM sync_due d
      USING unnest($1::uuid[], $2::timestamptz[]) AS x(id, due)
      WHERE d.account_id = x.id AND d.due_at = x.due`,
    [rows.map((r) => r.id), rows.map((r) => r.dueText)],
  );
  return rowCount ?? 0;
}

/** Pending syncs of accounts that no longer exist (maintenance; sync_due has no foreign key). */
export async function deleteOrphanedDue(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM sync_due d WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.account_id)');
  return rowCount ?? 0;
}
