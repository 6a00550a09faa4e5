/**
 * Deterministic, stateless pseudo-randomness. Every generated value in the sandboxes is a pure
 * function of (seed, some integer or string keys), so the same seed always yields the same data and
 * the same fault decisions, regardless of the order in which accounts are first touched.
 */

/** murmur3 32-bit finaliser: a cheap, well-distributed mixer. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string, then mixed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

export type Key = number | string;

// Key strings repeat constantly ('amt', 'kind', account ids): memoise their hashes (bounded).
const stringHashes = new Map<string, number>();
function cachedStringHash(s: string): number {
  let h = stringHashes.get(s);
  if (h === undefined) {
    h = hashString(s);
    if (stringHashes.size >= 50_000) stringHashes.clear();
    stringHashes.set(s, h);
  }
  return h;
}

function keyToInt(k: Key): number {
  if (typeof k === 'string') return cachedStringHash(k);
  // Fold numbers beyond 32 bits (e.g. millisecond timestamps) in two halves.
  if (k > 0xffffffff || k < 0) {
    const hi = Math.floor(k / 0x100000000);
    return mix32((k >>> 0) ^ mix32(hi + 0x27d4eb2d));
  }
  return k >>> 0;
}

/** Hash any sequence of keys to an unsigned 32-bit integer. */
export function hash(...keys: Key[]): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < keys.length; i++) {
    h = mix32(h ^ mix32(keyToInt(keys[i] as Key) + Math.imul(i + 1, 0x9e3779b9)));
  }
  return h;
}

/** Uniform float in [0, 1) from keys. */
export function unit(...keys: Key[]): number {
  return hash(...keys) / 0x100000000;
}

/** Uniform integer in [min, max] (inclusive) from keys. */
export function intIn(min: number, max: number, ...keys: Key[]): number {
  return min + Math.floor(unit(...keys) * (max - min + 1));
}

export function pick<T>(items: readonly T[], ...keys: Key[]): T {
  if (items.length === 0) throw new Error('pick from empty list');
  return items[hash(...keys) % items.length] as T;
}

/** Pick by weights: `[[value, weight], ...]`. */
export function weighted<T>(items: readonly (readonly [T, number])[], ...keys: Key[]): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let r = unit(...keys) * total;
  for (const [v, w] of items) {
    if (r < w) return v;
    r -= w;
  }
  return (items[items.length - 1] as readonly [T, number])[0];
}

/** `n` lowercase hex characters derived from keys. */
export function hex(n: number, ...keys: Key[]): string {
  let out = '';
  for (let i = 0; out.length < n; i++)
    out += hash(...keys, 'hex', i)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, n);
}

/** `n` decimal digits derived from keys (may start with 0). */
export function digits(n: number, ...keys: Key[]): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += String(hash(...keys, 'dig', i) % 1_000_000_000).padStart(9, '0');
  return out.slice(0, n);
}

/** A syntactically valid UUID v4 derived from keys. */
export function uuidV4(...keys: Key[]): string {
  const h = hex(32, ...keys, 'uuid').split('');
  h[12] = '4';
  h[16] = '89ab'[parseInt(h[16] as string, 16) & 3] as string;
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export function alnum(n: number, ...keys: Key[]): string {
  let out = '';
  for (let i = 0; i < n; i++) out += ALNUM[hash(...keys, 'an', i) % ALNUM.length];
  return out;
}

export const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** Any RFC 4122 / 9562 UUID (versions 1-8). */
export const UUID_ANY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Normalise a user-supplied seed (number or string) to a uint32. */
export function normaliseSeed(seed: number | string | undefined): number {
  if (seed === undefined) return 1;
  if (typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff) return seed;
  return hashString(String(seed));
}
