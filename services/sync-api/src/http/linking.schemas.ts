import { z } from 'zod';
import { CURRENCY_CODES, type CurrencyCode } from '@intellifin/domain';
import { accountJson, queuedCommandJson } from './schemas';

/** Request and response schemas of linking, repair and unlink (validation, serialization and OpenAPI). */
const secret = (what: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .meta({ description: `${what} (stored encrypted; never returned or logged)` });
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .optional()
  .meta({ description: 'Shown in the apps; default: the bank (Mono) or none' });
const currency = z
  .enum(CURRENCY_CODES as unknown as [CurrencyCode, ...CurrencyCode[]])
  .meta({ description: "The wallet's currency (ISO 4217)" });

export const monoLinkBody = z
  .object({
    code: z.string().min(1).max(500).meta({ description: 'The code Mono Connect gave the app (single use, about 10 minutes)' }),
    displayName,
  })
  .strict();

export const momoLinkBody = z
  .object({
    apiUser: z.string().min(1).max(100).meta({ description: 'The MoMo API user (X-Reference-Id): identifies the wallet' }),
    apiKey: secret('The API key'),
    subscriptionKeys: z
      .object({ collection: secret('Collection subscription key'), disbursement: secret('Disbursement subscription key').optional() })
      .strict(),
    targetEnvironment: z
      .string()
      .regex(/^(sandbox|mtn[a-z]+)$/, 'sandbox or mtn<country>')
      .optional(),
    currency,
    displayName,
  })
  .strict();

export const airtelLinkBody = z
  .object({
    clientId: z.string().min(1).max(255).meta({ description: 'The Airtel app client id: identifies the wallet' }),
    clientSecret: secret('The client secret'),
    country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, e.g. ZM'),
    currency,
    displayName,
  })
  .strict();

export const linkResponse = z
  .object({
    outcome: z.enum(['created', 'existing', 'relinked']).meta({
      description:
        'created (201): a new account; existing (200): already linked, unchanged; relinked (200): an unlinked account linked again',
    }),
    account: accountJson,
    command: queuedCommandJson.nullable().meta({ description: 'The first sync (trigger link); null when the account already existed' }),
  })
  .meta({ id: 'LinkResult' });

export const credentialsBody = z
  .object({
    apiKey: secret('MoMo: the regenerated API key').optional(),
    apiUser: z.string().min(1).max(100).optional().meta({ description: 'MoMo: must be the account’s own API user' }),
    subscriptionKeys: z
      .object({ collection: secret('Collection subscription key'), disbursement: secret('Disbursement subscription key').optional() })
      .strict()
      .optional(),
    targetEnvironment: z
      .string()
      .regex(/^(sandbox|mtn[a-z]+)$/, 'sandbox or mtn<country>')
      .optional(),
    clientId: z.string().min(1).max(255).optional().meta({ description: 'Airtel: must be the account’s own client id' }),
    clientSecret: secret('Airtel: the new client secret').optional(),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, e.g. ZM')
      .optional(),
  })
  .strict()
  .meta({ description: 'MoMo: apiKey (other fields kept from the stored credential unless sent). Airtel: clientSecret (and country).' });

export const repairResponse = z
  .object({ account: accountJson, command: queuedCommandJson, episodeEnded: z.boolean() })
  .meta({ id: 'CredentialsRepairResult' });

export const reauthResponse = z
  .object({ accountId: z.uuid(), url: z.string(), expiresAt: z.iso.datetime({ offset: true }).nullable(), reused: z.boolean() })
  .meta({ id: 'ReauthLink' });

export const unlinkQuery = z
  .object({
    erase: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true')
      .meta({ description: 'true: erase the transactions and balance now (default: kept)' }),
  })
  .strict();

export const unlinkResponse = z
  .object({
    accountId: z.uuid(),
    status: z.literal('disabled'),
    credentialErased: z.boolean(),
    data: z.enum(['kept', 'erased']),
    transactionsErased: z.number().int(),
    cancelledQueued: z.number().int(),
  })
  .meta({ id: 'UnlinkResult' });
