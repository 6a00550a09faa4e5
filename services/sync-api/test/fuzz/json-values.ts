import type { Rng } from './prng';

/**
 * JSON values for the REST fuzzer: a plausible value for a JSON schema (as the OpenAPI document
 * gives it), mutations of one (wrong types, huge strings, deep nesting, unicode, nulls, extra
 * fields) and arbitrary garbage.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonSchema = Record<string, unknown>;

/** Field names that look like secrets: their values are markers that must never be echoed. */
export const SECRET_FIELDS = ['secret', 'apiKey', 'api_key', 'clientSecret', 'client_secret', 'password', 'token', 'code', 'pin'];

export function resolveRef(schema: JsonSchema, doc: JsonSchema): JsonSchema {
  let s = schema;
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) {
    const path = s.$ref.replace(/^#\//, '').split('/');
    let at: unknown = doc;
    for (const p of path) at = (at as Record<string, unknown> | undefined)?.[p.replace(/~1/g, '/').replace(/~0/g, '~')];
    s = (at as JsonSchema | undefined) ?? {};
  }
  return s;
}

/** A value that the schema probably accepts (patterns are not honoured beyond uuid and date-time). */
export function sampleValue(schema: JsonSchema, r: Rng, doc: JsonSchema, depth = 0): Json {
  const s = resolveRef(schema, doc);
  if (depth > 6) return null;
  if ('const' in s) return s.const as Json;
  if (Array.isArray(s.enum) && s.enum.length) return r.pick(s.enum as Json[]);
  const alts = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alts) && alts.length) return sampleValue(r.pick(alts), r, doc, depth + 1);
  if (Array.isArray(s.allOf) && s.allOf.length) {
    const merged: Record<string, Json> = {};
    for (const part of s.allOf as JsonSchema[]) {
      const v = sampleValue(part, r, doc, depth + 1);
      if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(merged, v);
    }
    return merged;
  }
  const type = Array.isArray(s.type) ? r.pick(s.type as string[]) : (s.type as string | undefined);
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return r.chance(0.5);
    case 'integer':
    case 'number': {
      const min = typeof s.minimum === 'number' ? s.minimum : 0;
      const max = typeof s.maximum === 'number' ? s.maximum : min + 1000;
      return type === 'integer' ? r.int(Math.ceil(min), Math.floor(max)) : min + r.next() * (max - min);
    }
    case 'string':
      return sampleString(s, r);
    case 'array': {
      const n = r.int(typeof s.minItems === 'number' ? s.minItems : 0, Math.min(typeof s.maxItems === 'number' ? s.maxItems : 3, 5));
      return Array.from({ length: n }, () => sampleValue((s.items as JsonSchema | undefined) ?? {}, r, doc, depth + 1));
    }
    case 'object':
    default: {
      if (type === undefined && !s.properties) return r.pick([null, 'x', 1, true, {}]);
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((s.required ?? []) as string[]);
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(props)) if (required.has(k) || r.chance(0.7)) out[k] = sampleValue(v, r, doc, depth + 1);
      return out;
    }
  }
}

function sampleString(s: JsonSchema, r: Rng): string {
  if (s.format === 'uuid') return r.uuid();
  if (s.format === 'date-time') return new Date(Date.UTC(2026, r.int(0, 11), r.int(1, 28), r.int(0, 23))).toISOString();
  if (s.format === 'uri' || s.format === 'url') return `https://example.com/${r.hex(6)}`;
  if (s.format === 'email') return `u${r.hex(4)}@example.com`;
  const min = typeof s.minLength === 'number' ? s.minLength : 1;
  const max = typeof s.maxLength === 'number' ? s.maxLength : 24;
  return r.ascii(Math.min(max, 40), Math.min(min, 40)).replace(/[^A-Za-z0-9_-]/g, 'a');
}

/** Something JSON of any type, sometimes very deep, long or odd. */
export function garbageValue(r: Rng, depth = 0): Json {
  const kind = r.int(0, depth > 3 ? 8 : 11);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MIN_VALUE, 123456789012345680000]);
    case 3:
      return r.text(30);
    case 4:
      return r.pick(['', ' ', 'null', 'true', '0', '-1', 'NaN', 'Infinity', '1e999', '00000000-0000-0000-0000-000000000000']);
    case 5:
      return 'A'.repeat(r.pick([256, 1024, 4096, 12_000]));
    case 6:
      return r.pick(["' OR 1=1 --", '"; DROP TABLE accounts; --', '${jndi:ldap://x}', '../../etc/passwd', '<script>alert(1)</script>']);
    case 7:
      return r.uuid();
    case 8:
      return `${r.int(1900, 2200)}-${r.int(0, 13)}-${r.int(0, 32)}T25:61:61Z`;
    case 9:
      return Array.from({ length: r.int(0, 4) }, () => garbageValue(r, depth + 1));
    case 10: {
      const o: Record<string, Json> = {};
      for (let i = r.int(0, 4); i > 0; i--) o[r.chance(0.3) ? r.text(12) : r.ascii(10, 1)] = garbageValue(r, depth + 1);
      return o;
    }
    default:
      return deeplyNested(r, r.int(50, 3000));
  }
}

/** `[[[[…]]]]` or `{"a":{"a":…}}` `depth` levels deep. */
export function deeplyNested(r: Rng, depth: number): Json {
  const asArray = r.chance(0.5);
  let v: Json = r.chance(0.5) ? null : 'bottom';
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

/**
 * One to three mutations of a plausible value: wrong types, null, a missing required field, an
 * extra field (sometimes secret-looking, with `marker` as its value), huge strings, deep nesting,
 * unicode, prototype-pollution keys.
 */
export function mutateValue(value: Json, r: Rng, marker: string): Json {
  let v = value;
  for (let n = r.int(1, 3); n > 0; n--) v = mutateOnce(v, r, marker);
  return v;
}

function mutateOnce(value: Json, r: Rng, marker: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return r.weighted<() => Json>([
      [3, () => garbageValue(r)],
      [1, () => ({ [r.pick(SECRET_FIELDS)]: marker })],
      [1, () => [value]],
    ])();
  }
  const o: Record<string, Json> = { ...value };
  const keys = Object.keys(o);
  const key = keys.length ? r.pick(keys) : undefined;
  r.weighted<() => void>([
    [3, () => (key ? (o[key] = garbageValue(r)) : (o[r.ascii(8, 1)] = garbageValue(r)))],
    [2, () => (key ? (o[key] = null) : undefined)],
    [2, () => (key ? delete o[key] : undefined)],
    [2, () => (o[r.pick(SECRET_FIELDS)] = marker)],
    [2, () => (o[r.chance(0.5) ? r.text(16) : r.ascii(12, 1)] = garbageValue(r))],
    [1, () => (key ? (o[key] = 'x'.repeat(r.pick([300, 5000, 15_000]))) : undefined)],
    [1, () => (key ? (o[key] = deeplyNested(r, r.int(100, 2000))) : undefined)],
    [1, () => (key ? (o[key] = r.text(60)) : undefined)],
    // an own "__proto__" key (plain assignment would set the prototype and vanish from the JSON)
    [1, () => Object.defineProperty(o, r.pick(['__proto__', 'constructor', 'prototype']), { value: { polluted: true }, enumerable: true })],
    [1, () => (key ? (o[key] = [o[key]!, o[key]!]) : undefined)],
  ])();
  return o;
}
