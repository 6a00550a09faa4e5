import type { Env, TruthRow } from './helpers';
import { stored } from './helpers';

interface TruthTxn {
  id: string;
  amount: number;
  type: 'debit' | 'credit';
  narration: string;
  pendingNarration: string | null;
  date: string;
  postedAt: string;
  finalStatus: 'pending' | 'posted' | 'removed';
  servedNow: boolean;
}

/**
 * What every account should hold in the end, from the simulator's truth: each row Mono serves now
 * (pending as of its snapshot, with the authorisation narration), and each released hold either
 * `removed` or absent (absent when it was released before any sync read it). Returns the
 * differences, per account, for the accounts in `only` (all when omitted).
 */
export async function finalDifferences(env: Env, only?: Set<string>): Promise<string[]> {
  const mine = await stored(env);
  const diffs: string[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await env.control<{ total: number; accounts: { id: string; snapshotAt: string; transactions: TruthTxn[] }[] }>(
      'GET',
      `/truth?offset=${offset}&limit=100`,
    );
    for (const a of page.accounts) {
      if (only && !only.has(a.id)) continue;
      const snap = Date.parse(a.snapshotAt);
      const rows = mine.get(a.id) ?? new Map<string, TruthRow>();
      const expected = new Set<string>();
      for (const t of a.transactions) {
        const m = rows.get(t.id);
        if (t.finalStatus === 'removed' && !t.servedNow) {
          expected.add(t.id);
          if (m && m.status !== ('removed' as string)) diffs.push(`${a.id}: released hold ${t.id} is ${m.status}, expected removed`);
          continue;
        }
        if (!t.servedNow) continue;
        expected.add(t.id);
        const pending = Date.parse(t.postedAt) > snap;
        const want: TruthRow = {
          id: t.id,
          amount: t.amount,
          type: t.type,
          status: pending ? 'pending' : 'posted',
          narration: pending && t.pendingNarration ? t.pendingNarration : t.narration,
          date: t.date,
        };
        if (!m) diffs.push(`${a.id}: missing ${t.id}`);
        else if (JSON.stringify(m) !== JSON.stringify(want))
          diffs.push(`${a.id}: ${t.id} differs: ${JSON.stringify(m)} vs ${JSON.stringify(want)}`);
      }
      for (const id of rows.keys()) if (!expected.has(id)) diffs.push(`${a.id}: extra ${id}`);
    }
    if (offset + 100 >= page.total) break;
  }
  return diffs;
}
