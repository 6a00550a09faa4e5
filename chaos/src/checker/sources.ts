/**
 * What the checker reads from the simulators' control APIs (`/__sandbox/*`, never faulted, never
 * logged): the ground truth, the request logs and the simulator clocks. Direct URLs only: the
 * checker must see the simulators as they are, not through a fault proxy.
 */

/** One request as a simulator logged it (sandbox/src/shared/request-log.ts). */
export interface LoggedRequest {
  seq: number;
  time: string;
  end: string | null;
  method: string;
  route: string;
  path: string;
  account: string | null;
  status: number;
  fence: string | null;
  retryAfterMs: number | null;
  faults: string[];
}

export interface RequestLogDump {
  entries: LoggedRequest[];
  /** Entries the simulator evicted (log overflow): the checks that need every entry say so. */
  dropped: number;
}

export interface MonoTruthTxn {
  id: string;
  date: string;
  amount: number;
  currency: string;
  type: 'debit' | 'credit';
  status: 'pending' | 'posted';
  postedAt: string;
  visibleAt: string;
  removed: boolean;
  released: boolean;
  finalStatus: 'pending' | 'posted' | 'removed';
  releasedAt: string | null;
  servedNow: boolean;
}

export interface MonoTruthAccount {
  id: string;
  currency: string;
  consent: 'active' | 'reauth_required' | 'unlinked';
  data_status: string;
  snapshotAt: string;
  transactions: MonoTruthTxn[];
}

/** A MoMo reference or an Airtel transaction, reduced to what the checker compares. */
export interface WalletTruthRef {
  id: string;
  kind: string;
  amount: number;
  currency: string;
  /** The provider's status word now (MoMo SUCCESSFUL/FAILED/PENDING/CREATED/REJECTED_AFTER_ACCEPT; Airtel TS/TF/TE/TIP/TA). */
  status: string;
  /** When the final status is (or will be) reached, ISO; null when it never is. */
  finalAt: string | null;
}

export interface WalletTruthAccount {
  id: string;
  currency: string;
  revoked: boolean;
  refs: WalletTruthRef[];
}

export interface OneSignalRecord {
  id: string;
  idempotencyKey: string | null;
  externalIds: string[];
  delivery: string;
  replays: number;
  canceled: boolean;
  receivedAt: string;
}

const PAGE = 500;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`${url.replace(/\?.*$/, '')} answered ${res.status}`);
  return (await res.json()) as T;
}

/** Every page of `GET /__sandbox/truth`, concatenated (`key` = accounts or notifications). */
async function truthPages<T>(baseUrl: string, key: 'accounts' | 'notifications'): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await getJson<Record<string, unknown>>(`${baseUrl}/__sandbox/truth?offset=${offset}&limit=${PAGE}`);
    const items = (page[key] ?? []) as T[];
    out.push(...items);
    if (items.length < PAGE) return out;
  }
}

export function fetchMonoTruth(baseUrl: string): Promise<MonoTruthAccount[]> {
  return truthPages<MonoTruthAccount>(baseUrl, 'accounts');
}

interface RawWalletAccount {
  id: string;
  currency: string;
  revoked: boolean;
  references?: Array<{ id: string; kind: string; amount: number; currency: string; status: string; finalAt: string | null }>;
  transactions?: Array<{ id: string; kind: string; amount: number; currency: string; status: string; finalAt: string | null }>;
}

/** MoMo lists `references`, Airtel `transactions`: one shape for both. */
export async function fetchWalletTruth(baseUrl: string): Promise<WalletTruthAccount[]> {
  const raw = await truthPages<RawWalletAccount>(baseUrl, 'accounts');
  return raw.map((a) => ({
    id: a.id,
    currency: a.currency,
    revoked: a.revoked,
    refs: (a.references ?? a.transactions ?? []).map((r) => ({
      id: r.id,
      kind: r.kind,
      amount: r.amount,
      currency: r.currency,
      status: r.status,
      finalAt: r.finalAt,
    })),
  }));
}

export function fetchOneSignalRecords(baseUrl: string): Promise<OneSignalRecord[]> {
  return truthPages<OneSignalRecord>(baseUrl, 'notifications');
}

/** The whole request log, paged by sequence number. */
export async function fetchRequestLog(baseUrl: string): Promise<RequestLogDump> {
  const entries: LoggedRequest[] = [];
  let since = 0;
  for (;;) {
    const page = await getJson<{ requests: LoggedRequest[]; dropped?: number }>(
      `${baseUrl}/__sandbox/requests?since=${since}&limit=${PAGE * 10}`,
    );
    entries.push(...page.requests);
    if (page.requests.length < PAGE * 10) return { entries, dropped: page.dropped ?? 0 };
    since = page.requests[page.requests.length - 1]!.seq;
  }
}

/**
 * Simulator time minus wall time, in ms. A simulator on the real clock ticks with wall time from
 * its epoch, so its timestamps are wall time shifted by this constant; the checker converts
 * database instants (wall clock) into simulator time with it.
 */
export async function simulatorOffsetMs(baseUrl: string): Promise<number> {
  const before = Date.now();
  const c = await getJson<{ now: string }>(`${baseUrl}/__sandbox/clock`);
  const after = Date.now();
  return Date.parse(c.now) - (before + after) / 2;
}
