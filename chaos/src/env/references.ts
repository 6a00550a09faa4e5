/**
 * The wallet reference load: a seeded share of the MoMo and Airtel accounts gets every reference
 * its simulator seeded registered, the way an IntelliFin service does it (sync-api's internal
 * `POST /internal/v1/references` with SERVICE_TOKEN, which hands it to the worker's intake through
 * the outbox and WALLET_INTAKE), and then a background sync (`POST /internal/v1/sync/background`)
 * for each account once its references are registered, so a run polls them against the provider.
 * Runs while the nemesis acts; the database is only read (to see what was registered and synced).
 */
import { Client } from 'pg';
import { BASE_SERVICE_ENV, CHAOS_PORTS } from '../config';
import type { Rng } from '../prng';
import { simulatorOffsetMs } from '../checker/sources';
import { REFERENCE_VISIBLE_AT_SQL } from '../checker/world';
import { sleep } from './servers';

/** Share of the (non-revoked, non-poison) wallet accounts whose references are registered. */
export const REFERENCE_ACCOUNT_SHARE = 0.5;
/** A background sync is asked again for an account its reference runs still do not cover after this. */
const RESYNC_AFTER_MS = 30_000;
const CONCURRENCY = 8;

export interface Registration {
  orgId: string;
  provider: 'momo' | 'airtel';
  accountId: string;
  referenceId: string;
  kind: 'collection' | 'payout';
  amountMinor: string;
  currency: string;
  externalId?: string;
  party?: { type: 'MSISDN'; id: string };
  createdAt: string;
}

/** A simulator's truth for one wallet reference, as `/__sandbox/truth` lists it. */
interface RawRef {
  id: string;
  kind: string;
  amount: number;
  currency: string;
  createdAt: string;
  /** Simulator time at which the final status is reached; null: never. */
  finalAt: string | null;
  externalId?: string;
  party?: { partyIdType: string; partyId: string };
  msisdn?: string;
}
interface RawAccount {
  id: string;
  revoked: boolean;
  references?: RawRef[];
  transactions?: RawRef[];
}

async function truthAccounts(baseUrl: string): Promise<RawAccount[]> {
  const out: RawAccount[] = [];
  for (let offset = 0; ; offset += 500) {
    const res = await fetch(`${baseUrl}/__sandbox/truth?offset=${offset}&limit=500`, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`${baseUrl} /__sandbox/truth answered ${res.status}`);
    const page = ((await res.json()) as { accounts?: RawAccount[] }).accounts ?? [];
    out.push(...page);
    if (page.length < 500) return out;
  }
}

/** Our registration kind for a simulator's: money in (MoMo request-to-pay, Airtel collection) or out. */
export function registrationKind(simKind: string): 'collection' | 'payout' {
  return simKind === 'requesttopay' || simKind === 'collection' ? 'collection' : 'payout';
}

export function toRegistration(provider: 'momo' | 'airtel', orgId: string, accountId: string, r: RawRef): Registration {
  const party = r.party?.partyId ?? r.msisdn;
  return {
    orgId,
    provider,
    accountId,
    referenceId: r.id,
    kind: registrationKind(r.kind),
    amountMinor: String(r.amount),
    currency: r.currency,
    ...(r.externalId ? { externalId: r.externalId } : {}),
    ...(party ? { party: { type: 'MSISDN' as const, id: party } } : {}),
    createdAt: r.createdAt,
  };
}

export interface PlanInput {
  pgUrl: string;
  simulators: { momo: string; airtel: string };
  /** Our account ids left out (poison: their commands are dead-lettered by design). */
  exclude: ReadonlySet<string>;
  /**
   * References the simulator settles within this long after the plan are waited for: the account
   * gets a run started after the settlement, so the pending → final path is exercised (the rest
   * stays pending, as the truth says at the check). The profile's `settleHorizonMs`.
   */
  settleHorizonMs: number;
}

/**
 * Picks the accounts (a seeded share of every non-revoked wallet account) and lists, for each,
 * every reference its simulator seeded. The checker expects all of an account's references once
 * any is registered, so an account is registered whole or not at all.
 */
export interface PlannedReference {
  registration: Registration;
  /** Wall-clock instant (ms) after which a run must start for the account to count as settled (0: none). */
  notBefore: number;
}

export async function planReferences(rng: Rng, o: PlanInput): Promise<PlannedReference[]> {
  const pg = new Client({ connectionString: o.pgUrl, connectionTimeoutMillis: 10_000 });
  pg.on('error', () => undefined);
  await pg.connect();
  let rows: { id: string; org_id: string; provider: 'momo' | 'airtel'; provider_account_id: string }[];
  try {
    rows = (
      await pg.query<{ id: string; org_id: string; provider: 'momo' | 'airtel'; provider_account_id: string }>(
        `SELECT id::text, org_id::text, provider, provider_account_id FROM accounts
          WHERE provider IN ('momo', 'airtel') ORDER BY provider, provider_account_id`,
      )
    ).rows;
  } finally {
    await pg.end().catch(() => undefined);
  }
  const out: PlannedReference[] = [];
  const now = Date.now();
  for (const provider of ['momo', 'airtel'] as const) {
    const offsetMs = await simulatorOffsetMs(o.simulators[provider]);
    const truth = new Map((await truthAccounts(o.simulators[provider])).map((a) => [a.id, a]));
    const eligible = rows.filter(
      (r) => r.provider === provider && !o.exclude.has(r.id) && truth.get(r.provider_account_id)?.revoked === false,
    );
    const chosen = rng
      .fork(provider)
      .shuffle(eligible)
      .slice(0, Math.round(eligible.length * REFERENCE_ACCOUNT_SHARE));
    for (const a of chosen) {
      const t = truth.get(a.provider_account_id)!;
      for (const r of t.references ?? t.transactions ?? []) {
        const finalWall = r.finalAt === null ? Number.POSITIVE_INFINITY : Date.parse(r.finalAt) - offsetMs;
        out.push({
          registration: toRegistration(provider, a.org_id, a.id, r),
          notBefore: finalWall <= now + o.settleHorizonMs ? Math.max(0, Math.ceil(finalWall)) : 0,
        });
      }
    }
  }
  return out;
}

export interface DriverOptions {
  pgUrl: string;
  /** Stop trying (registrations not accepted, accounts not covered) at this instant. */
  until: number;
  log: (line: string) => void;
  /** sync-api's base URL (default: the chaos HTTP port on loopback). */
  apiUrl?: string;
}

export interface ReferenceDriver {
  /**
   * Work the reference load still owes (quiescence waits for 0): registrations sync-api has not
   * accepted yet, plus accounts whose references no successful run has polled since they were
   * registered (and since those the simulator settles within the settle horizon settled).
   */
  outstanding(): number;
  /** Resolves when every account is registered and covered by a run, or at `until`. */
  done: Promise<{ accepted: number; refused: number; backgroundRequests: number }>;
  stop(): void;
}

type Post = (path: string, body: unknown) => Promise<{ status: number; body: unknown }>;

function poster(apiUrl: string): Post {
  return async (path, body) => {
    const res = await fetch(`${apiUrl}/internal/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BASE_SERVICE_ENV.SERVICE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  };
}

interface AccountPlan {
  orgId: string;
  refs: number;
  notBefore: number;
}

interface Coverage {
  status: string;
  registered: number;
  /** A successful transactions run started after the newest registration and `notBefore`. */
  covered: boolean;
}

async function coverage(pgUrl: string, accounts: Map<string, AccountPlan>): Promise<Map<string, Coverage>> {
  const pg = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 5_000, query_timeout: 20_000 });
  pg.on('error', () => undefined);
  await pg.connect();
  try {
    const ids = [...accounts.keys()];
    const { rows } = await pg.query<Coverage & { id: string }>(
      `WITH p AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS p(id, not_before)),
            reg AS (SELECT p.id, p.not_before, count(r.reference_id)::int AS registered, max(${REFERENCE_VISIBLE_AT_SQL('r')}) AS last_at
                      FROM p LEFT JOIN wallet_references r ON r.account_id = p.id GROUP BY p.id, p.not_before)
       SELECT a.id::text AS id, a.status, reg.registered,
              EXISTS (SELECT 1 FROM sync_runs s WHERE s.account_id = a.id AND s.outcome = 'succeeded' AND s.mode <> 'balance'
                         AND s.started_at >= greatest(reg.last_at, reg.not_before)) AS covered
         FROM reg JOIN accounts a ON a.id = reg.id`,
      [ids, ids.map((id) => new Date(accounts.get(id)!.notBefore))],
    );
    return new Map(rows.map((r) => [r.id, r]));
  } finally {
    await pg.end().catch(() => undefined);
  }
}

/**
 * Registers the plan through sync-api (retrying while sync-api or its servers are down), then asks
 * a background sync for every account whose references are all registered (and whose soon-final
 * references have settled at the simulator) but that no run started since has polled; again after
 * RESYNC_AFTER_MS while still uncovered. Only `active` accounts are waited for and asked for: one that
 * ended auth_required, unlinked or in error (dead-lettered) keeps that state, as the checker expects it.
 */
export function driveReferences(plan: readonly PlannedReference[], o: DriverOptions): ReferenceDriver {
  const post = poster(o.apiUrl ?? `http://127.0.0.1:${CHAOS_PORTS.syncApiHttp}`);
  let stopped = false;
  let unsent = plan.length;
  const accounts = new Map<string, AccountPlan>();
  for (const { registration: r, notBefore } of plan) {
    const a = accounts.get(r.accountId) ?? { orgId: r.orgId, refs: 0, notBefore: 0 };
    a.refs++;
    a.notBefore = Math.max(a.notBefore, notBefore);
    accounts.set(r.accountId, a);
  }
  let uncovered = accounts.size;
  const stats = { accepted: 0, refused: 0, backgroundRequests: 0 };
  const live = () => !stopped && Date.now() < o.until;
  const refusals: string[] = [];

  const register = async (reg: Registration) => {
    for (let attempt = 0; live(); attempt++) {
      const r = await post('/references', reg).catch(() => undefined);
      if (r?.status === 202) {
        stats.accepted++;
        return;
      }
      if (r && r.status >= 400 && r.status < 500 && r.status !== 429) {
        stats.refused++;
        if (refusals.length < 3) refusals.push(`${reg.provider} ${reg.referenceId}: ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
        return;
      }
      await sleep(Math.min(2_000, 200 * 2 ** Math.min(attempt, 4)));
    }
  };

  const askBackground = async (cov: Map<string, Coverage>, askedAt: Map<string, number>) => {
    const due = new Map<string, string[]>();
    let open = 0;
    for (const [id, a] of accounts) {
      const c = cov.get(id);
      if (!c || c.covered || c.status !== 'active') continue;
      open++;
      if (c.registered < a.refs || Date.now() < a.notBefore || Date.now() - (askedAt.get(id) ?? 0) < RESYNC_AFTER_MS) continue;
      due.set(a.orgId, [...(due.get(a.orgId) ?? []), id]);
    }
    for (const [orgId, ids] of due)
      for (let i = 0; i < ids.length && live(); i += 300) {
        const batch = ids.slice(i, i + 300);
        const r = await post('/sync/background', { orgId, accountIds: batch, requestedBy: 'chaos-references' }).catch(() => undefined);
        if (r?.status !== 202) continue;
        stats.backgroundRequests++;
        for (const id of batch) askedAt.set(id, Date.now());
      }
    return open;
  };

  const done = (async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < plan.length && live()) {
          await register(plan[next++]!.registration);
          unsent--;
        }
      }),
    );
    unsent = 0;
    o.log(
      `references: ${stats.accepted} registrations accepted by sync-api, ${stats.refused} refused${refusals.length ? ` (${refusals.join('; ')})` : ''}`,
    );
    const askedAt = new Map<string, number>();
    while (live() && accounts.size) {
      const cov = await coverage(o.pgUrl, accounts).catch(() => undefined);
      if (cov) {
        uncovered = await askBackground(cov, askedAt);
        if (uncovered === 0) break;
      }
      await sleep(2_000);
    }
    return stats;
  })();
  return {
    outstanding: () => (stopped ? 0 : unsent + uncovered),
    done,
    stop: () => {
      stopped = true;
    },
  };
}
