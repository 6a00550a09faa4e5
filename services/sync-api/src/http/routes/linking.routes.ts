import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { LinkingApi, LinkResult } from '../../app/linking';
import type { RepairApi } from '../../app/repair';
import {
  airtelLinkBody,
  credentialsBody,
  linkResponse,
  momoLinkBody,
  monoLinkBody,
  reauthResponse,
  repairResponse,
  unlinkQuery,
  unlinkResponse,
} from '../linking.schemas';
import { accountParams, errorBody, toAccountJson } from '../schemas';
import { callerOf } from '../server';

export interface LinkingRouteDeps {
  linking: LinkingApi;
  repair: RepairApi;
}

const linkErrors = { 400: errorBody, 401: errorBody, 403: errorBody, 409: errorBody, 503: errorBody };
const linkDescription =
  'The provider verifies what is sent before anything is stored (a wrong code, key or secret: 400 saying so; provider down: 503). ' +
  'Then the credential is stored encrypted, the account created and its first sync queued (trigger link), in one transaction. ' +
  'Linking the same provider account again answers the existing account (200, outcome existing); one linked by another user: 409 already_linked.';

const linkJson = (r: LinkResult) => ({ ...r, account: toAccountJson(r.account) });

/** Linking (Mono, MoMo, Airtel), repair (re-auth URL, new credentials) and unlink. */
export const linkingRoutes: FastifyPluginAsyncZod<LinkingRouteDeps> = async (app, { linking, repair }) => {
  const created = { 200: linkResponse, 201: linkResponse, ...linkErrors };

  app.post(
    '/accounts/mono',
    {
      schema: {
        summary: 'Links a bank account with the code from Mono Connect (exchanged through Mono POST /v2/accounts/auth)',
        description: linkDescription,
        tags: ['linking'],
        body: monoLinkBody,
        response: created,
      },
    },
    async (req, reply) => {
      const r = await linking.linkMono(callerOf(req), req.body);
      return reply.code(r.outcome === 'created' ? 201 : 200).send(linkJson(r));
    },
  );

  app.post(
    '/accounts/momo',
    {
      schema: {
        summary: 'Links an MTN MoMo merchant wallet with its API user, API key and subscription keys (verified with a token request)',
        description: linkDescription,
        tags: ['linking'],
        body: momoLinkBody,
        response: created,
      },
    },
    async (req, reply) => {
      const r = await linking.linkMomo(callerOf(req), req.body);
      return reply.code(r.outcome === 'created' ? 201 : 200).send(linkJson(r));
    },
  );

  app.post(
    '/accounts/airtel',
    {
      schema: {
        summary: 'Links an Airtel Money merchant wallet with its client credentials (verified with a token request)',
        description: linkDescription,
        tags: ['linking'],
        body: airtelLinkBody,
        response: created,
      },
    },
    async (req, reply) => {
      const r = await linking.linkAirtel(callerOf(req), req.body);
      return reply.code(r.outcome === 'created' ? 201 : 200).send(linkJson(r));
    },
  );

  app.post(
    '/accounts/:id/reauth',
    {
      schema: {
        summary: "A Mono account's re-link URL (Mono initiate, scope reauth); the stored one while it is still valid",
        description: "Mono's account_reauthorized webhook then repairs the account. MoMo and Airtel accounts: 409 (use PUT credentials).",
        tags: ['linking'],
        params: accountParams,
        response: { 200: reauthResponse, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 503: errorBody },
      },
    },
    async (req) => repair.reauthLink(callerOf(req), req.params.id),
  );

  app.put(
    '/accounts/:id/credentials',
    {
      schema: {
        summary: 'Repairs a MoMo or Airtel account with its regenerated API key or new client credentials',
        description:
          'Verified with the provider first: wrong → 400 credentials_rejected and nothing changes. Right → the credential is replaced ' +
          '(encrypted), the account is active again, its re-auth episode ends and a sync is queued (trigger repair).',
        tags: ['linking'],
        params: accountParams,
        body: credentialsBody,
        response: { 200: repairResponse, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 503: errorBody },
      },
    },
    async (req) => {
      const r = await repair.replaceCredentials(callerOf(req), req.params.id, req.body);
      return { ...r, account: toAccountJson(r.account) };
    },
  );

  app.delete(
    '/accounts/:id',
    {
      schema: {
        summary: 'Unlinks an account: no more syncs, credentials erased; transactions kept unless erase=true',
        description:
          'The account stays (status disabled, connection unlinked) with its transactions and run history until erased: ' +
          '?erase=true erases its transactions and balance at once (also later, on an account already unlinked).',
        tags: ['linking'],
        params: accountParams,
        querystring: unlinkQuery,
        response: { 200: unlinkResponse, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (req) => repair.unlink(callerOf(req), req.params.id, req.query.erase),
  );
};
