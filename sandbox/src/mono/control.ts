/** Mono-specific control routes under /__sandbox (see README). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { controlBody } from '../shared/server';
import { addTransaction, postTransaction, removeTransactions } from './overrides';
import type { MonoState } from './state';
import { releaseNewestHold } from './statement-faults';
import type { DataStatus } from './webhooks';

const DATA_STATUSES: DataStatus[] = ['AVAILABLE', 'PROCESSING', 'PARTIAL', 'UNAVAILABLE', 'FAILED'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function registerMonoControl(app: FastifyInstance, getState: () => MonoState, now: () => number): void {
  const P = '/__sandbox';
  const acct = (req: FastifyRequest, reply: FastifyReply): number | undefined => {
    const { id } = req.params as { id: string };
    const k = getState().find(id);
    if (k === undefined) void reply.code(404).send({ error: `unknown account ${id}` });
    return k;
  };
  const time = (v: unknown, dflt: number): number | undefined => {
    if (v === undefined || v === 'now') return dflt;
    const ms = typeof v === 'number' ? v : Date.parse(String(v));
    return Number.isNaN(ms) ? undefined : ms;
  };

  app.post(`${P}/accounts/:id/transactions`, async (req, reply) => {
    const state = getState();
    const k = acct(req, reply);
    if (k === undefined) return reply;
    const b = controlBody(req);
    const clockNow = now();
    if (!(Number.isSafeInteger(b.amount) && (b.amount as number) > 0))
      return reply.code(400).send({ error: 'amount: positive integer in minor units' });
    if (b.type !== 'debit' && b.type !== 'credit') return reply.code(400).send({ error: "type: 'debit' or 'credit'" });
    const date = time(b.date, clockNow);
    const visibleAt = time(b.visibleAt, clockNow);
    const postedAt = time(b.pendingUntil, date ?? clockNow);
    if (date === undefined || visibleAt === undefined || postedAt === undefined)
      return reply.code(400).send({ error: 'date, visibleAt, pendingUntil: ISO-8601' });
    const row = addTransaction(state, k, {
      amount: b.amount as number,
      type: b.type,
      narration:
        typeof b.narration === 'string' ? b.narration : b.type === 'credit' ? 'NIP/SANDBOX/TRANSFER IN' : 'POS PURCHASE SANDBOX STORE',
      category: typeof b.category === 'string' ? b.category : 'unknown',
      date,
      visibleAt: Math.max(visibleAt, date),
      postedAt: Math.max(postedAt, date),
      pendingNarration: typeof b.pendingNarration === 'string' ? b.pendingNarration : null,
    });
    if (b.sync === true) state.autoRefresh(k);
    return {
      transaction: {
        ...row,
        date: new Date(row.date).toISOString(),
        visibleAt: new Date(row.visibleAt).toISOString(),
        postedAt: new Date(row.postedAt).toISOString(),
      },
    };
  });

  app.post(`${P}/accounts/:id/transactions/:txid/post`, async (req, reply) => {
    const k = acct(req, reply);
    if (k === undefined) return reply;
    const { txid } = req.params as { txid: string };
    return postTransaction(getState(), k, txid) ? { posted: txid } : reply.code(404).send({ error: `unknown transaction ${txid}` });
  });

  app.post(`${P}/accounts/:id/transactions/remove`, async (req, reply) => {
    const k = acct(req, reply);
    if (k === undefined) return reply;
    const b = controlBody(req);
    const ids = Array.isArray(b.ids) ? b.ids.filter((x): x is string => typeof x === 'string') : [];
    const state = getState();
    const removed = removeTransactions(state, k, ids);
    if (b.incompleteStatement !== false) state.rt(k).incompleteStatement = true;
    return { removed };
  });

  // Arm a one-shot fault for account :id's next paginated transactions request of `page`:
  // 'null' (data: null), 'empty' (data: [] with the real meta.total), 'insert' (a new row first),
  // 'remove' (release the newest pending hold first); `kind` may list several that fire together
  // on that request, in order (['remove', 'null']: the hold is released, then the page is null).
  app.post(`${P}/accounts/:id/page-faults`, async (req, reply) => {
    const k = acct(req, reply);
    if (k === undefined) return reply;
    const b = controlBody(req);
    const kinds = ['null', 'empty', 'insert', 'remove'] as const;
    type Kind = (typeof kinds)[number];
    const list = (Array.isArray(b.kind) ? b.kind : [b.kind]) as unknown[];
    if (list.length === 0 || !list.every((x) => kinds.includes(x as Kind)))
      return reply.code(400).send({ error: `kind: ${kinds.join('|')}, or a non-empty list of them` });
    if (!(Number.isInteger(b.page) && (b.page as number) >= 1)) return reply.code(400).send({ error: 'page: integer ≥ 1' });
    const [first, ...then] = list as Kind[];
    const fault = { page: b.page as number, kind: first!, ...(then.length > 0 ? { then } : {}) };
    getState().rt(k).armed.push(fault);
    return { armed: fault };
  });

  // Release a pending hold now (it leaves the statement at once): the newest, or `id`.
  app.post(`${P}/accounts/:id/holds/release`, async (req, reply) => {
    const k = acct(req, reply);
    if (k === undefined) return reply;
    const b = controlBody(req);
    const state = getState();
    let released: string | undefined;
    if (typeof b.id === 'string') {
      const v = state.visible(k).find((x) => x.row.id === b.id && x.pending);
      if (v) state.rt(k).released.set(v.row.id, now());
      released = v?.row.id;
    } else released = releaseNewestHold(state, k)?.id;
    return released ? { released } : reply.code(404).send({ error: 'no pending hold to release' });
  });

  app.post(`${P}/accounts/:id/data-status`, async (req, reply) => {
    const k = acct(req, reply);
    if (k === undefined) return reply;
    const b = controlBody(req);
    const s = b.data_status ?? b.dataStatus;
    if (!DATA_STATUSES.includes(s as DataStatus)) return reply.code(400).send({ error: `data_status: ${DATA_STATUSES.join('|')}` });
    getState().setDataStatus(k, s as DataStatus, b.notify !== false);
    return { data_status: s };
  });

  app.post(`${P}/accounts/:id/sync`, async (req, reply) => {
    const k = acct(req, reply);
    if (k === undefined) return reply;
    getState().autoRefresh(k);
    return { snapshotAt: new Date(getState().snapshotAt(k)).toISOString() };
  });

  app.post(`${P}/reauth-tokens/:token/complete`, async (req, reply) => {
    const { token } = req.params as { token: string };
    const r = getState().completeLegacyReauth(token);
    if (r === 'ok') return { completed: true };
    return reply.code(r === 'expired' ? 410 : 404).send({ error: r === 'expired' ? 'reauth token expired (10 minutes)' : 'unknown token' });
  });

  // The page behind a mono_url: what the end user would see in the Connect widget.
  app.get(`${P}/link/:code`, async (req, reply) => {
    const { code } = req.params as { code: string };
    const link = getState().links.get(code);
    if (!link) return reply.code(404).type('text/html').send('<h1>Link not found</h1>');
    const who = link.account !== undefined ? getState().profile(link.account) : undefined;
    const title = link.scope === 'reauth' ? `Reconnect ${esc(who?.institution.name ?? 'your bank')}` : 'Link a bank account';
    const done = link.completedAt !== undefined;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html><head><title>${title}</title></head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">` +
          `<h1>${title}</h1><p>Mono sandbox (simulated Connect widget). ${who ? `Account ${esc(who.name)} ****${esc(who.accountNumber.slice(-4))}.` : ''}</p>` +
          (done
            ? '<p><b>Already completed.</b></p>'
            : `<form method="post" action="${P}/link/${esc(code)}/complete"><button type="submit">Complete ${link.scope === 'reauth' ? 're-authorisation' : 'linking'}</button></form>`) +
          '</body></html>',
      );
  });

  app.post(`${P}/link/:code/complete`, async (req, reply) => {
    const { code } = req.params as { code: string };
    const state = getState();
    const link = state.links.get(code);
    const r = state.completeLink(code);
    if (!link || !r) return reply.code(404).send({ error: 'unknown or already completed link' });
    const wantsHtml = String(req.headers.accept ?? '').includes('text/html');
    if (wantsHtml && link.redirectUrl) {
      const u = new URL(link.redirectUrl);
      u.searchParams.set('status', 'linked');
      if (r.exchangeCode) u.searchParams.set('code', r.exchangeCode);
      return reply.redirect(u.toString(), 303);
    }
    return { ...r, redirect_url: link.redirectUrl ?? null };
  });

  app.post(`${P}/webhooks`, async (req) => {
    const state = getState();
    const b = controlBody(req);
    if ('url' in b) state.settings.webhookUrl = typeof b.url === 'string' ? b.url : undefined;
    if (typeof b.secret === 'string') state.settings.webhookSecret = b.secret;
    if (typeof b.duplicatePercent === 'number') state.settings.webhookDuplicatePercent = b.duplicatePercent;
    if (typeof b.dropPercent === 'number') state.settings.webhookDropPercent = b.dropPercent;
    if (typeof b.reorderPercent === 'number') state.settings.webhookReorderPercent = b.reorderPercent;
    if (typeof b.reorderHoldSeconds === 'number') state.settings.webhookReorderHoldSeconds = b.reorderHoldSeconds;
    return {
      url: state.settings.webhookUrl ?? null,
      duplicatePercent: state.settings.webhookDuplicatePercent,
      dropPercent: state.settings.webhookDropPercent,
      reorderPercent: state.settings.webhookReorderPercent,
      reorderHoldSeconds: state.settings.webhookReorderHoldSeconds,
    };
  });
}
