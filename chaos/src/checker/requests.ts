/**
 * Invariants and figures from the simulators' request logs: one fence at a time per account,
 * Retry-After respected, and request amplification.
 */
import { invariant } from './result';
import type { LoggedRequest } from './sources';
import type { InvariantResult, ProviderAmplification, ProviderName } from './types';
import { concluding, type DbWorld } from './world';

export type SimulatorName = ProviderName | 'onesignal';

const startOf = (e: LoggedRequest) => Date.parse(e.time);
const endOf = (e: LoggedRequest) => (e.end === null ? Number.POSITIVE_INFINITY : Date.parse(e.end));

export interface Overlap {
  provider: ProviderName;
  account: string;
  fences: [string, string];
}

/**
 * Pairs of different fences whose requests for one account were in flight at the same time
 * (request intervals [arrival, end] intersect; an exchange still open counts as open forever).
 * Requests without a fence (not made by a sync run) are ignored.
 */
export function findOverlaps(provider: ProviderName, entries: readonly LoggedRequest[]): Overlap[] {
  const byAccount = new Map<string, LoggedRequest[]>();
  for (const e of entries) {
    if (e.fence === null || e.account === null) continue;
    const list = byAccount.get(e.account);
    if (list) list.push(e);
    else byAccount.set(e.account, [e]);
  }
  const out: Overlap[] = [];
  for (const [account, list] of byAccount) {
    list.sort((a, b) => startOf(a) - startOf(b) || a.seq - b.seq);
    const seen = new Set<string>();
    let open: LoggedRequest[] = [];
    for (const e of list) {
      const s = startOf(e);
      open = open.filter((o) => endOf(o) > s);
      for (const o of open) {
        if (o.fence === e.fence) continue;
        const pair = [o.fence!, e.fence!].sort((x, y) => Number(BigInt(x) - BigInt(y))) as [string, string];
        const key = pair.join('|');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ provider, account, fences: pair });
      }
      open.push(e);
    }
  }
  return out;
}

export function checkSingleFetcher(overlaps: readonly Overlap[], allowed: boolean, droppedNote?: string): InvariantResult {
  const lines = overlaps.map((o) => `${o.provider} ${o.account}: fences ${o.fences[0]} and ${o.fences[1]}`);
  const what = 'no two fences fetching one account at once (request logs)';
  if (allowed) {
    const r = invariant('single-fetcher', what, []);
    return {
      ...r,
      count: overlaps.length,
      detail: `${overlaps.length} overlap(s) measured; allowed in this scenario (a paused or lease-robbed run may still fetch; the fences invariant proves it never committed)`,
    };
  }
  return invariant('single-fetcher', what, lines, droppedNote);
}

/**
 * How long after a Retry-After response was sent a *different* request (another path of the same
 * route and account, e.g. a concurrent status lookup of another reference) may still arrive
 * without having been able to know: the client's other tasks learn of the 429 only once it is
 * read and the shared pause is set. A repeat of the same path gets no grace.
 */
export const CONCURRENT_GRACE_MS = 100;

/**
 * Requests that arrived after a response advertising Retry-After had been sent and before the
 * advertised window ended, to the same route of the same account (OneSignal: the same route,
 * its limit is per app). Requests already in flight when the response went out are not counted,
 * nor other paths within `graceMs` of it (see CONCURRENT_GRACE_MS). 1 ms of slack covers the
 * millisecond rounding of the logged times.
 *
 * With `staleFence` (the scenarios that pause processes, where overlaps are tolerated), a request
 * of an OLDER fence than the run that was refused is counted there instead: a process stopped
 * between its budget check and its send fires the request when it resumes, inside a window it
 * could not know of, and its run has lost the account (the fences invariant covers its writes).
 */
export function retryAfterViolations(
  sim: SimulatorName,
  entries: readonly LoggedRequest[],
  graceMs = CONCURRENT_GRACE_MS,
  staleFence?: { count: number },
): string[] {
  const keyOf = (e: LoggedRequest) =>
    sim === 'onesignal' ? `${e.method} ${e.route}` : e.account === null ? null : `${e.method} ${e.route} ${e.account}`;
  const windows = new Map<string, Array<{ from: number; until: number; seq: number; path: string; fence: string | null }>>();
  const bad: string[] = [];
  const ordered = [...entries].sort((a, b) => startOf(a) - startOf(b) || a.seq - b.seq);
  for (const e of ordered) {
    const key = keyOf(e);
    if (key === null) continue;
    const t = startOf(e);
    const list = windows.get(key) ?? [];
    const hit = list.find((w) => t >= (w.path === e.path ? w.from : w.from + graceMs) && t < w.until - 1);
    if (hit && staleFence && e.fence !== null && hit.fence !== null && BigInt(e.fence) < BigInt(hit.fence)) staleFence.count++;
    else if (hit) bad.push(`${sim} ${key}: request #${e.seq} came ${hit.until - t} ms inside the Retry-After of #${hit.seq}`);
    if (e.retryAfterMs !== null && e.status >= 400 && e.end !== null) {
      const from = Date.parse(e.end);
      list.push({ from, until: from + e.retryAfterMs, seq: e.seq, path: e.path, fence: e.fence });
      windows.set(key, list);
    }
  }
  return bad;
}

/**
 * Amplification = fenced requests ÷ the minimum needed. The minimum counts, for each run that
 * concluded its command (succeeded, cancelled by the user, or failed for a reason a retry cannot
 * fix), its requests answered 2xx — at least one if it made any (an auth failure's one refusal).
 * Retries of failed requests, runs that were interrupted or handed back, and requests of runs
 * that later lost the account are the excess.
 *
 * The harness's "Sync now" taps (`env/taps.ts`) add runs on purpose: the re-run a tap during the
 * first sync asks for, and the sync a tap after it queues. Each such run concludes its own command
 * (a user asked), so its 2xx requests are already in the minimum, run by run: the extra load raises
 * requests and minimum alike and the ratio still measures only the waste. A tap the engine
 * coalesced into a re-run request, or skipped as already satisfied, makes no provider request.
 */
export function amplification(provider: ProviderName, entries: readonly LoggedRequest[], world: DbWorld): ProviderAmplification {
  const ours = new Map<string, string>();
  for (const a of world.accounts) if (a.provider === provider) ours.set(a.providerAccountId, a.id);
  const needed = new Set<string>();
  for (const r of world.runs) if (concluding(r)) needed.add(`${r.accountId}|${r.fence}`);
  let requests = 0;
  const perRun = new Map<string, { any: number; ok: number }>();
  for (const e of entries) {
    if (e.fence === null) continue;
    requests++;
    const id = e.account === null ? undefined : ours.get(e.account);
    if (!id) continue;
    const key = `${id}|${e.fence}`;
    if (!needed.has(key)) continue;
    const c = perRun.get(key) ?? { any: 0, ok: 0 };
    c.any++;
    if (e.status >= 200 && e.status < 300) c.ok++;
    perRun.set(key, c);
  }
  let minimum = 0;
  for (const c of perRun.values()) minimum += Math.max(1, c.ok);
  return { requests, minimum, ratio: minimum === 0 ? Number.NaN : requests / minimum };
}
