import {
  AccountSyncStatus,
  CancelSyncResponse,
  ConnectionHealth,
  DataCompleteness,
  LaneQueueStats,
  QueuedSyncCommand,
  RunStatus,
  SyncRun,
  SyncStatusChange,
  SyncStatusChangeKind,
  accountStatusToProto,
  accountTypeToProto,
  errorKindToProto,
  providerToProto,
  runOutcomeToProto,
  syncModeToProto,
  syncTriggerToProto,
  type AccountStatusName,
  type ErrorKindName,
  type RunOutcomeName,
  type SyncModeName,
  type SyncTriggerName,
} from '@intellifin/proto';
import type {
  AccountStatusView,
  ConnectionHealth as Health,
  DataCompleteness as Completeness,
  RunStatus as RunState,
} from '../app/account-status';
import type { LaneQueueStats as LaneStats } from '@intellifin/messaging';
import type { StatusEvent, StatusEventKind } from '../app/status-feed';
import type { CancelResult, RunDetailView, RunView } from '../app/sync-api';
import type { QueuedCommand } from '../app/sync-commands';

/**
 * Application-layer views → generated proto messages (built with `fromPartial`, so every message
 * is complete). Only translation: no decisions are made here.
 */
const date = (iso: string | null | undefined): Date | undefined => (iso ? new Date(iso) : undefined);

const HEALTH: Record<Health, ConnectionHealth> = {
  ok: ConnectionHealth.CONNECTION_HEALTH_OK,
  reauth_required: ConnectionHealth.CONNECTION_HEALTH_REAUTH_REQUIRED,
  expiring: ConnectionHealth.CONNECTION_HEALTH_EXPIRING,
  unlinked: ConnectionHealth.CONNECTION_HEALTH_UNLINKED,
  provider_down: ConnectionHealth.CONNECTION_HEALTH_PROVIDER_DOWN,
};
const RUN_STATUS: Record<RunState, RunStatus> = {
  idle: RunStatus.RUN_STATUS_IDLE,
  queued: RunStatus.RUN_STATUS_QUEUED,
  running: RunStatus.RUN_STATUS_RUNNING,
  failed: RunStatus.RUN_STATUS_FAILED,
};
const COMPLETENESS: Record<Completeness, DataCompleteness> = {
  not_ready: DataCompleteness.DATA_COMPLETENESS_NOT_READY,
  initial: DataCompleteness.DATA_COMPLETENESS_INITIAL,
  history_complete: DataCompleteness.DATA_COMPLETENESS_HISTORY_COMPLETE,
};
const CHANGE_KIND: Record<StatusEventKind, SyncStatusChangeKind> = {
  queued: SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_QUEUED,
  run_started: SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_RUN_STARTED,
  run_finished: SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_RUN_FINISHED,
  reauth_required: SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_REAUTH_REQUIRED,
  repaired: SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_REPAIRED,
};

export function accountMessage(v: AccountStatusView, orgId: string): AccountSyncStatus {
  return AccountSyncStatus.fromPartial({
    accountId: v.id,
    orgId,
    provider: providerToProto(v.provider),
    providerLabel: v.providerLabel,
    accountType: accountTypeToProto(v.type),
    displayName: v.displayName ?? '',
    currency: v.balance?.currency ?? '',
    status: accountStatusToProto(v.status),
    balance: v.balance ? { minor: v.balance.minor, currency: v.balance.currency } : undefined,
    balanceAsOf: date(v.balance?.asOf),
    lastSuccessAt: date(v.lastSuccessAt),
    lastAttemptAt: date(v.lastAttemptAt),
    lastErrorCode: v.lastError?.code ?? '',
    lastErrorHint: v.lastError?.hint ?? '',
    nextSyncAt: date(v.nextSyncAt),
    nextManualSyncAllowedAt: date(v.nextManualSyncAllowedAt),
    syncInProgress: v.run.status === 'running',
    consentExpiresAt: date(v.connection.expiresAt),
    connectionHealth: HEALTH[v.connection.health],
    runStatus: RUN_STATUS[v.run.status],
    runStatusCode: v.run.code ?? '',
    runStatusSince: date(v.run.since),
    queuedCommandId: v.run.commandId ?? '',
    dataCompleteness: COMPLETENESS[v.data.completeness],
  });
}

export function runMessage(r: RunView | RunDetailView, orgId: string): SyncRun {
  const finished = r.outcome !== 'running';
  return SyncRun.fromPartial({
    runId: r.id,
    accountId: r.accountId,
    orgId,
    provider: providerToProto(r.provider as 'mono'),
    trigger: syncTriggerToProto(r.trigger as SyncTriggerName),
    mode: syncModeToProto(r.mode as SyncModeName),
    realtime: r.realtime,
    outcome: finished ? runOutcomeToProto(r.outcome as RunOutcomeName) : undefined,
    inProgress: !finished,
    counts: r.counts,
    pages: r.pages,
    errorKind: r.error?.kind ? errorKindToProto(r.error.kind as ErrorKindName) : undefined,
    errorCode: r.error?.code ?? '',
    errorHint: r.error?.hint ?? '',
    window: r.window ? { startDate: r.window.from.slice(0, 10), endDate: r.window.to.slice(0, 10) } : undefined,
    startedAt: date(r.startedAt),
    finishedAt: date(r.finishedAt),
    durationMs: r.durationMs ?? 0,
    traceId: r.traceId ?? '',
    commandId: r.commandId ?? '',
    worker: 'worker' in r ? (r.worker ?? '') : '',
  });
}

export function queuedMessage(c: QueuedCommand): QueuedSyncCommand {
  return QueuedSyncCommand.fromPartial({
    commandId: c.commandId,
    accountId: c.accountId,
    provider: providerToProto(c.provider),
    trigger: syncTriggerToProto(c.trigger),
    mode: syncModeToProto(c.mode),
    realtime: c.realtime,
    lane: c.lane,
    issuedAt: new Date(c.issuedAt),
    coalesced: c.coalesced,
  });
}

export function cancelMessage(c: CancelResult): CancelSyncResponse {
  return CancelSyncResponse.fromPartial({
    accountId: c.accountId,
    cancelledQueued: c.cancelledQueued,
    dequeued: c.dequeued,
    runningCancelRequested: c.runningCancelRequested,
  });
}

export function laneStatsMessage(l: LaneStats): LaneQueueStats {
  return LaneQueueStats.fromPartial({
    provider: providerToProto(l.provider),
    lane: l.lane,
    consumer: l.consumer,
    exists: l.exists,
    pending: l.pending,
    inFlight: l.inFlight,
    redelivered: l.redelivered,
    waiting: l.waiting,
    deadLetters: l.deadLetters,
  });
}

export function changeMessage(e: StatusEvent): SyncStatusChange {
  return SyncStatusChange.fromPartial({
    eventId: String(e.seq),
    kind: CHANGE_KIND[e.kind],
    accountId: e.accountId,
    provider: providerToProto(e.provider),
    runId: e.runId ?? '',
    commandId: e.commandId ?? '',
    outcome: e.outcome ? runOutcomeToProto(e.outcome as RunOutcomeName) : undefined,
    counts: e.counts ?? undefined,
    errorCode: e.errorCode ?? '',
    statusAfter: e.statusAfter ? accountStatusToProto(e.statusAfter as AccountStatusName) : undefined,
    occurredAt: date(e.occurredAt),
  });
}
