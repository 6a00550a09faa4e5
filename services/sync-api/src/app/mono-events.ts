import { createHash } from 'node:crypto';

/**
 * Mono webhook bodies (`{ event, data }`, providers.md §1.8) read defensively: the envelope is all
 * we require; the account id sits in `data.account._id`, `data.account.id` (account_unlinked),
 * `data.account` (jobs.update) or `data.id` (account_connected). Event names are kept as sent
 * (`mono.events.account_updated`); `shortType` drops the prefix for metric labels and decisions.
 */
export interface MonoEvent {
  /** As sent, e.g. `mono.events.account_updated`. */
  type: string;
  /** Mono's account id, when the event names one. */
  accountRef: string | null;
  /** Mono's `event_id` when given (2026 payloads of account_reauthorized), else derived from the content. */
  eventId: string;
  /** True when `eventId` was derived from the body (no id from Mono). */
  derivedId: boolean;
}

const KNOWN = new Set([
  'account_connected',
  'account_updated',
  'reauthorisation_required',
  'account_reauthorized',
  'sync_failed',
  'account_unlinked',
  'jobs.update',
]);

/** `mono.events.account_updated` → `account_updated`; unknown names → `other` (bounded metric labels). */
export function shortType(type: string): string {
  const t = type.replace(/^mono\.(events|accounts)\./, '');
  return KNOWN.has(t) ? t : 'other';
}

/** Mono's data_status values (providers.md §1.2); anything else is `other` (bounded outcome labels). */
const DATA_STATUSES = new Set(['PROCESSING', 'PARTIAL', 'UNAVAILABLE', 'FAILED']);

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : null);

export function accountRefOf(data: Record<string, unknown>): string | null {
  const account = data.account;
  if (typeof account === 'string') return str(account);
  if (account && typeof account === 'object') {
    const a = account as Record<string, unknown>;
    return str(a._id) ?? str(a.id);
  }
  return str(data.id);
}

/** JSON with object keys sorted at every level: the same content always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function readMonoEvent(body: { event: string; data: Record<string, unknown> }): MonoEvent {
  const given = str(body.data.event_id);
  return {
    type: body.event,
    accountRef: accountRefOf(body.data),
    eventId: given ?? `sha256:${createHash('sha256').update(canonicalJson(body)).digest('hex')}`,
    derivedId: given === null,
  };
}

export type MonoAction =
  { kind: 'sync' } | { kind: 'reauth'; reason: string } | { kind: 'unlink' } | { kind: 'repair' } | { kind: 'ignore'; why: string };

/**
 * What an event asks of us:
 * - `account_updated` with `meta.data_status` AVAILABLE: a sync (trigger webhook); with
 *   `meta.sync_status` REAUTHORISATION_REQUIRED: re-authorisation is needed;
 * - `reauthorisation_required`: the account needs re-authorisation;
 * - `account_unlinked`: the user revoked consent, the account is disabled;
 * - `account_reauthorized`: the account is repaired and synced (trigger repair);
 * - anything else (connected, sync_failed, jobs.update, PROCESSING/PARTIAL updates) is kept, not acted on.
 */
export function monoActionOf(type: string, payload: unknown): MonoAction {
  const data = ((payload as { data?: unknown } | null)?.data ?? {}) as Record<string, unknown>;
  const meta = (data.meta && typeof data.meta === 'object' ? data.meta : {}) as Record<string, unknown>;
  switch (shortType(type)) {
    case 'account_updated':
      if (meta.sync_status === 'REAUTHORISATION_REQUIRED') return { kind: 'reauth', reason: 'mono_reauthorisation_required' };
      if (meta.data_status === 'AVAILABLE') return { kind: 'sync' };
      return {
        kind: 'ignore',
        why: `data_status_${DATA_STATUSES.has(meta.data_status as string) ? String(meta.data_status).toLowerCase() : 'other'}`,
      };
    case 'reauthorisation_required':
      return { kind: 'reauth', reason: 'mono_reauthorisation_required' };
    case 'account_unlinked':
      return { kind: 'unlink' };
    case 'account_reauthorized':
      return { kind: 'repair' };
    default:
      return { kind: 'ignore', why: 'not_acted_on' };
  }
}
