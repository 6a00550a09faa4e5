import { currentTraceId, withSpan, type ErrorKind } from '@intellifin/core';
import {
  addCounts,
  assertValidTransaction,
  isoDateToDate,
  parseCursor,
  statusAfterRun,
  type AccountStatus,
  type ProviderId,
  type RunOutcome,
  type SyncCursor,
  type TransactionPage,
} from '@intellifin/domain';
import type { HandlerDecision } from '@intellifin/messaging';
import { commitPage, finishRunFenced, storeBalance, type OutboxEvent, type RunFinish } from '@intellifin/persistence';
import type { EngineCore } from './engine-core';
import { authEventId, runEventId, type AuthEvent, type RunEvent } from './events';
import { onServer } from './infra';
import { CancelledError, type RunState } from './run-state';

function storedCursor(value: unknown, provider: ProviderId): SyncCursor {
  // A new account's cursor column holds '{}' (the schema default): the empty cursor.
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return parseCursor(null, provider);
  return parseCursor(value, provider);
}

/**
 * The run itself, once the account's lease is held and its fence taken: provider delta page by page
 * (each page's rows and cursor committed in one fenced statement), the balance, then the outcome and
 * its events in one fenced statement. Failures are thrown to the caller (`failures.ts`).
 */
export async function executeRun(core: EngineCore, rs: RunState): Promise<HandlerDecision> {
  const { provider, pool, adapter } = core.o;
  const { account, cmd, ref, signal, log } = rs;
  const now = core.clock();
  // An auth_required account runs only for a manual/webhook trigger (shouldRunSync). Whether that
  // run may repair it depends on the provider confirming consent, not on cached data.
  let consent: 'valid' | 'unknown' | 'not_needed' = 'not_needed';
  if (rs.initialStatus === 'auth_required') {
    const probe = core.o.consentProbe;
    consent = probe ? await withSpan(core.tracer, 'provider.consent', {}, () => probe.checkConsent({ account: ref, signal })) : 'unknown';
    log.info({ consent }, 'consent check for an auth_required account');
  }
  const cursor = storedCursor(rs.start.cursor, provider);
  if (cmd.mode !== 'balance') {
    const delta = adapter.fetchDelta({
      account: ref,
      cursor,
      trigger: cmd.trigger,
      mode: cmd.mode,
      realtime: cmd.realtime,
      now,
      ...(cmd.hintRefs ? { hintRefs: cmd.hintRefs } : {}),
      signal,
    });
    const it = delta[Symbol.asyncIterator]();
    try {
      // A cancel requested for this run is seen by the next page commit's fence guard; the run
      // then stops before fetching another page.
      let cancel = false;
      for (;;) {
        signal.throwIfAborted();
        if (cancel) throw new CancelledError();
        const next = await withSpan(core.tracer, 'provider.page', { attributes: { 'sync.page': rs.pages } }, () => it.next());
        if (next.done) break;
        const page: TransactionPage = next.value;
        if (page.window) rs.window = page.window;
        for (const t of page.transactions) assertValidTransaction(t, ref.currency);
        signal.throwIfAborted();
        const c = await withSpan(
          core.tracer,
          'db.commit_page',
          { attributes: { 'sync.page': rs.pages, 'sync.rows': page.transactions.length } },
          () =>
            onServer('postgres', () =>
              commitPage(pool, {
                orgId: account.orgId,
                accountId: account.id,
                fence: rs.start.fence,
                startedAt: rs.start.startedAt,
                cursor: page.cursorAfter,
                transactions: page.transactions,
              }),
            ),
        );
        rs.counts = addCounts(rs.counts, c.counts);
        cancel = c.cancelRequested;
        rs.pages++;
        rs.ctx.working();
      }
    } finally {
      await it.return?.().catch(() => undefined);
    }
  }
  if (cmd.mode !== 'transactions') {
    signal.throwIfAborted();
    const snap = await withSpan(core.tracer, 'provider.balance', {}, () =>
      adapter.fetchBalance({ account: ref, realtime: cmd.realtime && cmd.mode === 'balance', now, signal }),
    );
    await withSpan(core.tracer, 'db.store_balance', {}, () =>
      onServer('postgres', () => storeBalance(pool, account.id, rs.start.fence, snap.balance.minor, snap.asOf)),
    );
  }
  // Without evidence of working consent the data read is the provider's cached copy: the run
  // succeeded, the account still needs re-linking.
  const status = consent === 'unknown' ? rs.initialStatus : statusAfterRun(rs.initialStatus, { outcome: 'succeeded' });
  const repaired = rs.initialStatus === 'auth_required' && status === 'active';
  await finishRun(core, rs, {
    outcome: 'succeeded',
    status,
    rerun: 'honour',
    ...(repaired ? { auth: { kind: 'repaired' } } : {}),
  });
  log.debug({ pages: rs.pages, ...rs.counts }, 'run succeeded');
  return { ack: true };
}

export interface FinishSpec {
  outcome: RunOutcome;
  status: AccountStatus;
  failure?: { kind: ErrorKind; code: string; hint: string };
  blame?: 'count' | 'none';
  reauth?: { url: string | null; expiresAt: Date | null };
  rerun: RunFinish['rerun'];
  auth?: { kind: AuthEvent['kind']; reauthUrl?: string | null; reason?: string };
}

/** Records the outcome, the account status and the run's events (outbox) in one fenced statement. */
export async function finishRun(core: EngineCore, rs: RunState, f: FinishSpec): Promise<{ rerunQueued: boolean }> {
  const { provider, topology } = core.o;
  const { account, cmd, start } = rs;
  const durationMs = Math.round(performance.now() - rs.startedMs);
  const traceId = currentTraceId();
  const runEvent: RunEvent = {
    runId: start.runId,
    commandId: cmd.commandId,
    accountId: account.id,
    orgId: account.orgId,
    provider,
    trigger: cmd.trigger,
    mode: cmd.mode,
    outcome: f.outcome,
    accountStatus: f.status,
    pages: rs.pages,
    ...rs.counts,
    ...(f.failure ? { errorKind: f.failure.kind, errorCode: f.failure.code } : {}),
    finishedAt: new Date().toISOString(),
    durationMs,
    ...(traceId ? { traceId } : {}),
  };
  const events: OutboxEvent[] = [
    { eventId: runEventId(start.runId), subject: topology.eventSubject('run', provider, account.id), payload: runEvent },
  ];
  if (f.auth) {
    const authEvent: AuthEvent = {
      kind: f.auth.kind,
      runId: start.runId,
      accountId: account.id,
      orgId: account.orgId,
      provider,
      ...(f.auth.reauthUrl ? { reauthUrl: f.auth.reauthUrl } : {}),
      ...(f.auth.reason ? { reason: f.auth.reason } : {}),
      at: new Date().toISOString(),
    };
    events.push({ eventId: authEventId(start.runId), subject: topology.eventSubject('auth', provider, account.id), payload: authEvent });
  }
  const finished = await withSpan(core.tracer, 'db.finish_run', {}, () =>
    onServer('postgres', () =>
      finishRunFenced(core.o.pool, {
        accountId: account.id,
        fence: start.fence,
        runId: start.runId,
        outcome: f.outcome,
        status: f.status,
        scope: { mode: cmd.mode, realtime: cmd.realtime },
        counts: rs.counts,
        pages: rs.pages,
        windowFrom: rs.window ? isoDateToDate(rs.window.from) : null,
        windowTo: rs.window ? isoDateToDate(rs.window.to) : null,
        failure: f.failure ?? null,
        ...(f.blame ? { blame: f.blame } : {}),
        ...(f.reauth ? { reauth: f.reauth } : {}),
        rerun: f.rerun,
        route: core.commandRoute(account.id),
        events,
        requests: rs.requests.summary(),
      }),
    ),
  );
  core.o.onCommitted?.();
  const m = core.o.metrics;
  core.countRun(cmd, f.outcome);
  m?.runDuration.observe({ provider, outcome: f.outcome }, durationMs / 1000);
  for (const kind of ['added', 'modified', 'unchanged'] as const)
    if (rs.counts[kind]) m?.transactions.inc({ provider, kind }, rs.counts[kind]);
  if (f.auth) m?.authEvents.inc({ provider, kind: f.auth.kind });
  if (finished.rerunQueued) {
    m?.leaseContention.inc({ provider, decision: 'rerun_queued' });
    rs.log.info('a command that arrived during the run was not satisfied by it: re-run queued');
  }
  return finished;
}
