import { errorCode, errorKind, NotReadyError, retryAfterMs, UnlinkedError, type ErrorKind } from '@intellifin/core';
import { isDomainError, retryDelayMs, statusAfterRun, type FailureKind } from '@intellifin/domain';
import type { HandlerDecision } from '@intellifin/messaging';
import { abandonRun, FencedWriteError } from '@intellifin/persistence';
import type { EngineCore } from './engine-core';
import { InfrastructureError } from './infra';
import { finishRun } from './run';
import { CancelledError, LeaseLostError, RunTimeoutError, type RunState } from './run-state';

export interface Failure {
  kind: ErrorKind;
  code: string;
  hint: string;
}

export function failureOf(err: unknown): Failure {
  if (isDomainError(err)) return { kind: 'validation', code: err.code, hint: err.message.slice(0, 500) };
  const message = err instanceof Error ? err.message : String(err);
  return { kind: errorKind(err), code: errorCode(err), hint: message.slice(0, 500) };
}

/**
 * What a failed run records and what happens to its command. Every path either records the outcome
 * under the run's fence, or (when the run lost the account, was interrupted, or our own servers
 * failed) closes only its run row and hands the command back without blaming the account.
 */
export async function runFailed(core: EngineCore, rs: RunState, err: unknown): Promise<HandlerDecision> {
  try {
    return await decide(core, rs, err);
  } catch (inner) {
    // Recording the failure itself failed: the run lost the account meanwhile, or a server is out.
    return interrupted(core, rs, inner);
  }
}

async function decide(core: EngineCore, rs: RunState, err: unknown): Promise<HandlerDecision> {
  const { ctx, log } = rs;
  if (err instanceof FencedWriteError || err instanceof InfrastructureError || rs.signal.aborted) return interrupted(core, rs, err);
  if (err instanceof CancelledError) {
    await finishRun(core, rs, { outcome: 'cancelled', status: statusAfterRun(rs.initialStatus, { outcome: 'cancelled' }), rerun: 'drop' });
    log.info({ pages: rs.pages }, 'run cancelled');
    return { ack: true };
  }
  const failure = failureOf(err);
  if (err instanceof NotReadyError) {
    // "Not yet", not a failure of the account: status and failure counters untouched; retried later.
    const { rerunQueued } = await finishRun(core, rs, {
      outcome: 'failed',
      status: rs.initialStatus,
      failure,
      blame: 'none',
      rerun: 'honour',
    });
    if (rerunQueued) return { ack: true }; // the queued re-run covers this command's scope too
    const delay = retryDelayMs({ attempt: Math.max(0, ctx.deliveryCount - 1), retryAfterMs: retryAfterMs(err), ...core.backoff() });
    log.info({ delay }, 'provider data not ready yet; retried later');
    return core.retryLater(ctx, delay, 'not_ready');
  }
  if (err instanceof UnlinkedError) {
    await finishRun(core, rs, { outcome: 'failed', status: 'disabled', failure, rerun: 'drop' });
    log.info('account unlinked at the provider: disabled, data kept');
    return { ack: true };
  }
  if (failure.kind === 'auth') {
    const status = statusAfterRun(rs.initialStatus, { outcome: 'failed', failure: 'auth' });
    const link = await core.reauthLink(rs);
    const first = rs.initialStatus !== 'auth_required';
    await finishRun(core, rs, {
      outcome: 'failed',
      status,
      failure,
      ...(link ? { reauth: link } : {}),
      rerun: 'drop',
      ...(first ? { auth: { kind: 'reauth_required', reauthUrl: link?.url ?? null, reason: failure.code } } : {}),
    });
    log.info({ code: failure.code }, 'provider needs re-authorisation');
    return { ack: true };
  }
  if (failure.kind === 'retryable' && !ctx.lastDelivery) {
    const status = statusAfterRun(rs.initialStatus, { outcome: 'failed', failure: 'retryable' });
    const { rerunQueued } = await finishRun(core, rs, { outcome: 'failed', status, failure, rerun: 'honour' });
    if (rerunQueued) return { ack: true }; // the queued re-run covers this command's scope too
    const delay = retryDelayMs({ attempt: Math.max(0, ctx.deliveryCount - 1), retryAfterMs: retryAfterMs(err), ...core.backoff() });
    log.info({ code: failure.code, delay }, 'retryable failure; nak');
    return { nak: delay, reason: failure.code };
  }
  // permanent, validation, or a provider's retryable failure on the last delivery: error + DLQ.
  const kind: FailureKind = failure.kind === 'retryable' ? 'permanent' : failure.kind;
  await finishRun(core, rs, {
    outcome: 'failed',
    status: statusAfterRun(rs.initialStatus, { outcome: 'failed', failure: kind }),
    failure,
    rerun: 'keep',
  });
  log.warn({ code: failure.code, kind: failure.kind }, 'run failed permanently; dead-lettered');
  return { deadLetter: `${failure.kind} ${failure.code}: ${failure.hint}`, code: failure.code };
}

/**
 * The run cannot record an outcome under its fence: another run took the account, the lease was
 * lost, the run hit its maximum duration, the worker is shutting down, or our own server failed.
 * Only the run row is closed (best effort: never a finished one), the account is not blamed, and
 * the command is handed back — requeued rather than dead-lettered on its last delivery.
 */
async function interrupted(core: EngineCore, rs: RunState, err: unknown): Promise<HandlerDecision> {
  const { provider, pool } = core.o;
  const reason: unknown = rs.signal.aborted ? rs.signal.reason : err;
  let code: string;
  let delay: number;
  let outcome: 'failed' | 'cancelled' = 'failed';
  if (err instanceof FencedWriteError || reason instanceof FencedWriteError) {
    core.o.metrics?.fencedRejections.inc({ provider });
    code = 'fenced';
    delay = core.o.fencedNakDelayMs ?? 30_000;
  } else if (reason instanceof LeaseLostError) {
    code = 'lease_lost';
    delay = core.o.fencedNakDelayMs ?? 30_000;
  } else if (reason instanceof RunTimeoutError) {
    code = 'run_timeout';
    delay = 0;
  } else if (err instanceof InfrastructureError || reason instanceof InfrastructureError) {
    const infra = (err instanceof InfrastructureError ? err : reason) as InfrastructureError;
    core.o.onInfrastructureError?.(infra);
    code = `${infra.server}_unavailable`;
    delay = core.o.outageNakDelayMs ?? 5_000;
  } else {
    code = 'shutdown';
    delay = 0;
    outcome = 'cancelled';
  }
  const hint = reason instanceof Error ? reason.message : String(reason);
  const closed = await abandonRun(pool, {
    runId: rs.start.runId,
    outcome,
    errorKind: 'retryable',
    code,
    hint,
    pages: rs.pages,
    counts: rs.counts,
    requests: rs.requests.summary(),
    route: core.commandRoute(rs.account.id),
  }).catch((e: unknown) => {
    rs.log.debug({ err: e }, 'could not close the run row (it stays running until the next run closes it)');
    return { rerunQueued: false };
  });
  core.countRun(rs.cmd, outcome);
  rs.log.warn({ code }, 'run interrupted; command handed back');
  if (closed.rerunQueued) {
    // The queued command covers this one's scope and the request recorded meanwhile.
    core.o.onCommitted?.();
    return { ack: true };
  }
  return core.retryLater(rs.ctx, delay, code);
}
