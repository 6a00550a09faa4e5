/**
 * Airtel Money Open API surface (providers.md §3): OAuth2 client-credentials token, USSD-push
 * collection, enquiry, refund, merchant balance, disbursement. Business calls need a bearer token
 * plus X-Country / X-Currency matching the merchant's account.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatMajorFixed, majorNumberToMinor } from '../shared/money';
import { isObject, markAccount, markAuth, rawBody, readJson, type SimulatorCore } from '../shared/server';
import { DP_MESSAGES } from './lifecycle';
import { COUNTRY_CURRENCY, type AirtelState } from './state';

const ESB_MESSAGES: Record<string, string> = {
  ESB000001: 'Something went wrong.',
  ESB000008: 'Field validation.',
  ESB000010: 'Your transaction has been successfully processed.',
  ESB000033: 'Invalid MSISDN Length. MSISDN Length should be 9',
  ESB000034: 'Invalid Country Name',
  ESB000035: 'Invalid Currency Code',
  ESB000041: 'External Transaction ID already exists.',
  ESB000045: 'No Transaction Found With Provided Transaction Id.',
};
const ROUTER_MESSAGES: Record<string, string> = {
  ROUTER003: 'Mandatory parameters are missing either in the header or body.',
  ROUTER006: 'Invalid country code provided.',
  ROUTER007: 'Not authorized to perform any operations in the provided country.',
  ROUTER112: 'Invalid currency provided.',
};
const KNOWN_CURRENCIES = new Set([...Object.values(COUNTRY_CURRENCY), 'USD']);

export function statusBlock(code: string, success: boolean, resultCode: string, message: string, responseCode?: string) {
  return { ...(responseCode !== undefined ? { response_code: responseCode } : {}), code, success, result_code: resultCode, message };
}

/** Error body: a status block without data (shape of the published error example, §3.9). */
export function errorBody(httpCode: number, resultCode: string, message?: string, responseCode?: string) {
  return {
    status: statusBlock(
      String(httpCode),
      false,
      resultCode,
      message ?? ESB_MESSAGES[resultCode] ?? ROUTER_MESSAGES[resultCode] ?? 'Something went wrong.',
      responseCode,
    ),
  };
}

export const UNAUTHORIZED = { status: { code: '401', success: false, result_code: 'ESB000001', message: 'Unauthorized' } };

export function registerAirtelRoutes(app: FastifyInstance, core: SimulatorCore, state: AirtelState): void {
  /** Bearer token + X-Country/X-Currency; replies and returns undefined on failure. */
  const business = (req: FastifyRequest, reply: FastifyReply): number | undefined => {
    const auth = req.headers.authorization;
    const m = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    const k = state.tokenAccount(m?.[1]);
    if (k === undefined) {
      void reply.code(401).send(UNAUTHORIZED);
      return undefined;
    }
    markAuth(req, 'valid');
    const a = state.account(k);
    markAccount(req, a.id);
    const country = req.headers['x-country'];
    const currency = req.headers['x-currency'];
    if (typeof country !== 'string' || typeof currency !== 'string' || country === '' || currency === '') {
      void reply.code(400).send(errorBody(400, 'ROUTER003'));
      return undefined;
    }
    if (!(country.toUpperCase() in COUNTRY_CURRENCY)) {
      void reply.code(400).send(errorBody(400, 'ROUTER006'));
      return undefined;
    }
    if (country.toUpperCase() !== a.country) {
      void reply.code(400).send(errorBody(400, 'ROUTER007'));
      return undefined;
    }
    if (!KNOWN_CURRENCIES.has(currency.toUpperCase()) || currency.toUpperCase() !== a.currency) {
      void reply.code(400).send(errorBody(400, 'ROUTER112'));
      return undefined;
    }
    return k;
  };

  app.post('/auth/oauth2/token', async (req, reply) => {
    let body: Record<string, unknown> | undefined;
    const ct = String(req.headers['content-type'] ?? '');
    if (ct.includes('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(rawBody(req)));
    else {
      const j = readJson(req);
      body = j.ok && isObject(j.value) ? j.value : undefined;
    }
    if (!body || body.grant_type !== 'client_credentials' || typeof body.client_id !== 'string' || typeof body.client_secret !== 'string') {
      return reply.code(400).send(errorBody(400, 'ESB000008', 'client_id, client_secret and grant_type=client_credentials are required'));
    }
    const k = state.find(body.client_id);
    if (k !== undefined) markAccount(req, body.client_id);
    if (k === undefined || state.account(k).revoked || state.account(k).clientSecret !== body.client_secret) {
      return reply.code(401).send(errorBody(401, 'ESB000001', 'Invalid client credentials'));
    }
    markAuth(req, 'valid');
    const { token, ttl } = state.issueToken(k);
    return { access_token: token, expires_in: state.settings.expiresInType === 'string' ? String(ttl) : ttl, token_type: 'bearer' };
  });

  app.post('/merchant/v1/payments/', async (req, reply) => {
    const k = business(req, reply);
    if (k === undefined) return reply;
    const a = state.account(k);
    const j = readJson(req);
    const b = j.ok && isObject(j.value) ? j.value : undefined;
    const sub = b && isObject(b.subscriber) ? b.subscriber : undefined;
    const tx = b && isObject(b.transaction) ? b.transaction : undefined;
    if (
      !b ||
      !sub ||
      !tx ||
      typeof b.reference !== 'string' ||
      typeof sub.msisdn !== 'string' ||
      typeof tx.id !== 'string' ||
      typeof tx.amount !== 'number'
    ) {
      return reply.code(400).send(errorBody(400, 'ESB000008'));
    }
    if (!/^\d{9}$/.test(sub.msisdn)) return reply.code(400).send(errorBody(400, 'ESB000033'));
    for (const c of [sub.country, tx.country])
      if (c !== undefined && String(c).toUpperCase() !== a.country) return reply.code(400).send(errorBody(400, 'ESB000034'));
    for (const c of [sub.currency, tx.currency])
      if (c !== undefined && String(c).toUpperCase() !== a.currency) return reply.code(400).send(errorBody(400, 'ESB000035'));
    const minor = majorNumberToMinor(tx.amount, a.currency);
    if (minor === undefined || minor <= 0) return reply.code(400).send(errorBody(400, 'ESB000008', 'Invalid amount', 'DP00800001004'));
    if (state.get(k, tx.id)) return reply.code(400).send(errorBody(400, 'ESB000041'));
    state.addCollection(k, {
      id: tx.id,
      reference: b.reference,
      msisdn: sub.msisdn,
      amountMinor: minor,
      amountWire: tx.amount,
      createdAt: core.clock.now(),
      source: 'client',
    });
    // "Success." here means the USSD push was sent, not that the customer paid.
    return {
      data: { transaction: { id: tx.id, status: 'Success.' } },
      status: statusBlock('200', true, 'ESB000010', 'Success.', 'DP00800001006'),
    };
  });

  const enquiry = (kind: 'collection' | 'disbursement' | 'any') => async (req: FastifyRequest, reply: FastifyReply) => {
    const k = business(req, reply);
    if (k === undefined) return reply;
    const { id } = req.params as { id: string };
    const txn = state.get(k, id);
    if (!txn || (kind !== 'any' && txn.kind !== kind)) {
      const code = state.settings.enquiryNotFoundStatus;
      return reply.code(code).send({
        data: {},
        status: statusBlock(String(code === 200 ? 200 : 404), false, 'ESB000045', ESB_MESSAGES.ESB000045 as string, 'DP00800001025'),
      });
    }
    const s = state.step(txn);
    if (id.includes('-') && txn.kind === 'collection') {
      // A dash in the id is accepted at creation but the enquiry then fails (Congo client notes).
      return {
        data: { transaction: { id, message: DP_MESSAGES.DP00800001005, status: 'TF' } },
        status: statusBlock('200', false, 'ESB000014', DP_MESSAGES.DP00800001005 as string, 'DP00800001005'),
      };
    }
    const transaction: Record<string, unknown> = {};
    if (s.status === 'TS') transaction.airtel_money_id = txn.airtelMoneyId;
    transaction.id = txn.id;
    transaction.message = state.message(txn, s);
    transaction.status = s.status;
    return {
      data: { transaction },
      status: statusBlock('200', true, 'ESB000010', s.status === 'TS' ? 'SUCCESS' : (DP_MESSAGES[s.code] ?? 'SUCCESS'), s.code),
    };
  };
  app.get('/standard/v1/payments/:id', enquiry('any'));
  app.get('/standard/v1/disbursements/:id', enquiry('disbursement'));

  app.post('/standard/v1/payments/refund', async (req, reply) => {
    const k = business(req, reply);
    if (k === undefined) return reply;
    const j = readJson(req);
    const tx = j.ok && isObject(j.value) && isObject(j.value.transaction) ? j.value.transaction : undefined;
    if (!tx || typeof tx.airtel_money_id !== 'string') return reply.code(400).send(errorBody(400, 'ESB000008'));
    const found = [...(state.txnsByAccount.get(k) ?? [])].find(
      (x) => x.kind === 'collection' && x.airtelMoneyId === tx.airtel_money_id && state.step(x).status === 'TS',
    );
    if (!found || found.refunded) return reply.code(400).send(errorBody(400, 'ESB000045'));
    found.refunded = true;
    return {
      data: { transaction: { airtel_money_id: found.airtelMoneyId, status: 'SUCCESS' } },
      status: statusBlock('200', true, 'ESB000010', 'SUCCESS'),
    };
  });

  app.get('/standard/v1/users/balance', async (req, reply) => {
    const k = business(req, reply);
    if (k === undefined) return reply;
    const a = state.account(k);
    return {
      data: { balance: formatMajorFixed(state.balanceAt(k), a.currency), currency: a.currency, account_status: 'Active' },
      status: statusBlock('200', true, 'ESB000010', 'SUCCESS', 'DP02100000001'),
    };
  });

  app.post('/standard/v1/disbursements/', async (req, reply) => {
    const k = business(req, reply);
    if (k === undefined) return reply;
    const a = state.account(k);
    const j = readJson(req);
    const b = j.ok && isObject(j.value) ? j.value : undefined;
    const payee = b && isObject(b.payee) ? b.payee : undefined;
    const tx = b && isObject(b.transaction) ? b.transaction : undefined;
    if (
      !b ||
      !payee ||
      !tx ||
      typeof payee.msisdn !== 'string' ||
      typeof b.reference !== 'string' ||
      typeof b.pin !== 'string' ||
      typeof tx.id !== 'string' ||
      typeof tx.amount !== 'number'
    ) {
      return reply.code(400).send(errorBody(400, 'ESB000008'));
    }
    if (!/^\d{9}$/.test(payee.msisdn)) return reply.code(400).send(errorBody(400, 'ESB000033'));
    const minor = majorNumberToMinor(tx.amount, a.currency);
    if (minor === undefined || minor <= 0) return reply.code(400).send(errorBody(400, 'ESB000008', 'Invalid amount', 'DP00900001004'));
    if (state.get(k, tx.id)) return reply.code(400).send(errorBody(400, 'ESB000041', undefined, 'DP00900001017'));
    const txn = state.addDisbursement(k, {
      id: tx.id,
      reference: b.reference,
      msisdn: payee.msisdn,
      amountMinor: minor,
      amountWire: tx.amount,
    });
    const s = state.step(txn);
    const ok = s.status === 'TS';
    return {
      data: {
        transaction: { reference_id: txn.reference, ...(ok ? { airtel_money_id: txn.airtelMoneyId } : {}), id: txn.id, status: s.status },
      },
      status: statusBlock('200', ok, ok ? 'ESB000010' : 'ESB000011', ok ? 'SUCCESS' : (DP_MESSAGES[s.code] as string), s.code),
    };
  });
}
