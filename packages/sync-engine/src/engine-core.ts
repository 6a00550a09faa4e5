import type { Tracer } from '@intellifin/core';
import type { BackoffPolicy, RunOutcome } from '@intellifin/domain';
import type { HandlerContext, HandlerDecision, SyncCommand } from '@intellifin/messaging';
import type { RerunRoute } from '@intellifin/persistence';
import type { SyncEngineOptions } from './engine-options';
import type { RunState } from './run-state';

/** What the run, failure and coalescing modules need of the engine. */
export interface EngineCore {
  readonly o: SyncEngineOptions;
  readonly tracer: Tracer;
  clock(): Date;
  backoff(): { policy?: BackoffPolicy };
  /** Where this account's commands go, per lane (for the re-run a finish may queue). */
  commandRoute(accountId: string): RerunRoute;
  /** Hand the command back after `delayMs`; on its last delivery, requeue it as a fresh message instead. */
  retryLater(ctx: HandlerContext<SyncCommand>, delayMs: number, reason: string): Promise<HandlerDecision>;
  /** The stored re-link URL while it is valid, else a new one from the provider (null if it gives none). */
  reauthLink(rs: RunState): Promise<{ url: string; expiresAt: Date | null } | null>;
  countRun(cmd: SyncCommand, outcome: RunOutcome | 'skipped'): void;
}
