import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SyncSettings } from '../../app/settings';
import { accountParams, errorBody } from '../schemas';
import { accountSettingsBody, accountSettingsResponse, orgSettingsBody, orgSettingsResponse } from '../settings.schemas';
import { callerOf } from '../server';

/** Settings: the organisation's schedule (admin) and one account's (its user). */
export const settingsRoutes: FastifyPluginAsyncZod<{ settings: SyncSettings }> = async (app, { settings }) => {
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

  app.get(
    '/settings/sync',
    {
      schema: {
        summary: "The organisation's sync schedule and bounds (admin)",
        tags: ['settings'],
        response: { 200: orgSettingsResponse, ...errors },
      },
    },
    async (req) => settings.orgSettings(callerOf(req)),
  );

  app.put(
    '/settings/sync',
    {
      schema: {
        summary: "Replaces the organisation's schedule overrides and bounds (admin)",
        tags: ['settings'],
        body: orgSettingsBody,
        response: { 200: orgSettingsResponse, ...errors },
      },
    },
    async (req) => settings.putOrgSettings(callerOf(req), req.body),
  );

  app.get(
    '/accounts/:id/settings',
    {
      schema: {
        summary: "One account's sync interval and re-auth push preference",
        tags: ['settings'],
        params: accountParams,
        response: { 200: accountSettingsResponse, ...errors },
      },
    },
    async (req) => settings.accountSettings(callerOf(req), req.params.id),
  );

  app.put(
    '/accounts/:id/settings',
    {
      schema: {
        summary: "Sets one account's sync interval (within the organisation's bounds) and re-auth push preference",
        tags: ['settings'],
        params: accountParams,
        body: accountSettingsBody,
        response: { 200: accountSettingsResponse, ...errors },
      },
    },
    async (req) => settings.putAccountSettings(callerOf(req), req.params.id, req.body),
  );
};
