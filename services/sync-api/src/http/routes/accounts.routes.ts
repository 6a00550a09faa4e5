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
import { sendRunsCsv, wantsCsv } from '../runs-csv';

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
        summary: "An account's sync runs, newest first (filters; cursor pagination); Accept: text/csv exports them as CSV",
        tags: ['sync-runs'],
        params: accountParams,
        querystring: runsQuery,
        response: { 200: runsResponse, ...errors },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const filters = {
        status: q.status,
        trigger: q.trigger,
        from: q.from === undefined ? undefined : new Date(q.from),
        to: q.to === undefined ? undefined : new Date(q.to),
        cursor: q.cursor,
      };
      // Accept: text/csv exports the same filters (runs-csv.ts).
      if (wantsCsv(req.headers.accept))
        return sendRunsCsv(reply, { api, caller: callerOf(req), accountId: req.params.id, query: filters, log: req.log });
      return api.listRuns(callerOf(req), req.params.id, { ...filters, limit: q.limit });
    },
  );

  app.get(
    '/accounts/:id/sync-runs/:runId',
    { schema: { summary: 'One sync run in full', tags: ['sync-runs'], params: runParams, response: { 200: runDetailJson, ...errors } } },
    async (req) => api.getRun(callerOf(req), req.params.id, req.params.runId),
  );
};
