import { DomainError } from './errors';

/** A source of uniform random numbers in [0, 1): `Math.random` in production, a stub in tests. */
export type RandomSource = () => number;

export interface BackoffPolicy {
  /** Ceiling of the first retry (attempt 0), ms, > 0. */
  readonly baseMs: number;
  /** Largest ceiling, ms, ≥ baseMs. */
  readonly capMs: number;
}

/** 1 s doubling to 5 min: sensible for provider calls retried through JetStream `nak(delay)`. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1_000, capMs: 300_000 });

/** `min(cap, base · 2^attempt)`: the upper bound of the full-jitter delay of `attempt` (0-based). */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  assertPolicy(policy);
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new DomainError('invalid_attempt', `attempt must be an integer ≥ 0, got ${attempt}`);
  }
  // 2^attempt overflows to Infinity past 1023; min() still gives cap, but avoid the float dance.
  if (attempt >= 64) return policy.capMs;
  return Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
}

/**
 * "Full jitter" (AWS Architecture Blog, *Exponential Backoff and Jitter*):
 * `random_between(0, min(cap, base · 2^attempt))`, an integer number of ms in `[0, ceiling]`.
 * Spreads retries of many clients evenly instead of synchronising them.
 */
export function fullJitterDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: RandomSource = Math.random): number {
  const ceiling = backoffCeilingMs(attempt, policy);
  return Math.floor(draw(random) * (Math.floor(ceiling) + 1));
}

export interface RetryDelayInput {
  /** 0-based retry number (JetStream: `deliveryCount − 1`). */
  readonly attempt: number;
  /** The provider's instruction (`Retry-After`), ms, when it gave one. */
  readonly retryAfterMs?: number | undefined;
  readonly policy?: BackoffPolicy;
  readonly random?: RandomSource;
  /**
   * Extra random spread added on top of a `Retry-After` so that every client told "retry in 30 s"
   * does not come back in the same millisecond: `[0, retryAfterJitterMs]`. Default: `policy.baseMs`.
   */
  readonly retryAfterJitterMs?: number;
}

/**
 * The delay before the next retry. With a provider `Retry-After` it is never less than that
 * (plus a small random spread, and never capped: the provider's word wins over our cap); without
 * one it is the full-jitter backoff of `attempt`.
 */
export function retryDelayMs(input: RetryDelayInput): number {
  const policy = input.policy ?? DEFAULT_BACKOFF;
  const random = input.random ?? Math.random;
  const ra = input.retryAfterMs;
  if (ra !== undefined) {
    if (!Number.isFinite(ra) || ra < 0) {
      throw new DomainError('invalid_retry_after', `retryAfterMs must be a finite number ≥ 0, got ${ra}`);
    }
    assertPolicy(policy);
    const spread = input.retryAfterJitterMs ?? policy.baseMs;
    if (!Number.isFinite(spread) || spread < 0) {
      throw new DomainError('invalid_retry_after', `retryAfterJitterMs must be a finite number ≥ 0, got ${spread}`);
    }
    return Math.ceil(ra) + Math.floor(draw(random) * (Math.floor(spread) + 1));
  }
  return fullJitterDelayMs(input.attempt, policy, random);
}

/**
 * Parses an HTTP `Retry-After` header (RFC 9110 §10.2.3): delay-seconds (`"120"`) or an HTTP-date
 * (`"Wed, 21 Oct 2015 07:28:00 GMT"`, relative to `now`). Returns ms (≥ 0), or `undefined` when the
 * header is absent or unparseable (a wrong header must not turn into a zero delay or a crash).
 */
export function parseRetryAfterMs(header: string | null | undefined, now: Date): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  // An HTTP-date always names the weekday and ends in GMT; requiring that keeps Date.parse's
  // lenient guessing (e.g. "12.5", "-3") out.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

function draw(random: RandomSource): number {
  const r = random();
  if (!(typeof r === 'number' && r >= 0 && r < 1)) {
    throw new DomainError('invalid_random', `random source must return a number in [0, 1), got ${String(r)}`);
  }
  return r;
}

function assertPolicy(p: BackoffPolicy): void {
  if (!Number.isFinite(p.baseMs) || p.baseMs <= 0) throw new DomainError('invalid_backoff', `baseMs must be > 0, got ${p.baseMs}`);
  if (!Number.isFinite(p.capMs) || p.capMs < p.baseMs) throw new DomainError('invalid_backoff', `capMs must be ≥ baseMs, got ${p.capMs}`);
}
