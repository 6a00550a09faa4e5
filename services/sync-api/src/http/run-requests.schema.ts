import { z } from 'zod';

/** `SyncRunDetail.requests`: the provider requests a run made (bounded summary; nothing secret). */
const requestJson = z.object({
  atMs: z.number().int().meta({ description: 'Milliseconds after the run started' }),
  route: z.string().meta({ description: 'Route template, e.g. "GET /v2/accounts/:id/transactions" (no ids, no query)' }),
  status: z.number().int().meta({ description: 'HTTP status; 0 = no response (connection failed, timed out)' }),
  durationMs: z.number().int(),
  retryAfterMs: z.number().int().nullable().meta({ description: "The provider's Retry-After, when it sent one" }),
});

export const runRequestsJson = z
  .object({
    total: z.number().int().meta({ description: 'Every request the run made' }),
    omitted: z.number().int().meta({ description: 'Requests in neither first nor last' }),
    first: z.array(requestJson),
    last: z.array(requestJson),
    totals: z.array(
      z.object({
        route: z.string(),
        status: z.number().int(),
        count: z.number().int(),
        totalMs: z.number().int(),
        maxMs: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'SyncRunRequests' });
