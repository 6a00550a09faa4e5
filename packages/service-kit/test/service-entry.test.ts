import { join } from 'node:path';
import { createTestDatabase, infrastructureUrls, type TestDatabase } from '@intellifin/testing';
import { refusedPort, runToEnd } from './helpers';

/**
 * The real service entries (src/main.ts under tsx) started against a server that is not there:
 * each exits 1 with one stderr line naming the server, the variable and host:port, never the
 * URL's password; a bad configuration exits 2 naming the variable.
 */
const ROOT = join(__dirname, '..', '..', '..');
const MAIN = (service: string) => join(ROOT, 'services', service, 'src', 'main.ts');

describe('a service that cannot reach a server at start-up', () => {
  let db: TestDatabase;
  let base: NodeJS.ProcessEnv;
  let dead: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    dead = await refusedPort();
    base = {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      REDIS_URL: infrastructureUrls().redisUrl,
      NATS_URL: infrastructureUrls().natsUrl,
      MONO_SECRET_KEY: 'test_sk_entry',
      HEALTH_PORT: '0',
      MIGRATE_ON_START: 'false',
      LOG_LEVEL: 'info',
    };
  });
  afterAll(() => db.drop());

  const run = (service: string, env: NodeJS.ProcessEnv) =>
    runToEnd(process.execPath, ['--import', 'tsx', MAIN(service)], { ...base, ...env }, ROOT, 45_000);

  it.each([
    ['mono-worker', 'NATS', 'NATS_URL', (p: number) => `nats://svc:hunter2@127.0.0.1:${p}`],
    ['mono-worker', 'Redis', 'REDIS_URL', (p: number) => `redis://:hunter2@127.0.0.1:${p}`],
    ['mono-worker', 'Postgres', 'DATABASE_URL', (p: number) => `postgres://svc:hunter2@127.0.0.1:${p}/intellifin`],
    ['scheduler', 'NATS', 'NATS_URL', (p: number) => `nats://127.0.0.1:${p}`],
  ])('%s with a dead %s exits 1 with one line', async (service, server, variable, url) => {
    const r = await run(service, { [variable]: url(dead) });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${service}: cannot reach ${server} at 127.0.0.1:${dead} (${variable}): connection refused\n`);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });

  it('a database that does not exist is named, still in one line', async () => {
    const url = new URL(db.url);
    url.pathname = '/intellifin_no_such_db';
    const r = await run('mono-worker', { DATABASE_URL: url.toString() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^mono-worker: cannot reach Postgres at [^ ]+:\d+ \(DATABASE_URL\): database "intellifin_no_such_db" does not exist\n$/,
    );
  });

  it('a bad configuration exits 2 naming the variable', async () => {
    const r = await run('mono-worker', { MONO_SECRET_KEY: '', REDIS_COMMAND_TIMEOUT_MS: 'soon' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('MONO_SECRET_KEY: is required but not set');
    expect(r.stderr).toContain('REDIS_COMMAND_TIMEOUT_MS:');
  });
});
