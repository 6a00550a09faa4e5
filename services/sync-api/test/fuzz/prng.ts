/**
 * A small seeded PRNG (mulberry32) and the random choices the REST fuzzer is made of: the same
 * seed gives the same sequence of requests (`FUZZ_SEED` replays a run).
 */
export class Rng {
  private s: number;

  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.next() * xs.length)]!;
  }

  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of choices) {
      if ((r -= w) < 0) return v;
    }
    return choices[choices.length - 1]![1];
  }

  hex(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += '0123456789abcdef'[this.int(0, 15)];
    return out;
  }

  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${this.pick(['8', '9', 'a', 'b'])}${this.hex(3)}-${this.hex(12)}`;
  }

  /** A string from one of several alphabets: ASCII, Latin-1, multi-byte unicode, emoji, controls, lone surrogates. */
  text(maxLen = 40): string {
    const len = this.int(0, maxLen);
    const alphabet = this.pick(ALPHABETS);
    let out = '';
    for (let i = 0; i < len; i++) out += alphabet(this);
    return out;
  }

  /** Printable ASCII only (safe anywhere: header values, tokens). */
  ascii(maxLen = 40, minLen = 0): string {
    const len = this.int(minLen, maxLen);
    let out = '';
    for (let i = 0; i < len; i++) out += String.fromCharCode(this.int(0x21, 0x7e));
    return out;
  }

  /** A header-safe value (node refuses controls and code points above 0xff in header values). */
  headerValue(maxLen = 60): string {
    const len = this.int(0, maxLen);
    let out = '';
    for (let i = 0; i < len; i++) out += String.fromCharCode(this.chance(0.85) ? this.int(0x20, 0x7e) : this.int(0x80, 0xff));
    return out.trim();
  }
}

const ALPHABETS: ((r: Rng) => string)[] = [
  (r) => String.fromCharCode(r.int(0x20, 0x7e)),
  (r) => String.fromCharCode(r.int(0xa0, 0xff)),
  (r) => String.fromCodePoint(r.pick([0x4e2d, 0x0410, 0x05d0, 0x0627, 0x0e01, 0x1100, 0x3042, 0xfeff, 0x202e, 0x200b])),
  (r) => String.fromCodePoint(r.int(0x1f300, 0x1f64f)),
  (r) => String.fromCharCode(r.int(0, 0x1f)),
  (r) => String.fromCharCode(r.int(0xd800, 0xdfff)), // lone surrogates (invalid UTF-16)
  (r) => r.pick(['"', '\\', '/', "'", '<', '>', '&', '%', '{', '}', '\u0000', '\u2028', '$', '`']),
];

/** The seed of this run: `FUZZ_SEED` when set (a replay), else a fresh one. */
export function fuzzSeed(env = process.env): number {
  const given = env.FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED: expected an integer 0…4294967295, got ${given}`);
    return n;
  }
  return Math.floor(Math.random() * 0xffffffff) >>> 0;
}
