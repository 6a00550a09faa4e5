import { randomUUID } from 'node:crypto';
import { insertAccount, type Pool } from '@intellifin/persistence';
import { getDeadLetter, publishDeadLetter, PubAckInbox, syncCommandCodec, type Provider } from '@intellifin/messaging';
import { waitFor } from '@intellifin/testing';
import { bearer, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';

/**
 * Operator and admin routes against real Postgres, Redis and NATS: queue numbers, the dead-letter
 * list, replay and discard (audited, idempotent, org-scoped), and the org-wide sync.
 */
describe('sync-api operator routes', () => {
  let env: ApiEnv;
  let orgA: Org;
  let orgB: Org;
  const t: Record<string, string> = {};
  let acks: PubAckInbox;

  beforeAll(async () => {
    env = await startApi({ config: { ORG_SYNC_BATCH_SIZE: '2', ORG_SYNC_INTERVAL_MS: '600000' } });
    orgA = await seedOrg(env.db, 'Org A', 2);
    orgB = await seedOrg(env.db, 'Org B', 1);
    t.userA = await token({ orgId: orgA.orgId, sub: 'user-1', roles: ['user'] });
    t.opA = await token({ orgId: orgA.orgId, sub: 'op-a', roles: ['operator'] });
    t.adminA = await token({ orgId: orgA.orgId, sub: 'admin-a', roles: ['admin'] });
    t.opB = await token({ orgId: orgB.orgId, sub: 'op-b', roles: ['operator'] });
    t.adminB = await token({ orgId: orgB.orgId, sub: 'admin-b', roles: ['admin'] });
    acks = new PubAckInbox(env.nc);
  });
  afterAll(async () => env?.close());

  const get = (url: string, who: string) => env.http({ url, headers: bearer(t[who]!) });
  const post = (url: string, who: string, payload?: unknown) => env.http({ method: 'POST', url, headers: bearer(t[who]!), payload });

  /** A dead letter as the consumer runner writes it: the command's payload and headers, the reason, the deliveries. */
  async function deadLetter(org: Org, accountId: string, o: { provider?: Provider; reason?: string; code?: string } = {}) {
    const provider = o.provider ?? 'mono';
    const cmd = {
      commandId: randomUUID(),
      accountId,
      orgId: org.orgId,
      provider,
      trigger: 'scheduled' as const,
      mode: 'transactions' as const,
      realtime: false,
      plannedSlot: new Date().toISOString(),
      issuedAt: new Date().toISOString(),
    };
    const subject = env.topology.commandSubject(provider, accountId);
    const dl = await publishDeadLetter(acks, env.topology, {
      source: 'runner',
      reason: o.reason ?? 'permanent mono_bad_request: Mono answered 400',
      errorKind: 'permanent',
      errorCode: o.code ?? 'mono_bad_request',
      originalSubject: subject,
      originalStream: env.topology.streams.commands.name,
      streamSeq: Math.floor(Math.random() * 1e9) + 1,
      deliveryCount: 3,
      consumer: env.topology.laneConsumer(provider, 'bulk').config.durable_name,
      data: syncCommandCodec.encode(cmd),
      headers: undefined,
    });
    return { seq: dl.dlqSeq, cmd, subject };
  }

  const audit = (pool: Pool, where = 'true') =>
    pool.query(
      `SELECT org_id, actor, actor_roles, action, target, result, detail, dedup_key, completed_at FROM operator_audit WHERE ${where} ORDER BY id`,
    );

  describe('roles', () => {
    it.each([
      ['GET', '/v1/queue/stats'],
      ['GET', '/v1/dead-letters'],
      ['POST', '/v1/dead-letters/1/replay'],
      ['POST', '/v1/dead-letters/1/discard'],
      ['POST', '/v1/sync'],
    ])('%s %s: a user-role caller gets 403, no token 401', async (method, url) => {
      const res = await env.http({ method, url, headers: bearer(t.userA!), ...(method === 'POST' ? { payload: {} } : {}) });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('forbidden');
      expect((await env.http({ method, url })).statusCode).toBe(401);
    });

    it('the org-wide sync is for admins: an operator gets 403', async () => {
      expect((await post('/v1/sync', 'opA', {})).statusCode).toBe(403);
    });

    it('bad input is a 400 naming the field', async () => {
      const res = await get('/v1/dead-letters?limit=0', 'opA');
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/querystring\.limit/);
      expect((await get('/v1/dead-letters?cursor=abc', 'opA')).json().message).toMatch(/querystring\.cursor/);
      expect((await post('/v1/dead-letters/0/replay', 'opA')).json().message).toMatch(/params\.id/);
      const body = await post('/v1/sync', 'adminA', { provider: 'paypal' });
      expect(body.statusCode).toBe(400);
      expect(body.json().message).toMatch(/body\.provider/);
    });
  });

  it('queue stats: pending, in flight, redelivered and DLQ size per provider lane (system-wide)', async () => {
    const js = env.jsm.jetstream();
    const before = (await get('/v1/queue/stats', 'opA')).json();
    expect(before.scope).toBe('system');
    expect(before.lanes).toHaveLength(6);
    const monoBulk = (b: { lanes: { provider: string; lane: string }[] }) =>
      b.lanes.find((l) => l.provider === 'mono' && l.lane === 'bulk') as any;
    await js.publish(env.topology.commandSubject('mono', orgA.accounts[0]!), '{}');
    await js.publish(env.topology.commandSubject('mono', orgA.accounts[1]!), '{}');
    await js.publish(env.topology.commandSubject('mono', orgA.accounts[1]!, 'priority'), '{}');
    await deadLetter(orgB, orgB.accounts[0]!);
    const res = await get('/v1/queue/stats', 'adminA');
    expect(res.statusCode).toBe(200);
    const after = res.json();
    expect(monoBulk(after)).toMatchObject({ consumer: 'mono-worker', exists: true, inFlight: 0, redelivered: 0 });
    expect(monoBulk(after).pending).toBe(monoBulk(before).pending + 2);
    // Another organisation's dead letter counts: these are the system's numbers.
    expect(monoBulk(after).deadLetters).toBe(monoBulk(before).deadLetters + 1);
    const prio = after.lanes.find((l: any) => l.provider === 'mono' && l.lane === 'priority');
    expect(prio).toMatchObject({ consumer: 'mono-worker-priority', pending: 1 });
    // Clean the command stream for the other tests.
    await env.jsm.streams.purge(env.topology.streams.commands.name);
    expect(await env.registry.metrics()).toMatch(
      /intellifin_sync_api_http_request_duration_seconds_count\{method="GET",route="\/v1\/queue\/stats",status="200"\}/,
    );
  });

  it('lists only the organisation its commands name, with cursor pagination and a provider filter; nothing secret', async () => {
    const a1 = await deadLetter(orgA, orgA.accounts[0]!, {
      reason: 'permanent mono_bad_request: Bearer eyJabc.def.ghi for 260971234567 rejected',
    });
    const b1 = await deadLetter(orgB, orgB.accounts[0]!);
    const a2 = await deadLetter(orgA, orgA.accounts[1]!, { provider: 'momo', code: 'momo_bad_request' });
    const page1 = await get('/v1/dead-letters?limit=1', 'opA');
    expect(page1.statusCode).toBe(200);
    const p1 = page1.json();
    const all: any[] = [...p1.deadLetters];
    let cursor = p1.nextCursor;
    while (cursor) {
      const p = (await get(`/v1/dead-letters?limit=1&cursor=${cursor}`, 'opA')).json();
      all.push(...p.deadLetters);
      cursor = p.nextCursor;
    }
    const ids = all.map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining([a1.seq, a2.seq]));
    expect(ids).not.toContain(b1.seq);
    const one = all.find((d) => d.id === a1.seq);
    expect(one).toEqual({
      id: a1.seq,
      originalSubject: a1.subject,
      provider: 'mono',
      lane: 'bulk',
      accountId: orgA.accounts[0],
      commandId: a1.cmd.commandId,
      trigger: 'scheduled',
      mode: 'transactions',
      source: 'runner',
      error: { kind: 'permanent', code: 'mono_bad_request' },
      reason: expect.any(String),
      failedAt: expect.any(String),
      deliveries: 3,
    });
    expect(JSON.stringify(all)).not.toContain('eyJabc');
    expect(JSON.stringify(all)).not.toContain('260971234567');
    const momo = (await get('/v1/dead-letters?provider=momo', 'opA')).json().deadLetters;
    expect(momo.map((d: any) => d.id)).toEqual([a2.seq]);
    const forB = (await get('/v1/dead-letters', 'opB')).json().deadLetters.map((d: any) => d.id);
    expect(forB).toContain(b1.seq);
    expect(forB).not.toContain(a1.seq);
  });

  it('replay: the command goes back to its subject through the outbox with a fresh msg id, the DLQ copy is removed, audited; another org gets 404', async () => {
    const d = await deadLetter(orgA, orgA.accounts[0]!);
    expect((await post(`/v1/dead-letters/${d.seq}/replay`, 'opB')).statusCode).toBe(404);
    expect((await post(`/v1/dead-letters/${d.seq}/discard`, 'adminB')).statusCode).toBe(404);
    const res = await post(`/v1/dead-letters/${d.seq}/replay`, 'opA');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: d.seq,
      action: 'replay',
      commandId: d.cmd.commandId,
      subject: d.subject,
      alreadyHandled: false,
      removed: true,
    });
    const stored = await waitFor(
      () => env.jsm.streams.getMessage(env.topology.streams.commands.name, { last_by_subj: d.subject }).catch(() => null),
      'the replayed command on its subject',
    );
    expect(syncCommandCodec.decode(stored.data)).toEqual(d.cmd);
    expect(stored.header.get('Nats-Msg-Id')).toMatch(/^replay:/);
    expect(await getDeadLetter(env.jsm, env.topology, d.seq)).toBeNull();
    const rows = (await audit(env.db.pool, `target = 'dead-letter:${d.seq}'`)).rows;
    expect(rows).toEqual([
      expect.objectContaining({
        org_id: orgA.orgId,
        actor: 'op-a',
        actor_roles: ['operator'],
        action: 'dead_letter.replay',
        result: 'replayed',
        completed_at: expect.any(Date),
      }),
    ]);
    expect(rows[0].detail).toMatchObject({ commandId: d.cmd.commandId, accountId: orgA.accounts[0], provider: 'mono', subject: d.subject });
    // Repeated: the earlier answer, nothing new queued; the other action on it is a conflict.
    const again = await post(`/v1/dead-letters/${d.seq}/replay`, 'opA');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ alreadyHandled: true, commandId: d.cmd.commandId });
    expect((await post(`/v1/dead-letters/${d.seq}/discard`, 'opA')).statusCode).toBe(409);
    expect((await audit(env.db.pool, `target = 'dead-letter:${d.seq}'`)).rows).toHaveLength(1);
    expect(await env.registry.metrics()).toMatch(/intellifin_sync_api_dead_letter_actions_total\{action="replay",result="done"\} 1/);
  });

  it('replay after a crash between the outbox commit and the DLQ deletion queues nothing twice and only removes the copy', async () => {
    const d = await deadLetter(orgA, orgA.accounts[1]!);
    const stored = (await getDeadLetter(env.jsm, env.topology, d.seq))!;
    const key = `${env.topology.streams.deadLetters.name}:${d.seq}:${stored.storedAt.getTime()}`;
    // What a first attempt committed before its process died: the audit row and the outbox row, with the relay stopped.
    await env.parts.relay.stop();
    await env.db.pool.query(
      `INSERT INTO operator_audit (org_id, actor, actor_roles, action, target, result, detail, dedup_key)
       VALUES ($1, 'op-a', '{operator}', 'dead_letter.replay', $2, 'replayed', $3, $4)`,
      [orgA.orgId, `dead-letter:${d.seq}`, JSON.stringify({ commandId: d.cmd.commandId, subject: d.subject }), key],
    );
    await env.db.pool.query(`INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3)`, [
      `replay:${key}`,
      d.subject,
      JSON.stringify(d.cmd),
    ]);
    const res = await post(`/v1/dead-letters/${d.seq}/replay`, 'opA');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ alreadyHandled: true, removed: true });
    expect(await getDeadLetter(env.jsm, env.topology, d.seq)).toBeNull();
    const outbox = await env.db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE event_id LIKE 'replay:%'`);
    expect(outbox.rows[0].n).toBe(1);
    const rows = (await audit(env.db.pool, `target = 'dead-letter:${d.seq}'`)).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0].completed_at).toBeInstanceOf(Date);
    env.parts.relay.start();
  });

  it('discard removes the copy and queues nothing; audited', async () => {
    const d = await deadLetter(orgA, orgA.accounts[0]!);
    const outboxCount = async () => (await env.db.pool.query(`SELECT count(*)::int AS n FROM outbox`)).rows[0].n as number;
    await waitFor(async () => (await outboxCount()) === 0, 'the relay to publish what earlier tests queued');
    const res = await post(`/v1/dead-letters/${d.seq}/discard`, 'adminA');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ action: 'discard', commandId: null, alreadyHandled: false, removed: true });
    expect(await getDeadLetter(env.jsm, env.topology, d.seq)).toBeNull();
    expect(await outboxCount()).toBe(0);
    expect((await audit(env.db.pool, `target = 'dead-letter:${d.seq}'`)).rows).toEqual([
      expect.objectContaining({ actor: 'admin-a', action: 'dead_letter.discard', result: 'discarded' }),
    ]);
    expect((await post(`/v1/dead-letters/${d.seq}/replay`, 'adminA')).statusCode).toBe(409);
    expect((await post(`/v1/dead-letters/999999999/discard`, 'adminA')).statusCode).toBe(404);
  });

  it('the OpenAPI document describes the operator routes from the same schemas', async () => {
    const doc = (await env.http({ url: '/docs/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/queue/stats',
        '/v1/dead-letters',
        '/v1/dead-letters/{id}/replay',
        '/v1/dead-letters/{id}/discard',
        '/v1/sync',
      ]),
    );
    expect(doc.paths['/v1/sync'].post.responses).toHaveProperty('429');
    expect(doc.paths['/v1/dead-letters'].get.responses).toHaveProperty('403');
    expect(doc.paths['/v1/accounts/{id}/sync-runs/{runId}'].get.responses['200']).toBeDefined();
    expect(JSON.stringify(doc.components.schemas.SyncRunDetail ?? doc)).toContain('requests');
  });

  describe('org-wide sync', () => {
    it('queues an admin command on the bulk lane for every schedulable account, in batches, coalescing; then 429', async () => {
      const extra = await insertAccount(env.db.pool, {
        orgId: orgA.orgId,
        userId: orgA.users['user-1']!,
        provider: 'mono',
        providerAccountId: `acc-${randomUUID()}`,
        type: 'bank',
        currency: 'ZMW',
      });
      const disabled = await insertAccount(env.db.pool, {
        orgId: orgA.orgId,
        userId: orgA.users['user-1']!,
        provider: 'mono',
        providerAccountId: `acc-${randomUUID()}`,
        type: 'bank',
        currency: 'ZMW',
      });
      await env.db.pool.query(`UPDATE accounts SET status = 'disabled' WHERE id = $1`, [disabled.id]);
      await env.db.pool.query(`UPDATE accounts SET status = 'auth_required' WHERE id = $1`, [orgA.accounts[3]!]);
      // A manual request already queued for one account covers a transactions sync.
      const manual = await env.http({
        method: 'POST',
        url: `/v1/accounts/${orgA.accounts[0]}/sync`,
        headers: bearer(await token({ orgId: orgA.orgId, sub: 'user-1' })),
        payload: { mode: 'full' },
      });
      expect(manual.statusCode).toBe(202);
      await env.jsm.streams.purge(env.topology.streams.commands.name);

      const res = await post('/v1/sync', 'adminA', {});
      expect(res.statusCode).toBe(202);
      const body = res.json();
      // accounts 0..2 active (3 = auth_required), the extra one active; the disabled one skipped.
      expect(body).toEqual({
        provider: null,
        mode: 'transactions',
        accounts: 4,
        queued: 3,
        coalesced: 1,
        batches: 2,
        auditId: expect.any(String),
      });
      const queuedIds = [orgA.accounts[1], orgA.accounts[2], extra.id];
      for (const id of queuedIds) {
        const subject = env.topology.commandSubjectFor({ provider: 'mono', accountId: id!, trigger: 'admin' });
        expect(subject.endsWith('.priority')).toBe(false);
        const m = await waitFor(
          () => env.jsm.streams.getMessage(env.topology.streams.commands.name, { last_by_subj: subject }).catch(() => null),
          'the admin command',
        );
        expect(syncCommandCodec.decode(m.data)).toMatchObject({
          accountId: id,
          orgId: orgA.orgId,
          trigger: 'admin',
          mode: 'transactions',
          requestedBy: 'admin-a',
        });
      }
      // Org B's account was not touched.
      const bSubject = env.topology.commandSubject('mono', orgB.accounts[0]!);
      expect(await env.jsm.streams.getMessage(env.topology.streams.commands.name, { last_by_subj: bSubject }).catch(() => null)).toBeNull();
      const rows = (await audit(env.db.pool, `action = 'sync.org'`)).rows;
      expect(rows).toEqual([
        expect.objectContaining({
          org_id: orgA.orgId,
          actor: 'admin-a',
          target: 'provider:all',
          result: 'completed',
          completed_at: expect.any(Date),
        }),
      ]);
      expect(rows[0].detail).toMatchObject({ mode: 'transactions', accounts: 4, queued: 3, coalesced: 1, batches: 2 });

      // A person's "Sync now" is not coalesced onto the bulk-lane admin command: it gets its own, on the priority lane.
      const tap = await env.http({
        method: 'POST',
        url: `/v1/accounts/${orgA.accounts[1]}/sync`,
        headers: bearer(await token({ orgId: orgA.orgId, sub: 'user-1' })),
        payload: {},
      });
      expect(tap.statusCode).toBe(202);
      expect(tap.json()).toMatchObject({ coalesced: false, lane: 'priority', trigger: 'manual' });

      const again = await post('/v1/sync', 'adminA', {});
      expect(again.statusCode).toBe(429);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(500);
      expect(again.json()).toMatchObject({ error: 'rate_limited', nextAllowedAt: expect.any(String) });
      // Another scope has its own slot; another organisation too.
      const momo = await post('/v1/sync', 'adminA', { provider: 'momo' });
      expect(momo.statusCode).toBe(202);
      expect(momo.json()).toMatchObject({ provider: 'momo', accounts: 0, queued: 0 });
      const b = await post('/v1/sync', 'adminB', { mode: 'balance' });
      expect(b.statusCode).toBe(202);
      expect(b.json()).toMatchObject({ accounts: 2, queued: 2 });
      const metrics = await env.registry.metrics();
      expect(metrics).toMatch(/intellifin_sync_api_org_syncs_total\{result="rate_limited"\} 1/);
      expect(metrics).toMatch(/intellifin_sync_api_org_sync_accounts_total\{provider="mono",result="coalesced"\} 1/);
    });
  });
});
