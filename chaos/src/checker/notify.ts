/**
 * reauth-push: every re-auth episode produced exactly one push at the OneSignal simulator.
 * Evidence: the notifier's tables (migration 0015: `notification_episodes`, `notifications` with
 * kind `reauth` and the idempotency key it sends) and the simulator's record of every create it
 * answered with HTTP 200 (a replay of an idempotency key is counted on the original, not recorded
 * again).
 */
import type { Pool } from 'pg';
import { invariant } from './result';
import type { OneSignalRecord } from './sources';
import type { InvariantResult } from './types';
import type { DbWorld } from './world';

const short = (id: string) => id.slice(0, 8);

/** Statuses after which the first push must have reached OneSignal exactly once. */
const PUSHED = new Set(['delivered', 'scheduled']);
/** Statuses after which no push may exist. */
const NEVER_PUSHED = new Set(['suppressed']);
/** Statuses that are not an answer at quiescence (the push is still owed). */
const UNSETTLED = new Set(['pending', 'cancelling', 'failed']);

export async function checkReauthPushes(pool: Pool, world: DbWorld, records: readonly OneSignalRecord[]): Promise<InvariantResult> {
  const episodes = await pool.query<{ id: string; account_id: string; closed_at: Date | null }>(
    'SELECT id, account_id, closed_at FROM notification_episodes',
  );
  const notes = await pool.query<{ id: string; episode: string; kind: string; status: string; idempotency_key: string | null }>(
    'SELECT id, episode, kind, status, idempotency_key::text AS idempotency_key FROM notifications',
  );
  const byKey = new Map<string, OneSignalRecord[]>();
  for (const r of records) {
    if (!r.idempotencyKey) continue;
    const k = r.idempotencyKey.toLowerCase();
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  const bad: string[] = [];
  const ourKeys = new Set<string>();
  for (const n of notes.rows) if (n.idempotency_key) ourKeys.add(n.idempotency_key.toLowerCase());
  const firstPush = new Map<string, (typeof notes.rows)[number]>();
  for (const n of notes.rows) if (n.kind === 'reauth') firstPush.set(n.episode, n);

  let pushed = 0;
  for (const e of episodes.rows) {
    const n = firstPush.get(e.id);
    if (!n) {
      bad.push(`episode ${short(e.id)} (account ${short(e.account_id)}) has no reauth push row`);
      continue;
    }
    const sent = n.idempotency_key ? (byKey.get(n.idempotency_key.toLowerCase()) ?? []).length : 0;
    if (sent > 1) bad.push(`episode ${short(e.id)}: ${sent} pushes at OneSignal`);
    if (PUSHED.has(n.status) && sent === 0) bad.push(`episode ${short(e.id)}: ${n.status} but OneSignal never received it`);
    if (NEVER_PUSHED.has(n.status) && sent > 0) bad.push(`episode ${short(e.id)}: ${n.status} but OneSignal received it`);
    if (UNSETTLED.has(n.status)) bad.push(`episode ${short(e.id)}: push still ${n.status} at quiescence`);
    if (sent > 0) pushed++;
  }
  // Pushes nobody asked for: a key OneSignal saw that no notification row carries, or none at all.
  for (const r of records) {
    if (!r.idempotencyKey) bad.push(`OneSignal notification ${r.id || '(unreachable)'} without an idempotency key`);
    else if (!ourKeys.has(r.idempotencyKey.toLowerCase()))
      bad.push(`OneSignal notification ${r.id || '(unreachable)'} with a key no notification row has`);
  }
  // Every account that ended needing re-authorisation is in an open episode.
  const open = new Set(episodes.rows.filter((e) => e.closed_at === null).map((e) => e.account_id));
  for (const a of world.accounts)
    if (a.status === 'auth_required' && !open.has(a.id)) bad.push(`${a.provider} ${short(a.id)} auth_required without an open episode`);

  return invariant('reauth-push', `${episodes.rows.length} episodes, ${pushed} pushed, ${records.length} OneSignal records`, bad);
}
