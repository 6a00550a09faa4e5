import { createHash, randomUUID } from 'node:crypto';
import type { ProviderId, SyncMode, SyncTrigger } from '@intellifin/domain';
import { laneOf, type Lane } from '@intellifin/messaging';
import type { PoolClient } from '@intellifin/persistence';

/**
 * The writes of the triggers, inside the caller's org-scoped transaction: idempotency records,
 * manual sync requests and their commands, queued through the transactional outbox (event id
 * `cmd:<commandId>` = the `Nats-Msg-Id` the relay publishes with), and cancels.
 */

/** Triggers the API queues commands for (the scheduler owns the timed ones, the workers callbacks). */
export const API_TRIGGERS = ['manual', 'webhook', 'link', 'repair', 'admin', 'background'] as const satisfies readonly SyncTrigger[];
export type ApiTrigger = (typeof API_TRIGGERS)[number];

export interface QueuedCommand {
  commandId: string;
  accountId: string;
  provider: ProviderId;
  trigger: ApiTrigger;
  mode: SyncMode;
  realtime: boolean;
  lane: 'priority' | 'bulk';
  /** Database clock, RFC 3339 UTC with milliseconds. */
  issuedAt: string;
  /** True when an equal or wider request was already queued: this answer is that one. */
  coalesced: boolean;
}

/** SHA-256 over what identifies a request for idempotency (operation and its validated input). */
export function requestHash(operation: string, input: unknown): string {
  return createHash('sha256').update(operation).update('\n').update(JSON.stringify(input)).digest('hex');
}

export interface StoredAnswer {
  requestHash: string;
  statusCode: number;
  response: unknown;
}

export async function findIdempotent(db: PoolClient, orgId: string, userId: string, key: string): Promise<StoredAnswer | null> {
  const { rows } = await db.query<StoredAnswer>({
    name: 'sync-api.idempotency.find',
    text: `SELECT request_hash AS "requestHash", status_code AS "statusCode", response FROM api_idempotency
            WHERE org_id = $1 AND requested_by = $2 AND key = $3`,
    values: [orgId, userId, key],
  });
  return rows[0] ?? null;
}

/** Stores the answer; false when a concurrent request with the same key stored one first. */
export async function storeIdempotent(db: PoolClient, orgId: string, userId: string, key: string, a: StoredAnswer): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'sync-api.idempotency.store',
    text: `INSERT INTO api_idempotency (org_id, requested_by, key, request_hash, status_code, response) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT DO NOTHING`,
    values: [orgId, userId, key, a.requestHash, a.statusCode, JSON.stringify(a.response)],
  });
  return rowCount === 1;
}

export interface LockedAccount {
  id: string;
  orgId: string;
  provider: ProviderId;
  status: string;
}

/** The account, locked against concurrent triggers and cancels (null: not visible to the caller). */
export async function lockAccount(db: PoolClient, owner: string | null, accountId: string): Promise<LockedAccount | null> {
  const { rows } = await db.query<LockedAccount>({
    name: 'sync-api.account.lock',
    text: `SELECT a.id, a.org_id AS "orgId", a.provider, a.status FROM accounts a
            WHERE a.id = $2 AND ($1::text IS NULL OR a.user_id IN (SELECT u.id FROM users u WHERE u.external_id = $1))
            FOR NO KEY UPDATE OF a`,
    values: [owner, accountId],
  });
  return rows[0] ?? null;
}

const ISSUED_AT_TEXT = `to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/**
 * The one rule for a pending request (alias `s` of `sync_requests`): queued, younger than the
 * queued-TTL, and issued after the account's latest run started (that run did not serve it).
 * `account` and `ttlMs` are SQL expressions (a parameter or a column). The status read applies the
 * same rule against the latest run it already joins (accounts.query.ts).
 */
export function pendingRequestSql(account: string, ttlMs: string): string {
  return `s.account_id = ${account} AND s.status = 'queued' AND s.issued_at > now() - make_interval(secs => ${ttlMs}::float8 / 1000)
  AND s.issued_at > coalesce((SELECT max(r.started_at) FROM sync_runs r WHERE r.account_id = ${account}), '-infinity')`;
}

const PENDING_REQUEST = pendingRequestSql('$1', '$2');

/** Triggers whose commands take the priority lane: only their requests can stand in for a person's tap. */
const PRIORITY_LANE_TRIGGERS = API_TRIGGERS.filter((t) => laneOf(t) === 'priority');

/**
 * A queued request (its run not started yet) whose scope covers the one asked for, on a lane at
 * least as fast: any queued request covers a bulk-lane one (`admin`, `background`), but only a
 * priority-lane request covers a priority one: a tap coalesced onto an org-wide sync would wait
 * behind the bulk lane.
 */
export async function findCoveringRequest(
  db: PoolClient,
  accountId: string,
  scope: { mode: SyncMode; realtime: boolean; lane: Lane },
  queuedTtlMs: number,
): Promise<{ commandId: string; mode: SyncMode; realtime: boolean; issuedAt: string } | null> {
  const { rows } = await db.query({
    name: 'sync-api.requests.covering',
    text: `SELECT s.command_id::text AS "commandId", s.mode, s.realtime, ${ISSUED_AT_TEXT} AS "issuedAt" FROM sync_requests s
            WHERE ${PENDING_REQUEST} AND sync_scope_covers(s.mode, s.realtime, $3, $4) AND s.trigger = ANY($5::text[])
            ORDER BY s.issued_at DESC LIMIT 1`,
    values: [accountId, queuedTtlMs, scope.mode, scope.realtime, scope.lane === 'priority' ? PRIORITY_LANE_TRIGGERS : API_TRIGGERS],
  });
  return (rows[0] as { commandId: string; mode: SyncMode; realtime: boolean; issuedAt: string } | undefined) ?? null;
}

export interface NewRequest {
  account: LockedAccount;
  /** The caller's user id, or the system source (`webhook:mono`, `service:<name>`). */
  requestedBy: string;
  /** Default `manual`. The lane follows from it (`laneOf`): manual, webhook, link, repair → priority. */
  trigger?: ApiTrigger;
  mode: SyncMode;
  realtime: boolean;
  /** The account's command subject for this trigger's lane (`topology.commandSubjectFor`). */
  subject: string;
  /** The account's status-event subject (`topology.eventSubject('status', provider, accountId)`): its `queued` event. */
  statusSubject: string;
}

/**
 * Records the request and puts its command in the outbox, in one statement, with the account's
 * `queued` status event (event id `queued:<commandId>`, ahead of the command in the outbox, so the
 * relay publishes it first); `issuedAt` is the database clock. The one way the API queues a sync
 * (triggers, links, repairs, webhooks, admin).
 */
export async function queueCommand(db: PoolClient, r: NewRequest): Promise<QueuedCommand> {
  const commandId = randomUUID();
  const trigger = r.trigger ?? 'manual';
  const { rows } = await db.query<{ issuedAt: string }>({
    name: 'sync-api.requests.queue',
    text: `WITH req AS (
             INSERT INTO sync_requests (command_id, org_id, account_id, requested_by, trigger, mode, realtime)
             VALUES ($1, $2, $3, $4, $9, $5, $6)
             RETURNING command_id, ${ISSUED_AT_TEXT} AS issued_text
           ), cmd AS (
             INSERT INTO outbox (event_id, subject, payload)
             SELECT 'queued:' || req.command_id::text, $10,
                    jsonb_build_object('kind', 'queued', 'commandId', req.command_id::text, 'accountId', $3::text, 'orgId', $2::text,
                                       'provider', $8::text, 'trigger', $9::text, 'mode', $5::text, 'realtime', $6::boolean,
                                       'issuedAt', req.issued_text)
               FROM req
             UNION ALL
             SELECT 'cmd:' || req.command_id::text, $7,
                    jsonb_build_object('commandId', req.command_id::text, 'accountId', $3::text, 'orgId', $2::text, 'provider', $8::text,
                                       'trigger', $9::text, 'mode', $5::text, 'realtime', $6::boolean, 'triggerId', $9::text || ':' || req.command_id::text,
                                       'issuedAt', req.issued_text, 'requestedBy', $4::text)
               FROM req
             RETURNING 1
           )
           SELECT issued_text AS "issuedAt" FROM req WHERE EXISTS (SELECT 1 FROM cmd)`,
    values: [
      commandId,
      r.account.orgId,
      r.account.id,
      r.requestedBy,
      r.mode,
      r.realtime,
      r.subject,
      r.account.provider,
      trigger,
      r.statusSubject,
    ],
  });
  return {
    commandId,
    accountId: r.account.id,
    provider: r.account.provider,
    trigger,
    mode: r.mode,
    realtime: r.realtime,
    lane: laneOf(trigger),
    issuedAt: rows[0]!.issuedAt,
    coalesced: false,
  };
}

export interface CancelOutcome {
  /** Queued requests cancelled. */
  cancelledQueued: number;
  /** Of those, commands taken out of the outbox before they were published. */
  dequeued: number;
  /** A running run was asked to stop at its next page. */
  runningCancelRequested: boolean;
}

export async function cancelPending(db: PoolClient, accountId: string, queuedTtlMs: number): Promise<CancelOutcome> {
  const { rows } = await db.query<{ cancelled: number; dequeued: number; running: boolean }>({
    name: 'sync-api.requests.cancel',
    text: `WITH cancelled AS (
             UPDATE sync_requests s SET status = 'cancelled', cancelled_at = now() WHERE ${PENDING_REQUEST} RETURNING command_id
           ), dequeued AS (
             DELETE FROM outbox o USING cancelled c WHERE o.event_id = 'cmd:' || c.command_id::text RETURNING 1
           ), unannounced AS (
             -- its \`queued\` status event too, when the relay has not published it yet
             DELETE FROM outbox o USING cancelled c WHERE o.event_id = 'queued:' || c.command_id::text
           ), running AS (
             UPDATE accounts SET cancel_requested_at = now(), updated_at = now()
              WHERE id = $1 AND EXISTS (SELECT 1 FROM sync_runs r WHERE r.account_id = $1 AND r.outcome = 'running')
             RETURNING 1
           )
           SELECT (SELECT count(*) FROM cancelled)::int AS cancelled, (SELECT count(*) FROM dequeued)::int AS dequeued,
                  EXISTS (SELECT 1 FROM running) AS running`,
    values: [accountId, queuedTtlMs],
  });
  const r = rows[0]!;
  return { cancelledQueued: r.cancelled, dequeued: r.dequeued, runningCancelRequested: r.running };
}
