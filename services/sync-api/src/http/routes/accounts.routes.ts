import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SyncApi } from '../../app/sync-api';
import {
  accountJson,
  accountParams,
  accountsResponse,
  errorBody,
  runDetailJson,
  runParams,
  runsQuery,
  runsResponse,
  toAccountJson,
} from '../schemas';
import { callerOf } from '../server';

/** Reads: accounts with their sync status, run history, one run. */
export const accountRoutes: FastifyPluginAsyncZod<{ api: SyncApi }> = async (app, { api }) => {
  const errors = { 400: errorBody, 401: errorBody, 404: errorBody };

  app.get(
    '/accounts',
    {
      schema: {
        summary: "The caller's accounts, each with its sync status",
        tags: ['accounts'],
        response: { 200: accountsResponse, 401: errorBody },
      },
    },
    async (req) => ({ accounts: (await api.listAccounts(callerOf(req))).map(toAccountJson) }),
  );

  app.get(
    '/accounts/:id/sync-status',
    {
      schema: {
        summary: "One account's sync status",
        tags: ['accounts'],
        params: accountParams,
        response: { 200: accountJson, ...errors },
      },
    },
    async (req) => toAccountJson(await api.accountStatus(callerOf(req), req.params.id)),
  );

  app.get(
    '/accounts/:id/sync-runs',
    {
      schema: {
        summary: "An account's sync runs, newest first (filters; cursor pagination)",
        tags: ['sync-runs'],
        params: accountParams,
        querystring: runsQuery,
        response: { 200: runsResponse, ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return api.listRuns(callerOf(req), req.params.id, {
        status: q.status,
        trigger: q.trigger,
        from: q.from === undefined ? undefined : new Date(q.from),
        to: q.to === undefined ? undefined : new Date(q.to),
        limit: q.limit,
        cursor: q.cursor,
      });
    },
  );

  app.get(
    '/accounts/:id/sync-runs/:runId',
    { schema: { summary: 'One sync run in full', tags: ['sync-runs'], params: runParams, response: { 200: runDetailJson, ...errors } } },
    async (req) => api.getRun(callerOf(req), req.params.id, req.params.runId),
  );
};
