import { createLogger, Registry } from '@intellifin/core';
import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { claimOutbox, OutboxRelay, type OutboxRow } from '../src';

const logger = createLogger({ service: 'outbox-test', level: 'silent' });

describe('outbox relay', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const insert = (ids: string[]) =>
    db.pool.query(
      `INSERT INTO outbox (event_id, subject, payload) SELECT id, 'sync.evt.run.mono.' || id, jsonb_build_object('id', id) FROM unnest($1::text[]) AS id`,
      [ids],
    );
  const rows = async () =>
    (
      await db.pool.query<{ event_id: string; attempts: number; deferred: boolean }>(
        'SELECT event_id, attempts, next_attempt_at > now() AS deferred FROM outbox ORDER BY id',
      )
    ).rows;

  it('deletes what was published, defers what failed (attempts + 1, later), and keeps order', async () => {
    await insert(['a', 'b', 'c']);
    const seen: string[] = [];
    const registry = new Registry();
    const relay = new OutboxRelay({
      pool: db.pool,
      logger,
      registry,
      retryBaseMs: 60_000,
      publish: async (batch: readonly OutboxRow[]) =>
        batch.map((r) => {
          seen.push(r.eventId);
          return r.eventId === 'b'
            ? { status: 'rejected' as const, reason: new Error('no stream for 260971234567') }
            : { status: 'fulfilled' as const, value: 1 };
        }),
    });
    expect(await relay.relayOnce()).toBe(2);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(await rows()).toEqual([{ event_id: 'b', attempts: 1, deferred: true }]);
    const stored = (await db.pool.query('SELECT last_error FROM outbox')).rows[0].last_error as string;
    expect(stored).not.toContain('260971234567'); // masked like logs
    // Deferred: not claimed again before its next attempt.
    expect(await relay.relayOnce()).toBe(0);
    expect((await registry.getSingleMetricAsString('intellifin_sync_outbox_published_total')).trim().split('\n').pop()).toMatch(/ 2$/);
    await db.pool.query('DELETE FROM outbox');
  });

  it('two relays never claim the same row (SKIP LOCKED), and a released claim leaves rows as they were', async () => {
    await insert(['x', 'y']);
    const first = await claimOutbox(db.pool, 10);
    const second = await claimOutbox(db.pool, 10);
    expect(first!.rows.map((r) => r.eventId)).toEqual(['x', 'y']);
    expect(second).toBeNull();
    await first!.release();
    expect((await rows()).map((r) => [r.event_id, r.attempts])).toEqual([
      ['x', 0],
      ['y', 0],
    ]);
    await db.pool.query('DELETE FROM outbox');
  });

  it('a publish that throws defers the whole batch, nothing is lost', async () => {
    await insert(['p', 'q']);
    const relay = new OutboxRelay({
      pool: db.pool,
      logger,
      retryBaseMs: 60_000,
      publish: async () => {
        throw new Error('connection closed');
      },
    });
    expect(await relay.relayOnce()).toBe(0);
    expect(await rows()).toEqual([
      { event_id: 'p', attempts: 1, deferred: true },
      { event_id: 'q', attempts: 1, deferred: true },
    ]);
  });
});
