import type { CheckReport, InvariantResult } from '../checker/types';
import type { Proxies } from '../env/proxies';
import type { Servers } from '../env/servers';
import type { Fleet } from '../env/services';
import type { Simulators } from '../env/simulators';
import type { Rng } from '../prng';

/** What a nemesis acts on. Every loop it runs is bounded by `until` and by a count. */
export interface NemesisContext {
  rng: Rng;
  servers: Servers;
  proxies: Proxies;
  sims: Simulators;
  fleet: Fleet;
  /** The nemesis stops acting at this instant (ms since epoch). */
  until: number;
  /** True once the system reached quiescence (a nemesis may stop early then, after its minimum). */
  quiet(): boolean;
  /** Writes one line to the run's output, prefixed with the scenario. */
  log(line: string): void;
  /** Counts of what the nemesis did, reported with the scenario (e.g. kills: 12). */
  actions: Record<string, number>;
  /** Deletes up to `max` Redis keys matching `pattern` (direct connection); returns how many. */
  redisDel(pattern: string, max: number): Promise<number>;
}

export interface CriteriaContext {
  actions: Record<string, number>;
  respawns: number;
  /** Worker counters from /metrics (e.g. intellifin_sync_lease_lost_total), summed over processes. */
  counters: Record<string, number>;
}

export interface Scenario {
  id: string;
  title: string;
  /** Share of accounts (0..1) made poison, by kind (S10). */
  poison?: { throw: number; crash: number };
  /** Scheduler processes (S11: 2). */
  schedulers?: number;
  /**
   * Overlapping fetches by two fences are expected (a paused or robbed lease holder keeps fetching)
   * and measured, not failed; the fences invariant still proves the older one never committed.
   */
  allowOverlaps?: boolean;
  /** Service environment overrides for this scenario (e.g. a shorter lease TTL). */
  env?: Record<string, string>;
  /** The nemesis; resolves when it has stopped acting (and every fault it made is healed). */
  nemesis?(ctx: NemesisContext): Promise<void>;
  /** Extra pass criteria beyond the checker's invariants (research §5.6 table), from the report. */
  criteria?(report: CheckReport, ctx: CriteriaContext): InvariantResult[];
  /** Processes are expected to die by themselves here (S10's crash poison): their exits are not failures. */
  expectCrashes?: boolean;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sleeps `ms`, but never past `until`. */
export function pause(ms: number, until: number): Promise<void> {
  return sleep(Math.max(0, Math.min(ms, until - Date.now())));
}

export function bump(actions: Record<string, number>, what: string, n = 1): void {
  actions[what] = (actions[what] ?? 0) + n;
}

export function criterion(name: string, ok: boolean, count: number, detail: string): InvariantResult {
  return { name, ok, count: ok ? 0 : Math.max(1, count), detail };
}
