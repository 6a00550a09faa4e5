import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '@intellifin/core';
import { parseCurrency } from '@intellifin/domain';
import {
  bindWalletCallbacks,
  registerWalletReference,
  storeWalletCallback,
  type Pool,
  type RegisterResult,
  type WalletProviderId,
} from '@intellifin/persistence';
import { referenceNarration } from './reference-mapping';
import type { StatusLookup } from './wallet-api';

/**
 * Reference registration as it arrives on `wallet.<provider>.ref.<accountId>` (JSON). Money is
 * `amountMinor` (integer minor units as a string, or a safe integer) plus `currency`.
 */
export const referenceRegistrationSchema = z.object({
  accountId: z.string().uuid(),
  referenceId: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9._:-]+$/, 'referenceId: letters, digits and . _ : - only'),
  kind: z.enum(['collection', 'payout']),
  amountMinor: z.union([
    z.string().regex(/^[1-9]\d{0,17}$/, 'amountMinor: a positive integer in minor units'),
    z.number().int().positive(),
  ]),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency: ISO 4217 upper case'),
  externalId: z.string().max(255).optional(),
  party: z
    .object({
      type: z.enum(['MSISDN', 'EMAIL', 'PARTY_CODE']).default('MSISDN'),
      id: z.string().min(1).max(255),
    })
    .optional(),
  createdAt: z.string().datetime({ offset: true }),
});
export type ReferenceRegistration = z.input<typeof referenceRegistrationSchema>;

/** A provider callback on `wallet.<provider>.cb`: the body as received, and the reference when the URL named it. */
export const callbackEnvelopeSchema = z.object({
  referenceId: z.string().min(1).max(255).optional(),
  body: z.unknown(),
  receivedAt: z.string().datetime({ offset: true }).optional(),
});
export type CallbackEnvelope = z.infer<typeof callbackEnvelopeSchema>;

/** What a provider's callback says, normalised by its `WalletApi.parseCallback`. */
export interface ParsedCallback {
  readonly referenceId: string;
  readonly lookup: StatusLookup;
}

/**
 * Masks a payer/payee identifier for storage: an MSISDN keeps its first three and last two digits,
 * an e-mail its first character and domain; anything else its last four characters.
 */
export function maskParty(type: string, id: string): string {
  if (type === 'EMAIL' && id.includes('@')) {
    const [user, domain] = [id.slice(0, id.indexOf('@')), id.slice(id.indexOf('@') + 1)];
    return `${user.slice(0, 1)}***@${domain}`;
  }
  if (type === 'MSISDN') {
    const digits = id.replace(/\D/g, '');
    return digits.length <= 5 ? '*'.repeat(digits.length) : `${digits.slice(0, 3)}${'*'.repeat(digits.length - 5)}${digits.slice(-2)}`;
  }
  return id.length <= 4 ? '****' : `***${id.slice(-4)}`;
}

/** Masks MSISDN-looking values (`partyId`, `msisdn`) anywhere in a provider body before it is stored. */
export function maskBody(body: unknown, depth = 0): unknown {
  if (depth > 6 || body === null || typeof body !== 'object') return body;
  if (Array.isArray(body)) return body.map((v) => maskBody(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if ((k === 'partyId' || k === 'msisdn') && typeof v === 'string') out[k] = maskParty('MSISDN', v);
    else out[k] = maskBody(v, depth + 1);
  }
  return out;
}

/**
 * Registers a reference (idempotent; different contents refused with `ValidationError
 * ('reference_conflict')` naming the fields, nothing changed), binding callbacks that arrived for it
 * before. Returns the outcome and how many early callbacks it bound.
 */
export async function registerReference(
  pool: Pool,
  provider: WalletProviderId,
  input: ReferenceRegistration,
): Promise<RegisterResult & { boundCallbacks: number }> {
  const parsed = referenceRegistrationSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new ValidationError(
      'invalid_registration',
      `invalid reference registration: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`.slice(0, 500),
      issues,
    );
  }
  const r = parsed.data;
  const currency = parseCurrency(r.currency);
  const amountMinor = typeof r.amountMinor === 'number' ? BigInt(r.amountMinor) : BigInt(r.amountMinor);
  const result = await registerWalletReference(pool, {
    accountId: r.accountId,
    provider,
    referenceId: r.referenceId,
    kind: r.kind,
    amountMinor,
    currency,
    externalId: r.externalId ?? null,
    partyMasked: r.party ? maskParty(r.party.type, r.party.id) : null,
    createdAt: new Date(r.createdAt),
    narration: referenceNarration(r.kind, r.externalId ?? null),
  });
  const boundCallbacks = await bindWalletCallbacks(pool, provider, r.referenceId, {
    accountId: result.reference.accountId,
    orgId: result.reference.orgId,
  });
  return { ...result, boundCallbacks };
}

/** Stores a parsed callback (deduplicated by its normalised transition). */
export async function storeCallback(pool: Pool, provider: WalletProviderId, cb: ParsedCallback) {
  const l = cb.lookup;
  const digest = createHash('sha256')
    .update(JSON.stringify([l.status, l.ledgerId ?? null, l.reason ?? null, l.amount ?? null, l.currency ?? null]))
    .digest('hex')
    .slice(0, 32);
  return storeWalletCallback(pool, {
    provider,
    referenceId: cb.referenceId,
    status: l.status,
    ledgerId: l.ledgerId ?? null,
    reason: l.reason ?? null,
    digest,
    payload: maskBody(l.raw),
  }).then((r) => ({ ...r, digest }));
}
