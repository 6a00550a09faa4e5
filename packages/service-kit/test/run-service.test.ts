import { z } from 'zod';
import { createPool } from '@intellifin/persistence';
import { databaseEnv, loadConfig, loggingEnv, natsEnv, portVar, redisEnv, boolVar, type Env } from '@intellifin/core';
import { createTestDatabase, infrastructureUrls, uniqueSuffix, type TestDatabase } from '@intellifin/testing';
import { deleteTopology, jetstreamManager } from '@intellifin/messaging';
import { bootService, connectionLimitsEnv, type BootedService, type ServiceDefinition } from '../src';

const schema = z.object({
  ...databaseEnv,
  ...redisEnv,
  ...natsEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  HEALTH_PORT: portVar(0),
  NATS_NAMESPACE: z.string().optional(),
  MIGRATE_ON_START: boolVar(false),
});
type Config = z.infer<typeof schema>;

async function readyz(port: number): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

describe('bootService', () => {
  let db: TestDatabase;
  let env: Env;
  const namespace = `kit${uniqueSuffix(3)}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    const urls = infrastructureUrls();
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: urls.redisUrl,
      NATS_URL: urls.natsUrl,
      NATS_NAMESPACE: namespace,
      LOG_LEVEL: 'silent',
      PG_STATEMENT_TIMEOUT_MS: '4321',
      PG_QUERY_TIMEOUT_MS: '9876',
      PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: '5432',
    };
  });
  afterAll(async () => {
    await db.drop();
  });

  it('opens bounded connections, is unready until start resolves, and shuts down in order', async () => {
    const seen: string[] = [];
    let duringStart: Awaited<ReturnType<typeof readyz>> | undefined;
    let duringStop: { readyz: number; natsClosed: boolean; poolAnswers: boolean; redis: string } | undefined;
    const def: ServiceDefinition<Config> = {
      name: 'kit-test',
      loadConfig: (e) => loadConfig(schema, e),
      connections: { postgres: { max: 2 }, redis: true, nats: true },
      async start(kit) {
        duringStart = await readyz(kit.healthPort);
        const { topology } = await kit.ensureTopology({ workers: ['mono'], deadLetterWatcher: false });
        seen.push(topology.streams.commands.name);
        return {
          stopName: 'stop kit-test',
          async stop() {
            duringStop = {
              readyz: (await readyz(kit.healthPort)).status,
              natsClosed: kit.nc.isClosed(),
              poolAnswers: (await kit.pool.query('SELECT 1 AS one')).rows[0].one === 1,
              redis: await kit.redis.ping(),
            };
          },
        };
      },
    };
    const booted: BootedService<Config> = await bootService(def, env);
    const { kit, shutdown } = booted;
    try {
      expect(duringStart).toMatchObject({ status: 503, body: { status: 'starting' } });
      expect(seen).toEqual([`SYNC_CMDS_${namespace}`]);
      expect(await readyz(kit.healthPort)).toMatchObject({
        status: 200,
        body: { status: 'ready', checks: { postgres: 'ok', redis: 'ok', nats: 'ok' } },
      });

      // Every wait bounded, as configured: server-side timeouts on the session, client-side on the pool and Redis.
      const settings = await kit.pool.query(
        `SELECT current_setting('statement_timeout') AS st, current_setting('idle_in_transaction_session_timeout') AS it, current_setting('application_name') AS app`,
      );
      expect(settings.rows[0]).toEqual({ st: '4321ms', it: '5432ms', app: 'kit-test' });
      const poolOptions = (kit.pool as unknown as { options: Record<string, unknown> }).options;
      expect(poolOptions).toMatchObject({ query_timeout: 9876, connectionTimeoutMillis: 5000, max: 2 });
      expect(kit.redis.options).toMatchObject({ commandTimeout: 5000, connectTimeout: 5000, maxRetriesPerRequest: 3 });

      // Degraded at run time: readiness fails, then recovers.
      kit.health.setDegraded('postgres', 'unreachable');
      expect((await readyz(kit.healthPort)).status).toBe(503);
      kit.health.clearDegraded('postgres');
      expect((await readyz(kit.healthPort)).status).toBe(200);
    } finally {
      const jsm = await jetstreamManager(kit.nc);
      const { topology } = await kit.ensureTopology({ workers: ['mono'], deadLetterWatcher: false });
      await deleteTopology(jsm, topology);
      await shutdown.shutdown('test');
    }
    // The service stopped while unready and with every connection still open; then they closed.
    expect(duringStop).toEqual({ readyz: 503, natsClosed: false, poolAnswers: true, redis: 'PONG' });
    expect(kit.nc.isClosed()).toBe(true);
    await expect(kit.redis.ping()).rejects.toThrow(/Connection is closed/);
    expect((kit.pool as unknown as { ended: boolean }).ended).toBe(true);
    await expect(fetch(`http://127.0.0.1:${kit.healthPort}/healthz`)).rejects.toThrow();
  });

  it('refuses to hand out a connection the service did not ask for', async () => {
    const def: ServiceDefinition<Config> = {
      name: 'kit-test-pg-only',
      loadConfig: (e) => loadConfig(schema, e),
      connections: { postgres: { max: 1 } },
      start: async (kit) => {
        expect(() => kit.redis).toThrow(/kit-test-pg-only: the service did not ask the kit for a redis connection/);
        expect(() => kit.nc).toThrow(/nats connection/);
        return {};
      },
    };
    const { kit, shutdown } = await bootService(def, env);
    expect(await readyz(kit.healthPort)).toMatchObject({ status: 200, body: { checks: { postgres: 'ok' } } });
    expect(Object.keys((await readyz(kit.healthPort)).body.checks)).toEqual(['postgres']);
    await shutdown.shutdown('test');
  });

  it('createPool bounds every pool in the system by default', async () => {
    const pool = createPool(db.url, { max: 1 });
    try {
      const r = await pool.query(
        `SELECT current_setting('statement_timeout') AS st, current_setting('idle_in_transaction_session_timeout') AS it`,
      );
      expect(r.rows[0]).toEqual({ st: '1min', it: '1min' });
      expect((pool as unknown as { options: Record<string, unknown> }).options).toMatchObject({
        query_timeout: 65_000,
        connectionTimeoutMillis: 5_000,
      });
      // An explicit undefined does not unset a default.
      const other = createPool(db.url, { statement_timeout: undefined });
      expect((other as unknown as { options: Record<string, unknown> }).options.statement_timeout).toBe(60_000);
      await other.end();
      // The server enforces it: a statement longer than the pool's statement_timeout is cancelled.
      const short = createPool(db.url, { max: 1, statement_timeout: 50 });
      await expect(short.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
      await short.end();
    } finally {
      await pool.end();
    }
  });
});
