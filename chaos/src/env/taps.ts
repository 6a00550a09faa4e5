/**
 * The user load: people tapping "Sync now" in the app. A seeded share of every provider's accounts
 * (not revoked, not poison) gets two taps through sync-api's public route
 * (`POST /v1/accounts/:id/sync`, a user JWT as the mobile app sends it, an Idempotency-Key per tap):
 *
 * 1. while the account's first sync is running (the user watches the spinner and taps again), or
 *    1–8 s after the services are ready if no run was seen by then: duplicate concurrent work, which
 *    the account lease must keep to one fetcher (the tap's command takes the priority lane, the first
 *    sync the bulk lane; the engine records it as a re-run request for the running run);
 * 2. 1–6 s after the account's first successful sync committed (and after the manual-sync interval
 *    since tap 1): a re-read of committed data, which the transactions upsert must not duplicate.
 *
 * Answers are counted by status. 202 (queued or coalesced), 409 (unlinked) and 429 (rate limited)
 * are expected; a 5xx or a network error is retried (bounded); a 5xx that persists, or any other
 * 4xx (400, 401, 403, 404: a harness bug), is a harness error. Only the database is read (to time
 * the taps); loopback only.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { BASE_SERVICE_ENV, CHAOS_PORTS, TIMERS } from '../config';
import type { Rng } from '../prng';
import { sleep } from './servers';

/** Share of every provider's (non-revoked, non-poison) accounts whose users tap "Sync now". */
export const TAP_ACCOUNT_SHARE = 0.1;
/** Taps follow the account rows closely: a user taps while the spinner shows, not after a poll interval. */
const POLL_MS = 50;
const CONCURRENCY = 8;
/** Attempts of one tap against a 5xx or a refused connection (≈ 20 s with the backoff below). */
const MAX_ATTEMPTS = 12;

export interface PlannedTap {
  accountId: string;
  orgId: string;
  provider: string;
  /** The user's IntelliFin id (`users.external_id`): the token's `sub`. */
  userId: string;
  /** Tap 1 at the latest this long after the services are ready (earlier when a run is seen running). */
  firstAtMs: number;
  /** Tap 2 this long after the first successful sync was seen committed. */
  secondDelayMs: number;
}

export interface TapPlanInput {
  pgUrl: string;
  /** Our account ids left out (poison: their commands are dead-lettered by design). */
  exclude: ReadonlySet<string>;
  /** Provider account ids whose consent is revoked (their users cannot sync). */
  revoked: ReadonlySet<string>;
}

export async function planTaps(rng: Rng, o: TapPlanInput): Promise<PlannedTap[]> {
  const pg = new Client({ connectionString: o.pgUrl, connectionTimeoutMillis: 10_000 });
  pg.on('error', () => undefined);
  await pg.connect();
  let rows: { id: string; org_id: string; provider: string; provider_account_id: string; user_id: string }[];
  try {
    rows = (
      await pg.query<{ id: string; org_id: string; provider: string; provider_account_id: string; user_id: string }>(
        `SELECT a.id::text, a.org_id::text, a.provider, a.provider_account_id, u.external_id AS user_id
           FROM accounts a JOIN users u ON u.id = a.user_id ORDER BY a.provider, a.provider_account_id`,
      )
    ).rows;
  } finally {
    await pg.end().catch(() => undefined);
  }
  const out: PlannedTap[] = [];
  for (const provider of ['mono', 'momo', 'airtel']) {
    const eligible = rows.filter((r) => r.provider === provider && !o.exclude.has(r.id) && !o.revoked.has(r.provider_account_id));
    const r = rng.fork(provider);
    const chosen = r.shuffle(eligible).slice(0, Math.max(1, Math.round(eligible.length * TAP_ACCOUNT_SHARE)));
    for (const a of chosen)
      out.push({
        accountId: a.id,
        orgId: a.org_id,
        provider,
        userId: a.user_id,
        firstAtMs: r.int(1_000, 8_000),
        secondDelayMs: r.int(1_000, 6_000),
      });
  }
  return out;
}

/**
 * A user's bearer token as the IntelliFin auth service issues it to the mobile app: HS256 with the
 * harness's JWT_SECRET, its issuer and audience, `sub` = the user, `org_id`, `roles: ['user']`.
 * Signed with the `jose` sync-api verifies with.
 */
export function userTokenMinter(): (userId: string, orgId: string) => Promise<string> {
  const key = new TextEncoder().encode(BASE_SERVICE_ENV.JWT_SECRET!);
  return (userId, orgId) =>
    new SignJWT({ org_id: orgId, roles: ['user'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuer(BASE_SERVICE_ENV.JWT_ISSUER!)
      .setAudience(BASE_SERVICE_ENV.JWT_AUDIENCE!)
      .setIssuedAt()
      .setExpirationTime('30m')
      .sign(key);
}

export interface TapStats {
  /** Answers by kind: `202 queued`, `202 coalesced`, `409`, `429`, …; `retried` counts the retried attempts. */
  answers: Record<string, number>;
  /** Tap 1 sent while the account's run was seen running. */
  duringRun: number;
  /** Taps skipped: the account was not `active` (auth_required, error, unlinked) when its tap was due. */
  skipped: number;
  /** Harness errors: a 400/401/403/404, or a 5xx that persisted. */
  errors: string[];
}

export interface TapDriver {
  /** Taps not yet answered (quiescence waits for 0; the commands they queued show in the outbox, JetStream and re-run flags). */
  outstanding(): number;
  done: Promise<TapStats>;
  stop(): void;
}

export interface TapDriverOptions {
  pgUrl: string;
  /** The services' ready instant (tap 1's deadlines count from it). */
  readyAt: number;
  /** Stop tapping at this instant. */
  until: number;
  mint: (userId: string, orgId: string) => Promise<string>;
  log: (line: string) => void;
  apiUrl?: string;
}

interface AccountSeen {
  status: string;
  synced: boolean;
  running: boolean;
}

async function readAccounts(pg: Client, ids: string[]): Promise<Map<string, AccountSeen>> {
  const { rows } = await pg.query<AccountSeen & { id: string }>(
    `SELECT a.id::text AS id, a.status, a.last_success_at IS NOT NULL AS synced,
            EXISTS (SELECT 1 FROM sync_runs r WHERE r.account_id = a.id AND r.outcome = 'running') AS running
       FROM accounts a WHERE a.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

type Phase = 'first' | 'sending' | 'second' | 'done';

interface TapState {
  plan: PlannedTap;
  phase: Phase;
  /** When tap 1 was answered; when the first success was seen committed (no run running). */
  firstAnsweredAt?: number;
  committedSeenAt?: number;
}

export function driveTaps(plan: readonly PlannedTap[], o: TapDriverOptions): TapDriver {
  const apiUrl = o.apiUrl ?? `http://127.0.0.1:${CHAOS_PORTS.syncApiHttp}`;
  const stats: TapStats = { answers: {}, duringRun: 0, skipped: 0, errors: [] };
  const count = (k: string) => (stats.answers[k] = (stats.answers[k] ?? 0) + 1);
  const tokens = new Map<string, Promise<string>>();
  const states = plan.map((p): TapState => ({ plan: p, phase: 'first' }));
  let stopped = false;
  const live = () => !stopped && Date.now() < o.until;
  let inFlight = 0;

  /** One tap: retried on a 5xx or a refused connection with the same Idempotency-Key (the app's retry). */
  const tap = async (p: PlannedTap): Promise<void> => {
    const key = `tap-${randomUUID()}`;
    const tokenKey = `${p.userId}|${p.orgId}`;
    if (!tokens.has(tokenKey)) tokens.set(tokenKey, o.mint(p.userId, p.orgId));
    const token = await tokens.get(tokenKey)!;
    let last = '';
    for (let attempt = 0; attempt < MAX_ATTEMPTS && live(); attempt++) {
      if (attempt > 0) {
        count('retried');
        await sleep(Math.min(2_000, 250 * 2 ** Math.min(attempt - 1, 3)));
      }
      let status: number;
      let body: string;
      try {
        const res = await fetch(`${apiUrl}/v1/accounts/${p.accountId}/sync`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: '{}',
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        body = await res.text();
      } catch (err) {
        last = `no answer (${err instanceof Error ? err.message : String(err)})`;
        continue;
      }
      if (status === 202) {
        let coalesced = false;
        try {
          coalesced = (JSON.parse(body) as { coalesced?: boolean }).coalesced === true;
        } catch {
          // counted as queued
        }
        count(coalesced ? '202 coalesced' : '202 queued');
        return;
      }
      if (status === 409 || status === 429) {
        count(String(status));
        return;
      }
      if (status >= 500) {
        last = `${status} ${body.slice(0, 120)}`;
        continue;
      }
      count(String(status));
      stats.errors.push(`${p.provider} ${p.accountId.slice(0, 8)}: ${status} ${body.slice(0, 160)}`);
      return;
    }
    if (live()) {
      count('5xx persisted');
      stats.errors.push(`${p.provider} ${p.accountId.slice(0, 8)}: ${MAX_ATTEMPTS} attempts, last ${last}`);
    }
  };

  const fire = (s: TapState, next: Phase) => {
    const was = s.phase;
    s.phase = 'sending';
    inFlight++;
    void tap(s.plan).finally(() => {
      inFlight--;
      if (was === 'first') s.firstAnsweredAt = Date.now();
      s.phase = next;
    });
  };

  const step = (seen: Map<string, AccountSeen>) => {
    const now = Date.now();
    for (const s of states) {
      if (inFlight >= CONCURRENCY) return;
      const a = seen.get(s.plan.accountId);
      if (!a || s.phase === 'sending' || s.phase === 'done') continue;
      if (a.status !== 'active') {
        // Not tapped: an account that needs re-auth, is unlinked or in error keeps that state for the checker.
        stats.skipped++;
        s.phase = 'done';
        continue;
      }
      if (s.phase === 'first') {
        if (a.running && now >= o.readyAt) {
          stats.duringRun++;
          fire(s, 'second');
        } else if (now >= o.readyAt + s.plan.firstAtMs) fire(s, 'second');
        continue;
      }
      if (!a.synced || a.running) continue;
      s.committedSeenAt ??= now;
      const due = Math.max(s.committedSeenAt + s.plan.secondDelayMs, (s.firstAnsweredAt ?? 0) + TIMERS.manualSyncIntervalMs + 500);
      if (now >= due) fire(s, 'done');
    }
  };

  const done = (async () => {
    let pg: Client | undefined;
    for (let i = 0; i < 100_000 && live() && states.some((s) => s.phase !== 'done'); i++) {
      try {
        if (!pg) {
          pg = new Client({ connectionString: o.pgUrl, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
          pg.on('error', () => undefined);
          await pg.connect();
        }
        step(
          await readAccounts(
            pg,
            states.filter((s) => s.phase !== 'done').map((s) => s.plan.accountId),
          ),
        );
      } catch {
        // Postgres restarted by the nemesis: reconnect on the next poll.
        await pg?.end().catch(() => undefined);
        pg = undefined;
      }
      await sleep(POLL_MS);
    }
    await pg?.end().catch(() => undefined);
    for (let i = 0; i < 200 && inFlight > 0; i++) await sleep(100);
    o.log(
      `taps: ${Object.entries(stats.answers)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')}; ${stats.duringRun} during a running sync, ${stats.skipped} skipped, ${stats.errors.length} harness errors`,
    );
    return stats;
  })();
  return {
    outstanding: () => (stopped ? 0 : states.filter((s) => s.phase !== 'done').length),
    done,
    stop: () => {
      stopped = true;
    },
  };
}
