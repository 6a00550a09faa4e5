import { DEFAULT_BACKOFF, backoffCeilingMs, fullJitterDelayMs, parseRetryAfterMs, retryDelayMs, type RandomSource } from './backoff';
import { DomainError } from './errors';

/** Deterministic PRNG (mulberry32) so distribution checks are reproducible. */
function seeded(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const constant =
  (r: number): RandomSource =>
  () =>
    r;
const justBelowOne = 1 - Number.EPSILON;
const policy = { baseMs: 100, capMs: 10_000 };

describe('backoffCeilingMs', () => {
  it('doubles from base until the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffCeilingMs(a, policy))).toEqual([
      100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000,
    ]);
  });

  it('stays at the cap for huge attempt numbers (no overflow to Infinity/NaN)', () => {
    expect(backoffCeilingMs(1_000, policy)).toBe(10_000);
    expect(backoffCeilingMs(10_000_000, policy)).toBe(10_000);
  });

  it('validates the attempt and the policy', () => {
    expect(() => backoffCeilingMs(-1, policy)).toThrow(DomainError);
    expect(() => backoffCeilingMs(1.5, policy)).toThrow(DomainError);
    expect(() => backoffCeilingMs(0, { baseMs: 0, capMs: 10 })).toThrow(DomainError);
    expect(() => backoffCeilingMs(0, { baseMs: 100, capMs: 50 })).toThrow(DomainError);
    expect(() => backoffCeilingMs(0, { baseMs: Number.NaN, capMs: 50 })).toThrow(DomainError);
  });

  it('has a sane default', () => {
    expect(backoffCeilingMs(0)).toBe(DEFAULT_BACKOFF.baseMs);
    expect(backoffCeilingMs(100)).toBe(DEFAULT_BACKOFF.capMs);
  });
});

describe('fullJitterDelayMs', () => {
  it('spans the whole interval [0, ceiling]: random 0 gives 0, random → 1 gives the ceiling', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      expect(fullJitterDelayMs(attempt, policy, constant(0))).toBe(0);
      expect(fullJitterDelayMs(attempt, policy, constant(justBelowOne))).toBe(backoffCeilingMs(attempt, policy));
    }
  });

  it('returns integers within bounds for many random draws', () => {
    const random = seeded(42);
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = backoffCeilingMs(attempt, policy);
      for (let i = 0; i < 2_000; i++) {
        const d = fullJitterDelayMs(attempt, policy, random);
        expect(Number.isInteger(d)).toBe(true);
        if (d < 0 || d > ceiling) throw new Error(`delay ${d} outside [0, ${ceiling}] at attempt ${attempt}`);
      }
    }
  });

  it('is uniform over [0, ceiling] (mean ≈ ceiling/2, buckets pass chi-squared)', () => {
    const random = seeded(7);
    const n = 20_000;
    const buckets = new Array<number>(10).fill(0);
    let sum = 0;
    const ceiling = backoffCeilingMs(7, policy); // 10_000 (capped)
    for (let i = 0; i < n; i++) {
      const d = fullJitterDelayMs(7, policy, random);
      sum += d;
      buckets[Math.min(9, Math.floor((d / (ceiling + 1)) * 10))]! += 1;
    }
    const mean = sum / n;
    expect(Math.abs(mean - ceiling / 2)).toBeLessThan(ceiling * 0.02);
    const expected = n / 10;
    const chi2 = buckets.reduce((acc, o) => acc + (o - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.88); // 9 degrees of freedom, p = 0.001
  });

  it('mean delay grows with attempts until the cap (exponential, not linear)', () => {
    const random = seeded(99);
    const meanAt = (attempt: number) => {
      let s = 0;
      for (let i = 0; i < 5_000; i++) s += fullJitterDelayMs(attempt, policy, random);
      return s / 5_000;
    };
    const m = [0, 1, 2, 3, 4, 5].map(meanAt);
    for (let i = 1; i < m.length; i++) {
      const ratio = m[i]! / m[i - 1]!;
      expect(ratio).toBeGreaterThan(1.8);
      expect(ratio).toBeLessThan(2.2);
    }
  });

  it('different random sources give different delays (it really is jittered)', () => {
    const a = Array.from({ length: 20 }, () => fullJitterDelayMs(5, policy, seeded(1)));
    const random = seeded(1);
    const b = Array.from({ length: 20 }, () => fullJitterDelayMs(5, policy, random));
    expect(new Set(a).size).toBe(1); // same seed restarted each time → same first draw
    expect(new Set(b).size).toBeGreaterThan(15);
  });

  it('rejects a random source outside [0, 1)', () => {
    expect(() => fullJitterDelayMs(0, policy, constant(1))).toThrow(DomainError);
    expect(() => fullJitterDelayMs(0, policy, constant(-0.1))).toThrow(DomainError);
    expect(() => fullJitterDelayMs(0, policy, constant(Number.NaN))).toThrow(DomainError);
  });
});

describe('retryDelayMs', () => {
  it('without Retry-After it is the full-jitter backoff', () => {
    expect(retryDelayMs({ attempt: 3, policy, random: constant(0.5) })).toBe(fullJitterDelayMs(3, policy, constant(0.5)));
    expect(retryDelayMs({ attempt: 3, policy, random: constant(justBelowOne) })).toBe(800);
  });

  it('with Retry-After it is never less than it, whatever the random draw and attempt', () => {
    const random = seeded(5);
    for (let i = 0; i < 2_000; i++) {
      const retryAfterMs = Math.floor(random() * 120_000);
      const d = retryDelayMs({ attempt: i % 20, retryAfterMs, policy, random });
      if (d < retryAfterMs || d > retryAfterMs + policy.baseMs) throw new Error(`delay ${d} for retry-after ${retryAfterMs}`);
    }
  });

  it('honours a Retry-After larger than the cap and rounds fractional ms up', () => {
    expect(retryDelayMs({ attempt: 0, retryAfterMs: 600_000, policy, random: constant(0) })).toBe(600_000);
    expect(retryDelayMs({ attempt: 0, retryAfterMs: 1500.2, policy, random: constant(0) })).toBe(1501);
  });

  it('spreads clients told the same Retry-After, within the configured jitter', () => {
    expect(retryDelayMs({ attempt: 0, retryAfterMs: 30_000, retryAfterJitterMs: 0, random: constant(justBelowOne) })).toBe(30_000);
    expect(retryDelayMs({ attempt: 0, retryAfterMs: 30_000, retryAfterJitterMs: 500, random: constant(justBelowOne) })).toBe(30_500);
    const random = seeded(11);
    const values = new Set(
      Array.from({ length: 50 }, () => retryDelayMs({ attempt: 0, retryAfterMs: 30_000, retryAfterJitterMs: 1_000, random })),
    );
    expect(values.size).toBeGreaterThan(40);
  });

  it('rejects a negative or non-finite Retry-After', () => {
    expect(() => retryDelayMs({ attempt: 0, retryAfterMs: -1 })).toThrow(DomainError);
    expect(() => retryDelayMs({ attempt: 0, retryAfterMs: Number.POSITIVE_INFINITY })).toThrow(DomainError);
  });
});

describe('parseRetryAfterMs', () => {
  const now = new Date('2025-10-21T07:28:00.000Z');

  it('parses delay-seconds', () => {
    expect(parseRetryAfterMs('120', now)).toBe(120_000);
    expect(parseRetryAfterMs(' 0 ', now)).toBe(0);
  });

  it('parses an HTTP-date relative to now, clamping the past to 0', () => {
    expect(parseRetryAfterMs('Tue, 21 Oct 2025 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Tue, 21 Oct 2025 07:00:00 GMT', now)).toBe(0);
  });

  it.each([undefined, null, '', 'soon', '-5', '1.5', '12abc', '2025-10-21T07:30:00Z', '99999999999999999999'])(
    'gives undefined for %j',
    (h) => {
      expect(parseRetryAfterMs(h as string | null | undefined, now)).toBeUndefined();
    },
  );
});
