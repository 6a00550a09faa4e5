/**
 * Fault injection rules, evaluated per API request. A rule matches a route (and optionally an
 * account) and fires on chosen request numbers or with a probability. Request numbers count per
 * (route, account) from the last reset; the probability draw is a pure function of
 * (seed, rule id, route, account, request number), so the same seed and the same request sequence
 * always give the same faults.
 */
import { unit } from './prng';

export const FAULT_KINDS = ['status', 'latency', 'hang', 'reset', 'malformed', 'truncated', 'wrong-types'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRuleInput {
  /** '*' (every API route), 'GET /v2/accounts/:id', or a bare route template '/v2/accounts/:id'. */
  route?: string;
  /** Only requests attributed to this account (see each simulator's README section). */
  account?: string;
  kind: FaultKind;
  /** kind=status: the HTTP status to answer (e.g. 429, 500, 502, 503). */
  status?: number;
  /** kind=status with 429/503: Retry-After seconds (default 60 for 429). */
  retryAfter?: number;
  /** Replace the provider's default error body for kind=status. */
  body?: unknown;
  /** kind=latency: added delay in real milliseconds. */
  latencyMs?: number;
  /** kind=hang: hold the connection this long (real ms, default 120000), then destroy it. */
  hangMs?: number;
  /** kind=reset|hang: 'before' the handler (default) or 'after' it ran (side effects happened). */
  phase?: 'before' | 'after';
  /** Fire on these request numbers (1-based, per route and account). */
  requests?: number[];
  /** Fire with this probability (0..1), deterministic in (seed, rule, route, account, n). */
  probability?: number;
  /** Stop after firing this many times. */
  times?: number;
}

export interface FaultRule extends FaultRuleInput {
  id: string;
  route: string;
  fired: number;
}

export interface FaultDecision {
  n: number;
  fired: FaultRule[];
}

export class FaultValidationError extends Error {}

export function validateFault(input: unknown): FaultRuleInput {
  if (typeof input !== 'object' || input === null) throw new FaultValidationError('fault must be an object');
  const f = input as Record<string, unknown>;
  if (!FAULT_KINDS.includes(f.kind as FaultKind)) {
    throw new FaultValidationError(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  if (f.kind === 'status' && !(typeof f.status === 'number' && f.status >= 100 && f.status <= 599)) {
    throw new FaultValidationError('kind=status needs a numeric status 100..599');
  }
  if (f.kind === 'latency' && !(typeof f.latencyMs === 'number' && f.latencyMs >= 0)) {
    throw new FaultValidationError('kind=latency needs latencyMs >= 0');
  }
  if (f.probability !== undefined && !(typeof f.probability === 'number' && f.probability >= 0 && f.probability <= 1)) {
    throw new FaultValidationError('probability must be within 0..1');
  }
  if (f.requests !== undefined && !(Array.isArray(f.requests) && f.requests.every((n) => Number.isInteger(n) && n > 0))) {
    throw new FaultValidationError('requests must be a list of positive integers');
  }
  if (f.route !== undefined && typeof f.route !== 'string') throw new FaultValidationError('route must be a string');
  if (f.account !== undefined && typeof f.account !== 'string') throw new FaultValidationError('account must be a string');
  if (f.phase !== undefined && f.phase !== 'before' && f.phase !== 'after') throw new FaultValidationError("phase is 'before' or 'after'");
  return f as unknown as FaultRuleInput;
}

export class FaultEngine {
  private rules: FaultRule[] = [];
  private counters = new Map<string, number>();
  private nextId = 1;

  constructor(private seed: number) {}

  reset(seed: number): void {
    this.seed = seed;
    this.rules = [];
    this.counters.clear();
    this.nextId = 1;
  }

  add(input: FaultRuleInput): FaultRule {
    const rule: FaultRule = { ...input, route: input.route ?? '*', id: `f${this.nextId++}`, fired: 0 };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  /** Count this request and return the rules that fire for it. */
  decide(method: string, template: string, account: string | undefined): FaultDecision {
    const routeKey = `${method} ${template}`;
    const counterKey = `${routeKey}|${account ?? ''}`;
    const n = (this.counters.get(counterKey) ?? 0) + 1;
    this.counters.set(counterKey, n);
    const fired: FaultRule[] = [];
    for (const rule of this.rules) {
      if (!routeMatches(rule.route, method, template)) continue;
      if (rule.account !== undefined && rule.account !== account) continue;
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      const byNumber = rule.requests !== undefined && rule.requests.includes(n);
      const byChance = rule.probability !== undefined && unit(this.seed, rule.id, routeKey, account ?? '', n) < rule.probability;
      const fires = rule.requests === undefined && rule.probability === undefined ? true : byNumber || byChance;
      if (fires) {
        rule.fired++;
        fired.push(rule);
      }
    }
    return { n, fired };
  }
}

function routeMatches(pattern: string, method: string, template: string): boolean {
  if (pattern === '*') return true;
  const sp = pattern.indexOf(' ');
  if (sp > 0) {
    const m = pattern.slice(0, sp).toUpperCase();
    const t = pattern.slice(sp + 1);
    return (m === '*' || m === method) && (t === '*' || t === template);
  }
  return pattern === template;
}

/** Turn every number and boolean in a JSON value into a string (and numeric strings into numbers). */
export function wrongTypes(value: unknown, key?: string): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string' && key !== undefined && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (Array.isArray(value)) return value.map((v) => wrongTypes(v));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = wrongTypes(v, k);
    return out;
  }
  return value;
}
