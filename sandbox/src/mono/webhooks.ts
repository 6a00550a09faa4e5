/**
 * Mono webhook payloads (providers.md §1.6-§1.8). Webhook bodies keep Mono's camelCase / `_id`
 * naming, unlike the snake_case v2 REST bodies: a faithful simulator keeps the inconsistency.
 */
import type { MonoAccountProfile } from './data';

export type DataStatus = 'AVAILABLE' | 'PROCESSING' | 'PARTIAL' | 'UNAVAILABLE' | 'FAILED';
export type SyncStatus = 'SUCCESSFUL' | 'FAILED' | 'REAUTHORISATION_REQUIRED';

export interface WebhookEvent {
  event: string;
  data: Record<string, unknown>;
}

export function accountUpdated(
  p: MonoAccountProfile,
  balance: number,
  updatedAt: string,
  meta: { dataStatus: DataStatus; syncStatus: SyncStatus; jobId?: string; hasNewData: boolean; retrieved: string[]; ref?: string },
): WebhookEvent {
  const m: Record<string, unknown> = {
    data_status: meta.dataStatus,
    auth_method: p.authMethod,
    sync_status: meta.syncStatus,
    retrieved_data: meta.retrieved,
  };
  if (meta.ref !== undefined) m.ref = meta.ref;
  if (meta.jobId !== undefined) m.job_id = meta.jobId;
  if (meta.hasNewData) m.has_new_data = true;
  return {
    event: 'mono.events.account_updated',
    data: {
      account: {
        _id: p.id,
        name: p.name,
        accountNumber: p.accountNumber,
        currency: p.currency,
        balance,
        type: p.type,
        bvn: p.bvn,
        authMethod: p.authMethod,
        institution: { name: p.institution.name, bankCode: p.institution.bank_code, type: p.institution.type },
        created_at: new Date(p.createdAt).toISOString(),
        updated_at: updatedAt,
      },
      meta: m,
    },
  };
}

export const reauthorisationRequired = (id: string): WebhookEvent => ({
  event: 'mono.events.reauthorisation_required',
  data: { account: { _id: id } },
});

export const accountReauthorized = (id: string, app: string, business: string, eventId: string, timestamp: string): WebhookEvent => ({
  event: 'mono.events.account_reauthorized',
  data: { account: { _id: id }, app, business, event_id: eventId, timestamp },
});

export const syncFailed = (id: string): WebhookEvent => ({ event: 'mono.events.sync_failed', data: { account: { _id: id } } });

export const accountUnlinked = (id: string): WebhookEvent => ({ event: 'mono.events.account_unlinked', data: { account: { id } } });

export const accountConnected = (id: string, customer: string, ref: string | undefined): WebhookEvent => ({
  event: 'mono.events.account_connected',
  data: { id, customer, meta: ref !== undefined ? { ref } : {} },
});

/**
 * The jobs webhook's `status` (providers.md §1.6: the real-time page says `finished|processing|failed`,
 * the changelog `SUCCESSFUL|FAILED|REAUTHORISATION_REQUIRED`). In the changelog vocabulary a job
 * that failed because the account needs re-authorisation says REAUTHORISATION_REQUIRED.
 */
export function jobWebhookStatus(job: { status: string; failure?: 'reauth' | 'unavailable' }, words: 'realtime-doc' | 'changelog'): string {
  if (words === 'realtime-doc') return job.status;
  if (job.status === 'finished') return 'SUCCESSFUL';
  if (job.status === 'failed') return job.failure === 'reauth' ? 'REAUTHORISATION_REQUIRED' : 'FAILED';
  return job.status.toUpperCase();
}

export const jobUpdate = (
  job: { account: string; id: string; name: string; status: string; failure?: 'reauth' | 'unavailable' },
  business: string,
  app: string,
  words: 'realtime-doc' | 'changelog' = 'realtime-doc',
): WebhookEvent => ({
  event: 'mono.accounts.jobs.update',
  data: { account: job.account, business, app, id: job.id, name: job.name, status: jobWebhookStatus(job, words) },
});
