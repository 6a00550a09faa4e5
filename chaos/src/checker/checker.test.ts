/**
 * Every invariant can fail: a hand-made world that satisfies them all (test-world.ts), then one
 * violation per test, and the checker must report exactly that invariant (with its count).
 *
 * Run: npx jest --testMatch '<rootDir>/chaos/**\/*.test.ts' chaos/src/checker --maxWorkers=1
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { checkInvariants } from './check';
import { renderReport } from './render';
import { buildTestWorld, type TestWorld } from './test-world';
import type { CheckReport, InvariantResult } from './types';

jest.setTimeout(120_000);

let w: TestWorld;
beforeEach(async () => {
  w = await buildTestWorld();
});
afterEach(async () => {
  await w?.close();
});

const q = (sql: string, params: unknown[] = []) => w.db.pool.query(sql, params);

function byName(report: CheckReport): Map<string, InvariantResult> {
  return new Map(report.invariants.map((i) => [i.name, i]));
}

/** The invariants that failed, by name → count. */
function failures(report: CheckReport): Record<string, number> {
  return Object.fromEntries(report.invariants.filter((i) => !i.ok).map((i) => [i.name, i.count]));
}

/** Rewrites a row's write time into the run that wrote it, so only the intended invariant moves. */
async function backdate(accountId: string, providerTxnId: string): Promise<void> {
  await q(
    `UPDATE transactions SET updated_at = (SELECT started_at + (finished_at - started_at) / 2 FROM sync_runs
       WHERE account_id = $1 AND outcome = 'succeeded' ORDER BY started_at DESC LIMIT 1)
     WHERE account_id = $1 AND provider_txn_id = $2`,
    [accountId, providerTxnId],
  );
}

async function someRow(accountId: string): Promise<string> {
  return (await q('SELECT provider_txn_id FROM transactions WHERE account_id = $1 ORDER BY provider_txn_id LIMIT 1', [accountId])).rows[0]
    .provider_txn_id;
}

test('the clean world passes every invariant, and the report ends with the totals line', async () => {
  const report = await checkInvariants(w.ctx);
  expect(failures(report)).toEqual({});
  const names = report.invariants.map((i) => i.name);
  expect(names).toEqual([
    'lost',
    'unexpected',
    'row-values',
    'duplicated',
    'final-state',
    'cursor',
    'fences',
    'single-fetcher',
    'retry-after',
    'dlq',
    'reauth-push',
    'events',
    'leases',
  ]);
  expect(report.measurements.amplification.mono).toMatchObject({ requests: 3, minimum: 3, ratio: 1 });
  expect(report.measurements.runsByOutcome).toEqual({ succeeded: 5, failed: 2 });
  expect(report.measurements.dlqMessages).toBe(1);
  const text = renderReport([report]);
  expect(text.split('\n').at(-1)).toBe('13 passed, 0 failed');
  expect(text).toContain('Scenario S0');
});

test('lost: a served row missing from the database', async () => {
  await q('DELETE FROM transactions WHERE account_id = $1 AND provider_txn_id = $2', [w.ids.monoA, await someRow(w.ids.monoA)]);
  const f = failures(await checkInvariants(w.ctx));
  // The cursor still claims the day of that row: it is ahead of the data as well.
  expect(f).toEqual({ lost: 1, cursor: 1 });
});

test("lost: a row older than the last successful run's window still counts (an interrupted run advanced the cursor)", async () => {
  await q(`UPDATE sync_runs SET window_from = date_trunc('day', now()) - interval '3 days' WHERE account_id = $1`, [w.ids.monoA]);
  const old = await q(`SELECT provider_txn_id FROM transactions WHERE account_id = $1 AND booked_at < now() - interval '6 days' LIMIT 1`, [
    w.ids.monoA,
  ]);
  await q('DELETE FROM transactions WHERE account_id = $1 AND provider_txn_id = $2', [w.ids.monoA, old.rows[0].provider_txn_id]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ lost: 1, cursor: 1 });
});

test('lost: a registered wallet reference with no row', async () => {
  await q('DELETE FROM transactions WHERE account_id = $1 AND provider_txn_id = $2', [w.ids.momo1, await someRow(w.ids.momo1)]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ lost: 1 });
});

test('unexpected: a row the simulator never had', async () => {
  await q(
    `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw)
     SELECT org_id, account_id, 'phantom-1', 100, currency, 'credit', 'posted', now(), '{}' FROM transactions WHERE account_id = $1 LIMIT 1`,
    [w.ids.monoB],
  );
  await backdate(w.ids.monoB, 'phantom-1');
  expect(failures(await checkInvariants(w.ctx))).toEqual({ unexpected: 1 });
});

test('duplicated: one provider transaction stored twice (the unique key dropped, as a broken migration would)', async () => {
  const id = await someRow(w.ids.monoA);
  await q('ALTER TABLE transactions DROP CONSTRAINT transactions_account_id_provider_txn_id_key');
  await q(
    `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw, updated_at)
     SELECT org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw, updated_at
       FROM transactions WHERE account_id = $1 AND provider_txn_id = $2`,
    [w.ids.monoA, id],
  );
  expect(failures(await checkInvariants(w.ctx))).toEqual({ duplicated: 1 });
});

test('duplicated: runs counted more rows added than exist', async () => {
  await q(`UPDATE sync_runs SET added = 10000 WHERE account_id = $1`, [w.ids.monoB]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ duplicated: 1 });
});

test('row-values: an amount that differs from the truth', async () => {
  const id = await someRow(w.ids.monoA);
  await q('UPDATE transactions SET amount_minor = amount_minor + 1 WHERE account_id = $1 AND provider_txn_id = $2', [w.ids.monoA, id]);
  await backdate(w.ids.monoA, id);
  const r = byName(await checkInvariants(w.ctx)).get('row-values')!;
  expect(r).toMatchObject({ ok: false, count: 1 });
  expect(r.detail).toContain('amount');
});

/** A MoMo 1 reference the last run stored final (its truth settled long before that run). */
async function settledRef(): Promise<string> {
  const { rows } = await q(`SELECT provider_txn_id FROM transactions WHERE account_id = $1 AND status <> 'pending' LIMIT 1`, [w.ids.momo1]);
  expect(rows).toHaveLength(1);
  return rows[0].provider_txn_id;
}

test('row-values: a wallet reference stored pending although it settled before the run that polled it', async () => {
  const id = await settledRef();
  await q(`UPDATE transactions SET status = 'pending' WHERE account_id = $1 AND provider_txn_id = $2`, [w.ids.momo1, id]);
  await backdate(w.ids.momo1, id);
  const report = await checkInvariants(w.ctx);
  // Pending but not in the cursor's pending list either.
  expect(failures(report)).toEqual({ 'row-values': 1, cursor: 1 });
  const r = byName(report).get('row-values')!;
  expect(r.detail).toContain('still pending although it became');
  expect(r.detail).toContain('momo 3 references of 1 accounts compared (');
  expect(r.detail).toContain('airtel references not exercised');
});

test('row-values: a reference registered after the last successful run may still be pending (no run polled it)', async () => {
  const id = await settledRef();
  await q(`UPDATE transactions SET status = 'pending' WHERE account_id = $1 AND provider_txn_id = $2`, [w.ids.momo1, id]);
  await backdate(w.ids.momo1, id);
  await q(`UPDATE wallet_references SET registered_at = now() WHERE account_id = $1 AND reference_id = $2`, [w.ids.momo1, id]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({});
});

test('row-values: a wallet reference stored with the other terminal status', async () => {
  const id = await settledRef();
  await q(
    `UPDATE transactions SET status = CASE status WHEN 'posted' THEN 'failed' ELSE 'posted' END WHERE account_id = $1 AND provider_txn_id = $2`,
    [w.ids.momo1, id],
  );
  await backdate(w.ids.momo1, id);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ 'row-values': 1 });
});

test('unexpected: a wallet row whose reference the simulator never had', async () => {
  await q(
    `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw)
     SELECT org_id, account_id, 'phantom-ref', 100, currency, 'credit', 'posted', now(), '{}' FROM transactions WHERE account_id = $1 LIMIT 1`,
    [w.ids.momo1],
  );
  await backdate(w.ids.momo1, 'phantom-ref');
  expect(failures(await checkInvariants(w.ctx))).toEqual({ unexpected: 1 });
});

test('final-state: a synced account left in error, a revoked one left active, a run left running', async () => {
  await q(`UPDATE accounts SET status = 'error' WHERE id = $1`, [w.ids.airtelQ]);
  await q(`UPDATE accounts SET status = 'active' WHERE id = $1`, [w.ids.monoC]);
  await q(
    `INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence, started_at) VALUES ($1, $2, 'momo', 'scheduled', 0, now() - interval '1 hour')`,
    [w.orgId, w.ids.momo2],
  );
  const f = failures(await checkInvariants(w.ctx));
  expect(f['final-state']).toBe(3);
  // The revoked account is no longer auth_required, so the open episode is fine; a running run is not an event.
  expect(Object.keys(f)).toEqual(['final-state']);
});

test('cursor: a high-water date on an account no run ever completed', async () => {
  await q(`UPDATE accounts SET cursor = '{"v":1,"kind":"mono","highWaterDate":"2026-01-01","lastWindow":null}' WHERE id = $1`, [
    w.ids.monoC,
  ]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ cursor: 1 });
});

test('cursor: a wallet reference stored pending but dropped from the cursor', async () => {
  const { rows } = await q(`SELECT provider_txn_id FROM transactions WHERE account_id = $1 AND status = 'pending' LIMIT 1`, [w.ids.momo1]);
  expect(rows).toHaveLength(1);
  await q(`UPDATE accounts SET cursor = jsonb_set(cursor, '{pendingRefs}', '[]') WHERE id = $1`, [w.ids.momo1]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ cursor: 1 });
});

test('fences: an older fence commits after a newer one finished, and writes a row after it', async () => {
  // Run F (fence 2) starts and pauses; run G (fence 3) takes the account over and finishes.
  const f = (
    await q(
      `WITH b AS (UPDATE accounts SET fence = fence + 1 WHERE id = $2 RETURNING fence)
       INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence) SELECT $1, $2, 'mono', 'scheduled', fence FROM b RETURNING id`,
      [w.orgId, w.ids.monoA],
    )
  ).rows[0].id;
  await w.run(w.ids.monoA, 'mono', { outcome: 'succeeded' });
  // F resumes without a fence check: it writes a row and records its outcome.
  await q(
    `UPDATE transactions SET narration = 'stale write', updated_at = clock_timestamp() WHERE account_id = $1 AND provider_txn_id = $2`,
    [w.ids.monoA, await someRow(w.ids.monoA)],
  );
  await q(`UPDATE sync_runs SET outcome = 'succeeded', finished_at = clock_timestamp() WHERE id = $1`, [f]);
  await w.js.publish(w.streams.topology.eventSubject('run', 'mono', w.ids.monoA), JSON.stringify({ runId: f, outcome: 'succeeded' }));
  const r = byName(await checkInvariants(w.ctx)).get('fences')!;
  expect(r).toMatchObject({ ok: false, count: 2 });
  expect(r.detail).toMatch(/committed after fence/);
  expect(r.detail).toMatch(/by no current fence/);
});

test('fences: a fence granted twice, and an account fence behind its runs', async () => {
  await q(
    `INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence, outcome, finished_at, error_code)
     SELECT org_id, account_id, provider, trigger, fence, 'failed', clock_timestamp(), 'abandoned' FROM sync_runs WHERE account_id = $1`,
    [w.ids.momo2],
  );
  await q('UPDATE accounts SET fence = 0 WHERE id = $1', [w.ids.airtelQ]);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ fences: 2 });
});

test('single-fetcher: two fences fetching one account at once fail S0 and are only measured in S2', async () => {
  const route = 'GET /v2/accounts/:id/transactions';
  await fetch(`${w.ctx.simulators.mono}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ route, account: w.providerIds.monoB, kind: 'latency', latencyMs: 400 }),
  });
  await Promise.all([w.monoFetch(w.providerIds.monoB!, '7'), w.monoFetch(w.providerIds.monoB!, '8')]);
  const s0 = byName(await checkInvariants(w.ctx));
  expect(s0.get('single-fetcher')).toMatchObject({ ok: false, count: 1 });
  const s2 = await checkInvariants({ ...w.ctx, scenario: 'S2' });
  expect(byName(s2).get('single-fetcher')).toMatchObject({ ok: true, count: 1 });
  expect(s2.measurements.overlaps).toBe(1);
  // Requests of runs the database does not know are excess: amplification rises above 1.
  expect(s2.measurements.amplification.mono!.ratio).toBeGreaterThan(1);
});

test('retry-after: a request inside the window a 429 advertised', async () => {
  await fetch(`${w.ctx.simulators.mono}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ route: 'GET /v2/accounts/:id/transactions', kind: 'status', status: 429, retryAfter: 30, requests: [2] }),
  });
  // Request 1 of monoA was the fixture's run; request 2 answers 429 with Retry-After 30 s; 3 ignores it.
  expect((await w.monoFetch(w.providerIds.monoA!, '1')).status).toBe(429);
  expect((await w.monoFetch(w.providerIds.monoA!, '1')).status).toBe(200);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ 'retry-after': 1 });
});

test('dlq: a dead letter for an account that was not poison, and poison that never reached the DLQ', async () => {
  const original = w.streams.topology.commandSubject('mono', w.ids.monoB);
  const h = natsHeaders();
  h.set('Dlq-Original-Subject', original);
  await w.js.publish(w.streams.topology.deadLetterSubject(original), '{}', { headers: h });
  const report = await checkInvariants({
    ...w.ctx,
    poison: [...w.ctx.poison, { accountId: w.ids.momo2, provider: 'momo', kind: 'crash' }],
  });
  const f = failures(report);
  expect(f.dlq).toBe(2);
  // The extra poison account is not in error either: final-state says so too.
  expect(f['final-state']).toBe(1);
});

test('reauth-push: a push nobody asked for, and an episode whose delivered push OneSignal never saw', async () => {
  const listing = (await (await fetch(`${w.ctx.simulators.onesignal}/__sandbox/accounts`)).json()) as {
    accounts: Array<{ credentials: { appId: string; appApiKey: string } }>;
  };
  const app = listing.accounts[0]!.credentials;
  await fetch(`${w.ctx.simulators.onesignal}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Key ${app.appApiKey}` },
    body: JSON.stringify({
      app_id: app.appId,
      include_aliases: { external_id: ['user-1'] },
      target_channel: 'push',
      contents: { en: 'x' },
      idempotency_key: '00000000-0000-4000-8000-000000000001',
    }),
  });
  const episode = (
    await q(
      `INSERT INTO notification_episodes (org_id, account_id, provider, opened_run_id, opened_at, closed_at) VALUES ($1, $2, 'mono', 'r-x', now(), now()) RETURNING id`,
      [w.orgId, w.ids.monoB],
    )
  ).rows[0].id;
  await q(
    `INSERT INTO notifications (org_id, account_id, kind, episode, status, provider, idempotency_key) VALUES ($1, $2, 'reauth', $3, 'delivered', 'mono', gen_random_uuid())`,
    [w.orgId, w.ids.monoB, episode],
  );
  expect(failures(await checkInvariants(w.ctx))).toEqual({ 'reauth-push': 2 });
});

test('events: a committed run without its event, and an outbox row never relayed', async () => {
  await w.run(w.ids.momo2, 'momo', { outcome: 'succeeded', noEvent: true });
  await q(`INSERT INTO outbox (event_id, subject, payload) VALUES ('run:x', 'sync.evt.run.momo.x', '{}')`);
  expect(failures(await checkInvariants(w.ctx))).toEqual({ events: 2 });
});

test('events: an event for a run the database never committed (published outside the outbox)', async () => {
  await w.js.publish(
    w.streams.topology.eventSubject('run', 'mono', w.ids.monoA),
    JSON.stringify({ runId: '00000000-0000-4000-8000-0000000000ff', outcome: 'succeeded' }),
  );
  expect(failures(await checkInvariants(w.ctx))).toEqual({ events: 1 });
});

test('leases: a lease key left in Redis; one held by a run started after quiescence is not counted', async () => {
  const redis = new Redis(w.ctx.redisUrl);
  try {
    await redis.set(`${w.ctx.redisPrefix}lease:acct:${w.ids.monoA}`, 'token', 'PX', 60_000);
    await redis.set(`${w.ctx.redisPrefix}lease:acct:${w.ids.momo2}`, 'token', 'PX', 60_000);
  } finally {
    redis.disconnect();
  }
  // A scheduled run of momo2 began after quiescence was declared (still running: not left over either).
  await q(`UPDATE accounts SET fence = fence + 1 WHERE id = $1`, [w.ids.momo2]);
  await q(
    `INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence) SELECT org_id, id, 'momo', 'scheduled', fence FROM accounts WHERE id = $1`,
    [w.ids.momo2],
  );
  const report = await checkInvariants(w.ctx);
  expect(failures(report)).toEqual({ leases: 1 });
  expect(byName(report).get('leases')!.detail).toMatch(/1 key\(s\) held by runs started after quiescence/);
});

test('an invariant whose evidence is unreachable fails as unverifiable instead of passing', async () => {
  const report = await checkInvariants({ ...w.ctx, simulators: { ...w.ctx.simulators, onesignal: 'http://127.0.0.1:9' } });
  const f = byName(report);
  expect(f.get('reauth-push')).toMatchObject({ ok: false });
  expect(f.get('reauth-push')!.detail).toMatch(/could not be checked/);
  expect(f.get('retry-after')).toMatchObject({ ok: false });
  expect(renderReport([report]).split('\n').at(-1)).toMatch(/^\d+ passed, [1-9]\d* failed$/);
});
