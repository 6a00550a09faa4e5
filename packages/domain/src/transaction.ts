import { canonicalJson } from './canonical-json';
import { DomainError } from './errors';
import { type CurrencyCode, type Money, type MoneyJson, moneyEquals, moneyFromJson, moneyFromMinor, moneyToJson, isMoney } from './money';

export const TRANSACTION_DIRECTIONS = ['debit', 'credit'] as const;
export type TransactionDirection = (typeof TRANSACTION_DIRECTIONS)[number];

/**
 * - `pending`  known but not final (Mono pending rows, MoMo PENDING, Airtel TIP/TA);
 * - `posted`   booked / SUCCESSFUL / TS;  `failed` FAILED / TF / rejected;
 * - `reversed` was posted, then reversed or refunded by the provider;
 * - `removed`  was pending and the provider no longer returns it (a released card hold, Mono's
 *              statement shrinking): kept as a modification clients see in the delta feed, never a
 *              hard delete. It may come back (the provider serves it again) as another modification.
 */
export const TRANSACTION_STATUSES = ['pending', 'posted', 'failed', 'reversed', 'removed'] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

/** Statuses after which a MoMo/Airtel reference no longer needs polling. */
export const TERMINAL_TRANSACTION_STATUSES: readonly TransactionStatus[] = Object.freeze(['posted', 'failed', 'reversed', 'removed']);

export function isTerminalStatus(status: TransactionStatus): boolean {
  return status !== 'pending';
}

export function isTransactionStatus(value: unknown): value is TransactionStatus {
  return typeof value === 'string' && (TRANSACTION_STATUSES as readonly string[]).includes(value);
}

export function isTransactionDirection(value: unknown): value is TransactionDirection {
  return value === 'debit' || value === 'credit';
}

/** The other side of a transaction, as far as the provider tells it. Free text, possibly partial. */
export interface Counterparty {
  readonly name?: string;
  /** Account number or MSISDN (sensitive: logs redact it). */
  readonly account?: string;
  /** Bank or network name/code. */
  readonly institution?: string;
}

/**
 * A transaction in the provider-neutral shape every mapper produces and the upsert stores.
 * Identity is `(account, providerTxnId)`; everything else may change between two fetches of the
 * same transaction, and such a change is a *modification*, never a second row.
 */
export interface CanonicalTransaction {
  /** Dedup key within the account: Mono transaction id, MoMo X-Reference-Id, Airtel transaction.id. */
  readonly providerTxnId: string;
  /** Always non-negative: the sign is in `direction`. */
  readonly amount: Money;
  readonly direction: TransactionDirection;
  readonly status: TransactionStatus;
  readonly bookedAt: Date;
  readonly narration: string;
  readonly counterparty?: Counterparty;
  /** Running balance after this transaction, when the provider gives one (Mono). */
  readonly balanceAfter?: Money;
  /** Merchant/external reference (MoMo externalId, Airtel reference, bank reference). */
  readonly reference?: string;
  /** The provider's own ledger id: MoMo financialTransactionId, Airtel airtel_money_id. */
  readonly secondaryId?: string;
  /** The provider's payload as received, kept verbatim for audits and re-mapping. */
  readonly raw: unknown;
}

/** The JSON form (events, cursors, fixtures): Money as strings, dates as ISO strings. */
export interface CanonicalTransactionJson {
  providerTxnId: string;
  amount: MoneyJson;
  direction: TransactionDirection;
  status: TransactionStatus;
  bookedAt: string;
  narration: string;
  counterparty?: Counterparty;
  balanceAfter?: MoneyJson;
  reference?: string;
  secondaryId?: string;
  raw: unknown;
}

export const MAX_PROVIDER_TXN_ID_LENGTH = 255;

/** A mapper's helper: a signed provider amount becomes a non-negative amount + direction. */
export function splitSignedAmount(signed: Money): { amount: Money; direction: TransactionDirection } {
  return signed.minor < 0n
    ? { amount: moneyFromMinor(-signed.minor, signed.currency), direction: 'debit' }
    : { amount: signed, direction: 'credit' };
}

/** The amount with its sign: credits positive, debits negative. */
export function signedAmount(t: Pick<CanonicalTransaction, 'amount' | 'direction'>): Money {
  return t.direction === 'debit' ? moneyFromMinor(-t.amount.minor, t.amount.currency) : t.amount;
}

export interface TransactionIssue {
  readonly path: string;
  readonly message: string;
}

/** Every problem with `t` (empty when valid). `expectedCurrency` is the account's currency. */
export function transactionIssues(t: CanonicalTransaction, expectedCurrency?: CurrencyCode): TransactionIssue[] {
  const issues: TransactionIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  if (typeof t.providerTxnId !== 'string' || t.providerTxnId.trim() === '') add('providerTxnId', 'must be a non-empty string');
  else if (t.providerTxnId.length > MAX_PROVIDER_TXN_ID_LENGTH) add('providerTxnId', `longer than ${MAX_PROVIDER_TXN_ID_LENGTH}`);
  if (!isMoney(t.amount)) add('amount', 'must be Money (bigint minor units + known currency)');
  else {
    if (t.amount.minor < 0n) add('amount', 'must not be negative (the sign belongs in direction)');
    if (expectedCurrency !== undefined && t.amount.currency !== expectedCurrency) {
      add('amount.currency', `is ${t.amount.currency}, the account is in ${expectedCurrency}`);
    }
  }
  if (!isTransactionDirection(t.direction)) add('direction', 'must be debit or credit');
  if (!isTransactionStatus(t.status)) add('status', `must be one of ${TRANSACTION_STATUSES.join(', ')}`);
  if (!(t.bookedAt instanceof Date) || Number.isNaN(t.bookedAt.getTime())) add('bookedAt', 'must be a valid Date');
  if (typeof t.narration !== 'string') add('narration', 'must be a string');
  if (t.balanceAfter !== undefined) {
    if (!isMoney(t.balanceAfter)) add('balanceAfter', 'must be Money');
    else if (isMoney(t.amount) && t.balanceAfter.currency !== t.amount.currency)
      add('balanceAfter.currency', 'differs from amount currency');
  }
  for (const key of ['reference', 'secondaryId'] as const) {
    const v = t[key];
    if (v !== undefined && typeof v !== 'string') add(key, 'must be a string when present');
  }
  if (t.counterparty !== undefined) {
    if (typeof t.counterparty !== 'object' || t.counterparty === null) add('counterparty', 'must be an object when present');
    else {
      for (const key of ['name', 'account', 'institution'] as const) {
        const v = t.counterparty[key];
        if (v !== undefined && typeof v !== 'string') add(`counterparty.${key}`, 'must be a string when present');
      }
    }
  }
  return issues;
}

/** Throws `DomainError('invalid_transaction')` with `details.issues` when `t` is not valid. */
export function assertValidTransaction(t: CanonicalTransaction, expectedCurrency?: CurrencyCode): void {
  const issues = transactionIssues(t, expectedCurrency);
  if (issues.length > 0) {
    const id = typeof t.providerTxnId === 'string' ? t.providerTxnId.slice(0, 64) : undefined;
    throw new DomainError(
      'invalid_transaction',
      `invalid transaction${id ? ` ${id}` : ''}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`,
      { providerTxnId: id, issues },
    );
  }
}

/** The fields compared by `diffTransaction`, in a stable order. */
export const TRANSACTION_COMPARED_FIELDS = [
  'amount',
  'direction',
  'status',
  'bookedAt',
  'narration',
  'counterparty',
  'balanceAfter',
  'reference',
  'secondaryId',
  'raw',
] as const;
export type TransactionField = (typeof TRANSACTION_COMPARED_FIELDS)[number];

export interface DiffOptions {
  /**
   * Compare the raw payload too (default true: the stored raw must follow the provider, and a
   * raw-only change is still a change the provider made). Key order never matters.
   */
  readonly includeRaw?: boolean;
}

/**
 * The canonical fields in which `next` differs from `prev` (two fetches of the same transaction).
 * Absent and empty optional values are the same (`undefined`, `null`, `{}` counterparty), dates
 * compare by instant, Money by currency + minor units, raw by content regardless of key order.
 */
export function diffTransaction(prev: CanonicalTransaction, next: CanonicalTransaction, options: DiffOptions = {}): TransactionField[] {
  const includeRaw = options.includeRaw ?? true;
  const changed: TransactionField[] = [];
  if (!moneyEquals(prev.amount, next.amount)) changed.push('amount');
  if (prev.direction !== next.direction) changed.push('direction');
  if (prev.status !== next.status) changed.push('status');
  if (prev.bookedAt.getTime() !== next.bookedAt.getTime()) changed.push('bookedAt');
  if (prev.narration !== next.narration) changed.push('narration');
  if (canonicalJson(normCounterparty(prev.counterparty)) !== canonicalJson(normCounterparty(next.counterparty)))
    changed.push('counterparty');
  if (!optionalMoneyEquals(prev.balanceAfter, next.balanceAfter)) changed.push('balanceAfter');
  if ((prev.reference ?? undefined) !== (next.reference ?? undefined)) changed.push('reference');
  if ((prev.secondaryId ?? undefined) !== (next.secondaryId ?? undefined)) changed.push('secondaryId');
  if (includeRaw && canonicalJson(prev.raw ?? null) !== canonicalJson(next.raw ?? null)) changed.push('raw');
  return changed;
}

/** True when `next` is a modification of `prev` (see `diffTransaction`). */
export function isModification(prev: CanonicalTransaction, next: CanonicalTransaction, options: DiffOptions = {}): boolean {
  if (prev.providerTxnId !== next.providerTxnId) {
    throw new DomainError('identity_mismatch', 'isModification compares two versions of one transaction (same providerTxnId)');
  }
  return diffTransaction(prev, next, options).length > 0;
}

export type UpsertKind = 'added' | 'modified' | 'unchanged';

/** How an incoming version relates to what is stored: the classification the upsert counts. */
export function classifyUpsert(
  stored: CanonicalTransaction | undefined,
  incoming: CanonicalTransaction,
  options: DiffOptions = {},
): UpsertKind {
  if (stored === undefined) return 'added';
  return isModification(stored, incoming, options) ? 'modified' : 'unchanged';
}

/**
 * Within one page or run the same providerTxnId may appear twice (a provider repeating a row across
 * pages). Keep the last occurrence of each id, in first-seen order, so one batch never upserts
 * the same key twice (Postgres rejects `ON CONFLICT` touching a row twice in one statement).
 */
export function dedupeByProviderTxnId<T extends Pick<CanonicalTransaction, 'providerTxnId'>>(items: readonly T[]): T[] {
  const byId = new Map<string, T>();
  for (const t of items) byId.set(t.providerTxnId, t);
  return [...byId.values()];
}

export function transactionToJson(t: CanonicalTransaction): CanonicalTransactionJson {
  const out: CanonicalTransactionJson = {
    providerTxnId: t.providerTxnId,
    amount: moneyToJson(t.amount),
    direction: t.direction,
    status: t.status,
    bookedAt: t.bookedAt.toISOString(),
    narration: t.narration,
    raw: t.raw,
  };
  if (t.counterparty !== undefined) out.counterparty = t.counterparty;
  if (t.balanceAfter !== undefined) out.balanceAfter = moneyToJson(t.balanceAfter);
  if (t.reference !== undefined) out.reference = t.reference;
  if (t.secondaryId !== undefined) out.secondaryId = t.secondaryId;
  return out;
}

/** Parses the JSON form back, validating it (`DomainError` on anything malformed). */
export function transactionFromJson(value: unknown): CanonicalTransaction {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DomainError('invalid_transaction', 'transaction JSON must be an object');
  }
  const v = value as Record<string, unknown>;
  const bookedAt = typeof v['bookedAt'] === 'string' ? new Date(v['bookedAt']) : new Date(Number.NaN);
  const t: CanonicalTransaction = {
    providerTxnId: v['providerTxnId'] as string,
    amount: moneyFromJson(v['amount']),
    direction: v['direction'] as TransactionDirection,
    status: v['status'] as TransactionStatus,
    bookedAt,
    narration: v['narration'] as string,
    raw: v['raw'],
    ...(v['counterparty'] !== undefined ? { counterparty: v['counterparty'] as Counterparty } : {}),
    ...(v['balanceAfter'] !== undefined ? { balanceAfter: moneyFromJson(v['balanceAfter']) } : {}),
    ...(v['reference'] !== undefined ? { reference: v['reference'] as string } : {}),
    ...(v['secondaryId'] !== undefined ? { secondaryId: v['secondaryId'] as string } : {}),
  };
  assertValidTransaction(t);
  return t;
}

function optionalMoneyEquals(a: Money | undefined | null, b: Money | undefined | null): boolean {
  if (a == null || b == null) return a == null && b == null;
  return moneyEquals(a, b);
}

function normCounterparty(c: Counterparty | undefined | null): Counterparty | null {
  if (c == null) return null;
  const out: { name?: string; account?: string; institution?: string } = {};
  if (c.name != null) out.name = c.name;
  if (c.account != null) out.account = c.account;
  if (c.institution != null) out.institution = c.institution;
  return Object.keys(out).length === 0 ? null : out;
}
