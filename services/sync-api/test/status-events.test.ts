import { status } from '@grpc/grpc-js';
import { Publisher } from '@intellifin/messaging';
import { waitFor } from '@intellifin/testing';
import { StatusFeed } from '../src/app/status-feed';
import { bearer, logger, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';
import { auth, publishEvent, startGrpc, type GrpcEnv } from './grpc-helpers';
import { bodyOf, openSse, type SseStream } from './sse-helpers';

/**
 * The live status feed (SYNC_EVENTS → subscribers) and `GET /v1/events` (SSE) against real NATS
 * and Postgres: scoping, ids and resume, heartbeats, no compression, bounded buffers, shutdown.
 */
describe('sync-api live status (feed, SSE)', () => {
  let env: ApiEnv;
  let g: GrpcEnv;
  let a: Org;
  let b: Org;
  let userA: string;
  let adminA: string;
  let publisher: Publisher;
  const open: SseStream[] = [];

  beforeAll(async () => {
    env = await startApi({ config: { SSE_HEARTBEAT_MS: '150', STATUS_FEED_BUFFER: '4' } });
    g = await startGrpc(env);
    a = await seedOrg(env.db, 'Org A', 1);
    b = await seedOrg(env.db, 'Org B', 1);
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
    adminA = await token({ orgId: a.orgId, sub: 'admin-1', roles: ['admin'] });
    publisher = new Publisher({ nc: env.nc, topology: env.topology });
  });
  afterAll(async () => {
    for (const s of open) s.close();
    g?.close();
    await env?.close();
  });

  const sse = async (path: string, headers: Record<string, string>) => {
    const s = await openSse(env.baseUrl, path, headers);
    open.push(s);
    return s;
  };
  const subscribers = async () =>
    (await env.registry.getSingleMetric('intellifin_sync_api_status_subscribers')?.get())?.values[0]?.value ?? 0;
  /** Waits until `n` subscriptions are open (so an event published now reaches them). */
  const subscribed = (n: number) => waitFor(async () => ((await subscribers()) >= n ? true : null), `${n} subscribers`);

  it('refuses a missing token (401) and bad parameters (400 naming the field)', async () => {
    const none = await sse('/v1/events', {});
    expect(none.res.statusCode).toBe(401);
    await bodyOf(none);
    const badQuery = await sse('/v1/events?accountId=nope', bearer(userA));
    expect(badQuery.res.statusCode).toBe(400);
    expect(JSON.parse(await bodyOf(badQuery)).message).toMatch(/accountId/);
    const badId = await sse('/v1/events', { ...bearer(userA), 'last-event-id': 'abc' });
    expect(badId.res.statusCode).toBe(400);
    expect(JSON.parse(await bodyOf(badId)).message).toMatch(/last-event-id/);
  });

  it('HEAD answers the stream headers and ends (no subscription left open)', async () => {
    const before = env.parts.feed.subscriberCount;
    const res = await fetch(`${env.baseUrl}/v1/events`, { method: 'HEAD', headers: bearer(userA) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe('');
    expect(env.parts.feed.subscriberCount).toBe(before);
  });

  it("streams the caller's events with ids, uncompressed, with heartbeats; other orgs' and users' events are not shown", async () => {
    const s = await sse('/v1/events', { ...bearer(userA), 'accept-encoding': 'gzip, br' });
    expect(s.res.statusCode).toBe(200);
    expect(s.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(s.res.headers['content-encoding']).toBeUndefined();
    await subscribed(1);
    await publishEvent(publisher, env.topology, 'run', { accountId: b.accounts[0]!, orgId: b.orgId });
    await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[1]!, orgId: a.orgId }); // user-2's
    const seq = await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[0]!, orgId: a.orgId, added: 5 });
    await waitFor(async () => (s.events.length >= 1 ? true : null), 'the event');
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ id: String(seq), event: 'run_finished' });
    expect(JSON.parse(s.events[0]!.data!)).toMatchObject({
      id: String(seq),
      kind: 'run_finished',
      accountId: a.accounts[0],
      provider: 'mono',
      outcome: 'succeeded',
      counts: { added: 5, modified: 1, unchanged: 0 },
      statusAfter: 'active',
    });
    await waitFor(async () => ((s.raw().match(/: heartbeat\n\n/g) ?? []).length >= 2 ? true : null), 'heartbeats');
    s.close();
  });

  it('an admin sees the whole org; a client resumes after Last-Event-ID with what it missed', async () => {
    const first = await sse('/v1/events', bearer(adminA));
    await subscribed(1);
    const s1 = await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[1]!, orgId: a.orgId });
    await waitFor(async () => (first.events.length >= 1 ? true : null), 'first event');
    expect(first.events[0]!.id).toBe(String(s1));
    first.close();
    // Missed while disconnected:
    const s2 = await publishEvent(publisher, env.topology, 'auth', {
      accountId: a.accounts[0]!,
      orgId: a.orgId,
      reason: 'consent_revoked',
    });
    const s3 = await publishEvent(publisher, env.topology, 'auth', { accountId: a.accounts[0]!, orgId: a.orgId, kind: 'repaired' });
    await waitFor(async () => (env.parts.feed.lastSeq >= s3 ? true : null), 'the feed to have read the events');
    const resumed = await sse('/v1/events', { ...bearer(adminA), 'last-event-id': String(s1) });
    await waitFor(async () => (resumed.events.length >= 2 ? true : null), 'the missed events');
    expect(resumed.events.map((e) => [e.id, e.event])).toEqual([
      [String(s2), 'reauth_required'],
      [String(s3), 'repaired'],
    ]);
    resumed.close();
  });

  it('a subscriber that does not keep up is ended (slow_consumer), not buffered without bound', async () => {
    const sub = env.parts.feed.subscribe({ userId: 'admin-1', orgId: a.orgId, roles: ['admin'] });
    for (let i = 0; i < 5; i++) await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[0]!, orgId: a.orgId });
    await waitFor(async () => (sub.endReason ? true : null), 'the subscription to end');
    expect(sub.endReason).toBe('slow_consumer');
    const events = [];
    for await (const e of sub) events.push(e);
    expect(events).toEqual([]);
  });

  it('a resume point older than the feed holds is a reset; one it holds replays what follows it', async () => {
    const feed = new StatusFeed({
      nc: env.nc,
      topology: env.topology,
      pool: env.db.poolAs('intellifin_api'),
      logger: logger(),
      replaySize: 2,
    });
    await feed.start();
    try {
      const seqs: number[] = [];
      for (let i = 0; i < 3; i++)
        seqs.push(await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[0]!, orgId: a.orgId }));
      await waitFor(async () => (feed.lastSeq >= seqs[2]! ? true : null), 'the feed to read them');
      const admin = { userId: 'admin-1', orgId: a.orgId, roles: ['admin' as const] };
      const old = feed.subscribe(admin, { afterSeq: seqs[0]! - 1 });
      expect(old.reset).toBe(true);
      old.close();
      const held = feed.subscribe(admin, { afterSeq: seqs[1]! });
      expect(held.reset).toBe(false);
      const it = held[Symbol.asyncIterator]();
      expect((await it.next()).value).toMatchObject({ seq: seqs[2] });
      held.close();
      expect((await it.next()).done).toBe(true);
    } finally {
      await feed.stop();
    }
  });

  it('shutdown ends open SSE streams (event: end, reason shutdown) and watch streams (UNAVAILABLE), then stops', async () => {
    const s = await sse('/v1/events', bearer(userA));
    const watch = g.client.watchSyncStatus({ accountIds: [], providers: [], sendInitial: false }, auth(userA));
    const watchEnd = new Promise<{ code: number }>((resolve) => watch.on('error', resolve));
    watch.on('data', () => undefined);
    await subscribed(2);
    await env.parts.stop();
    await s.ended;
    expect(s.events[s.events.length - 1]).toEqual({ event: 'end', data: JSON.stringify({ reason: 'shutdown' }) });
    expect((await watchEnd).code).toBe(status.UNAVAILABLE);
  });
});
