import type { Pool, PoolClient, Queryable } from '@intellifin/persistence';

/**
 * `webhook_events` through migration 0018's functions (the API role has no grant on the table) and
 * the outbox inserts of the ingress. Every event a provider sends is stored here before we answer.
 */
export type IngressProvider = 'mono' | 'momo' | 'airtel';

export interface IngestInput {
  provider: IngressProvider;
  eventId: string;
  eventType: string;
  accountRef: string | null;
  payload: unknown;
  /** `pending` (processed later by the webhook processor) or `forwarded` (handed to the workers now). */
  state: 'pending' | 'forwarded';
  /** For content-derived ids: a repeat this long after the first was processed is a new occurrence. */
  rearmAfterMs: number | null;
}

/** Stores the event or counts a repeat delivery; `fresh` when it is new work. */
export async function ingestEvent(db: Queryable, e: IngestInput): Promise<{ id: string; fresh: boolean }> {
  const { rows } = await db.query<{ id: bigint; fresh: boolean }>({
    name: 'sync-api.webhooks.ingest',
    text: `SELECT id, fresh FROM ingest_webhook_event($1, $2, $3, $4, $5, $6,
             CASE WHEN $7::float8 IS NULL THEN NULL ELSE make_interval(secs => $7::float8 / 1000) END)`,
    values: [e.provider, e.eventId, e.eventType, e.accountRef, JSON.stringify(e.payload), e.state, e.rearmAfterMs],
  });
  return { id: String(rows[0]!.id), fresh: rows[0]!.fresh };
}

export interface ClaimedEvent {
  id: string;
  eventId: string;
  eventType: string;
  accountRef: string | null;
  payload: unknown;
  attempts: number;
  receivedAt: Date;
  /** The account the event names, when the database knows it. */
  accountId: string | null;
  orgId: string | null;
}

/** Claims the next due pending event (row-locked until the transaction ends), with its account. */
export async function claimEvent(db: PoolClient, provider: IngressProvider): Promise<ClaimedEvent | null> {
  const { rows } = await db.query<ClaimedEvent>({
    name: 'sync-api.webhooks.claim',
    text: `SELECT id::text, event_id AS "eventId", event_type AS "eventType", account_ref AS "accountRef", payload, attempts,
                  received_at AS "receivedAt", account_id::text AS "accountId", org_id::text AS "orgId"
             FROM claim_webhook_event($1)`,
    values: [provider],
  });
  return rows[0] ?? null;
}

export type SettleState = 'pending' | 'done' | 'failed' | 'unmatched';

/** Records the outcome; `retryInMs` (state pending) moves the next attempt that far from now. */
export async function settleEvent(
  db: Queryable,
  id: string,
  s: { state: SettleState; outcome: string; error?: string | null; retryInMs?: number | null },
): Promise<void> {
  await db.query({
    name: 'sync-api.webhooks.settle',
    text: `SELECT settle_webhook_event($1::bigint, $2, $3, $4,
             CASE WHEN $5::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $5::float8 / 1000) END)`,
    values: [id, s.state, s.outcome, s.error ?? null, s.retryInMs ?? null],
  });
}

export interface BacklogRow {
  provider: string;
  state: string;
  events: number;
  oldest: Date;
}

export async function backlog(pool: Pool): Promise<BacklogRow[]> {
  const { rows } = await pool.query<BacklogRow>({
    name: 'sync-api.webhooks.backlog',
    text: 'SELECT provider, state, events::int AS events, oldest FROM webhook_events_backlog()',
  });
  return rows;
}

/** One outbox row (published by the relay with `Nats-Msg-Id` = eventId); a repeat is a no-op. */
export async function enqueueOutbox(db: Queryable, eventId: string, subject: string, payload: unknown): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'sync-api.outbox.enqueue',
    text: 'INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING',
    values: [eventId, subject, JSON.stringify(payload)],
  });
  return rowCount === 1;
}
