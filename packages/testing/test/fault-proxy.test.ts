import { createConnection } from 'node:net';
import { Pool } from 'pg';
import { Redis, type RedisOptions } from 'ioredis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { infrastructureUrls, portAnswers, startFaultProxy, uniqueSuffix, waitFor, type FaultProxy } from '../src';

/**
 * The fault proxy in front of the real shared servers: every fault is shown by what the real
 * client library does (a timeout error, a failed command, a reconnect, results in order), never by
 * how long anything took.
 */
const urls = infrastructureUrls();
const proxies: FaultProxy[] = [];

async function proxyFor(serverUrl: string): Promise<FaultProxy> {
  const u = new URL(serverUrl);
  const proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) } });
  proxies.push(proxy);
  return proxy;
}

afterAll(() => Promise.all(proxies.map((p) => p.close())));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('options and url()', () => {
  test('only loopback targets and listen addresses are accepted; the error names the field', async () => {
    await expect(startFaultProxy({ target: '10.0.0.1:5432' })).rejects.toThrow(/target host must be a loopback address/);
    await expect(startFaultProxy({ target: { host: 'example.com', port: 80 } })).rejects.toThrow(/target\.host must be a loopback address/);
    await expect(startFaultProxy({ target: '127.0.0.1:6379', listenHost: '0.0.0.0' })).rejects.toThrow(/listenHost must be a loopback/);
    await expect(startFaultProxy({ target: 'redis' })).rejects.toThrow(/target must be 'host:port'/);
  });

  test('url() points a URL at the proxy and keeps user, password, path and query', async () => {
    const proxy = await proxyFor(urls.databaseUrl);
    const target = proxy.target.port;
    const rewritten = new URL(proxy.url(`postgres://us%40er:s3cr%3At@127.0.0.1:${target}/some_db?application_name=x&sslmode=disable`));
    expect([rewritten.protocol, rewritten.hostname, rewritten.port]).toEqual(['postgres:', '127.0.0.1', String(proxy.port)]);
    expect([rewritten.username, rewritten.password, rewritten.pathname, rewritten.search]).toEqual([
      'us%40er',
      's3cr%3At',
      '/some_db',
      '?application_name=x&sslmode=disable',
    ]);
    expect(proxy.url(`http://localhost:${target}/v2/accounts?page=2`)).toBe(`http://127.0.0.1:${proxy.port}/v2/accounts?page=2`);
    // A URL of another server is refused, and the refusal does not repeat the password.
    expect(() => proxy.url('redis://:hunter2@127.0.0.1:1/0')).toThrow(/not at this proxy's target port/);
    expect(() => proxy.url('redis://:hunter2@127.0.0.1:1/0')).not.toThrow(/hunter2/);
  });
});

describe('Postgres (pg Pool) through the proxy', () => {
  let proxy: FaultProxy;
  let pool: Pool;
  const poolErrors: Error[] = [];
  const answer = async () => (await pool.query<{ n: number }>('SELECT $1::int + 1 AS n', [41])).rows[0]!.n;

  beforeAll(async () => {
    proxy = await proxyFor(urls.databaseUrl);
    pool = new Pool({ connectionString: proxy.url(urls.databaseUrl), max: 1, query_timeout: 3000, connectionTimeoutMillis: 3000 });
    pool.on('error', (err) => poolErrors.push(err));
  });
  afterAll(() => pool.end());

  test('pass: queries go through', async () => {
    expect(await answer()).toBe(42);
    const s = proxy.stats();
    expect(s).toMatchObject({ mode: 'pass', connectionsAccepted: 1, connectionsOpen: 1, resets: 0 });
    expect(s.bytesToTarget).toBeGreaterThan(0);
    expect(s.bytesToClient).toBeGreaterThan(0);
  });

  test('blackhole: a query on the open connection, and a new connection, hang until the client-side timeout fires', async () => {
    await answer();
    const accepted = proxy.stats().connectionsAccepted;
    proxy.blackhole();
    let resolved = false;
    const query = pool.query('SELECT 1').then(() => (resolved = true));
    await expect(query).rejects.toThrow('Query read timeout');
    expect(resolved).toBe(false);
    // It was the connection opened before the blackhole that hung.
    expect(proxy.stats().connectionsAccepted).toBe(accepted);
    expect(proxy.stats().bytesSwallowed).toBeGreaterThan(0);
    // The pool dropped that client; a new connection is accepted and then hangs too.
    await expect(answer()).rejects.toThrow(/timeout/i);
    expect(proxy.stats().connectionsAccepted).toBe(accepted + 1);
    proxy.pass();
    expect(await answer()).toBe(42);
  });

  test('cut: the open connection is reset, new ones fail at once; after pass() the pool reconnects', async () => {
    await answer();
    const errorsBefore = poolErrors.length;
    const resetsBefore = proxy.stats().resets;
    proxy.cut();
    await waitFor(() => poolErrors.length > errorsBefore, 'the idle pool client to see the reset');
    await expect(answer()).rejects.toThrow();
    expect(proxy.stats().resets).toBeGreaterThanOrEqual(resetsBefore + 2);
    expect(proxy.stats().connectionsOpen).toBe(0);
    proxy.pass();
    expect(await answer()).toBe(42);
  });

  test('delay: results are correct and in order, both small and large', async () => {
    proxy.delay(20, { jitterMs: 30 });
    // Its own pool: pg starts query_timeout when a query is queued, and ten queued delayed queries outlast 1 s.
    const delayed = new Pool({ connectionString: proxy.url(urls.databaseUrl), max: 3 });
    try {
      const rows = await Promise.all(
        range(10).map(async (i) => {
          const r = await delayed.query<{ i: number; pad: string }>('SELECT $1::int AS i, repeat($2, 20000) AS pad', [i, String(i)]);
          return [r.rows[0]!.i, r.rows[0]!.pad];
        }),
      );
      expect(rows).toEqual(range(10).map((i) => [i, String(i).repeat(20000)]));
      // Some 400 KB of rows in many chunks: any reordered chunk would break the protocol or the order.
      const big = await delayed.query<{ g: number }>('SELECT g FROM generate_series(1, 50000) g');
      expect(big.rows.map((r) => r.g)).toEqual(range(50000).map((i) => i + 1));
    } finally {
      await delayed.end();
    }
    expect(proxy.stats().mode).toBe('delay');
    proxy.pass();
  });
});

describe('Redis (ioredis) through the proxy', () => {
  let proxy: FaultProxy;
  let redis: Redis;
  const prefix = `test:${uniqueSuffix()}:faultproxy:`;
  const options: RedisOptions = { commandTimeout: 3000, connectTimeout: 3000, maxRetriesPerRequest: 1, retryStrategy: () => 100 };

  beforeAll(async () => {
    proxy = await proxyFor(urls.redisUrl);
    redis = new Redis(proxy.url(urls.redisUrl), options);
    redis.on('error', () => undefined);
  });
  afterAll(async () => {
    proxy.pass();
    const direct = new Redis(urls.redisUrl);
    const keys = await direct.keys(`${prefix}*`);
    if (keys.length) await direct.del(...keys);
    direct.disconnect();
    redis.disconnect();
  });

  const works = async (key: string) => {
    await waitFor(() => redis.ping().catch(() => null), 'ioredis to reconnect through the proxy');
    await redis.set(prefix + key, key);
    return redis.get(prefix + key);
  };

  test('pass: commands go through', async () => {
    expect(await works('pass')).toBe('pass');
    expect(proxy.stats().connectionsAccepted).toBe(1);
  });

  test('blackhole: a command hangs until commandTimeout; resetConnections() then lets the client reconnect', async () => {
    await redis.set(`${prefix}bh`, 'before');
    proxy.blackhole();
    let resolved = false;
    const get = redis.get(`${prefix}bh`).then(() => (resolved = true));
    await expect(get).rejects.toThrow('Command timed out');
    expect(resolved).toBe(false);
    const { resets, connectionsAccepted } = proxy.stats();
    proxy.pass();
    proxy.resetConnections();
    expect(proxy.stats().resets).toBe(resets + 1);
    expect(await works('after-blackhole')).toBe('after-blackhole');
    expect(proxy.stats().connectionsAccepted).toBeGreaterThan(connectionsAccepted);
  });

  test('cut: commands fail; after pass() ioredis reconnects and works', async () => {
    await works('before-cut');
    proxy.cut();
    await expect(redis.set(`${prefix}cut`, 'x')).rejects.toThrow();
    expect(proxy.stats().connectionsOpen).toBe(0);
    proxy.pass();
    expect(await works('after-cut')).toBe('after-cut');
  });

  test('delay: a pipeline of large and small commands gives every result, in order', async () => {
    proxy.delay(10, { jitterMs: 40 });
    const value = (i: number) => `${i}:`.padEnd(i % 3 === 0 ? 60_000 : 10, 'v');
    const pipeline = redis.pipeline();
    for (const i of range(150)) pipeline.set(`${prefix}d${i}`, value(i)).get(`${prefix}d${i}`);
    const results = (await pipeline.exec())!;
    expect(results.map(([err]) => err)).toEqual(range(300).map(() => null));
    expect(results.map(([, v]) => v)).toEqual(range(150).flatMap((i) => ['OK', value(i)]));
    proxy.pass();
  });

  test('limitBandwidth: a large value still arrives whole; pass() lifts the limit', async () => {
    proxy.limitBandwidth(400_000);
    const big = 'b'.repeat(300_000);
    await redis.set(`${prefix}big`, big);
    expect(await redis.get(`${prefix}big`)).toBe(big);
    expect(proxy.stats().bytesPerSecond).toBe(400_000);
    proxy.pass();
    expect(proxy.stats().bytesPerSecond).toBeNull();
  });

  test('a client that disconnects mid-stream leaves the proxy serving others', async () => {
    const key = `${prefix}stream`;
    await redis.set(key, 'm'.repeat(1_000_000));
    proxy.delay(5, { jitterMs: 5 });
    const leaving = new Redis(proxy.url(urls.redisUrl), { ...options, retryStrategy: () => null });
    leaving.on('error', () => undefined);
    await leaving.ping();
    const before = proxy.stats().bytesToClient;
    const gets = Promise.all(range(20).map(() => leaving.get(key))).catch((err: Error) => err);
    await waitFor(() => proxy.stats().bytesToClient > before + 1_500_000, 'replies to be streaming');
    leaving.disconnect();
    expect(await gets).toBeInstanceOf(Error);
    // A raw client that resets the connection half-way through a command.
    const raw = createConnection({ host: proxy.host, port: proxy.port });
    raw.on('error', () => undefined);
    await new Promise((r) => raw.once('connect', r));
    raw.write('*3\r\n$3\r\nSET\r\n$10\r\n');
    raw.resetAndDestroy();
    await waitFor(() => proxy.stats().connectionsOpen === 1, 'the proxy to drop the departed clients');
    proxy.pass();
    expect(await redis.strlen(key)).toBe(1_000_000);
  });
});

describe('NATS (@nats-io/transport-node) through the proxy', () => {
  let proxy: FaultProxy;
  let direct: NatsConnection;
  let nc: NatsConnection;
  const statuses: string[] = [];
  const subject = `faultproxy.${uniqueSuffix()}`;
  const echo = (text: string, timeout = 3000) => nc.request(`${subject}.echo`, text, { timeout }).then((m) => m.string());

  beforeAll(async () => {
    proxy = await proxyFor(urls.natsUrl);
    direct = await connect({ servers: urls.natsUrl });
    direct.subscribe(`${subject}.echo`, { callback: (_err, msg) => void msg.respond(msg.data) });
    await direct.flush();
    nc = await connect({
      servers: proxy.url(urls.natsUrl),
      reconnectTimeWait: 100,
      reconnectJitter: 0,
      maxReconnectAttempts: -1,
      ignoreClusterUpdates: true,
    });
    void (async () => {
      for await (const s of nc.status()) statuses.push(s.type);
    })();
  });
  afterAll(async () => {
    proxy.pass();
    await nc.close();
    await direct.close();
  });

  test('pass: request/reply goes through', async () => {
    expect(await echo('hello')).toBe('hello');
    expect(proxy.stats().connectionsOpen).toBe(1);
  });

  test('blackhole: a request hangs until its timeout; resetConnections() then lets the client reconnect', async () => {
    proxy.blackhole();
    let resolved = false;
    const request = echo('lost', 500).then(() => (resolved = true));
    await expect(request).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(resolved).toBe(false);
    proxy.pass();
    proxy.resetConnections();
    await waitFor(() => statuses.includes('reconnect'), 'the NATS client to reconnect');
    expect(await echo('back')).toBe('back');
  });

  test('cut: the client is disconnected and a new connect fails; after pass() it reconnects and works', async () => {
    const from = statuses.length;
    proxy.cut();
    await waitFor(() => statuses.slice(from).includes('disconnect'), 'the NATS client to see the cut');
    await expect(connect({ servers: proxy.url(urls.natsUrl), timeout: 1000, maxReconnectAttempts: 0 })).rejects.toThrow();
    await expect(echo('during cut', 500)).rejects.toThrow();
    proxy.pass();
    await waitFor(() => statuses.slice(from).includes('reconnect'), 'the NATS client to reconnect');
    expect(await echo('after cut')).toBe('after cut');
  });

  test('delay: messages both ways arrive complete and in order', async () => {
    proxy.delay(10, { jitterMs: 30 });
    const received: string[] = [];
    const inbound: string[] = [];
    const sub = direct.subscribe(`${subject}.up`, { callback: (_err, msg) => void received.push(msg.string()) });
    const subIn = nc.subscribe(`${subject}.down`, { callback: (_err, msg) => void inbound.push(msg.string()) });
    await Promise.all([direct.flush(), nc.flush()]);
    const payload = (i: number) => `${i}:`.padEnd(i % 10 === 0 ? 30_000 : 20, 'p');
    for (const i of range(200)) nc.publish(`${subject}.up`, payload(i));
    for (const i of range(200)) direct.publish(`${subject}.down`, payload(i));
    await waitFor(() => received.length === 200 && inbound.length === 200, 'all 400 messages');
    expect(received).toEqual(range(200).map(payload));
    expect(inbound).toEqual(range(200).map(payload));
    expect(await echo('delayed')).toBe('delayed');
    sub.unsubscribe();
    subIn.unsubscribe();
    proxy.pass();
  });
});

describe('flow control', () => {
  test('delayed data is held only up to the high-water mark; beyond it the client is made to wait', async () => {
    const highWaterMark = 64 * 1024;
    const redisUrl = new URL(urls.redisUrl);
    const proxy = await startFaultProxy({ target: { host: redisUrl.hostname, port: Number(redisUrl.port) }, highWaterMark });
    proxies.push(proxy);
    proxy.delay(60_000);
    const raw = createConnection({ host: proxy.host, port: proxy.port });
    raw.on('error', () => undefined);
    await new Promise((r) => raw.once('connect', r));
    raw.write(Buffer.alloc(32 * 1024 * 1024, 0x20));
    const held: number[] = [];
    await waitFor(() => held.push(proxy.stats().bytesHeld) >= 40, 'forty samples of the held bytes');
    // Paused once above the mark, at most one socket read (64 KiB) past it; the rest waits in the client.
    expect(Math.max(...held)).toBeGreaterThan(highWaterMark);
    expect(Math.max(...held)).toBeLessThanOrEqual(highWaterMark + 64 * 1024);
    expect(raw.writableLength).toBeGreaterThan(0);
    raw.destroy();
    await proxy.close();
  });
});

describe('close()', () => {
  test('resets every connection, clears held data, stops listening and can be called twice', async () => {
    const proxy = await startFaultProxy({ target: `${new URL(urls.redisUrl).hostname}:${new URL(urls.redisUrl).port}` });
    const client = new Redis(proxy.url(urls.redisUrl), { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    expect(await client.ping()).toBe('PONG');
    proxy.delay(60_000);
    const held = client.ping().catch((err: Error) => err);
    await waitFor(() => proxy.stats().bytesHeld > 0, 'the ping to be held');
    await Promise.all([proxy.close(), proxy.close()]);
    expect(await held).toBeInstanceOf(Error);
    expect(proxy.stats()).toMatchObject({ connectionsOpen: 0, resets: 1 });
    expect(await portAnswers('127.0.0.1', proxy.port)).toBe(false);
    await proxy.close();
    client.disconnect();
  });
});
