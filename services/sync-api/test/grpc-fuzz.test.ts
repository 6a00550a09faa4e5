import { randomUUID } from 'node:crypto';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import {
  CancelSyncRequest,
  GetAccountStatusRequest,
  GetSyncRunRequest,
  ListAccountStatusesRequest,
  ListSyncRunsRequest,
  SyncServiceService,
  TriggerSyncRequest,
  WatchSyncStatusRequest,
  type GetAccountStatusResponse,
} from '@intellifin/proto';
import { AUDIENCE, ISSUER, JWT_SECRET, seedOrg, startApi, token, unsignedToken, type ApiEnv, type Org } from './helpers';
import { auth, healthCheck, startGrpc, unary, type GrpcEnv } from './grpc-helpers';

/**
 * At least 2,500 malformed gRPC requests across every method: random bytes as messages, wrong
 * wire types, huge strings and lists, enums out of range, bad and missing JWTs, unknown ids. Not
 * one may answer INTERNAL or UNKNOWN, and the server answers normally afterwards.
 */
const TOTAL = 2_800;
const CONCURRENCY = 25;

/** mulberry32: a seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('sync-api gRPC fuzz', () => {
  let env: ApiEnv;
  let g: GrpcEnv;
  let org: Org;
  let good: string;
  const seed = Number(process.env.FUZZ_SEED ?? 1313);
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  /** Printable ASCII (what metadata values can carry). */
  const ascii = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x20 + int(0x5f))).join('');
  const text = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(0x2fff) + 1)).join('');

  beforeAll(async () => {
    env = await startApi({ config: { MANUAL_SYNC_INTERVAL_MS: '600000' } });
    g = await startGrpc(env);
    org = await seedOrg(env.db, 'Fuzz org', 2);
    good = await token({ orgId: org.orgId, sub: 'user-1', expiresIn: '30m' });
  });
  afterAll(async () => {
    g?.close();
    await env?.close();
  });

  async function badToken(): Promise<string | undefined> {
    switch (int(9)) {
      case 0:
        return undefined;
      case 1:
        return ascii(int(200));
      case 2:
        return `Bearer ${bytes(int(300)).toString('base64url')}`;
      case 3:
        return `Bearer ${unsignedToken(org.orgId)}`;
      case 4:
        return `Bearer ${await token({ orgId: org.orgId, secret: 'x'.repeat(32 + int(20)) })}`;
      case 5:
        return `Bearer ${await token({ orgId: org.orgId, expiresIn: Math.floor(Date.now() / 1000) - 1 - int(10_000) })}`;
      case 6: {
        // Valid signature, claims of the wrong types.
        const claims = pick([
          { org_id: 42, roles: 'admin' },
          { org_id: 'not-a-uuid', roles: [] },
          { org_id: org.orgId, roles: [null] },
          {},
        ]);
        const jwt = await new SignJWT(claims as Record<string, unknown>)
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(pick(['', 'x'.repeat(500), 'user-1']))
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(JWT_SECRET));
        return `Bearer ${jwt}`;
      }
      case 7:
        return `Bearer ${good}.${ascii(5)}`;
      default:
        return `bearer ${good}`;
    }
  }

  /** A message of the right type with hostile values, or bytes that are not that message at all. */
  function hostileRequest(method: string): Buffer {
    const id = pick([randomUUID(), text(int(50)), 'x'.repeat(int(60_000)), org.accounts[0]!, '', '00000000-0000-0000-0000-000000000000']);
    const e = () => pick([0, 1, 3, 4, 99, -1, 2_147_483_647, -2_147_483_648]);
    const d = () => pick([new Date(-8.64e15), new Date(8.64e15), new Date(0), new Date('2026-01-01T00:00:00Z')]);
    switch (method) {
      case 'GetAccountStatus':
        return Buffer.from(GetAccountStatusRequest.encode({ accountId: id }).finish());
      case 'ListAccountStatuses':
        return Buffer.from(
          ListAccountStatusesRequest.encode({
            providers: Array.from({ length: int(40) }, e),
            statuses: Array.from({ length: int(40) }, e),
          }).finish(),
        );
      case 'TriggerSync':
        return Buffer.from(TriggerSyncRequest.encode({ accountId: id, mode: e(), realtime: random() < 0.5 }).finish());
      case 'CancelSync':
        return Buffer.from(CancelSyncRequest.encode({ accountId: id }).finish());
      case 'ListSyncRuns':
        return Buffer.from(
          ListSyncRunsRequest.encode({
            accountId: id,
            pageSize: e(),
            pageToken: pick(['', text(int(300)), bytes(40).toString('base64url'), 'eyJ4IjoxfQ']),
            state: e(),
            trigger: e(),
            ...(random() < 0.5 ? { startedFrom: d() } : {}),
            ...(random() < 0.5 ? { startedBefore: d() } : {}),
          }).finish(),
        );
      case 'GetSyncRun':
        return Buffer.from(GetSyncRunRequest.encode({ accountId: id, runId: pick([randomUUID(), text(10)]) }).finish());
      default:
        return Buffer.from(
          WatchSyncStatusRequest.encode({
            accountIds: Array.from({ length: int(150) }, () => pick([randomUUID(), text(8)])),
            providers: [e()],
            sendInitial: true,
          }).finish(),
        );
    }
  }

  /** Wire-level garbage: random bytes, truncated varints, wrong wire types for known fields, another method's message. */
  function garbage(): Buffer {
    switch (int(5)) {
      case 0:
        return bytes(int(200));
      case 1:
        return Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // field 1, length beyond the message
      case 2:
        return Buffer.from([0x08, ...bytes(int(12)).map((b) => b | 0x80)]); // unterminated varint
      case 3:
        return Buffer.from([0x0d, 1, 2, 3, 4, 0x12, 0x03, 0x61, 0x62, 0x63, 0x1b]); // fixed32 for a string, then a start-group
      default:
        return Buffer.from(TriggerSyncRequest.encode({ accountId: randomUUID(), mode: 2, realtime: true }).finish());
    }
  }

  const methods = Object.values(SyncServiceService).map((m) => ({
    path: m.path,
    name: m.path.split('/').pop()!,
    stream: m.responseStream,
  }));
  const identity = (b: Buffer) => b;

  function send(path: string, stream: boolean, body: Buffer, md: Metadata): Promise<number> {
    const deadline = Date.now() + (stream ? 400 : 20_000);
    return new Promise((resolve) => {
      if (!stream) {
        g.client.makeUnaryRequest(path, identity, identity, body, md, { deadline }, (err: ServiceError | null) =>
          resolve(err ? err.code : status.OK),
        );
        return;
      }
      const s = g.client.makeServerStreamRequest(path, identity, identity, body, md, { deadline });
      s.on('data', () => undefined);
      s.on('error', (err: ServiceError) => resolve(err.code));
      s.on('end', () => resolve(status.OK));
    });
  }

  it(`answers ${TOTAL} malformed requests without one INTERNAL or UNKNOWN, and still serves afterwards`, async () => {
    const codes = new Map<string, number>();
    const failures: string[] = [];
    let sent = 0;
    let started = 0;
    const one = async (): Promise<void> => {
      const m = pick(methods);
      const md = new Metadata();
      const kind = int(4);
      let body: Buffer;
      if (kind === 0) {
        const t = await badToken();
        if (t !== undefined) md.set('authorization', t);
        body = random() < 0.5 ? hostileRequest(m.name) : garbage();
      } else {
        md.set('authorization', `Bearer ${good}`);
        if (random() < 0.2) md.set('idempotency-key', pick([ascii(int(40)), 'ok-key', 'x'.repeat(300), ' ']));
        body = kind === 1 ? garbage() : hostileRequest(m.name);
      }
      const code = await send(m.path, m.stream, body, md);
      const name = status[code] ?? String(code);
      codes.set(name, (codes.get(name) ?? 0) + 1);
      if (code === status.INTERNAL || code === status.UNKNOWN)
        failures.push(`${m.name} kind ${kind}: ${name} (${body.toString('hex').slice(0, 80)})`);
      sent++;
      if (process.env.FUZZ_PROGRESS && sent % 250 === 0) process.stdout.write(`${sent} ${JSON.stringify(Object.fromEntries(codes))}\n`);
    };
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (started < TOTAL) {
        started++;
        await one();
      }
    });
    await Promise.all(workers);
    // Reported in the test log for the record (codes by count).
    process.stdout.write(`gRPC fuzz seed ${seed}: ${sent} requests, codes ${JSON.stringify(Object.fromEntries(codes))}\n`);
    expect(failures).toEqual([]);
    expect(sent).toBe(TOTAL);
    // Refused ones (the few well-formed requests the generator makes by chance answer OK).
    expect(sent - (codes.get('OK') ?? 0)).toBeGreaterThanOrEqual(2_500);
    expect(codes.get('INVALID_ARGUMENT')).toBeGreaterThan(0);
    expect(codes.get('UNAUTHENTICATED')).toBeGreaterThan(0);
    expect(codes.get('NOT_FOUND')).toBeGreaterThan(0);

    // Still serving.
    const ok = await unary<object, GetAccountStatusResponse>(g.client, 'getAccountStatus', { accountId: org.accounts[0] }, auth(good));
    expect(ok.err).toBeNull();
    expect(ok.res!.account!.accountId).toBe(org.accounts[0]);
    expect((await healthCheck(g.address)).status).toBe('SERVING');
  }, 600_000);
});
