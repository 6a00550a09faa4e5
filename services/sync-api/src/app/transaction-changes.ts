import { counter, trace, withSpan, type Registry, type Tracer } from '@intellifin/core';
import { withOrgScope, type Pool } from '@intellifin/persistence';
import { accountVisible } from './accounts.query';
import { ownerFilter, type Caller } from './caller';
import { InvalidInputError, NotFoundError } from './errors';
import { decodeFeedCursor, encodeFeedCursor, readChanges, START, type ChangeRow } from './transaction-changes.query';

/** One transaction as the delta feed carries it: compact, no raw provider payload, no account numbers. */
export interface TransactionChange {
  /** The provider's transaction id (unique within the account). */
  id: string;
  amount: { minor: bigint; currency: string };
  direction: 'debit' | 'credit';
  status: 'pending' | 'posted' | 'failed' | 'reversed';
  bookedAt: string;
  narration?: string;
  counterparty?: string;
  reference?: string;
  balanceAfter?: bigint;
}

export interface TransactionChangesPage {
  added: TransactionChange[];
  modified: TransactionChange[];
  /** Provider ids of transactions the client holds that the provider no longer returns. */
  removed: string[];
  /** Pass back as `cursor` to continue; equal to the request's when nothing new was served. */
  nextCursor: string;
  /** More changes are available now: ask again at once with `nextCursor`. */
  hasMore: boolean;
}

function change(r: ChangeRow): TransactionChange {
  return {
    id: r.providerTxnId,
    amount: { minor: BigInt(r.amountMinor), currency: r.currency.trim() },
    direction: r.direction,
    status: r.status as TransactionChange['status'],
    bookedAt: r.bookedAt.toISOString(),
    ...(r.narration ? { narration: r.narration } : {}),
    ...(r.counterpartyName ? { counterparty: r.counterpartyName } : {}),
    ...(r.reference ? { reference: r.reference } : {}),
    ...(r.balanceAfterMinor !== null ? { balanceAfter: BigInt(r.balanceAfterMinor) } : {}),
  };
}

export interface TransactionChangesOptions {
  /** A pool connected as `intellifin_api`. */
  pool: Pool;
  registry?: Registry;
  tracer?: Tracer;
}

/**
 * The transactions delta feed (Plaid /transactions/sync style): from an empty cursor, every
 * transaction of the account as `added`; from a cursor, the transactions first seen after it
 * (`added`), the ones the client already had that changed (`modified`), and the ones the
 * provider dropped (`removed`: status removed). A transaction added and removed before the client
 * saw it is not mentioned at all. Safe against out-of-order commits (see the query module).
 */
export class TransactionChanges {
  private readonly tracer: Tracer;
  private readonly served;

  constructor(private readonly o: TransactionChangesOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.served = o.registry
      ? counter(o.registry, 'intellifin_sync_api_transaction_changes_total', 'Transactions served by the delta feed, by kind', ['kind'])
      : undefined;
  }

  async changes(caller: Caller, accountId: string, q: { cursor?: string | undefined; limit: number }): Promise<TransactionChangesPage> {
    return withSpan(this.tracer, 'sync-api.transaction_changes', {}, async (span) => {
      const after = q.cursor === undefined || q.cursor === '' ? START : decodeFeedCursor(q.cursor);
      if (after === null) throw new InvalidInputError('querystring.cursor', 'not a cursor this API issued');
      const { rows, more } = await withOrgScope(this.o.pool, caller.orgId, async (db) => {
        if (!(await accountVisible(db, ownerFilter(caller), accountId))) throw new NotFoundError('account');
        const read = await readChanges(db, accountId, after, q.limit + 1);
        return { rows: read.slice(0, q.limit), more: read.length > q.limit };
      });
      const page: TransactionChangesPage = { added: [], modified: [], removed: [], nextCursor: '', hasMore: more };
      for (const r of rows) {
        if (r.status === 'removed') {
          if (!r.addedSinceCursor) page.removed.push(r.providerTxnId);
        } else (r.addedSinceCursor ? page.added : page.modified).push(change(r));
      }
      const last = rows[rows.length - 1];
      page.nextCursor = encodeFeedCursor(last ? { xid: last.changeXid, id: last.id } : after);
      this.served?.inc({ kind: 'added' }, page.added.length);
      this.served?.inc({ kind: 'modified' }, page.modified.length);
      this.served?.inc({ kind: 'removed' }, page.removed.length);
      span.setAttributes({
        'feed.added': page.added.length,
        'feed.modified': page.modified.length,
        'feed.removed': page.removed.length,
        'feed.has_more': more,
      });
      return page;
    });
  }
}
