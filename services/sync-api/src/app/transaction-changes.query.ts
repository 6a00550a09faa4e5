import { z } from 'zod';
import type { PoolClient } from '@intellifin/persistence';

/**
 * The transactions delta feed's reads (org-scoped transaction; the caller checked the account is
 * visible). Rows are ordered by (change_xid, id): the id of the transaction that last changed the
 * row, then the row. A page serves only rows whose change_xid is below the xmin of the statement's
 * own snapshot (`pg_snapshot_xmin(pg_current_snapshot())`): every writer below it has finished, and
 * every write still to come (in flight now or later) has an xid at or above it, so no commit can
 * ever land behind a position the feed has handed out (migration 0019 explains why the
 * `change_version` sequence cannot be the position: its values commit out of order).
 */
export interface FeedPosition {
  /** change_xid of the last row served (xid8 as decimal text). */
  xid: string;
  /** id of the last row served (bigint as decimal text). */
  id: string;
}

export const START: FeedPosition = { xid: '0', id: '0' };

const DECIMAL = /^\d{1,20}$/;
const cursorSchema = z.object({ v: z.literal(1), x: z.string().regex(DECIMAL), i: z.string().regex(DECIMAL) }).strict();

/** Opaque cursor: base64url of a small versioned JSON object. */
export function encodeFeedCursor(p: FeedPosition): string {
  return Buffer.from(JSON.stringify({ v: 1, x: p.xid, i: p.id })).toString('base64url');
}

/** The position a cursor names, or null when it is not one this API issued. */
export function decodeFeedCursor(text: string): FeedPosition | null {
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    if (!parsed.success) return null;
    // xid8 and bigint are unsigned/signed 64-bit: anything larger is not ours.
    if (BigInt(parsed.data.x) > 0xffff_ffff_ffff_ffffn || BigInt(parsed.data.i) > 0x7fff_ffff_ffff_ffffn) return null;
    return { xid: parsed.data.x, id: parsed.data.i };
  } catch {
    return null;
  }
}

export interface ChangeRow {
  id: string;
  providerTxnId: string;
  amountMinor: string;
  currency: string;
  direction: 'debit' | 'credit';
  status: 'pending' | 'posted' | 'failed' | 'reversed' | 'removed';
  bookedAt: Date;
  narration: string | null;
  counterpartyName: string | null;
  reference: string | null;
  balanceAfterMinor: string | null;
  changeXid: string;
  /** The row was first inserted after the requested position (the client has not seen it). */
  addedSinceCursor: boolean;
}

/** Up to `limit` rows of the account changed after `after`, in feed order, below the statement snapshot's xmin. */
export async function readChanges(db: PoolClient, accountId: string, after: FeedPosition, limit: number): Promise<ChangeRow[]> {
  const { rows } = await db.query<ChangeRow>({
    name: 'sync-api.transactions.changes',
    text: `SELECT t.id::text AS id, t.provider_txn_id AS "providerTxnId", t.amount_minor::text AS "amountMinor",
                  t.currency, t.direction, t.status, t.booked_at AS "bookedAt", t.narration,
                  t.counterparty->>'name' AS "counterpartyName", t.reference,
                  t.balance_after_minor::text AS "balanceAfterMinor", t.change_xid::text AS "changeXid",
                  (t.created_xid, t.id) > ($2::xid8, $3::bigint) AS "addedSinceCursor"
             FROM transactions t
            WHERE t.account_id = $1
              AND (t.change_xid, t.id) > ($2::xid8, $3::bigint)
              AND t.change_xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY t.change_xid, t.id
            LIMIT $4`,
    values: [accountId, after.xid, after.id, limit],
  });
  return rows;
}
