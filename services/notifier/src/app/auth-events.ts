/**
 * The consumer of `sync.evt.auth.*`: `reauth_required` opens the account's episode (once, however
 * often the event comes), `repaired` closes it. Both are Postgres transactions; the dispatcher is
 * woken to send or cancel.
 */
import { injectTraceHeaders, type Logger } from '@intellifin/core';
import { jsonCodec, type MessageHandler } from '@intellifin/messaging';
import { z } from 'zod';
import type { Pool } from 'pg';
import { idempotencyKey } from '../domain/idempotency';
import { deepLink, webUrl, type LinkSettings } from '../domain/links';
import { closeEpisode, openEpisode } from '../store/episodes';
import { kindLabel, type NotifierMetrics } from './metrics';

/** The sync engine's AuthEvent (packages/sync-engine/src/events.ts), checked at the boundary. */
export const authEventSchema = z.object({
  kind: z.enum(['reauth_required', 'repaired']),
  runId: z.string().min(1).max(200),
  accountId: z.string().uuid(),
  orgId: z.string().uuid(),
  provider: z.enum(['mono', 'momo', 'airtel']),
  reauthUrl: z.string().optional(),
  reason: z.string().max(2000).optional(),
  at: z.string().datetime({ offset: true }),
});
export type AuthEventPayload = z.infer<typeof authEventSchema>;
export const authEventCodec = jsonCodec<AuthEventPayload>((d) => authEventSchema.parse(d));

export interface AuthEventHandlerDeps {
  pool: Pool;
  logger: Logger;
  metrics: NotifierMetrics;
  clock: () => Date;
  links: LinkSettings;
  reminderDelaysMs: readonly number[];
  /** Called after a commit that queued or cancelled pushes. */
  onWork: () => void;
}

export function authEventHandler(d: AuthEventHandlerDeps): MessageHandler<AuthEventPayload> {
  return async (_msg, ctx) => {
    const ev = ctx.payload;
    const at = new Date(ev.at);
    if (ev.kind === 'reauth_required') {
      const carrier = new Map<string, string>();
      injectTraceHeaders(carrier, ctx.traceContext);
      const r = await openEpisode(d.pool, {
        accountId: ev.accountId,
        runId: ev.runId,
        at,
        reason: ev.reason,
        now: d.clock(),
        reminderDelaysMs: d.reminderDelaysMs,
        traceparent: carrier.get('traceparent'),
        push: (p) => ({
          idempotencyKey: idempotencyKey(p.provider, p.accountId, p.episode, p.kind),
          deepLink: deepLink(d.links, p.accountId, p.provider),
          webUrl: webUrl(d.links, p.accountId, p.provider),
        }),
      });
      d.metrics.episodes.inc({ provider: ev.provider, event: r.opened ? 'opened' : r.reason });
      if (r.opened && r.status !== 'pending') d.metrics.notifications.inc({ provider: ev.provider, kind: 'reauth', outcome: r.status });
      ctx.logger.info({ account: ev.accountId, provider: ev.provider, run: ev.runId, ...r }, 'reauth_required handled');
      if (r.opened) d.onWork();
      return;
    }
    const r = await closeEpisode(d.pool, { accountId: ev.accountId, runId: ev.runId, at, now: d.clock() });
    d.metrics.episodes.inc({ provider: ev.provider, event: r.closed > 0 ? 'repaired' : 'repaired_no_episode' });
    // Pushes the repair canceled before they went out settled here, not in the dispatcher.
    for (const kind of r.canceledKinds) d.metrics.notifications.inc({ provider: ev.provider, kind: kindLabel(kind), outcome: 'canceled' });
    ctx.logger.info(
      { account: ev.accountId, provider: ev.provider, run: ev.runId, closed: r.closed, canceled: r.canceled, cancelling: r.cancelling },
      'repaired handled',
    );
    if (r.cancelling > 0) d.onWork();
  };
}
