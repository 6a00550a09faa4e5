/**
 * Mono real-time data jobs (`x-realtime: true`, providers.md §1.6): one session per account per
 * 5 minutes; `realtimeFinishedPercent` finish inside the request, the rest are enqueued (the data
 * routes answer `data: null`) and finish 35–180 s later (simulator time) with
 * `mono.accounts.jobs.update` + `mono.events.account_updated`. Re-auth-required or `UNAVAILABLE`
 * accounts fail the job. Durations are seeded per (account, job number).
 */
import { hex, intIn, unit } from '../shared/prng';
import { REALTIME_WINDOW_MS } from './settings';
import type { MonoState } from './state';
import * as wh from './webhooks';
import type { SyncStatus } from './webhooks';

export interface Job {
  id: string;
  name: 'jobs.accounts.sync_balance' | 'jobs.accounts.sync_statement';
  account: string;
  status: 'processing' | 'finished' | 'failed';
  /** Why a failed job failed: the account needs re-authorisation, or the bank is unavailable. */
  failure?: 'reauth' | 'unavailable';
  hasNewData: boolean;
  startedAt: number;
  finishAt: number;
}

/** Start (or reuse, inside the 5-minute window) a real-time job for account k. */
export function startRealtime(state: MonoState, k: number, name: Job['name']): { job: Job; reused: boolean } {
  const r = state.rt(k);
  const clock = state.clockRef;
  const now = clock.now();
  const last = r.lastRealtime;
  if (last && now - last.startedAt < REALTIME_WINDOW_MS) return { job: last, reused: true };
  const seed = state.seedValue;
  const n = state.nextSeq();
  const job: Job = {
    id: hex(24, seed, 'job', k, n),
    name,
    account: state.profile(k).id,
    status: 'processing',
    hasNewData: false,
    startedAt: now,
    finishAt: now,
  };
  r.jobs.set(job.id, job);
  r.lastRealtime = job;
  if (r.consent === 'reauth_required' || r.dataStatus === 'UNAVAILABLE') {
    failJob(state, k, job);
    return { job, reused: false };
  }
  const quick = unit(seed, 'rt-quick', k, n) * 100 < state.settings.realtimeFinishedPercent;
  const duration = quick ? intIn(2, 25, seed, 'rt-dur', k, n) * 1000 : intIn(35, 180, seed, 'rt-dur', k, n) * 1000;
  job.finishAt = now + duration;
  if (quick) finishJob(state, k, job, now);
  else clock.schedule(job.finishAt, () => finishJob(state, k, job, job.finishAt));
  return { job, reused: false };
}

function failJob(state: MonoState, k: number, job: Job): void {
  const r = state.rt(k);
  job.status = 'failed';
  job.failure = r.consent === 'reauth_required' ? 'reauth' : 'unavailable';
  job.finishAt = state.clockRef.now();
  state.emit(wh.jobUpdate(job, state.business, state.app, state.settings.jobWebhookStatus), job.account);
  const sync: SyncStatus = job.failure === 'reauth' ? 'REAUTHORISATION_REQUIRED' : 'FAILED';
  state.notifyUpdated(k, sync, false, { jobId: job.id, retrieved: [] });
}

function finishJob(state: MonoState, k: number, job: Job, at: number): void {
  const r = state.rt(k);
  if (r.consent !== 'active' || r.dataStatus === 'UNAVAILABLE') {
    if (r.consent !== 'unlinked') failJob(state, k, job);
    else job.status = 'failed';
    return;
  }
  const before = state.snapshotAt(k);
  r.lastSyncAt = Math.max(at, r.lastSyncAt ?? -Infinity);
  if (r.dataStatus === 'PROCESSING' || r.dataStatus === 'PARTIAL' || r.dataStatus === 'FAILED') r.dataStatus = 'AVAILABLE';
  job.hasNewData = state.newRowsBetween(k, before, r.lastSyncAt);
  job.status = 'finished';
  state.emit(wh.jobUpdate(job, state.business, state.app, state.settings.jobWebhookStatus), job.account);
  state.notifyUpdated(k, 'SUCCESSFUL', job.hasNewData, {
    jobId: job.id,
    retrieved: job.name === 'jobs.accounts.sync_balance' ? ['balance'] : ['balance', 'transactions'],
  });
}
