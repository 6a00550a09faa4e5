import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { claimOutbox, withOrgScope, withTransaction, type PoolClient } from '../src';

/**
 * A Postgres connection that dies while its client is checked out and idle between queries (the
 * relay awaiting a NATS publish, a request awaiting Redis). pg-pool only listens for `error` on idle
 * clients, so without our listener the client's `error` event is unhandled and the process exits:
 * the fault harness saw every worker and sync-api die at each Postgres restart (scenario S8).
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 4 });
});
afterAll(() => db.drop());

/** Kills this client's backend from another connection, then waits while the client sits idle. */
async function loseConnection(c: PoolClient): Promise<void> {
  const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  await new Promise((r) => setTimeout(r, 300));
}

describe('a connection lost while its client is checked out', () => {
  it('fails the transaction without ending the process; the pool lends working clients after', async () => {
    await expect(withTransaction(db.pool, (c) => loseConnection(c))).rejects.toThrow();
    const orgId = '00000000-0000-4000-8000-000000000001';
    await expect(withOrgScope(db.pool, orgId, (c) => loseConnection(c))).rejects.toThrow();
    for (let i = 0; i < 6; i++) expect((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });

  it('an outbox claim whose connection dies before it settles loses nothing: the rows stay for the next claim', async () => {
    await db.pool.query(`INSERT INTO outbox (event_id, subject, payload) VALUES ('lost-1', 'x.y', '{}'), ('lost-2', 'x.y', '{}')`);
    const claim = await claimOutbox(db.pool, 10);
    expect(claim!.rows.map((r) => r.eventId)).toEqual(['lost-1', 'lost-2']);
    const { rows } = await db.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()",
    );
    expect(rows).toHaveLength(1);
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await new Promise((r) => setTimeout(r, 300));
    await expect(claim!.settle([claim!.rows[0]!.id], [])).rejects.toThrow();
    const again = await claimOutbox(db.pool, 10);
    expect(again!.rows.map((r) => r.eventId)).toEqual(['lost-1', 'lost-2']);
    await again!.settle(
      again!.rows.map((r) => r.id),
      [],
    );
    expect((await db.pool.query('SELECT 1 FROM outbox')).rowCount).toBe(0);
  });
});
