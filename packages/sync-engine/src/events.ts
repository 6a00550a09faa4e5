import type { ErrorKind } from '@intellifin/core';
import type { AccountStatus, ProviderId, RunOutcome, SyncMode, SyncTrigger } from '@intellifin/domain';

/**
 * Events the engine publishes on SYNC_EVENTS (JSON; field names follow
 * `intellifin.sync.v1` in lowerCamelCase). Published after the Postgres commit they describe,
 * with `Nats-Msg-Id` = `run:<runId>` / `auth:<runId>` so a re-publish is dropped as a duplicate.
 */
export interface RunEvent {
  runId: string;
  commandId: string;
  accountId: string;
  orgId: string;
  provider: ProviderId;
  trigger: SyncTrigger;
  mode: SyncMode;
  outcome: RunOutcome;
  accountStatus: AccountStatus;
  pages: number;
  added: number;
  modified: number;
  unchanged: number;
  errorKind?: ErrorKind;
  errorCode?: string;
  finishedAt: string;
  durationMs: number;
  traceId?: string;
}

/** `reauth_required`: the provider rejected consent; `repaired`: a run succeeded for an account that needed re-linking. */
export type AuthEventKind = 'reauth_required' | 'repaired';

export interface AuthEvent {
  kind: AuthEventKind;
  runId: string;
  accountId: string;
  orgId: string;
  provider: ProviderId;
  /** The deep link that re-links the account (Mono `mono_url`), when the provider gives one. */
  reauthUrl?: string;
  reason?: string;
  at: string;
}

/** The event ids (`Nats-Msg-Id`) of a run's events: one run event and at most one auth event per run. */
export const runEventId = (runId: string): string => `run:${runId}`;
export const authEventId = (runId: string): string => `auth:${runId}`;
