import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { OrgReports } from '../../app/org-reports';
import type { SyncSettings } from '../../app/settings';
import type { TransactionChanges } from '../../app/transaction-changes';
import { changesQuery, changesResponse, notificationsQuery, notificationsResponse, summaryResponse, toChangesJson } from '../data.schemas';
import { accountParams, errorBody } from '../schemas';
import { callerOf } from '../server';
import { settingsRoutes } from './settings.routes';

/** The use cases behind the data and settings routes. */
export interface DataServices {
  changes: TransactionChanges;
  settings: SyncSettings;
  reports: OrgReports;
}

/** Data and settings: the transactions delta feed, settings (settings.routes.ts), the org's summary and notifications. */
export const dataRoutes: FastifyPluginAsyncZod<{ data: DataServices }> = async (app, { data }) => {
  await app.register(settingsRoutes, { settings: data.settings });
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

  app.get(
    '/accounts/:id/transactions/changes',
    {
      schema: {
        summary: 'Transactions added, modified and removed since the cursor (delta feed)',
        tags: ['transactions'],
        params: accountParams,
        querystring: changesQuery,
        response: { 200: changesResponse, ...errors },
      },
    },
    async (req) => toChangesJson(await data.changes.changes(callerOf(req), req.params.id, req.query)),
  );

  app.get(
    '/sync/summary',
    {
      schema: {
        summary: 'Per provider: accounts by status, last 24 h success rate and p95 duration, the oldest success (operator, admin)',
        tags: ['operations'],
        response: { 200: summaryResponse, ...errors },
      },
    },
    async (req) => data.reports.summary(callerOf(req)),
  );

  app.get(
    '/notifications',
    {
      schema: {
        summary: "The organisation's re-auth episodes with their pushes and delivery attempts (operator, admin)",
        tags: ['operations'],
        querystring: notificationsQuery,
        response: { 200: notificationsResponse, ...errors },
      },
    },
    async (req) => data.reports.notifications(callerOf(req), req.query),
  );
};
