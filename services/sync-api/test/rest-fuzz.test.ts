import { createHmac } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { fuzzSeed, Rng } from './fuzz/prng';
import { generateRequest, operationsOf, type FuzzContext, type FuzzRequest } from './fuzz/requests';
import { fuzzAgent, pool, send, type FuzzResponse } from './fuzz/send';
import { startAirtel, startMomo, startMono, type RunningSimulator } from '@intellifin/sandbox';
import { AUDIENCE, bearer, ISSUER, JWT_SECRET, seedOrg, startApi, token, unsignedToken, type ApiEnv, type Org } from './helpers';

/**
 * REST fuzz (issue #13): thousands of malformed requests, generated from the server's own OpenAPI
 * document (so routes added later are covered without touching this file) plus random paths
 * under webhooks/callbacks/internal, against the real server over a socket (Postgres as
 * intellifin_api, Redis, NATS). Every answer must be below 500; every 4xx must carry the JSON
 * error body (`error`, `message`); no token or secret-looking value sent may come back; and the
 * server must still answer a good request afterwards.
 *
 * The seed is printed; `FUZZ_SEED=<n>` replays the same requests, `FUZZ_REQUESTS` changes how many
 * (default 5,000), `FUZZ_CONCURRENCY` how many are in flight (default 8).
 */
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 5_000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 8);
const TIMEOUT_MS = 15_000;

jest.setTimeout(180_000);

interface Failure {
  req: FuzzRequest;
  res: FuzzResponse;
  why: string;
}

async function signed(
  claims: Record<string, unknown>,
  o: { alg?: string; key?: Parameters<SignJWT['sign']>[0]; exp?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'user-1', iss: ISSUER, aud: AUDIENCE, iat: now, exp: o.exp ?? now + 600, ...claims })
    .setProtectedHeader({ alg: o.alg ?? 'HS256' })
    .sign(o.key ?? new TextEncoder().encode(JWT_SECRET));
}

/** An HS256 token signed with the right key over any header and claims (jose refuses to build odd ones). */
function rawHs256(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc(header)}.${enc(claims)}`;
  return `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`;
}

/** Tokens the server must refuse, each for a different reason. */
async function badTokens(orgId: string): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const { privateKey } = await generateKeyPair('RS256');
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = { sub: 'user-1', org_id: orgId, roles: ['admin'], iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 };
  return [
    unsignedToken(orgId), // alg none
    `${enc({ alg: 'None', typ: 'JWT' })}.${enc(claims)}.`,
    `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}.`, // signature stripped
    await token({ orgId, secret: 'another-secret-that-is-32-characters-or-more' }), // wrong key
    await token({ orgId, expiresIn: now - 3600 }), // expired
    await token({ orgId, audience: 'someone-else' }),
    await token({ orgId, issuer: 'https://evil.example' }),
    await token({ orgId, roles: ['superuser'] }),
    await token({ orgId, roles: [] }),
    await token({ orgId: 'not-a-uuid' }),
    await signed({ org_id: orgId, roles: ['admin'] }, { alg: 'RS256', key: privateKey }), // algorithm confusion
    await signed({ org_id: orgId, roles: ['admin'] }, { alg: 'HS512' }),
    await signed({ org_id: orgId, roles: ['admin'], nbf: now + 3600 }),
    await signed({ org_id: orgId, roles: ['admin'], sub: '' }),
    await signed({ org_id: orgId, roles: 'admin' }),
    rawHs256({ alg: 'HS256', crit: ['x-unknown'], 'x-unknown': 1 }, claims), // a critical header nobody understands
    rawHs256({ alg: 'HS256', kid: "../../etc/passwd' OR 1=1", jku: 'https://evil.example/jwks' }, { ...claims, exp: now - 60 }),
    rawHs256({ alg: 'HS256' }, { ...claims, exp: 'tomorrow' }),
    await signed({ org_id: orgId, roles: ['admin'], pad: 'x'.repeat(6000) }, { exp: now - 10 }),
    await signed({ org_id: [orgId], roles: ['admin'] }),
    `${enc({ alg: 'HS256' })}.${Buffer.from('not json').toString('base64url')}.${'A'.repeat(43)}`,
    'a.b.c',
    'e30.e30.e30',
  ];
}

/** Why this answer breaks a rule, or null. */
function verdict(req: FuzzRequest, res: FuzzResponse): string | null {
  if (res.transportError) return `no HTTP answer: ${res.transportError}`;
  if (res.status >= 500) return `status ${res.status}`;
  if (req.crossOrg && res.status >= 200 && res.status < 300 && req.method !== 'OPTIONS')
    return `another organisation's id answered ${res.status} (must be 404)`;
  for (const s of req.secrets) {
    if (s.length < 8) continue;
    if (res.body.includes(s)) return `a secret sent was echoed in the body (${s.slice(0, 12)}…)`;
    if (Object.values(res.headers).some((h) => String(h).includes(s))) return `a secret sent was echoed in a header (${s.slice(0, 12)}…)`;
  }
  if (res.status >= 400 && req.method !== 'HEAD') {
    if (!String(res.headers['content-type'] ?? '').startsWith('application/json'))
      return `${res.status} without a JSON body (${res.headers['content-type']})`;
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return `${res.status} with a body that is not JSON`;
    }
    const b = body as { error?: unknown; message?: unknown; issues?: unknown };
    if (typeof b.error !== 'string' || typeof b.message !== 'string') return `${res.status} without the error shape { error, message }`;
    if (b.issues !== undefined && !Array.isArray(b.issues)) return `${res.status} with issues that are not a list`;
  }
  return null;
}

const describeReq = (f: Failure) =>
  `#${f.req.n} ${f.req.method} ${f.req.path.slice(0, 160)} [${f.req.what.join(', ')}] → ${f.res.status}: ${f.why}; body ${f.res.body.slice(0, 200)}`;

describe('sync-api REST fuzz', () => {
  let env: ApiEnv;
  let a: Org;
  let b: Org;
  let sims: RunningSimulator<unknown>[] = [];

  beforeAll(async () => {
    // The routes that ask a provider (linking, repair) talk to the simulators, which refuse what
    // the fuzz sends (400), as the real providers would; a provider that cannot be reached is a
    // 503 by design and is tested in linking.test.ts.
    sims = await Promise.all([
      startMono({ port: 0, seed: 17, accounts: 2 }),
      startMomo({ port: 0, seed: 17, accounts: 2, referencesPerAccount: 1 }),
      startAirtel({ port: 0, seed: 17, accounts: 2, referencesPerAccount: 1 }),
    ]);
    env = await startApi({
      config: {
        MONO_BASE_URL: sims[0]!.url,
        MOMO_BASE_URL: sims[1]!.url,
        AIRTEL_BASE_URL: sims[2]!.url,
        LINK_PROVIDER_TIMEOUT_MS: '10000',
      },
    });
    a = await seedOrg(env.db, 'Fuzz A', 2);
    b = await seedOrg(env.db, 'Fuzz B', 1);
    for (const [org, account] of [
      [a.orgId, a.accounts[0]!],
      [b.orgId, b.accounts[0]!],
    ] as const)
      await env.db.pool.query(
        `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome, started_at, finished_at, pages, added)
         SELECT $1, $2, 'mono', 'scheduled', 'transactions', g, 'succeeded', now() - make_interval(hours => g), now(), 1, 3
           FROM generate_series(1, 3) g`,
        [org, account],
      );
  });
  afterAll(async () => {
    await env?.close();
    await Promise.all(sims.map((s) => s.close()));
  });

  it('answers thousands of malformed requests without a 5xx, with the error shape, echoing no secret, and still works after', async () => {
    const seed = fuzzSeed();
    console.log(`REST fuzz seed ${seed} (replay: FUZZ_SEED=${seed}), ${REQUESTS} requests, ${CONCURRENCY} in flight`);
    const docRes = await env.http({ url: '/docs/openapi.json' });
    expect(docRes.statusCode).toBe(200);
    const doc = docRes.json();
    const operations = operationsOf(doc);
    // today's routes at least; every route added later is in the document too
    expect(operations.length).toBeGreaterThanOrEqual(6);
    const { rows: runOrgs } = await env.db.pool.query<{ id: string; org_id: string }>('SELECT id, org_id FROM sync_runs');
    const goodTokens: [string, string][] = [
      [await token({ orgId: a.orgId, sub: 'user-1' }), a.orgId],
      [await token({ orgId: a.orgId, sub: 'admin-1', roles: ['admin'] }), a.orgId],
      [await token({ orgId: a.orgId, sub: 'op-1', roles: ['operator'] }), a.orgId],
      [await token({ orgId: b.orgId, sub: 'user-1' }), b.orgId],
    ];
    const ctx: FuzzContext = {
      doc,
      operations,
      goodTokens: goodTokens.map(([t]) => t),
      orgOf: new Map([
        ...goodTokens,
        ...a.accounts.map((id) => [id, a.orgId] as [string, string]),
        ...b.accounts.map((id) => [id, b.orgId] as [string, string]),
        ...runOrgs.map((r) => [r.id, r.org_id] as [string, string]),
      ]),
      badTokens: await badTokens(a.orgId),
      serviceToken: env.config.SERVICE_TOKEN,
      ownIds: a.accounts,
      otherOrgIds: b.accounts,
      runIds: runOrgs.map((r) => r.id),
      bodyLimitBytes: env.config.BODY_LIMIT_BYTES,
    };
    const rng = new Rng(seed);
    const requests = Array.from({ length: REQUESTS }, (_, n) => generateRequest(n, rng, ctx));

    const agent = fuzzAgent(CONCURRENCY);
    const failures: Failure[] = [];
    const statuses = new Map<number, number>();
    const started = Date.now();
    await pool(requests, CONCURRENCY, async (req) => {
      const res = await send(env.baseUrl, agent, req, TIMEOUT_MS);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const why = verdict(req, res);
      if (why) failures.push({ req, res, why });
    });
    agent.destroy();
    const covered = new Set(requests.map((r) => r.what[0]));
    console.log(
      `REST fuzz seed ${seed}: ${requests.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}; ` +
        `${operations.length} documented operations, ${[...covered].filter((w) => w !== 'random-path').length} fuzzed; ` +
        `${requests.filter((r) => r.crossOrg).length} with a valid token and another organisation's id`,
    );
    expect({ seed, failures: failures.slice(0, 15).map(describeReq), count: failures.length }).toEqual({ seed, failures: [], count: 0 });
    for (const op of operations) expect([...covered]).toContain(`${op.method} ${op.path}`);

    // still alive and correct
    const after = await env.http({ url: '/v1/accounts', headers: bearer(ctx.goodTokens[0]!) });
    expect(after.statusCode).toBe(200);
    expect(
      after
        .json()
        .accounts.map((x: { id: string }) => x.id)
        .sort(),
    ).toEqual(a.accounts.slice(0, 2).sort());
  });
});
