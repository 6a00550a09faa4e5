import { z } from 'zod';
import { PROVIDERS, SYNC_MODES } from '@intellifin/domain';

/** Schemas of the operator and admin routes (queue numbers, dead letters, org-wide sync). */
const instant = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);

export const queueStatsResponse = z
  .object({
    scope: z.literal('system').meta({ description: 'System-wide numbers: every organisation shares the queues' }),
    lanes: z.array(
      z.object({
        provider: z.enum(PROVIDERS),
        lane: z.enum(['bulk', 'priority']),
        consumer: z.string(),
        exists: z.boolean(),
        pending: count.meta({ description: 'Not yet delivered' }),
        inFlight: count.meta({ description: 'Delivered, not yet acknowledged (ack pending)' }),
        redelivered: count.meta({ description: 'Delivered more than once, not yet acknowledged' }),
        waiting: count.meta({ description: 'Open pull requests (idle worker capacity)' }),
        deadLetters: count.meta({ description: "Dead letters of this lane's commands in SYNC_DLQ" }),
      }),
    ),
  })
  .meta({ id: 'QueueStats' });

export const deadLettersQuery = z
  .object({
    provider: z.enum(PROVIDERS).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^[1-9]\d{0,15}$/, 'not a cursor this API issued')
      .optional(),
  })
  .strict();

export const deadLetterParams = z.object({ id: z.string().regex(/^[1-9]\d{0,15}$/, 'a dead letter id (DLQ sequence)') });

const deadLetterJson = z
  .object({
    id: z.number().int().meta({ description: 'DLQ stream sequence' }),
    originalSubject: z.string(),
    provider: z.enum(PROVIDERS).nullable(),
    lane: z.enum(['bulk', 'priority']).nullable(),
    accountId: z.string().nullable(),
    commandId: z.string().nullable(),
    trigger: z.string().nullable(),
    mode: z.string().nullable(),
    source: z.string().nullable().meta({ description: 'runner (the worker gave up) or advisory (max deliveries without an ack)' }),
    error: z.object({ kind: z.string().nullable(), code: z.string().nullable() }),
    reason: z.string().nullable().meta({ description: 'Masked: no keys, tokens, MSISDNs or account numbers' }),
    failedAt: instant,
    deliveries: z.number().int().nullable(),
  })
  .meta({ id: 'DeadLetter' });

export const deadLettersResponse = z.object({ deadLetters: z.array(deadLetterJson), nextCursor: z.string().nullable() });

export const deadLetterActionResponse = z
  .object({
    id: z.number().int(),
    action: z.enum(['replay', 'discard']),
    commandId: z.string().nullable(),
    subject: z.string().nullable(),
    alreadyHandled: z.boolean().meta({ description: 'An earlier request already did this; nothing new was queued' }),
    removed: z.boolean().meta({ description: 'Gone from the DLQ (false: a repeated request removes it)' }),
    auditId: z.string(),
  })
  .meta({ id: 'DeadLetterAction' });

export const orgSyncBody = z
  .object({
    provider: z.enum(PROVIDERS).optional().meta({ description: "Only this provider's accounts (default: all)" }),
    mode: z.enum(SYNC_MODES).default('transactions'),
  })
  .strict()
  .nullish()
  .transform((b) => b ?? { mode: 'transactions' as const });

export const orgSyncResponse = z
  .object({
    provider: z.enum(PROVIDERS).nullable(),
    mode: z.enum(SYNC_MODES),
    accounts: count.meta({ description: 'Schedulable accounts (active or error) considered' }),
    queued: count,
    coalesced: count.meta({ description: 'Accounts with a covering request already queued' }),
    batches: count,
    auditId: z.string(),
  })
  .meta({ id: 'OrgSync' });
