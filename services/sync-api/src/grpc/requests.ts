import { z } from 'zod';
import { accountStatusFromProto, providerFromProto, syncModeFromProto, syncTriggerFromProto, SyncMode, RunState } from '@intellifin/proto';
import type { RunFilterStatus } from '../app/sync-runs.query';

/**
 * Zod schemas of the decoded gRPC requests (ts-proto messages: camelCase fields, enums as numbers,
 * Timestamps as Dates). A request that fails is INVALID_ARGUMENT with one message per field, named
 * as in the .proto (`account_id: Invalid UUID`). The same bounds as the REST schemas.
 */
function protoEnum<N>(name: string, fromProto: (v: number) => N) {
  return z.number().transform((v, ctx): N => {
    try {
      return fromProto(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not a known ${name}` });
      return z.NEVER;
    }
  });
}

const RUN_STATES: Record<number, RunFilterStatus | undefined> = {
  [RunState.RUN_STATE_UNSPECIFIED]: undefined,
  [RunState.RUN_STATE_RUNNING]: 'running',
  [RunState.RUN_STATE_SUCCEEDED]: 'succeeded',
  [RunState.RUN_STATE_FAILED]: 'failed',
  [RunState.RUN_STATE_CANCELLED]: 'cancelled',
};

const accountId = z.uuid();
/** A Timestamp the database can hold and compare (the REST `from`/`to` are RFC 3339 instants). */
const instant = z.date().min(new Date('1970-01-01T00:00:00Z')).max(new Date('9999-12-31T00:00:00Z'));
const provider = protoEnum('Provider', providerFromProto);

export const getAccountStatusRequest = z.object({ accountId });

export const listAccountStatusesRequest = z.object({
  providers: z.array(provider).max(10),
  statuses: z.array(protoEnum('AccountStatus', accountStatusFromProto)).max(10),
});

export const getQueueStatsRequest = z.object({ providers: z.array(provider).max(10) });

export const triggerSyncRequest = z.object({
  accountId,
  // UNSPECIFIED is the default sync (transactions), as a REST request without a body.
  mode: z.number().transform((v, ctx) => {
    if (v === SyncMode.SYNC_MODE_UNSPECIFIED) return 'transactions' as const;
    try {
      return syncModeFromProto(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a known SyncMode' });
      return z.NEVER;
    }
  }),
  realtime: z.boolean(),
});

/** Metadata `idempotency-key`, as the REST header. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const cancelSyncRequest = z.object({ accountId });

export const listSyncRunsRequest = z
  .object({
    accountId,
    pageSize: z
      .number()
      .int()
      .min(0)
      .max(100)
      .transform((n) => (n === 0 ? 20 : n)),
    pageToken: z
      .string()
      .max(200)
      .transform((t) => (t === '' ? undefined : t)),
    state: z.number().transform((v, ctx) => {
      if (!(v in RUN_STATES)) {
        ctx.addIssue({ code: 'custom', message: 'not a known RunState' });
        return z.NEVER;
      }
      return RUN_STATES[v];
    }),
    trigger: z.number().transform((v, ctx) => {
      if (v === 0) return undefined;
      try {
        return syncTriggerFromProto(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a known SyncTrigger' });
        return z.NEVER;
      }
    }),
    startedFrom: instant.optional(),
    startedBefore: instant.optional(),
  })
  .refine((q) => !q.startedFrom || !q.startedBefore || q.startedFrom < q.startedBefore, {
    message: 'must be after started_from',
    path: ['startedBefore'],
  });

export const getSyncRunRequest = z.object({ accountId, runId: z.uuid() });

export const watchSyncStatusRequest = z.object({
  accountIds: z.array(accountId).max(100),
  providers: z.array(provider).max(10),
  sendInitial: z.boolean(),
});

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** `field: message; …` with the .proto field names. */
export function describeIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => `${i.path.map((p) => (typeof p === 'string' ? snake(p) : String(p))).join('.') || 'request'}: ${i.message}`)
    .join('; ');
}
