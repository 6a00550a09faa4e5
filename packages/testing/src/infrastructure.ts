import { createConnection } from 'node:net';

/**
 * Where the three servers the tests need are. Resolution per server, once per jest run:
 * 1. the URL in the environment (`DATABASE_URL`, `REDIS_URL`, `NATS_URL`) — CI sets these;
 * 2. else the server on its default local port, if one answers (a developer machine);
 * 3. else a throw-away container started with testcontainers (needs a Docker engine).
 * The resolved URLs are written back to `process.env`, so jest workers (forked after global setup)
 * and any child processes the tests spawn see the same servers.
 */
export interface InfrastructureUrls {
  databaseUrl: string;
  redisUrl: string;
  natsUrl: string;
}

const DEFAULTS = {
  DATABASE_URL: { url: 'postgres://postgres@127.0.0.1:5432/postgres', host: '127.0.0.1', port: 5432 },
  REDIS_URL: { url: 'redis://127.0.0.1:6379', host: '127.0.0.1', port: 6379 },
  NATS_URL: { url: 'nats://127.0.0.1:4222', host: '127.0.0.1', port: 4222 },
} as const;

type Key = keyof typeof DEFAULTS;

interface StoppableContainer {
  stop(): Promise<unknown>;
}
const containers: StoppableContainer[] = [];

export function portAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function startContainer(key: Key): Promise<string> {
  // Loaded lazily: most runs (CI, developer machines with local servers) never need Docker.
  const tc = await import('testcontainers');
  if (key === 'DATABASE_URL') {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const c = await new PostgreSqlContainer('postgres:15-alpine').withUsername('postgres').withPassword('postgres').start();
    containers.push(c);
    return c.getConnectionUri();
  }
  if (key === 'REDIS_URL') {
    const { RedisContainer } = await import('@testcontainers/redis');
    const c = await new RedisContainer('redis:7-alpine').start();
    containers.push(c);
    return c.getConnectionUrl();
  }
  const c = await new tc.GenericContainer('nats:2.10-alpine').withCommand(['-js']).withExposedPorts(4222).start();
  containers.push(c);
  return `nats://${c.getHost()}:${c.getMappedPort(4222)}`;
}

async function resolve(key: Key): Promise<string> {
  const fromEnv = process.env[key];
  if (fromEnv) return fromEnv;
  const d = DEFAULTS[key];
  if (await portAnswers(d.host, d.port)) return d.url;
  return startContainer(key);
}

export async function startInfrastructure(): Promise<InfrastructureUrls> {
  const [databaseUrl, redisUrl, natsUrl] = await Promise.all([resolve('DATABASE_URL'), resolve('REDIS_URL'), resolve('NATS_URL')]);
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
  process.env.NATS_URL = natsUrl;
  return { databaseUrl, redisUrl, natsUrl };
}

export async function stopInfrastructure(): Promise<void> {
  await Promise.all(containers.splice(0).map((c) => c.stop()));
}

/** The URLs inside a test file (set by global setup, or by the caller's environment). */
export function infrastructureUrls(): InfrastructureUrls {
  return {
    databaseUrl: process.env.DATABASE_URL ?? DEFAULTS.DATABASE_URL.url,
    redisUrl: process.env.REDIS_URL ?? DEFAULTS.REDIS_URL.url,
    natsUrl: process.env.NATS_URL ?? DEFAULTS.NATS_URL.url,
  };
}
