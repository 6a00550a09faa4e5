import { jetstream } from '@nats-io/jetstream';
import { syncCommandCodec } from '@intellifin/messaging';
import { waitFor } from '@intellifin/testing';
import { bearer, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';

/**
 * "Sync now" and cancel against real Postgres, Redis and NATS: the command goes through the outbox
 * (same transaction as the request and its idempotency record) and the relay to the priority lane;
 * idempotency, coalescing, the per-account rate limit and cancels.
 */
describe('sync-api triggers', () => {
  let env: ApiEnv;
  let org: Org;
  let user: string;

  beforeAll(async () => {
    env = await startApi();
    org = await seedOrg(env.db, 'Org T', 4);
    user = await token({ orgId: org.orgId, sub: 'user-1' });
  });
  afterAll(async () => env?.close());

  const sync = (id: string, payload: unknown = {}, headers: Record<string, string> = {}) =>
    env.http({ method: 'POST', url: `/v1/accounts/${id}/sync`, headers: { ...bearer(user), ...headers }, payload });

  /** Every command message stored on the account's priority-lane subject. */
  async function priorityCommands(accountId: string) {
    const subject = env.topology.commandSubjectFor({ provider: 'mono', accountId, trigger: 'manual' });
    const stream = env.topology.streams.commands.name;
    const info = await env.jsm.streams.info(stream, { subjects_filter: subject });
    const out = [];
    const js = jetstream(env.nc);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await js.streams
        .get(stream)
        .then((s) => s.getMessage({ seq }))
        .catch(() => null);
      if (m && m.subject === subject) out.push({ headers: m.header, cmd: syncCommandCodec.decode(m.data) });
    }
    return out;
  }

  it('answers 202 with the queued command and publishes it on the priority lane through the outbox', async () => {
    const id = org.accounts[0]!;
    const res = await sync(id, { mode: 'full', realtime: true });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({
      commandId: expect.any(String),
      accountId: id,
      provider: 'mono',
      trigger: 'manual',
      mode: 'full',
      realtime: true,
      lane: 'priority',
      issuedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      coalesced: false,
    });
    const cmds = await waitFor(async () => {
      const c = await priorityCommands(id);
      return c.length > 0 ? c : null;
    }, 'the command on the priority lane');
    expect(cmds).toHaveLength(1);
    expect(cmds[0]!.cmd).toMatchObject({
      commandId: body.commandId,
      trigger: 'manual',
      mode: 'full',
      realtime: true,
      issuedAt: body.issuedAt,
      orgId: org.orgId,
    });
    expect(cmds[0]!.headers?.get('Nats-Msg-Id')).toBe(`cmd:${body.commandId}`);
    const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM outbox');
    expect(rows[0].n).toBe(0);
    // The account shows it queued, and when the next manual sync is allowed.
    const status = (await env.http({ url: `/v1/accounts/${id}/sync-status`, headers: bearer(user) })).json();
    expect(status.run).toEqual({ status: 'queued', code: null, since: expect.any(String), commandId: body.commandId });
    expect(Date.parse(status.nextManualSyncAllowedAt)).toBeGreaterThan(Date.now());
  });

  it('coalesces with a queued request that covers it; rate-limits a new one with 429, Retry-After and the next allowed time', async () => {
    const id = org.accounts[1]!;
    const first = (await sync(id, { mode: 'transactions' })).json();
    // Covered (same scope): the same command, no new message, not rate-limited.
    const again = await sync(id, { mode: 'transactions' });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ commandId: first.commandId, coalesced: true });
    // Wider (full) is not covered by the queued one: a new command, which the limit refuses.
    const wider = await sync(id, { mode: 'full' });
    expect(wider.statusCode).toBe(429);
    expect(Number(wider.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(wider.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(wider.json()).toMatchObject({ error: 'rate_limited', nextAllowedAt: expect.any(String) });
    // Once the run started (a run row after the request), the request is no longer queued and nothing coalesces.
    await env.db.pool.query(
      `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome, command_id, started_at) VALUES ($1, $2, 'mono', 'manual', 'transactions', 1, 'succeeded', $3, now())`,
      [org.orgId, id, first.commandId],
    );
    expect((await sync(id, { mode: 'transactions' })).statusCode).toBe(429);
    // When the window has passed (the key expired), a new command is queued.
    await env.redis.redis.del(`${env.redis.prefix}sync-api:manual:${id}`);
    const later = await sync(id, { mode: 'transactions' });
    expect(later.statusCode).toBe(202);
    expect(later.json().commandId).not.toBe(first.commandId);
  });

  it('Idempotency-Key: the same key gets the same answer (even past the rate limit); another request with it is a 422', async () => {
    const id = org.accounts[2]!;
    const key = { 'idempotency-key': 'offline-queue-7f3a' };
    const first = await sync(id, { mode: 'balance' }, key);
    expect(first.statusCode).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const replay = await sync(id, { mode: 'balance' }, key);
    expect(replay.statusCode).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());
    const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM sync_requests WHERE account_id = $1', [id]);
    expect(rows[0].n).toBe(1);
    const other = await sync(id, { mode: 'full' }, key);
    expect(other.statusCode).toBe(422);
    expect(other.json().error).toBe('idempotency_key_reused');
    // Keys belong to their caller: another user's same key is a fresh request (here: their own account, queued).
    const user2 = await token({ orgId: org.orgId, sub: 'user-2' });
    const theirs = await env.http({
      method: 'POST',
      url: `/v1/accounts/${org.accounts[4]}/sync`,
      headers: { ...bearer(user2), ...key },
      payload: { mode: 'balance' },
    });
    expect(theirs.statusCode).toBe(202);
    expect(theirs.json().commandId).not.toBe(first.json().commandId);
  });

  it('validates the body and headers: 400 naming the field; oversize bodies 413; malformed JSON 400', async () => {
    const id = org.accounts[3]!;
    const bad = await sync(id, { mode: 'everything', realtime: 'yes' });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .issues.map((i: { field: string }) => i.field)
        .sort(),
    ).toEqual(['body.mode', 'body.realtime']);
    const extra = await sync(id, { mode: 'balance', force: true });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().message).toMatch(/force/);
    const badKey = await sync(id, {}, { 'idempotency-key': 'has spaces in it' });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json().issues[0].field).toMatch(/^headers\.idempotency-key/);
    const huge = await sync(id, { mode: 'balance', pad: 'x'.repeat(env.config.BODY_LIMIT_BYTES) });
    expect(huge.statusCode).toBe(413);
    const malformed = await env.http({
      method: 'POST',
      url: `/v1/accounts/${id}/sync`,
      headers: { ...bearer(user), 'content-type': 'application/json' },
      rawBody: '{"mode":',
    });
    expect(malformed.statusCode).toBe(400);
    // None of these queued anything or took the account's slot.
    const ok = await env.http({ method: 'POST', url: `/v1/accounts/${id}/sync`, headers: bearer(user) });
    expect(ok.statusCode).toBe(202);
    expect(ok.json()).toMatchObject({ mode: 'transactions', realtime: false });
  });

  it('refuses an unlinked account with 409', async () => {
    const id = org.accounts[3]!;
    await env.db.pool.query(`UPDATE accounts SET status = 'disabled' WHERE id = $1`, [id]);
    await env.redis.redis.del(`${env.redis.prefix}sync-api:manual:${id}`);
    const res = await sync(id);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toBe('account_unlinked');
    await env.db.pool.query(`UPDATE accounts SET status = 'active' WHERE id = $1`, [id]);
  });

  it('cancel: a queued request is cancelled; a running run is asked to stop at its next page', async () => {
    const id = org.accounts[0]!;
    // The request of the first test is queued (no run yet).
    const cancel = await env.http({ method: 'POST', url: `/v1/accounts/${id}/sync/cancel`, headers: bearer(user) });
    expect(cancel.statusCode).toBe(202);
    expect(cancel.json()).toEqual({ accountId: id, cancelledQueued: 1, dequeued: 0, runningCancelRequested: false });
    const status = (await env.http({ url: `/v1/accounts/${id}/sync-status`, headers: bearer(user) })).json();
    expect(status.run.status).toBe('idle');
    // A running run: cancel_requested_at is set (the engine honours it at its next page).
    await env.db.pool.query(
      `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome) VALUES ($1, $2, 'mono', 'scheduled', 'transactions', 1, 'running')`,
      [org.orgId, id],
    );
    const running = await env.http({ method: 'POST', url: `/v1/accounts/${id}/sync/cancel`, headers: bearer(user) });
    expect(running.json()).toEqual({ accountId: id, cancelledQueued: 0, dequeued: 0, runningCancelRequested: true });
    const { rows } = await env.db.pool.query('SELECT cancel_requested_at FROM accounts WHERE id = $1', [id]);
    expect(rows[0].cancel_requested_at).toBeInstanceOf(Date);
  });

  it('cancel takes a command out of the outbox before the relay publishes it', async () => {
    const id = org.accounts[2]!;
    // Earlier tests' commands are published first (the relay lingers briefly after a kick).
    await waitFor(async () => (await env.db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n === 0, 'outbox drained');
    await env.parts.relay.stop();
    try {
      await env.redis.redis.del(`${env.redis.prefix}sync-api:manual:${id}`);
      const queued = (await sync(id, { mode: 'full' })).json();
      const { rows } = await env.db.pool.query('SELECT event_id FROM outbox ORDER BY id');
      // The status event first: the relay publishes it ahead of the command.
      expect(rows.map((r) => r.event_id)).toEqual([`queued:${queued.commandId}`, `cmd:${queued.commandId}`]);
      const cancel = await env.http({ method: 'POST', url: `/v1/accounts/${id}/sync/cancel`, headers: bearer(user) });
      // The balance request of the idempotency test was still queued too (already published): cancelled, not dequeued.
      expect(cancel.json()).toMatchObject({ cancelledQueued: 2, dequeued: 1 });
      expect((await env.db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n).toBe(0);
    } finally {
      env.parts.relay.start();
    }
  });
});
