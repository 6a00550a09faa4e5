import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { SignJWT } from 'jose';
import { createLogger, Registry, type Logger } from '@intellifin/core';
import { connectNats, createTopology, deleteTopology, ensureTopology, type Topology } from '@intellifin/messaging';
import { insertAccount, insertOrganization, insertUser } from '@intellifin/persistence';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  uniqueSuffix,
  type TestDatabase,
  type TestRedis,
} from '@intellifin/testing';
import { composeSyncApi, type SyncApiParts } from '../src/compose';
import { loadSyncApiConfig, type SyncApiConfig } from '../src/config';

export const ISSUER = 'https://auth.test.intellifin';
export const AUDIENCE = 'intellifin-sync';
export const JWT_SECRET = 'test-secret-for-hs256-at-least-32-characters-long';
/** The credentials key ring of the tests (sync-api encrypts with it, the in-process workers decrypt). */
export const TEST_KEY_RING = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

export const logger = (): Logger => createLogger({ service: 'sync-api-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface ApiEnv {
  db: TestDatabase;
  redis: TestRedis;
  nc: NatsConnection;
  jsm: JetStreamManager;
  topology: Topology;
  config: SyncApiConfig;
  parts: SyncApiParts;
  registry: Registry;
  /** http://127.0.0.1:<port> of the listening REST server. */
  baseUrl: string;
  http(o: {
    method?: string;
    url: string;
    headers?: Record<string, string>;
    payload?: unknown;
    rawBody?: string | Buffer;
  }): Promise<HttpResponse>;
  close(): Promise<void>;
}

export function testConfig(over: Record<string, string> = {}): SyncApiConfig {
  return loadSyncApiConfig({
    DATABASE_URL: infrastructureUrls().databaseUrl,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    JWT_SECRET,
    SERVICE_TOKEN: 'service-token-for-tests-at-least-32-chars',
    HEALTH_PORT: '0',
    HTTP_PORT: '0',
    CREDENTIALS_ENCRYPTION_KEY: TEST_KEY_RING,
    MONO_SECRET_KEY: 'test_sk_sandbox_mono',
    ...over,
  });
}

/** Postgres (own database), Redis (own prefix), NATS (own stream names) and sync-api's parts over them. */
export async function startApi(opts: { config?: Record<string, string>; topology?: Topology; nc?: NatsConnection } = {}): Promise<ApiEnv> {
  const db = await createTestDatabase();
  const redis = createTestRedis();
  const nc = opts.nc ?? (await connectNats({ servers: infrastructureUrls().natsUrl, name: 'sync-api-test' }));
  const jsm = await jetstreamManager(nc);
  const topology = opts.topology ?? createTopology({ namespace: `t${uniqueSuffix()}` });
  if (!opts.topology) await ensureTopology(jsm, topology);
  const config = testConfig(opts.config);
  const registry = new Registry();
  const parts = await composeSyncApi({
    config,
    pool: db.poolAs('intellifin_api'),
    redis: redis.redis,
    nc,
    topology,
    logger: logger(),
    registry,
    keyPrefix: redis.prefix,
  });
  await parts.http.listen({ port: 0, host: '127.0.0.1' });
  const address = parts.http.server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    baseUrl,
    http: (o) => request(baseUrl, o),
    db,
    redis,
    nc,
    jsm,
    topology,
    config,
    parts,
    registry,
    async close() {
      await parts.stop();
      if (!opts.topology) await deleteTopology(jsm, topology).catch(() => undefined);
      if (!opts.nc) await nc.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}

export interface TokenOptions {
  sub?: string;
  orgId: string;
  roles?: string[];
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
  secret?: string;
}

export async function token(o: TokenOptions): Promise<string> {
  const jwt = new SignJWT({ org_id: o.orgId, roles: o.roles ?? ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(o.sub ?? 'user-1')
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt();
  jwt.setExpirationTime(o.expiresIn ?? '10m');
  return jwt.sign(new TextEncoder().encode(o.secret ?? JWT_SECRET));
}

/** An unsigned token (`alg: none`) with otherwise valid claims. */
export function unsignedToken(orgId: string): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'user-1', org_id: orgId, roles: ['admin'], iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 })}.`;
}

export interface Org {
  orgId: string;
  /** users.id of external ids 'user-1' and 'user-2'. */
  users: Record<string, string>;
  accounts: string[];
}

/** An organisation with two users; `perUser` Mono accounts for each (provider ids random unless given). */
export async function seedOrg(db: TestDatabase, name: string, perUser = 1, providerIds: string[] = []): Promise<Org> {
  const orgId = await insertOrganization(db.pool, name);
  const users: Record<string, string> = {};
  const accounts: string[] = [];
  for (const ext of ['user-1', 'user-2']) {
    users[ext] = await insertUser(db.pool, orgId, ext);
    for (let i = 0; i < perUser; i++) {
      const a = await insertAccount(db.pool, {
        orgId,
        userId: users[ext],
        provider: 'mono',
        providerAccountId: providerIds.shift() ?? `acc-${randomUUID()}`,
        type: 'bank',
        currency: 'ZMW',
        displayName: `${name} ${ext} #${i}`,
      });
      accounts.push(a.id);
    }
  }
  return { orgId, users, accounts };
}

export const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as received (compressed when the server compressed it). */
  rawPayload: Buffer;
  body: string;
  json(): any;
}

/**
 * One HTTP request to a listening server with node:http (no automatic decompression, so tests see
 * what went over the wire). fastify's `inject` needs light-my-request, whose `cookie` dependency
 * is ESM-only and does not load under jest's CommonJS runtime.
 */
export function request(
  baseUrl: string,
  o: { method?: string; url: string; headers?: Record<string, string>; payload?: unknown; rawBody?: string | Buffer },
): Promise<HttpResponse> {
  const body = o.rawBody ?? (o.payload === undefined ? undefined : JSON.stringify(o.payload));
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (body !== undefined && o.rawBody === undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(o.url, baseUrl), { method: o.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          rawPayload: raw,
          body: raw.toString('utf8'),
          json: () => JSON.parse(raw.toString('utf8')),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
