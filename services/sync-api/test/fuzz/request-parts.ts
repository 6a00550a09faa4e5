import { garbageValue, mutateValue, sampleValue, SECRET_FIELDS, type Json } from './json-values';
import type { Rng } from './prng';
import type { FuzzContext, Operation } from './requests';

/** The parts of a fuzz request, each either plausible or malformed: path ids, auth, query string, headers, body. */
const SECRET_HEADERS = ['mono-webhook-secret', 'x-callback-secret', 'x-api-key', 'x-service-token', 'ocp-apim-subscription-key'];

export function seg(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return Buffer.from(s).toString('hex'); // lone surrogates
  }
}

export function weirdId(r: Rng): string {
  return r.weighted<() => string>([
    [2, () => seg(r.text(20))],
    [1, () => r.pick(['1', '0', '-1', 'null', 'undefined', 'true', '[]', '{}', 'NaN', '%00', '%', '%zz', '..', '%2e%2e', '%2F', '.', '*'])],
    [1, () => r.uuid().toUpperCase()],
    [1, () => r.uuid().replace(/-/g, '')],
    [1, () => `{${r.uuid()}}`],
    [1, () => `${r.uuid()}${r.pick(['x', '0', '%20', '%00', '/'])}`],
    [1, () => r.uuid().slice(0, r.int(1, 35))],
    [1, () => seg("' OR '1'='1")],
    [1, () => 'a'.repeat(r.pick([300, 2000, 9000]))],
    [1, () => r.pick(['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'])],
  ])();
}

export function idFor(r: Rng, c: FuzzContext, name: string, malformed: boolean): string {
  if (malformed)
    return r.weighted<() => string>([
      [4, () => weirdId(r)],
      [2, () => r.pick(c.otherOrgIds)],
      [2, () => r.uuid()],
      [1, () => r.pick(c.runIds)],
    ])();
  return /run/i.test(name) ? r.pick(c.runIds) : r.pick(c.ownIds);
}

export function authHeader(r: Rng, c: FuzzContext, malformed: boolean, secrets: string[]): string | undefined {
  if (!malformed) return `Bearer ${r.pick(c.goodTokens)}`;
  const good = r.pick(c.goodTokens);
  secrets.push(good.split('.')[2]!);
  const value = r.weighted<() => string | undefined>([
    [6, () => `Bearer ${r.pick(c.badTokens)}`],
    [1, () => undefined],
    [1, () => `Basic ${Buffer.from(`user:${r.ascii(12)}`).toString('base64')}`],
    [1, () => 'Bearer'],
    [1, () => `bearer ${good}`],
    [1, () => `Bearer  ${good}`],
    [1, () => good],
    [1, () => `Bearer ${good.slice(0, -r.int(1, 20))}`],
    [1, () => `Bearer ${good.slice(0, -2)}${good.endsWith('AA') ? 'BB' : 'AA'}`],
    [1, () => `Bearer ${r.ascii(80, 1)}`],
    [1, () => `Bearer ${'x'.repeat(r.pick([5000, 12_000]))}.e30.`],
    [1, () => `Bearer ${good}, Bearer ${good}`],
    [1, () => `Bearer ${r.hex(20)}.${r.hex(20)}.${r.hex(20)}`],
    [1, () => `Bearer ${c.serviceToken}`],
  ])();
  if (value && value.length >= 16) secrets.push(value.replace(/^[Bb]earer\s+/, '').slice(0, 400));
  return value;
}

export function queryString(r: Rng, op: Operation | undefined, c: FuzzContext, malformed: boolean, marker: string): string {
  const parts: string[] = [];
  const add = (k: string, v: string) => parts.push(`${seg(k)}=${seg(v)}`);
  for (const p of op?.params.filter((p) => p.in === 'query') ?? []) {
    if (!p.required && r.chance(0.5)) continue;
    const v = sampleValue(p.schema, r, c.doc);
    add(p.name, v === null ? '' : String(v));
  }
  if (!malformed) return parts.length ? `?${parts.join('&')}` : '';
  for (let n = r.int(1, 3); n > 0; n--) {
    r.weighted<() => void>([
      [
        3,
        () =>
          parts.length
            ? (parts[r.int(0, parts.length - 1)] = `${parts[0]!.split('=')[0]}=${seg(String(garbageValue(r)))}`)
            : add(r.ascii(8, 1), r.text(20)),
      ],
      [2, () => add(r.pick(['limit', ...(op?.params.filter((p) => p.in === 'query').map((p) => p.name) ?? [])]), r.text(12))],
      [2, () => add(r.pick(['limit', 'cursor', 'status', 'from', 'to', 'trigger', 'provider', r.ascii(10, 1)]), r.text(30))],
      [
        1,
        () =>
          parts.push(r.pick(['%', '%zz', '&&&', '=', '==x', 'a[b]=c', 'a[][]=1', '__proto__[x]=1', 'constructor[prototype][x]=1', ';'])),
      ],
      [1, () => add('cursor', 'x'.repeat(r.pick([201, 3000])))],
      [1, () => add(r.pick(SECRET_FIELDS), marker)],
      [1, () => add('limit', r.pick(['-1', '0', '101', '1e3', '1.5', 'NaN', '', '9999999999999999999999', '0x10']))],
      [1, () => add(r.pick(['from', 'to']), r.pick(['2026-13-01T00:00:00Z', 'yesterday', '0', '2026-01-01', '2026-01-01T00:00:00+25:00']))],
    ])();
  }
  return `?${parts.join('&')}`;
}

export function randomHeaders(r: Rng, h: Record<string, string>, secrets: string[], marker: string): void {
  for (let n = r.int(1, 4); n > 0; n--) {
    r.weighted<() => void>([
      [
        2,
        () =>
          (h['content-type'] = r.pick([
            'application/json',
            'application/json; charset=utf-16',
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
            'application/vnd.api+json',
            '*/*',
            '',
            r.headerValue(40),
          ])),
      ],
      [
        2,
        () =>
          (h.accept = r.pick([
            'application/json',
            'text/csv',
            'text/event-stream',
            '*/*',
            'application/xml',
            'text/html;q=0.9, */*;q=0.1',
            r.headerValue(30),
          ])),
      ],
      [1, () => (h['accept-encoding'] = r.pick(['gzip', 'br', 'deflate', 'identity;q=0', '*', 'gzip;q=abc', 'zstd', r.headerValue(20)]))],
      [
        2,
        () =>
          (h['if-none-match'] = r.pick([
            '*',
            'W/"x"',
            `"${r.hex(27)}"`,
            r.headerValue(50),
            Array.from({ length: 200 }, () => `W/"${r.hex(8)}"`).join(', '),
          ])),
      ],
      [2, () => (h['idempotency-key'] = r.pick([r.uuid(), '', ' ', 'a b', r.headerValue(40), 'k'.repeat(r.pick([255, 256, 4000]))]))],
      [1, () => (h['if-modified-since'] = r.pick(['yesterday', new Date(0).toUTCString()]))],
      [1, () => (h.range = r.pick(['bytes=0-10', 'bytes=-1', 'bytes=x']))],
      [1, () => (h['x-forwarded-for'] = r.pick(['127.0.0.1', r.headerValue(30)]))],
      [1, () => (h[r.pick(['transfer-encoding-x', 'x-' + r.hex(6), 'x-request-id', 'traceparent'])] = r.headerValue(60))],
      [
        1,
        () => {
          h[r.pick(SECRET_HEADERS)] = marker;
          secrets.push(marker);
        },
      ],
    ])();
  }
}

interface Body {
  body?: string | Buffer;
  contentType?: string;
  what: string;
}

export function malformedBody(r: Rng, op: Operation | undefined, c: FuzzContext, marker: string, secrets: string[]): Body {
  const json = (v: Json, what: string): Body => ({ body: JSON.stringify(v), contentType: 'application/json', what });
  const sample = op?.body ? sampleValue(op.body, r, c.doc) : {};
  return r.weighted<() => Body>([
    [6, () => json(mutateValue(sample, r, marker), 'body:mutated')],
    [2, () => json(garbageValue(r), 'body:garbage')],
    [
      2,
      () => {
        // truncated JSON right after a secret-looking value: a parser error must not quote it
        secrets.push(marker);
        return {
          body: `{"${r.pick(SECRET_FIELDS)}":"${marker}",${r.pick(['', '"x":', '"y"', '}'])}`,
          contentType: 'application/json',
          what: 'body:truncated-secret',
        };
      },
    ],
    [
      2,
      () => ({
        body: r.pick(['{', '[', '"', '{"a":', 'nul', 'undefined', "{'a':1}", '{"a":1,}', '\ufeff{}', '{"a":1}{"b":2}', '1 2', '']),
        contentType: 'application/json',
        what: 'body:bad-json',
      }),
    ],
    [
      1,
      () => ({
        body: Buffer.from(Array.from({ length: r.int(1, 200) }, () => r.int(0, 255))),
        contentType: r.pick(['application/json', 'application/octet-stream']),
        what: 'body:bytes',
      }),
    ],
    [
      1,
      () => ({
        body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]),
        contentType: 'application/json',
        what: 'body:invalid-utf8',
      }),
    ],
    [
      1,
      () => ({
        body: `{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}`,
        contentType: 'application/json',
        what: 'body:proto',
      }),
    ],
    [
      1,
      () => ({ body: `mode=full&${r.pick(SECRET_FIELDS)}=${marker}`, contentType: 'application/x-www-form-urlencoded', what: 'body:form' }),
    ],
    [1, () => ({ body: r.text(200), contentType: r.pick(['text/plain', 'application/xml', 'application/json']), what: 'body:text' })],
    [
      2,
      () => {
        const size = r.weighted([
          [6, c.bodyLimitBytes + r.int(1, 4096)],
          [2, c.bodyLimitBytes * 4],
          [1, 1024 * 1024],
        ]);
        const filler = JSON.stringify({ mode: 'full', [r.pick(SECRET_FIELDS)]: marker, pad: 'p'.repeat(size) });
        return { body: filler, contentType: 'application/json', what: `body:oversize(${filler.length})` };
      },
    ],
    [1, () => json(deep(r), 'body:deep')],
  ])();
}

const deep = (r: Rng): Json => {
  let v: Json = null;
  for (let i = r.int(500, 3000); i > 0; i--) v = r.chance(0.5) ? [v] : { a: v };
  return v;
};
