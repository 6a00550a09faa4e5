import {
  CURSOR_VERSION,
  MAX_PENDING_REFS,
  moneyFromDecimal,
  moneyFromMinor,
  type CanonicalTransaction,
  type CurrencyCode,
  type PendingRefsCursor,
  type TransactionStatus,
} from '@intellifin/domain';
import type { TrackedReference, WalletProviderId } from '@intellifin/persistence';
import type { StatusLookup } from './wallet-api';

/** The reason a reference unknown to the provider after the grace period fails with. */
export const NOT_FOUND_REASON = 'not_found';

/** The narration of a reference's transaction: kind and external id, plus the failure reason. */
export function referenceNarration(kind: string, externalId: string | null, failureReason?: string): string {
  const base = `${kind === 'collection' ? 'Collection' : 'Payout'}${externalId ? ` ${externalId}` : ''}`;
  return failureReason ? `${base} failed: ${failureReason}` : base;
}

/** Resolved status of one reference in one run. */
export interface Resolution {
  readonly status: TransactionStatus;
  readonly ledgerId?: string;
  readonly reason?: string;
  readonly lookup?: StatusLookup;
  readonly source: 'poll' | 'callback';
}

/**
 * The final or pending canonical status of a reference from what the provider (or a callback) said.
 * `not_found` stays pending within `graceMs` of the reference's creation, then fails with reason
 * `not_found` (MoMo answers 404 for a request the wallet rejected after its 202).
 */
export function resolve(ref: TrackedReference, lookup: StatusLookup, source: Resolution['source'], now: Date, graceMs: number): Resolution {
  switch (lookup.status) {
    case 'successful':
      return { status: 'posted', ...(lookup.ledgerId ? { ledgerId: lookup.ledgerId } : {}), lookup, source };
    case 'failed':
      return {
        status: 'failed',
        reason: lookup.reason ?? 'unspecified',
        ...(lookup.ledgerId ? { ledgerId: lookup.ledgerId } : {}),
        lookup,
        source,
      };
    case 'not_found':
      return now.getTime() - ref.createdAt.getTime() >= graceMs
        ? { status: 'failed', reason: NOT_FOUND_REASON, lookup, source }
        : { status: 'pending', lookup, source };
    default:
      return { status: 'pending', lookup, source };
  }
}

/**
 * The reference's canonical transaction. Every field but `raw` is a function of the registration
 * and the resolved transition only, so the same transition seen twice (a callback and a poll) is
 * one modification, the second write unchanged. The provider's amount wins when it is a valid
 * amount in the account's currency (it is what moved in the wallet).
 */
export function referenceTransaction(ref: TrackedReference, r: Resolution, currency: CurrencyCode): CanonicalTransaction {
  let amount = moneyFromMinor(ref.amountMinor, currency);
  if (r.status !== 'pending' && r.lookup?.amount !== undefined && (r.lookup.currency ?? currency) === currency) {
    try {
      const reported = moneyFromDecimal(r.lookup.amount, currency);
      if (reported.minor > 0n) amount = reported;
    } catch {
      // keep the registered amount; the raw body shows what came
    }
  }
  const raw = {
    source: r.source,
    ...(r.lookup?.providerStatus ? { providerStatus: r.lookup.providerStatus } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.ledgerId ? { ledgerId: r.ledgerId } : {}),
    body: r.lookup?.raw ?? null,
  };
  return {
    providerTxnId: ref.referenceId,
    amount,
    direction: ref.kind === 'collection' ? 'credit' : 'debit',
    status: r.status,
    bookedAt: ref.createdAt,
    narration: referenceNarration(ref.kind, ref.externalId, r.status === 'failed' ? r.reason : undefined),
    ...(ref.partyMasked ? { counterparty: { account: ref.partyMasked } } : {}),
    ...(ref.externalId ? { reference: ref.externalId } : {}),
    ...(r.ledgerId ? { secondaryId: r.ledgerId } : {}),
    raw,
  };
}

/** The cursor after a page: the references still pending (sorted, capped like every cursor). */
export function pendingCursor(provider: WalletProviderId, pending: Iterable<string>): PendingRefsCursor {
  return { v: CURSOR_VERSION, kind: provider, pendingRefs: [...new Set(pending)].sort().slice(0, MAX_PENDING_REFS) };
}
