import { resolveRef, sampleValue, type JsonSchema } from './json-values';
import type { Rng } from './prng';
import { authHeader, idFor, malformedBody, queryString, randomHeaders, seg, weirdId } from './request-parts';

/**
 * Malformed REST requests generated from the server's own OpenAPI document, so every route the
 * document lists (today's and those added later) is covered, plus random paths under the prefixes
 * that are not in it (webhooks, callbacks, internal). Every request carries at least one
 * malformation; `secrets` are the strings it sent that must never come back (tokens, secret-looking
 * body fields and headers).
 */
export interface Operation {
  method: string;
  /** Path template, `{name}` for path parameters. */
  path: string;
  params: { name: string; in: string; schema: JsonSchema; required: boolean }[];
  body: JsonSchema | undefined;
}

export interface FuzzContext {
  doc: JsonSchema;
  operations: Operation[];
  /** Valid tokens (several roles and organisations). */
  goodTokens: string[];
  /** Tokens that must be refused: alg none, wrong key, expired, wrong audience/issuer, bad claims, RS256 confusion. */
  badTokens: string[];
  serviceToken: string;
  /** Account ids of the caller's organisation, of another organisation, and run ids. */
  ownIds: string[];
  otherOrgIds: string[];
  runIds: string[];
  bodyLimitBytes: number;
  /** The organisation of each good token and of each seeded id (to spot a cross-organisation answer). */
  orgOf: Map<string, string>;
}

export interface FuzzRequest {
  n: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** What was malformed (for the failure report). */
  what: string[];
  secrets: string[];
  /** Its bearer token is valid and a path id belongs to another organisation: must not be answered 2xx. */
  crossOrg?: boolean;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const ODD_METHODS = ['TRACE', 'PROPFIND', 'PURGE', 'SEARCH', 'LINK', 'MKCOL'];
const UNLISTED_PREFIXES = [
  '/webhooks',
  '/webhooks/mono',
  '/callbacks',
  '/callbacks/momo',
  '/callbacks/airtel',
  '/internal',
  '/internal/v1',
];
const OTHER_PREFIXES = ['/v1', '/v1/accounts', '/v2', '', '/docs', '/docs/static', '/metrics', '/health', '/.well-known'];

export function operationsOf(doc: JsonSchema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, JsonSchema>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method.toUpperCase())) continue;
      const params = ((op.parameters ?? []) as JsonSchema[]).map((p) => {
        const q = resolveRef(p, doc);
        return { name: String(q.name), in: String(q.in), schema: (q.schema ?? {}) as JsonSchema, required: q.required === true };
      });
      const content = (resolveRef((op.requestBody ?? {}) as JsonSchema, doc).content ?? {}) as Record<string, { schema?: JsonSchema }>;
      const body = content['application/json']?.schema ?? Object.values(content)[0]?.schema;
      out.push({ method: method.toUpperCase(), path, params, body });
    }
  }
  return out;
}

/** A path segment node will send (no controls, nothing above 0xff unescaped). */
function fillPath(r: Rng, op: Operation, c: FuzzContext, malformed: boolean): string {
  return op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const p = op.params.find((x) => x.in === 'path' && x.name === name);
    const isId = /id$/i.test(name) || p?.schema.format === 'uuid';
    if (isId) return idFor(r, c, name, malformed);
    if (malformed) return weirdId(r);
    const v = sampleValue(p?.schema ?? { type: 'string' }, r, c.doc);
    return seg(v === null ? '' : String(v));
  });
}

function defaultAuth(path: string, r: Rng, c: FuzzContext): Record<string, string> {
  if (path.startsWith('/v1')) return { authorization: `Bearer ${r.pick(c.goodTokens)}` };
  if (path.startsWith('/internal')) return { authorization: `Bearer ${c.serviceToken}` };
  return {};
}

type Aspect = 'auth' | 'ids' | 'query' | 'headers' | 'body' | 'method';

/** Request `n` of the run (deterministic in the Rng's state). */
export function generateRequest(n: number, r: Rng, c: FuzzContext): FuzzRequest {
  const marker = `sEcReT${r.hex(20)}`;
  const secrets: string[] = [c.serviceToken];
  if (r.chance(0.12) || c.operations.length === 0) return randomPathRequest(n, r, c, marker, secrets);
  const op = r.pick(c.operations);
  const hasIds = /\{[^}]+\}/.test(op.path);
  const aspects: Aspect[] = ['auth', 'query', 'headers', 'body', 'method', ...(hasIds ? (['ids', 'ids'] as const) : [])];
  const chosen = new Set<Aspect>();
  for (let k = r.int(1, 3); k > 0; k--) chosen.add(r.pick(aspects));
  const what: string[] = [...chosen];
  let method = op.method;
  if (chosen.has('method')) method = r.chance(0.85) ? r.pick(METHODS.filter((m) => m !== op.method)) : r.pick(ODD_METHODS);
  const filled = fillPath(r, op, c, chosen.has('ids'));
  const path = filled + queryString(r, op, c, chosen.has('query'), marker);
  const headers: Record<string, string> = {};
  if (op.path.startsWith('/v1') || chosen.has('auth')) {
    const auth = chosen.has('auth') ? authHeader(r, c, true, secrets) : defaultAuth(op.path, r, c).authorization;
    if (auth !== undefined) headers.authorization = auth;
  } else Object.assign(headers, defaultAuth(op.path, r, c));
  for (const p of op.params.filter((x) => x.in === 'header')) {
    if (!p.required && r.chance(0.5)) continue;
    if (/secret|token|signature|api-key/i.test(p.name)) {
      headers[p.name] = marker; // a secret-looking header: never to be echoed
      secrets.push(marker);
      continue;
    }
    headers[p.name] = chosen.has('headers') && r.chance(0.5) ? r.headerValue(80) : String(sampleValue(p.schema, r, c.doc) ?? '');
  }
  if (chosen.has('headers')) randomHeaders(r, headers, secrets, marker);
  let body: string | Buffer | undefined;
  if (chosen.has('body')) {
    const b = malformedBody(r, op, c, marker, secrets);
    what.push(b.what);
    body = b.body;
    if (b.contentType !== undefined && headers['content-type'] === undefined) headers['content-type'] = b.contentType;
  } else if (op.body) {
    body = JSON.stringify(sampleValue(op.body, r, c.doc));
    headers['content-type'] ??= 'application/json';
  }
  if (body !== undefined && /"(secret|apiKey|api_key|clientSecret|client_secret|password|token|code|pin)":"sEcReT/.test(String(body)))
    secrets.push(marker);
  const tokenOrg = c.orgOf.get(/^Bearer (\S+)$/.exec(headers.authorization ?? '')?.[1] ?? '');
  const crossOrg = tokenOrg !== undefined && filled.split('/').some((part) => c.orgOf.has(part) && c.orgOf.get(part) !== tokenOrg);
  return {
    n,
    method,
    path,
    headers,
    ...(body !== undefined ? { body } : {}),
    what: [`${op.method} ${op.path}`, ...what],
    secrets,
    crossOrg,
  };
}

function randomPathRequest(n: number, r: Rng, c: FuzzContext, marker: string, secrets: string[]): FuzzRequest {
  const prefix = r.chance(0.6) ? r.pick(UNLISTED_PREFIXES) : r.pick(OTHER_PREFIXES);
  const segments = Array.from({ length: r.int(0, 4) }, () =>
    r.weighted<() => string>([
      [3, () => seg(r.ascii(12, 1))],
      [2, () => r.pick(['mono', 'momo', 'airtel', 'v1', 'sync', 'references', 'background', 'accounts', 'events', 'dead-letters'])],
      [1, () => weirdId(r)],
      [1, () => r.uuid()],
    ])(),
  );
  const method = r.chance(0.9) ? r.pick(METHODS) : r.pick(ODD_METHODS);
  const path = `${prefix}/${segments.join('/')}` + (r.chance(0.3) ? queryString(r, undefined, c, true, marker) : '');
  const headers: Record<string, string> = {};
  const auth = r.chance(0.3) ? `Bearer ${c.serviceToken}` : authHeader(r, c, r.chance(0.7), secrets);
  if (auth !== undefined) headers.authorization = auth;
  randomHeaders(r, headers, secrets, marker);
  const what = ['random-path'];
  let body: string | Buffer | undefined;
  if (method !== 'GET' && method !== 'HEAD' && r.chance(0.7)) {
    const b = malformedBody(r, undefined, c, marker, secrets);
    body = b.body;
    what.push(b.what);
    if (b.contentType !== undefined) headers['content-type'] ??= b.contentType;
    if (String(body).includes(marker)) secrets.push(marker);
  }
  return { n, method, path: path.startsWith('/') ? path : `/${path}`, headers, ...(body !== undefined ? { body } : {}), what, secrets };
}
