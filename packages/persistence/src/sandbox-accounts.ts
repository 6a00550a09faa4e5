import type { CredentialsCipher } from './credentials-cipher';
import { insertCredential } from './credentials.repo';
import { insertAccount, type AccountRecord } from './accounts.repo';
import type { Queryable } from './db';
import { enqueueDueSync } from './sync-due.repo';

/**
 * Linking the provider sandboxes' accounts (`sandbox/`, `GET /__sandbox/accounts`) to our
 * database: what `npm start` seeds for its demo and the chaos harness (`chaos/`) seeds for its
 * load. Development and test tooling only; production accounts are linked through sync-api.
 */

/** One account as a simulator lists it (with its synthetic sandbox credentials). */
export interface SandboxAccountListing {
  id: string;
  name?: string;
  currency: string;
  /** Airtel: the country its API calls name (X-Country). */
  country?: string;
  credentials?: Record<string, unknown>;
}

export type SandboxProvider = 'mono' | 'momo' | 'airtel';

/** Every account a simulator lists, page by page (the control API answers 100 per page by default). */
export async function fetchSandboxAccounts(baseUrl: string, pageSize = 500): Promise<SandboxAccountListing[]> {
  const all: SandboxAccountListing[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const res = await fetch(`${baseUrl}/__sandbox/accounts?offset=${offset}&limit=${pageSize}`);
    if (!res.ok) throw new Error(`sandbox ${baseUrl} answered ${res.status} for its account list`);
    const page = ((await res.json()) as { accounts: SandboxAccountListing[] }).accounts;
    all.push(...page);
    if (page.length < pageSize) return all;
  }
}

export interface LinkSandboxAccountInput {
  orgId: string;
  userId: string;
  provider: SandboxProvider;
  listing: SandboxAccountListing;
  /** When its first full sync is due (the scheduler dispatches it at its next pass after this). */
  dueAt: Date;
}

/**
 * Links one sandbox account: MoMo/Airtel merchant credentials stored encrypted (Airtel's with the
 * merchant's country, which its X-Country header needs), the account row, and its first full sync
 * queued in `sync_due`.
 */
export async function linkSandboxAccount(db: Queryable, cipher: CredentialsCipher, input: LinkSandboxAccountInput): Promise<AccountRecord> {
  const { orgId, userId, provider, listing: a, dueAt } = input;
  let credentialId: string | undefined;
  if (provider !== 'mono') {
    const secret = provider === 'airtel' && a.country ? { ...a.credentials, country: a.country } : (a.credentials ?? {});
    credentialId = await insertCredential(db, cipher, { orgId, provider, secret });
  }
  const account = await insertAccount(db, {
    orgId,
    userId,
    provider,
    providerAccountId: a.id,
    type: provider === 'mono' ? 'bank' : 'mobile_money',
    currency: a.currency,
    displayName: a.name,
    ...(credentialId ? { credentialId } : {}),
  });
  await enqueueDueSync(db, {
    accountId: account.id,
    orgId,
    provider,
    dueAt,
    plannedSlot: dueAt,
    mode: 'full',
    trigger: 'scheduled',
  });
  return account;
}
