import type { Logger } from '@intellifin/core';
import type { AccountRef, AccountStatus, DateWindow, SyncCounts } from '@intellifin/domain';
import type { HandlerContext, SyncCommand } from '@intellifin/messaging';
import type { AccountRecord, RunStart } from '@intellifin/persistence';
import type { RunRequestLog } from './request-log';

/** Everything one run carries from its start to its recorded outcome (instead of long parameter lists). */
export interface RunState {
  readonly account: AccountRecord;
  readonly cmd: SyncCommand;
  readonly ctx: HandlerContext<SyncCommand>;
  readonly start: RunStart;
  readonly ref: AccountRef;
  readonly log: Logger;
  /** Aborted on shutdown, lease loss or the maximum run duration (its reason says which). */
  readonly signal: AbortSignal;
  /** performance.now() at the run's start. */
  readonly startedMs: number;
  pages: number;
  counts: SyncCounts;
  window: DateWindow | undefined;
  /** What the run's account status was when it started. */
  readonly initialStatus: AccountStatus;
  /** The provider requests the run made (stored, summarised, with its outcome). */
  readonly requests: RunRequestLog;
}

export class LeaseLostError extends Error {
  constructor(accountId: string) {
    super(`lease of account ${accountId} was lost mid-run`);
    this.name = 'LeaseLostError';
  }
}

export class RunTimeoutError extends Error {
  constructor(maxRunMs: number) {
    super(`run exceeded its maximum duration of ${maxRunMs} ms`);
    this.name = 'RunTimeoutError';
  }
}

export class CancelledError extends Error {
  constructor() {
    super('run cancelled at a page boundary');
    this.name = 'CancelledError';
  }
}
