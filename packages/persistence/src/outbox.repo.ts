import { checkOut, type Pool } from './db';

/** One row of `outbox` as the relay publishes it. */
export interface OutboxRow {
  id: string;
  eventId: string;
  subject: string;
  payload: unknown;
  headers: Record<string, string>;
  attempts: number;
  createdAt: Date;
}

export interface OutboxStats {
  pending: number;
  /** Age of the oldest row in seconds (0 when empty), database clock. */
  oldestAgeSeconds: number;
}

/**
 * A batch of due rows claimed in an open transaction (`FOR UPDATE SKIP LOCKED`): other relays skip
 * them until `settle` commits. Rows the relay could not publish are deferred, not lost.
 */
export interface OutboxClaim {
  rows: OutboxRow[];
  /** Deletes the published rows and defers the others (attempts + 1, next attempt after `delayMs`), then commits. */
  settle(published: readonly string[], failed: readonly { id: string; delayMs: number; error: string }[]): Promise<void>;
  /** Rolls back: every row stays as it was. */
  release(): Promise<void>;
}

export async function claimOutbox(pool: Pool, limit: number): Promise<OutboxClaim | null> {
  // Held across the publish: `checkOut` keeps a connection lost meanwhile from ending the process.
  const { client, release: giveBack } = await checkOut(pool);
  let done = false;
  const finish = async (sql: 'COMMIT' | 'ROLLBACK') => {
    if (done) return;
    done = true;
    try {
      await client.query(sql);
      giveBack();
    } catch (err) {
      giveBack(err instanceof Error ? err : true);
      throw err;
    }
  };
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<OutboxRow>({
      name: 'outbox.claim',
      text: `SELECT id::text AS id, event_id AS "eventId", subject, payload, headers, attempts, created_at AS "createdAt"
               FROM outbox WHERE next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      values: [limit],
    });
    if (rows.length === 0) {
      await finish('COMMIT');
      return null;
    }
    return {
      rows,
      async settle(published, failed) {
        try {
          if (published.length)
            await client.query({ name: 'outbox.delete', text: 'DELETE FROM outbox WHERE id = ANY($1::bigint[])', values: [published] });
          if (failed.length)
            await client.query({
              name: 'outbox.defer',
              text: `UPDATE outbox o SET attempts = attempts + 1, last_error = f.error,
                            next_attempt_at = now() + make_interval(secs => f.delay_ms / 1000.0)
                       FROM jsonb_to_recordset($1::jsonb) AS f(id bigint, delay_ms bigint, error text) WHERE o.id = f.id`,
              values: [JSON.stringify(failed.map((x) => ({ id: x.id, delay_ms: Math.round(x.delayMs), error: x.error.slice(0, 300) })))],
            });
          await finish('COMMIT');
        } catch (err) {
          await finish('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
      release: () => finish('ROLLBACK'),
    };
  } catch (err) {
    if (!done) {
      done = true;
      await client.query('ROLLBACK').catch(() => undefined);
      giveBack(err instanceof Error ? err : true);
    }
    throw err;
  }
}

export async function outboxStats(pool: Pool): Promise<OutboxStats> {
  const { rows } = await pool.query<{ pending: number; age: number }>({
    name: 'outbox.stats',
    text: `SELECT count(*)::int AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age FROM outbox`,
  });
  return { pending: rows[0]?.pending ?? 0, oldestAgeSeconds: rows[0]?.age ?? 0 };
}
