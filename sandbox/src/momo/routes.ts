/**
 * MTN MoMo Open API surface (providers.md §2): sandbox provisioning, product tokens, balance,
 * request-to-pay, disbursement transfer/deposit, account-holder check. The gateway is Azure APIM,
 * so gateway-level failures (subscription key, bearer token, throttling, unknown route) use the
 * APIM `{statusCode, message}` body while API errors use `{code, message}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatMajor, parseMajor } from '../shared/money';
import { UUID_V4_RE } from '../shared/prng';
import { isObject, markAccount, markAuth, rawBody, readJson, type SimulatorCore } from '../shared/server';
import type { MomoState, Product, Token, ApiUser } from './state';

export const APIM_SUBSCRIPTION_401 = {
  statusCode: 401,
  message: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
};
export const APIM_TOKEN_401 = { statusCode: 401, message: 'Unauthorized. Access token is missing or invalid.' };
export const NOT_FOUND = { code: 'RESOURCE_NOT_FOUND', message: 'Requested resource was not found.' };
const DUPLICATE = { code: 'RESOURCE_ALREADY_EXIST', message: 'Duplicated reference id. Creation of resource failed.' };
const BAD_ENV = { code: 'NOT_ALLOWED_TARGET_ENVIRONMENT', message: 'Access to target environment is forbidden.' };
const BAD_CURRENCY = { code: 'INVALID_CURRENCY', message: 'Currency not supported.' };
const BAD_CALLBACK = { code: 'INVALID_CALLBACK_URL_HOST', message: 'Callback URL with different host to what is registered for provider.' };

/** Characters the wallet rejects after the 202 (sparkplug/momoapi-node #84, MTN common errors). */
const REJECTED_CHARS = /[&'<>"]/;
const PARTY_TYPES = ['MSISDN', 'EMAIL', 'PARTY_CODE'];

/** Azure APIM's answer for an operation the gateway does not expose. */
export const APIM_NOT_FOUND = { statusCode: 404, message: 'Resource not found' };
const EMPTY_NOTE_500 = { code: 'INTERNAL_PROCESSING_ERROR', message: 'An internal error occurred while processing.' };

export function registerMomoRoutes(app: FastifyInstance, core: SimulatorCore, state: MomoState): void {
  /** Provisioning exists in MTN's sandbox only (production keys come from the Partner Portal). */
  const noProvisioning = (reply: FastifyReply): boolean => {
    if (state.settings.provisioningApi === 'always' || state.settings.targetEnvironment === 'sandbox') return false;
    void reply.code(404).send(APIM_NOT_FOUND);
    return true;
  };

  /** Subscription key for `product` (or any product when undefined); replies 401 otherwise. */
  const subscription = (req: FastifyRequest, reply: FastifyReply, product: Product | undefined): number | undefined => {
    const key = req.headers['ocp-apim-subscription-key'];
    const sub = typeof key === 'string' ? state.subscriptionKeys.get(key) : undefined;
    if (!sub || (product !== undefined && sub.product !== product)) {
      void reply.code(401).send(APIM_SUBSCRIPTION_401);
      return undefined;
    }
    markAccount(req, state.profile(sub.account).id);
    return sub.account;
  };

  /** Subscription key + bearer token + X-Target-Environment for a business call. */
  const business = (req: FastifyRequest, reply: FastifyReply, product: Product): Token | undefined => {
    const account = subscription(req, reply, product);
    if (account === undefined) return undefined;
    const auth = req.headers.authorization;
    const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? state.tokens.get(auth.slice(7).trim()) : undefined;
    if (!state.tokenValid(token, product) || token.account !== account) {
      void reply.code(401).send(APIM_TOKEN_401);
      return undefined;
    }
    markAuth(req, 'valid');
    const env = req.headers['x-target-environment'];
    if (typeof env !== 'string' || env === '') {
      void reply.code(400).send();
      return undefined;
    }
    if (env !== state.profile(account).targetEnvironment) {
      void reply.code(500).send(BAD_ENV);
      return undefined;
    }
    return token;
  };

  // ---- sandbox provisioning (§2.2) ---------------------------------------------------------------

  app.post('/v1_0/apiuser', async (req, reply) => {
    if (noProvisioning(reply)) return reply;
    const account = subscription(req, reply, undefined);
    if (account === undefined) return reply;
    markAuth(req, 'valid');
    const id = req.headers['x-reference-id'];
    if (typeof id !== 'string' || !UUID_V4_RE.test(id)) return reply.code(400).send();
    const body = readJson(req);
    if (!body.ok || !isObject(body.value) || typeof body.value.providerCallbackHost !== 'string') return reply.code(400).send();
    if (state.users.has(id)) return reply.code(409).send(DUPLICATE);
    state.createUser(id, account, body.value.providerCallbackHost);
    return reply.code(201).send();
  });

  const ownUser = (req: FastifyRequest, account: number): ApiUser | undefined => {
    const { userId } = req.params as { userId: string };
    const u = state.users.get(userId);
    return u && u.account === account ? u : undefined;
  };

  app.post('/v1_0/apiuser/:userId/apikey', async (req, reply) => {
    if (noProvisioning(reply)) return reply;
    const account = subscription(req, reply, undefined);
    if (account === undefined) return reply;
    markAuth(req, 'valid');
    const u = ownUser(req, account);
    if (!u) return reply.code(404).send(NOT_FOUND);
    return reply.code(201).send({ apiKey: state.regenerateKey(u) });
  });

  app.get('/v1_0/apiuser/:userId', async (req, reply) => {
    if (noProvisioning(reply)) return reply;
    const account = subscription(req, reply, undefined);
    if (account === undefined) return reply;
    markAuth(req, 'valid');
    const u = ownUser(req, account);
    if (!u) return reply.code(404).send(NOT_FOUND);
    return { providerCallbackHost: u.providerCallbackHost ?? null, targetEnvironment: state.profile(account).targetEnvironment };
  });

  // ---- tokens (§2.3) -----------------------------------------------------------------------------

  for (const product of ['collection', 'disbursement'] as const) {
    app.post(`/${product}/token/`, async (req, reply) => {
      const account = subscription(req, reply, product);
      if (account === undefined) return reply;
      if (rawBody(req).trim() !== '') return reply.code(400).send();
      const auth = req.headers.authorization;
      const m = typeof auth === 'string' ? /^Basic\s+(.+)$/i.exec(auth) : null;
      const decoded = m ? Buffer.from(m[1] as string, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const user = colon > 0 ? state.users.get(decoded.slice(0, colon)) : undefined;
      if (user && user.account === account && user.apiKey === undefined) {
        // Observed in MTN's sandbox when no API key was ever generated (laravel-mtn-momo #46).
        return reply.code(500).send({ error: 'login_failed' });
      }
      if (!user || user.account !== account || user.revoked || !state.keyMatches(user, decoded.slice(colon + 1))) {
        return reply.code(401).send({ error: 'login_failed' });
      }
      markAuth(req, 'valid');
      const { token, ttl } = state.issueToken(user, product);
      return { access_token: token, token_type: 'access_token', expires_in: ttl };
    });
  }

  // ---- balance and account holder (§2.4, §2.5) ---------------------------------------------------

  for (const product of ['collection', 'disbursement'] as const) {
    const balance = async (req: FastifyRequest, reply: FastifyReply) => {
      const t = business(req, reply, product);
      if (!t) return reply;
      const p = state.profile(t.account);
      const { currency } = (req.params ?? {}) as { currency?: string };
      if (currency !== undefined && currency !== p.currency) return reply.code(400).send(BAD_CURRENCY);
      const minor = state.balanceAt(t.account);
      return { availableBalance: formatMajor(minor, p.currency), currency: p.currency };
    };
    app.get(`/${product}/v1_0/account/balance`, balance);
    app.get(`/${product}/v1_0/account/balance/:currency`, balance);

    app.get(`/${product}/v1_0/accountholder/:type/:id/active`, async (req, reply) => {
      const t = business(req, reply, product);
      if (!t) return reply;
      const { type } = req.params as { type: string };
      if (!['msisdn', 'email', 'party_code'].includes(type.toLowerCase())) return reply.code(400).send();
      return { result: true };
    });
  }

  // ---- request to pay, transfer, deposit (§2.5, §2.6) -------------------------------------------

  const create =
    (product: Product, kind: 'requesttopay' | 'transfer' | 'deposit', partyRole: 'payer' | 'payee') =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const t = business(req, reply, product);
      if (!t) return reply;
      const id = req.headers['x-reference-id'];
      if (typeof id !== 'string' || !UUID_V4_RE.test(id)) return reply.code(400).send();
      if (state.refs.has(id)) return reply.code(409).send(DUPLICATE);
      const body = readJson(req);
      if (!body.ok || !isObject(body.value)) return reply.code(400).send();
      const b = body.value;
      const p = state.profile(t.account);
      const party = b[partyRole];
      if (typeof b.amount !== 'string' || typeof b.currency !== 'string' || !isObject(party)) return reply.code(400).send();
      if (b.currency !== p.currency) return reply.code(400).send(BAD_CURRENCY);
      const minor = parseMajor(b.amount, p.currency);
      if (minor === undefined || minor <= 0) return reply.code(400).send();
      const partyIdType = party.partyIdType;
      const partyId = party.partyId;
      if (typeof partyIdType !== 'string' || !PARTY_TYPES.includes(partyIdType) || typeof partyId !== 'string' || partyId === '')
        return reply.code(400).send();
      if (partyIdType === 'MSISDN' && !/^\d{6,15}$/.test(partyId)) return reply.code(400).send();
      for (const f of ['payerMessage', 'payeeNote', 'externalId'] as const) {
        if (b[f] !== undefined && typeof b[f] !== 'string') return reply.code(400).send();
      }
      const payerMessage = b.payerMessage as string | undefined;
      const payeeNote = b.payeeNote as string | undefined;
      if ((payerMessage?.length ?? 0) > 160 || (payeeNote?.length ?? 0) > 160) return reply.code(400).send();
      if (
        state.settings.rejectEmptyNotes &&
        p.targetEnvironment !== 'sandbox' &&
        (payerMessage?.trim() === '' || payeeNote?.trim() === '')
      ) {
        return reply.code(500).send(EMPTY_NOTE_500);
      }
      let callbackUrl: string | undefined;
      const cbHeader = req.headers['x-callback-url'];
      if (cbHeader !== undefined) {
        if (typeof cbHeader !== 'string' || cbHeader === '') return reply.code(400).send();
        let host: string;
        try {
          host = new URL(cbHeader).hostname;
        } catch {
          return reply.code(400).send();
        }
        const registered = state.users.get(t.user)?.providerCallbackHost;
        if (registered !== undefined && registered !== host) return reply.code(400).send(BAD_CALLBACK);
        callbackUrl = cbHeader;
      } else if (state.settings.callbackWithoutHeader) callbackUrl = state.settings.callbackUrl;
      state.addReference({
        id,
        product,
        kind,
        account: t.account,
        externalId: typeof b.externalId === 'string' ? b.externalId : '',
        amountMinor: minor,
        amount: b.amount,
        currency: p.currency,
        partyRole,
        party: { partyIdType, partyId },
        payerMessage,
        payeeNote,
        createdAt: core.clock.now(),
        rejected: REJECTED_CHARS.test(payerMessage ?? '') || REJECTED_CHARS.test(payeeNote ?? ''),
        callbackUrl,
        source: 'client',
      });
      return reply.code(202).send();
    };

  const status = (product: Product, kind: 'requesttopay' | 'transfer' | 'deposit') => async (req: FastifyRequest, reply: FastifyReply) => {
    const t = business(req, reply, product);
    if (!t) return reply;
    const { referenceId } = req.params as { referenceId: string };
    const ref = state.refs.get(referenceId);
    if (!ref || ref.account !== t.account || ref.kind !== kind || ref.rejected) return reply.code(404).send(NOT_FOUND);
    return state.view(ref);
  };

  app.post('/collection/v1_0/requesttopay', create('collection', 'requesttopay', 'payer'));
  app.get('/collection/v1_0/requesttopay/:referenceId', status('collection', 'requesttopay'));
  app.post('/disbursement/v1_0/transfer', create('disbursement', 'transfer', 'payee'));
  app.get('/disbursement/v1_0/transfer/:referenceId', status('disbursement', 'transfer'));
  app.post('/disbursement/v1_0/deposit', create('disbursement', 'deposit', 'payee'));
  app.get('/disbursement/v1_0/deposit/:referenceId', status('disbursement', 'deposit'));
}
