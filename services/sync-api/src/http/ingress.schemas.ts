import { z } from 'zod';
import { PROVIDERS } from '@intellifin/domain';

/**
 * Schemas of the provider ingress and internal routes. Provider bodies are loose objects (providers
 * add fields; only what we rely on is required); internal bodies are strict (unknown fields: 400).
 */
const referenceId = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');

export const monoWebhookHeaders = z.object({ 'mono-webhook-secret': z.string().max(1024).optional() });
export const monoWebhookBody = z.looseObject({
  event: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()),
});

export const ingressAnswer = z
  .object({ received: z.literal(true), duplicate: z.boolean().meta({ description: 'A repeat delivery of an event already stored' }) })
  .meta({ id: 'IngressAnswer' });

export const momoCallbackQuery = z.object({
  ref: referenceId.meta({ description: 'The X-Reference-Id of the request this callback answers (we put it in X-Callback-Url)' }),
  token: z.string().max(1024).optional(),
});
/** The request-to-pay / transfer status representation (providers.md §2.5, §2.7). */
export const momoCallbackBody = z.looseObject({
  status: z.string().min(1).max(64),
  financialTransactionId: z.union([z.string().max(255), z.number()]).optional(),
  externalId: z.string().max(255).optional(),
  amount: z.string().max(64).optional(),
  currency: z.string().max(8).optional(),
});

export const airtelCallbackQuery = z.object({ token: z.string().max(1024).optional() });
/** Airtel's callback (providers.md §3.7): the transaction id is our reference. */
export const airtelCallbackBody = z.looseObject({
  transaction: z.looseObject({
    id: referenceId,
    status_code: z.string().min(1).max(16),
    message: z.string().max(500).optional(),
    airtel_money_id: z.string().max(255).optional(),
  }),
});

export const serviceHeaders = z.object({ authorization: z.string().max(4096).optional() });

export const backgroundSyncBody = z.strictObject({
  orgId: z.uuid(),
  accountIds: z.array(z.uuid()).min(1).max(300).optional().meta({ description: 'Absent: every schedulable account of the organisation' }),
  provider: z.enum(PROVIDERS).optional(),
  requestedBy: z.string().min(1).max(100).optional().meta({ description: 'The calling service, recorded as service:<name>' }),
});

export const backgroundSyncAnswer = z
  .object({
    queued: z.number().int(),
    coalesced: z.number().int(),
    skipped: z.array(z.object({ accountId: z.uuid(), reason: z.enum(['not_found', 'unlinked', 'auth_required']) })),
    remaining: z.number().int().meta({ description: 'Org-wide: schedulable accounts beyond the per-request bound, for a next request' }),
  })
  .meta({ id: 'BackgroundSyncAnswer' });

/** wallet-sync's reference registration (intake.ts), money as an integer string of minor units. */
export const referenceBody = z.strictObject({
  orgId: z.uuid(),
  provider: z.enum(['momo', 'airtel']),
  accountId: z.uuid(),
  referenceId,
  kind: z.enum(['collection', 'payout']),
  amountMinor: z.string().regex(/^[1-9]\d{0,17}$/, 'a positive integer in minor units'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 upper case'),
  externalId: z.string().max(255).optional(),
  party: z.strictObject({ type: z.enum(['MSISDN', 'EMAIL', 'PARTY_CODE']), id: z.string().min(1).max(255) }).optional(),
  createdAt: z.iso.datetime({ offset: true }),
});

export const referenceAnswer = z
  .object({ accepted: z.literal(true), accountId: z.uuid(), provider: z.enum(['momo', 'airtel']), referenceId: z.string() })
  .meta({ id: 'ReferenceAnswer' });
