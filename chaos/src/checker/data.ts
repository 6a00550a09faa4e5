/**
 * Data invariants: the rows, the account states and the cursors, against the simulators' truth.
 */
import { invariant } from './result';
import type { MonoTruthTxn } from './sources';
import { monoExpectation, walletStatus, walletTruthFor, type Truth } from './truth';
import type { InvariantResult, PoisonAccount } from './types';
import { lastTransactionsSuccess, type DbAccount, type DbTxn, type DbWorld } from './world';
import { utcDay } from './result';

const short = (id: string) => id.slice(0, 8);

/**
 * lost / unexpected / row-values.
 * - Mono: lost = a row the newest successful run had to store (see `monoExpectation`) that is
 *   missing; unexpected = a stored row the truth never had; row-values = amount, currency and
 *   direction differ, or the status contradicts the truth (posted while the truth is pending,
 *   removed while it is not, pending although it posted before that run read it).
 * - MoMo/Airtel references (only when reference intake was exercised, i.e. the registry is not
 *   empty for that provider): lost = a reference of an account with registered references that
 *   has no row; unexpected = a row whose reference the simulator never had; row-values = amount or
 *   direction differ, or the status contradicts the truth (terminal before the last successful run
 *   started, that run started after the registration, but stored otherwise; or stored terminal
 *   differently). The lines say how many references of how many accounts were compared.
 */
export function checkRows(world: DbWorld, truth: Truth): InvariantResult[] {
  const lost: string[] = [];
  const unexpected: string[] = [];
  const values: string[] = [];
  let expectedRows = 0;
  let storedRows = 0;
  const walletNotes: string[] = [];
  for (const p of ['momo', 'airtel'] as const) {
    const n = world.registeredRefs[p];
    const accounts = world.accounts.filter((a) => a.provider === p && (world.registry.get(a.id)?.size ?? 0) > 0);
    const pending = accounts.reduce(
      (sum, a) =>
        sum +
        (world.txnsByAccount.get(a.id) ?? []).filter((r) => r.status === 'pending' && world.registry.get(a.id)!.has(r.providerTxnId))
          .length,
      0,
    );
    walletNotes.push(
      n === 0
        ? `${p} references not exercised (none registered)`
        : `${p} ${n} references of ${accounts.length} accounts compared (${pending} stored pending)`,
    );
  }

  for (const a of world.accounts) {
    const rows = world.txnsByAccount.get(a.id) ?? [];
    storedRows += rows.length;
    const byId = new Map(rows.map((r) => [r.providerTxnId, r]));
    if (a.provider === 'mono') {
      const t = truth.mono.get(a.providerAccountId);
      if (!t) {
        for (const r of rows) unexpected.push(`mono ${short(a.id)} row ${r.providerTxnId} (account unknown to the simulator)`);
        continue;
      }
      const all = new Map(t.transactions.map((x) => [x.id, x]));
      for (const r of rows) if (!all.has(r.providerTxnId)) unexpected.push(`mono ${short(a.id)} row ${r.providerTxnId}`);
      const exp = monoExpectation(t, world.runsByAccount.get(a.id), truth.offsetMs.mono, truth.monoHistoryDays);
      if (exp) {
        expectedRows += exp.expected.length;
        for (const x of exp.expected) if (!byId.has(x.id)) lost.push(`mono ${short(a.id)} txn ${x.id} dated ${x.date}`);
      }
      for (const r of rows) {
        const x = all.get(r.providerTxnId);
        if (x) {
          const why = monoValueMismatch(r, x, t.currency, exp?.runStartSim ?? null, Date.parse(t.snapshotAt));
          if (why) values.push(`mono ${short(a.id)} txn ${x.id}: ${why}`);
        }
      }
      continue;
    }
    if (world.registeredRefs[a.provider] === 0) continue;
    const t = walletTruthFor(truth, a);
    if (!t) {
      for (const r of rows) unexpected.push(`${a.provider} ${short(a.id)} ref ${r.providerTxnId} (account unknown to the simulator)`);
      continue;
    }
    const refs = new Map(t.refs.map((x) => [x.id, x]));
    for (const r of rows) if (!refs.has(r.providerTxnId)) unexpected.push(`${a.provider} ${short(a.id)} ref ${r.providerTxnId}`);
    const registered = world.registry.get(a.id);
    if (registered && registered.size > 0) {
      expectedRows += t.refs.length;
      for (const x of t.refs) {
        if (!byId.has(x.id)) lost.push(`${a.provider} ${short(a.id)} ref ${x.id}${registered.has(x.id) ? '' : ' (never registered)'}`);
      }
    }
    const last = lastTransactionsSuccess(world.runsByAccount.get(a.id));
    const runStartSim = last ? last.startedAt.getTime() + truth.offsetMs[a.provider] : null;
    for (const r of rows) {
      const x = refs.get(r.providerTxnId);
      if (!x) continue;
      // Only a run that started after the registration polled the reference.
      const at = registered?.get(x.id);
      const polledSince = runStartSim !== null && at !== undefined && at <= last!.startedAt ? runStartSim : null;
      const why = walletValueMismatch(a.provider as 'momo' | 'airtel', r, x, polledSince);
      if (why) values.push(`${a.provider} ${short(a.id)} ref ${x.id}: ${why}`);
    }
  }
  const scope = `${expectedRows} rows expected, ${storedRows} stored`;
  const note = walletNotes.length ? walletNotes.join(', ') : undefined;
  return [
    invariant('lost', scope, lost, note),
    invariant('unexpected', scope, unexpected, note),
    invariant('row-values', `${storedRows} stored rows compared with the truth`, values, note),
  ];
}

function monoValueMismatch(
  r: DbTxn,
  x: MonoTruthTxn,
  currency: string,
  runStartSim: number | null,
  snapshotSim: number,
): string | undefined {
  if (r.amountMinor !== BigInt(Math.abs(x.amount))) return `amount ${r.amountMinor} ≠ truth ${Math.abs(x.amount)}`;
  if (r.direction !== x.type) return `direction ${r.direction} ≠ truth ${x.type}`;
  if (r.currency !== currency) return `currency ${r.currency} ≠ truth ${currency}`;
  if (r.status === 'posted' && x.finalStatus === 'pending') return 'posted, but the truth is still pending';
  if (r.status === 'removed' && x.finalStatus !== 'removed') return `removed, but the truth is ${x.finalStatus}`;
  const postedAt = Date.parse(x.postedAt);
  if (
    r.status === 'pending' &&
    x.finalStatus === 'posted' &&
    x.servedNow &&
    runStartSim !== null &&
    postedAt <= Math.min(runStartSim, snapshotSim)
  ) {
    return 'still pending although it posted before the last successful run read it';
  }
  return undefined;
}

function walletValueMismatch(
  provider: 'momo' | 'airtel',
  r: DbTxn,
  x: { amount: number; kind: string; status: string; finalAt: string | null },
  runStartSim: number | null,
): string | undefined {
  if (r.amountMinor !== BigInt(x.amount)) return `amount ${r.amountMinor} ≠ truth ${x.amount}`;
  // Money in: an Airtel collection, a MoMo request-to-pay; out: disbursements, transfers, deposits.
  const direction = x.kind === 'collection' || x.kind === 'requesttopay' ? 'credit' : 'debit';
  if (r.direction !== direction) return `direction ${r.direction} ≠ truth ${direction} (${x.kind})`;
  const want = walletStatus(provider, x.status);
  if (want === 'pending|failed') return r.status === 'pending' || r.status === 'failed' ? undefined : `${r.status}, truth ${x.status}`;
  if (want === 'pending') return r.status === 'pending' ? undefined : `${r.status}, but the truth is still ${x.status}`;
  if (r.status === want) return undefined;
  if (r.status !== 'pending') return `${r.status}, truth ${x.status}`;
  const settledBeforeRun = x.finalAt !== null && runStartSim !== null && Date.parse(x.finalAt) <= runStartSim;
  return settledBeforeRun ? `still pending although it became ${x.status} before the last successful run` : undefined;
}

/**
 * final-state: every account ends as the truth says. Poison → `error` (dead-lettered); Mono
 * consent revoked → `auth_required`, unlinked → `disabled`; MoMo/Airtel credentials revoked →
 * `auth_required`; every other account `active` with a successful sync. No run that started before
 * quiescence is left `running`.
 */
export function checkFinalState(world: DbWorld, truth: Truth, poison: readonly PoisonAccount[], quiescentAt: Date): InvariantResult {
  const poisoned = new Set(poison.map((p) => p.accountId));
  const bad: string[] = [];
  const tally: Record<string, number> = {};
  for (const a of world.accounts) {
    const want = expectedState(a, truth, poisoned);
    tally[want] = (tally[want] ?? 0) + 1;
    if (want === 'unknown') bad.push(`${a.provider} ${short(a.id)}: unknown to the simulator`);
    else if (want === 'synced') {
      if (a.status !== 'active' || a.lastSuccessAt === null)
        bad.push(`${a.provider} ${short(a.id)}: ${a.status}${a.lastErrorCode ? ` (${a.lastErrorCode})` : ''}, expected active and synced`);
    } else if (a.status !== want) bad.push(`${a.provider} ${short(a.id)}: ${a.status}, expected ${want}`);
    // A run that started after quiescence was declared (a scheduled run) is not left over.
    const running = (world.runsByAccount.get(a.id) ?? []).filter((r) => r.outcome === 'running' && r.startedAt < quiescentAt);
    if (running.length) bad.push(`${a.provider} ${short(a.id)}: ${running.length} run(s) left running`);
  }
  for (const p of poison) if (!world.byId.has(p.accountId)) bad.push(`poison account ${short(p.accountId)} not in the database`);
  const checked = `${world.accounts.length} accounts (${Object.entries(tally)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')})`;
  return invariant('final-state', checked, bad);
}

function expectedState(a: DbAccount, truth: Truth, poisoned: ReadonlySet<string>): string {
  if (poisoned.has(a.id)) return 'error';
  if (a.provider === 'mono') {
    const t = truth.mono.get(a.providerAccountId);
    if (!t) return 'unknown';
    if (t.consent === 'reauth_required') return 'auth_required';
    if (t.consent === 'unlinked') return 'disabled';
    return 'synced';
  }
  const t = walletTruthFor(truth, a);
  if (!t) return 'unknown';
  return t.revoked ? 'auth_required' : 'synced';
}

/**
 * cursor: no cursor claims more than the committed rows hold.
 * - Mono: `highWaterDate` H says every row booked on or before H was fetched; a row the last
 *   successful run had to store, dated on or before H, that is missing is a cursor ahead of the
 *   data (the next window starts at H − overlap, so it would never be fetched). A cursor with a
 *   high-water date but no successful transactions run is ahead too.
 * - MoMo/Airtel: the cursor lists the references still pending; a reference stored `pending` and
 *   registered before the last successful run started, but absent from the cursor, is one the
 *   cursor claims settled although the committed row is not.
 */
export function checkCursors(world: DbWorld, truth: Truth): InvariantResult {
  const bad: string[] = [];
  let judged = 0;
  for (const a of world.accounts) {
    const runs = world.runsByAccount.get(a.id);
    const c = a.cursor as { kind?: string; highWaterDate?: string | null; pendingRefs?: string[] };
    if (c.kind !== undefined && c.kind !== a.provider) {
      bad.push(`${a.provider} ${short(a.id)}: cursor of kind ${c.kind}`);
      continue;
    }
    if (a.provider === 'mono') {
      const hw = c.highWaterDate ?? null;
      if (hw === null) continue;
      judged++;
      const t = truth.mono.get(a.providerAccountId);
      const exp = t ? monoExpectation(t, runs, truth.offsetMs.mono, truth.monoHistoryDays) : undefined;
      if (!exp) {
        bad.push(`mono ${short(a.id)}: high-water ${hw} without a successful transactions run`);
        continue;
      }
      const stored = new Set((world.txnsByAccount.get(a.id) ?? []).map((r) => r.providerTxnId));
      const missing = exp.expected.filter((x) => utcDay(x.date) <= hw && !stored.has(x.id));
      if (missing.length)
        bad.push(`mono ${short(a.id)}: high-water ${hw} but ${missing.length} row(s) on or before it missing (e.g. ${missing[0]!.id})`);
      continue;
    }
    const last = lastTransactionsSuccess(runs);
    if (!last || !Array.isArray(c.pendingRefs)) continue;
    judged++;
    const inCursor = new Set(c.pendingRefs);
    const registered = world.registry.get(a.id);
    for (const r of world.txnsByAccount.get(a.id) ?? []) {
      if (r.status !== 'pending' || inCursor.has(r.providerTxnId)) continue;
      const at = registered?.get(r.providerTxnId);
      if (at && at < last.startedAt) bad.push(`${a.provider} ${short(a.id)}: ref ${r.providerTxnId} pending but absent from the cursor`);
    }
  }
  return invariant('cursor', `${judged} cursors judged`, bad);
}
