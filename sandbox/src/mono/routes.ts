/**
 * The Mono Connect API surface (providers.md §1): v2 account details, balance, transactions,
 * real-time jobs, re-auth/link initiation, code exchange, and the legacy sync / reauthorise calls.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isObject, markAuth, readJson, type SimulatorCore } from '../shared/server';
import { parseMonoDay } from './dates';
import { beforePage, unpagedRead } from './statement-faults';
import type { MonoState, RowView } from './state';

export { parseMonoDate } from './dates';

export function envelopeOk(core: SimulatorCore, message: string, data: unknown) {
  return { status: 'successful', message, timestamp: core.clock.iso(), data };
}

export function envelopeFail(core: SimulatorCore, message: string) {
  return { status: 'failed', message, timestamp: core.clock.iso(), data: null };
}

export function wireRow(v: RowView) {
  const r = v.row;
  return {
    id: r.id,
    narration: v.pending && r.pendingNarration !== null ? r.pendingNarration : r.narration,
    amount: r.amount,
    type: r.type,
    balance: r.balance,
    date: r.dateIso,
    category: v.pending ? 'unknown' : r.category,
  };
}

export function registerMonoRoutes(app: FastifyInstance, core: SimulatorCore, state: MonoState): void {
  const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).send(envelopeFail(core, message));

  /** mono-sec-key check; returns false after replying 401. */
  const authed = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const key = req.headers['mono-sec-key'];
    if (typeof key === 'string' && key === state.settings.secretKey) {
      markAuth(req, 'valid');
      return true;
    }
    void fail(reply, 401, 'Invalid secret key');
    return false;
  };

  /** Resolve :id to an account the data endpoints may serve; replies 404/403 otherwise. */
  const account = (req: FastifyRequest, reply: FastifyReply): number | undefined => {
    const { id } = req.params as { id: string };
    const k = state.find(id);
    if (k === undefined) {
      void fail(reply, 404, 'Account not found');
      return undefined;
    }
    if (state.peekRuntime(k)?.consent === 'unlinked') {
      void fail(
        reply,
        state.settings.unlinkedStatus,
        state.settings.unlinkedStatus === 404 ? 'Account not found' : 'Account has been unlinked',
      );
      return undefined;
    }
    return k;
  };

  const realtimeHeaders = (reply: FastifyReply, job: { id: string; status: string; hasNewData: boolean }) => {
    void reply.headers({ 'x-has-new-data': String(job.hasNewData), 'x-job-id': job.id, 'x-job-status': job.status });
  };
  const wantsRealtime = (req: FastifyRequest) => String(req.headers['x-realtime'] ?? '').toLowerCase() === 'true';

  app.get('/v2/accounts/:id', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    const p = state.profile(k);
    const r = state.rt(k);
    const snap = state.snapshotAt(k);
    const retrieved =
      r.dataStatus === 'AVAILABLE' ? ['identity', 'balance', 'transactions'] : r.dataStatus === 'PARTIAL' ? ['identity', 'balance'] : [];
    return envelopeOk(core, 'Request was successfully completed', {
      account: {
        id: p.id,
        name: p.name,
        account_number: p.accountNumber,
        currency: p.currency,
        balance: r.dataStatus === 'PROCESSING' ? 0 : state.balanceAt(k, snap),
        type: p.type,
        institution: { name: p.institution.name, bank_code: p.institution.bank_code, type: p.institution.type },
        bvn: p.bvn,
      },
      customer: { id: p.customerId },
      meta: {
        data_status: r.dataStatus,
        auth_method: p.authMethod,
        data_request_id: `${p.id.slice(0, 4).toUpperCase()}${p.accountNumber.slice(-4)}${p.bvn}`,
        session_id: `sess_${p.id.slice(8, 20)}`,
        retrieved_data: retrieved,
      },
    });
  });

  app.get('/v2/accounts/:id/balance', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    if (wantsRealtime(req)) {
      const { job } = state.realtime(k, 'jobs.accounts.sync_balance');
      realtimeHeaders(reply, job);
      if (job.status === 'processing') {
        return envelopeOk(core, 'Account balance sync is enqueued, please try again once notified via webhook', null);
      }
    }
    const p = state.profile(k);
    const r = state.rt(k);
    return envelopeOk(core, 'Request was successfully completed', {
      id: p.id,
      name: p.name,
      account_number: p.accountNumber,
      balance: r.dataStatus === 'PROCESSING' ? 0 : state.balanceAt(k, state.snapshotAt(k)),
      currency: p.currency,
    });
  });

  app.get('/v2/accounts/:id/transactions', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    const q = req.query as Record<string, unknown>;
    const str = (name: string): string | undefined => (typeof q[name] === 'string' ? (q[name] as string) : undefined);

    if (state.settings.rejectFromTo && (q.from !== undefined || q.to !== undefined)) {
      return fail(reply, 400, 'Unsupported query parameters from/to: use start and end (DD-MM-YYYY)');
    }
    // start/end are whole days (inclusive), cut at midnight in windowTimeZone (UTC by default).
    let start: number | undefined;
    let endExclusive: number | undefined;
    const s = str('start');
    const e = str('end');
    const zone = state.settings.windowTimeZone;
    if (s !== undefined) {
      start = parseMonoDay(s, zone)?.start;
      if (start === undefined) return fail(reply, 400, 'Invalid start date, expected format DD-MM-YYYY');
    }
    if (e !== undefined) {
      endExclusive = parseMonoDay(e, zone)?.next;
      if (endExclusive === undefined) return fail(reply, 400, 'Invalid end date, expected format DD-MM-YYYY');
    }
    if (start !== undefined && endExclusive !== undefined && start >= endExclusive)
      return fail(reply, 400, 'start date must not be after end date');
    const type = str('type');
    if (type !== undefined && type !== 'debit' && type !== 'credit') return fail(reply, 400, 'type must be debit or credit');
    const paginate = str('paginate') !== 'false';
    const limitRaw = str('limit');
    const pageRaw = str('page');
    const limit = limitRaw === undefined ? state.settings.defaultPageSize : Number(limitRaw);
    const page = pageRaw === undefined ? 1 : Number(pageRaw);
    if (!Number.isInteger(limit) || limit < 1) return fail(reply, 400, 'limit must be a positive integer');
    if (!Number.isInteger(page) || page < 1) return fail(reply, 400, 'page must be a positive integer');

    if (wantsRealtime(req)) {
      const { job } = state.realtime(k, 'jobs.accounts.sync_statement');
      realtimeHeaders(reply, job);
      if (job.status === 'processing') {
        return envelopeOk(core, 'Account transaction sync is enqueued, please try again once notified via webhook', null);
      }
    }

    // Page faults and the statement moving between page requests (opt-in, seeded): statement-faults.ts.
    const fenceHeader = req.headers['x-request-fence'];
    const read = { fence: typeof fenceHeader === 'string' ? fenceHeader : null, start, endExclusive };
    const answer = paginate ? beforePage(state, k, page, read) : undefined;
    if (!paginate) unpagedRead(state, k, read);
    if (answer === 'null')
      return envelopeOk(core, 'Account transaction sync is enqueued, please try again once notified via webhook', null);
    const ds = state.rt(k).dataStatus;
    const rows = ds === 'PROCESSING' || ds === 'PARTIAL' || ds === 'FAILED' ? [] : state.visible(k);
    const narration = str('narration')?.toLowerCase();
    const filtered: RowView[] = [];
    // Newest first: walk the ascending list backwards.
    for (let i = rows.length - 1; i >= 0; i--) {
      const v = rows[i] as RowView;
      const d = v.row.date;
      if (endExclusive !== undefined && d >= endExclusive) continue;
      if (start !== undefined && d < start) break;
      if (type !== undefined && v.row.type !== type) continue;
      if (narration !== undefined) {
        const shown = v.pending && v.row.pendingNarration !== null ? v.row.pendingNarration : v.row.narration;
        if (!shown.toLowerCase().includes(narration)) continue;
      }
      filtered.push(v);
    }
    const total = filtered.length;
    if (!paginate) {
      return {
        ...envelopeOk(core, 'Transaction retrieved successfully', filtered.map(wireRow)),
        meta: { total, page: 1, previous: null, next: null },
      };
    }
    const slice = filtered.slice((page - 1) * limit, page * limit);
    const pages = Math.ceil(total / limit);
    const link = (n: number): string => {
      const params = new URLSearchParams();
      for (const [key, val] of Object.entries(q)) if (key !== 'page' && typeof val === 'string') params.set(key, val);
      params.set('page', String(n));
      const { id } = req.params as { id: string };
      const host = req.headers.host ?? 'localhost';
      const path = state.settings.nextLink === 'doc-quirk' ? `/v2/${id}/transactions` : `/v2/accounts/${id}/transactions`;
      return `http://${host}${path}?${params.toString()}`;
    };
    return {
      ...envelopeOk(core, 'Transaction retrieved successfully', answer === 'empty' ? [] : slice.map(wireRow)),
      meta: {
        total,
        page,
        previous: page > 1 ? link(Math.min(page - 1, Math.max(pages, 1))) : null,
        next: page < pages ? link(page + 1) : null,
      },
    };
  });

  // Unlink (providers.md §1.1, §1.10.7): the data endpoints answer 404 from now on and
  // `mono.events.account_unlinked` is sent.
  app.post('/v2/accounts/:id/unlink', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    state.revoke(k, 'unlink', true);
    return envelopeOk(core, 'Account unlinked successfully', null);
  });

  app.get('/v2/accounts/:id/jobs/:jobId', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    const { jobId } = req.params as { jobId: string };
    const job = state.rt(k).jobs.get(jobId);
    if (!job) return fail(reply, 404, 'Job not found');
    return {
      status: 'successful',
      message: 'Job execution completed',
      data: { id: job.id, status: job.status, name: job.name, account: job.account, business: state.business, app: state.app },
    };
  });

  app.post('/v2/accounts/initiate', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const body = readJson(req);
    if (!body.ok || !isObject(body.value)) return fail(reply, 400, 'Request body must be a JSON object');
    const b = body.value;
    const meta = isObject(b.meta) ? b.meta : {};
    const ref = typeof meta.ref === 'string' ? meta.ref : undefined;
    const redirect = typeof b.redirect_url === 'string' ? b.redirect_url : undefined;
    const host = req.headers.host ?? 'localhost';
    if (b.scope === 'reauth') {
      if (typeof b.account !== 'string') return fail(reply, 400, 'account is required for scope reauth');
      const k = state.find(b.account);
      if (k === undefined) return fail(reply, 404, 'Account not found');
      if (state.rt(k).consent === 'unlinked') return fail(reply, 400, 'This account can not be re-authorised.');
      const link = state.createLink('reauth', k, ref, redirect);
      const p = state.profile(k);
      return envelopeOk(core, 'Request was successfully completed', {
        mono_url: `http://${host}/__sandbox/link/${link.code}`,
        customer: p.customerId,
        account: p.id,
        meta: { ref: ref ?? null },
        scope: 'reauth',
        institution: p.institution.id,
        auth_method: p.authMethod,
        redirect_url: redirect ?? null,
        created_at: new Date(link.createdAt).toISOString(),
      });
    }
    if (b.scope === 'auth') {
      if (!isObject(b.customer)) return fail(reply, 400, 'customer is required for scope auth');
      const link = state.createLink('auth', undefined, ref, redirect);
      return envelopeOk(core, 'Request was successfully completed', {
        mono_url: `http://${host}/__sandbox/link/${link.code}`,
        customer: link.customer,
        meta: { ref: ref ?? null },
        scope: 'auth',
        institution: null,
        auth_method: null,
        redirect_url: redirect ?? null,
        created_at: new Date(link.createdAt).toISOString(),
      });
    }
    return fail(reply, 400, 'scope must be one of: auth, reauth');
  });

  app.post('/v2/accounts/auth', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const body = readJson(req);
    const code = body.ok && isObject(body.value) && typeof body.value.code === 'string' ? body.value.code : undefined;
    if (code === undefined) return fail(reply, 400, 'code is required');
    const id = state.exchangeCode(code);
    if (id === undefined) return fail(reply, 400, 'Invalid or expired code');
    return envelopeOk(core, 'Request was successfully completed', { id });
  });

  // Legacy Data Sync (sunset by Mono in favour of x-realtime, still documented).
  app.post('/accounts/:id/sync', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    const q = req.query as Record<string, unknown>;
    const r = state.manualSync(k, q.allow_incomplete_statement === 'true');
    return reply.code(r.status).send(r.body);
  });

  app.post('/accounts/:id/reauthorise', async (req, reply) => {
    if (!authed(req, reply)) return reply;
    const k = account(req, reply);
    if (k === undefined) return reply;
    return { token: state.legacyReauthToken(k) };
  });
}
