import { z } from 'zod';
import { maskSecrets, trace, withSpan, type Tracer } from '@intellifin/core';
import { withOrgScope, type Pool } from '@intellifin/persistence';
import type { Caller } from './caller';
import { ForbiddenError, InvalidInputError } from './errors';
import { listEpisodes, listPushes, readProviderSummary, type AttemptRow, type NotificationRow } from './org-reports.query';

export interface ProviderSummary {
  provider: string;
  accountsByStatus: Record<string, number>;
  last24h: {
    /** Runs that finished (succeeded or failed) in the last 24 hours. */
    runs: number;
    succeeded: number;
    failed: number;
    /** succeeded / runs, 0–1 (null: no runs). */
    successRate: number | null;
    p95DurationMs: number | null;
  };
  /** The stalest last success among the provider's linked accounts (null: none has succeeded). */
  oldestSuccessAt: string | null;
  /** Linked accounts that never had a successful sync. */
  neverSucceeded: number;
}

export interface DeliveryAttempt {
  attempt: number;
  action: string;
  httpStatus: number | null;
  outcome: string;
  replayed: boolean;
  retryAfterMs: number | null;
  error: string | null;
  startedAt: string;
  finishedAt: string;
}

export interface PushView {
  id: string;
  kind: string;
  status: string;
  dueAt: string;
  scheduledFor: string | null;
  sentAt: string | null;
  canceledAt: string | null;
  attemptCount: number;
  lastError: string | null;
  /** The latest attempts (at most {@link ATTEMPTS_PER_PUSH}). */
  attempts: DeliveryAttempt[];
}

export interface EpisodeView {
  id: string;
  accountId: string;
  provider: string;
  openedAt: string;
  closedAt: string | null;
  reason: string | null;
  pushes: PushView[];
}

export const ATTEMPTS_PER_PUSH = 20;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const safe = (s: string | null): string | null => (s === null ? null : maskSecrets(s).slice(0, 500));

const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/;
const episodeCursor = z.object({ o: z.string().regex(TIMESTAMP_TEXT), i: z.uuid() }).strict();

function decodeEpisodeCursor(text: string): { openedAt: string; id: string } | null {
  try {
    const p = episodeCursor.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return p.success ? { openedAt: p.data.o, id: p.data.i } : null;
  } catch {
    return null;
  }
}

function requireOps(caller: Caller): void {
  if (!caller.roles.includes('operator') && !caller.roles.includes('admin')) throw new ForbiddenError('operator or admin');
}

/** Organisation-wide reports for operators and admins: the sync summary and the re-auth notifications. */
export class OrgReports {
  private readonly tracer: Tracer;

  constructor(private readonly o: { pool: Pool; tracer?: Tracer }) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
  }

  async summary(caller: Caller): Promise<{ providers: ProviderSummary[] }> {
    requireOps(caller);
    return withSpan(this.tracer, 'sync-api.sync_summary', {}, async () => {
      const rows = await withOrgScope(this.o.pool, caller.orgId, (db) => readProviderSummary(db));
      return {
        providers: rows.map((r) => ({
          provider: r.provider,
          accountsByStatus: r.accountsByStatus,
          last24h: {
            runs: r.runs,
            succeeded: r.succeeded,
            failed: r.failed,
            successRate: r.runs > 0 ? Math.round((r.succeeded / r.runs) * 10_000) / 10_000 : null,
            p95DurationMs: r.p95DurationMs,
          },
          oldestSuccessAt: iso(r.oldestSuccessAt),
          neverSucceeded: r.neverSucceeded,
        })),
      };
    });
  }

  /** Re-auth episodes, newest first, each with its pushes and their delivery attempts; nothing secret. */
  async notifications(
    caller: Caller,
    q: { cursor?: string | undefined; limit: number },
  ): Promise<{ episodes: EpisodeView[]; nextCursor: string | null }> {
    requireOps(caller);
    const before = q.cursor === undefined ? null : decodeEpisodeCursor(q.cursor);
    if (q.cursor !== undefined && before === null) throw new InvalidInputError('querystring.cursor', 'not a cursor this API issued');
    return withSpan(this.tracer, 'sync-api.notifications', {}, () =>
      withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const rows = await listEpisodes(db, q.limit + 1, before);
        const page = rows.slice(0, q.limit);
        const { pushes, attempts } = await listPushes(
          db,
          page.map((e) => e.id),
          ATTEMPTS_PER_PUSH,
        );
        const attemptsOf = groupBy(attempts, (a) => a.notificationId);
        const pushesOf = groupBy(pushes, (p) => p.episode);
        const last = page[page.length - 1];
        return {
          episodes: page.map((e) => ({
            id: e.id,
            accountId: e.accountId,
            provider: e.provider,
            openedAt: e.openedAt.toISOString(),
            closedAt: iso(e.closedAt),
            reason: safe(e.reason),
            pushes: (pushesOf.get(e.id) ?? []).map((p) => pushView(p, attemptsOf.get(p.id) ?? [])),
          })),
          nextCursor:
            rows.length > q.limit && last ? Buffer.from(JSON.stringify({ o: last.openedAtText, i: last.id })).toString('base64url') : null,
        };
      }),
    );
  }
}

function pushView(p: NotificationRow, attempts: AttemptRow[]): PushView {
  return {
    id: p.id,
    kind: p.kind,
    status: p.status,
    dueAt: p.dueAt.toISOString(),
    scheduledFor: iso(p.scheduledFor),
    sentAt: iso(p.sentAt),
    canceledAt: iso(p.canceledAt),
    attemptCount: p.attempts,
    lastError: safe(p.lastError),
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      action: a.action,
      httpStatus: a.httpStatus,
      outcome: a.outcome,
      replayed: a.replayed,
      retryAfterMs: a.retryAfterMs,
      error: safe(a.error),
      startedAt: a.startedAt.toISOString(),
      finishedAt: a.finishedAt.toISOString(),
    })),
  };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}
