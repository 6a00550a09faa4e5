import { withTransaction, type Pool, type PoolClient, type Queryable } from '@intellifin/persistence';

/**
 * The leader lease in Postgres (`scheduler_leader`). Times come from the database clock
 * (`clock_timestamp()`), the one clock every replica shares, so replicas' clock skew does not
 * matter. `epoch` increases by one whenever the lease changes holder and fences every write the
 * planner makes (`withLeaderFence`).
 */
export interface Lease {
  holder: string;
  epoch: bigint;
  /** Database time the lease runs out unless renewed. */
  expiresAt: Date;
}

export class LostLeadershipError extends Error {
  readonly code = 'lost_leadership';
  constructor(
    readonly holder: string,
    readonly epoch: bigint,
  ) {
    super(`scheduler ${holder} no longer holds the leader lease at epoch ${epoch}`);
    this.name = 'LostLeadershipError';
  }
}

/**
 * Takes the lease if it is free (absent or expired). Returns the new lease, or null if another
 * holder's lease is still running. One statement: concurrent takers serialise on the row and
 * exactly one of them sees the expired lease.
 */
export async function tryAcquireLease(db: Queryable, name: string, holder: string, ttlMs: number): Promise<Lease | null> {
  const { rows } = await db.query<Lease>(
    `INSERT INTO scheduler_leader AS l (name, holder, epoch, acquired_at, renewed_at, expires_at)
     VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp(), clock_timestamp() + $3 * interval '1 millisecond')
     ON CONFLICT (name) DO UPDATE
        SET holder = EXCLUDED.holder, epoch = l.epoch + 1, acquired_at = EXCLUDED.acquired_at,
            renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at
      WHERE l.expires_at < clock_timestamp()
     RETURNING holder, epoch, expires_at AS "expiresAt"`,
    [name, holder, ttlMs],
  );
  return rows[0] ?? null;
}

/**
 * Extends our lease. Succeeds while nobody else has taken it — even just after it expired: an
 * expired lease nobody took is still ours and the epoch still fences correctly.
 */
export async function renewLease(db: Queryable, name: string, holder: string, epoch: bigint, ttlMs: number): Promise<Lease | null> {
  const { rows } = await db.query<Lease>(
    `UPDATE scheduler_leader
        SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + $4 * interval '1 millisecond'
      WHERE name = $1 AND holder = $2 AND epoch = $3
     RETURNING holder, epoch, expires_at AS "expiresAt"`,
    [name, holder, epoch.toString(), ttlMs],
  );
  return rows[0] ?? null;
}

/** Ends our lease now so that another replica can take over at its next attempt. */
export async function releaseLease(db: Queryable, name: string, holder: string, epoch: bigint): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE scheduler_leader SET expires_at = clock_timestamp() - interval '1 millisecond'
      WHERE name = $1 AND holder = $2 AND epoch = $3`,
    [name, holder, epoch.toString()],
  );
  return (rowCount ?? 0) > 0;
}

export async function readLease(db: Queryable, name: string): Promise<Lease | null> {
  const { rows } = await db.query<Lease>('SELECT holder, epoch, expires_at AS "expiresAt" FROM scheduler_leader WHERE name = $1', [name]);
  return rows[0] ?? null;
}

export interface Fence {
  name: string;
  holder: string;
  epoch: bigint;
}

/**
 * Runs `fn` in a transaction that first checks, with a share lock on the lease row, that the
 * lease is still ours at our epoch. A replica taking over must update that row, so it waits until
 * we commit: nothing `fn` writes can land after a takeover. Throws LostLeadershipError (writing
 * nothing) when the lease has moved on.
 */
export async function withLeaderFence<T>(pool: Pool, fence: Fence, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM scheduler_leader WHERE name = $1 AND holder = $2 AND epoch = $3 FOR SHARE', [
      fence.name,
      fence.holder,
      fence.epoch.toString(),
    ]);
    if (!rowCount) throw new LostLeadershipError(fence.holder, fence.epoch);
    return fn(client);
  });
}
