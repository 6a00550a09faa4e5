/**
 * Refreshes of Mono's copy of a statement (providers.md §1.5): the automatic one every
 * `autoRefreshHours` (a failed one sends `mono.events.sync_failed`), the legacy manual sync
 * (`POST /accounts/:id/sync`, one per account per 2 minutes) and the control API's on-demand refresh.
 */
import { MANUAL_SYNC_WINDOW_MS } from './settings';
import type { MonoState } from './state';
import * as wh from './webhooks';

/** The scheduled refresh at `at`: accounts that needed re-authorisation before it fail, in account order. */
export function scheduledRefresh(s: MonoState, at: number): void {
  const failing: number[] = [];
  for (const [k, r] of s.runtimes()) if (r.consent === 'reauth_required' && (r.reauthSince ?? -Infinity) < at) failing.push(k);
  failing.sort((a, b) => a - b);
  for (const k of failing) {
    const id = s.profile(k).id;
    s.emit(wh.syncFailed(id), id);
  }
}

/** Simulate Mono's automatic refresh of account k now (as if the scheduled sync just ran). */
export function autoRefresh(s: MonoState, k: number): void {
  const r = s.rt(k);
  if (r.consent === 'reauth_required') {
    const id = s.profile(k).id;
    s.emit(wh.syncFailed(id), id);
    return;
  }
  const before = s.snapshotAt(k);
  r.lastSyncAt = s.clockRef.now();
  if (r.dataStatus === 'PROCESSING' || r.dataStatus === 'PARTIAL') r.dataStatus = 'AVAILABLE';
  s.notifyUpdated(k, 'SUCCESSFUL', s.newRowsBetween(k, before, r.lastSyncAt));
}

/** The legacy `POST /accounts/:id/sync`: every answer is HTTP 200 except its own 2-minute limit (429). */
export function manualSync(s: MonoState, k: number, allowIncomplete: boolean): { status: number; body: Record<string, unknown> } {
  const r = s.rt(k);
  const now = s.clockRef.now();
  if (r.lastManualSyncAt !== undefined && now - r.lastManualSyncAt < MANUAL_SYNC_WINDOW_MS) {
    return {
      status: 429,
      body: {
        status: 'failed',
        message: 'Too many requests: one manual sync per account every 2 minutes',
        timestamp: s.clockRef.iso(),
        data: null,
      },
    };
  }
  r.lastManualSyncAt = now;
  const id = s.profile(k).id;
  const failed = (code: string, message: string) => ({ status: 200, body: { status: 'failed', code, message } });
  if (r.consent === 'reauth_required') {
    s.emit(wh.reauthorisationRequired(id), id);
    return {
      status: 200,
      body: {
        status: 'failed',
        hasNewData: false,
        code: 'REAUTHORISATION_REQUIRED',
        message: 'Account requires re-authorisation before data can be synced',
      },
    };
  }
  if (r.dataStatus === 'UNAVAILABLE')
    return failed('SYNC_ERROR', 'Unable to sync account at the moment, the institution is unavailable. Please retry later');
  if (r.incompleteStatement && !allowIncomplete) {
    return failed(
      'INCOMPLETE_STATEMENT_ERROR',
      'The institution returned fewer transactions than previously recorded. Retry later or pass allow_incomplete_statement=true',
    );
  }
  const before = s.snapshotAt(k);
  r.lastSyncAt = now;
  if (r.dataStatus !== 'AVAILABLE') r.dataStatus = 'AVAILABLE';
  const hasNewData = s.newRowsBetween(k, before, now);
  s.notifyUpdated(k, 'SUCCESSFUL', hasNewData);
  return { status: 200, body: { status: 'successful', hasNewData, code: s.settings.syncSuccessCode, message: null } };
}
