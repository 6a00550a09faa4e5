/**
 * Conversions between the string unions of `@intellifin/domain` (`'mono'`, `'auth_required'`…)
 * and the generated proto enums. The unions are restated here (structurally identical to the
 * domain's) so that this package needs no dependency; `test/enum-mapping.test.ts` checks they
 * match the domain's lists exactly.
 *
 * `xToProto` is total. `xFromProto` throws on UNSPECIFIED / UNRECOGNIZED / unknown numbers: a
 * message that does not say which provider or trigger it is about is malformed, and guessing
 * a default would route it wrongly.
 */
import { AccountStatus, AccountType, ErrorKind, Provider, RunOutcome, SyncMode, SyncTrigger } from './gen/intellifin/sync/v1/sync_types';

export type ProviderName = 'mono' | 'momo' | 'airtel';
export type AccountStatusName = 'active' | 'auth_required' | 'error' | 'disabled';
export type AccountTypeName = 'bank' | 'mobile_money';
export type SyncTriggerName =
  'scheduled' | 'nightly' | 'balance' | 'stale' | 'manual' | 'webhook' | 'callback' | 'link' | 'repair' | 'admin' | 'background';
export type SyncModeName = 'transactions' | 'balance' | 'full';
export type RunOutcomeName = 'succeeded' | 'failed' | 'cancelled';
export type ErrorKindName = 'auth' | 'retryable' | 'permanent' | 'validation';

/** Thrown when a proto enum value has no domain meaning (UNSPECIFIED, UNRECOGNIZED, unknown). */
export class UnmappedEnumError extends Error {
  readonly code = 'unmapped_enum';
  constructor(
    readonly enumName: string,
    readonly value: number,
  ) {
    super(`${enumName} value ${value} has no domain meaning (unspecified or unknown)`);
    this.name = 'UnmappedEnumError';
  }
}

function mapping<N extends string, E extends number>(enumName: string, toProto: Record<N, E>) {
  const fromProto = new Map<number, N>();
  for (const [name, value] of Object.entries(toProto) as Array<[N, E]>) fromProto.set(value, name);
  return {
    toProto: (name: N): E => {
      const v = toProto[name];
      if (v === undefined) throw new TypeError(`unknown ${enumName} name: ${String(name)}`);
      return v;
    },
    fromProto: (value: E | number): N => {
      const name = fromProto.get(value);
      if (name === undefined) throw new UnmappedEnumError(enumName, value);
      return name;
    },
    names: Object.keys(toProto) as N[],
  };
}

const provider = mapping<ProviderName, Provider>('Provider', {
  mono: Provider.PROVIDER_MONO,
  momo: Provider.PROVIDER_MOMO,
  airtel: Provider.PROVIDER_AIRTEL,
});
const accountStatus = mapping<AccountStatusName, AccountStatus>('AccountStatus', {
  active: AccountStatus.ACCOUNT_STATUS_ACTIVE,
  auth_required: AccountStatus.ACCOUNT_STATUS_AUTH_REQUIRED,
  error: AccountStatus.ACCOUNT_STATUS_ERROR,
  disabled: AccountStatus.ACCOUNT_STATUS_DISABLED,
});
const accountType = mapping<AccountTypeName, AccountType>('AccountType', {
  bank: AccountType.ACCOUNT_TYPE_BANK,
  mobile_money: AccountType.ACCOUNT_TYPE_MOBILE_MONEY,
});
const syncTrigger = mapping<SyncTriggerName, SyncTrigger>('SyncTrigger', {
  scheduled: SyncTrigger.SYNC_TRIGGER_SCHEDULED,
  nightly: SyncTrigger.SYNC_TRIGGER_NIGHTLY,
  balance: SyncTrigger.SYNC_TRIGGER_BALANCE,
  stale: SyncTrigger.SYNC_TRIGGER_STALE,
  manual: SyncTrigger.SYNC_TRIGGER_MANUAL,
  webhook: SyncTrigger.SYNC_TRIGGER_WEBHOOK,
  callback: SyncTrigger.SYNC_TRIGGER_CALLBACK,
  link: SyncTrigger.SYNC_TRIGGER_LINK,
  repair: SyncTrigger.SYNC_TRIGGER_REPAIR,
  admin: SyncTrigger.SYNC_TRIGGER_ADMIN,
  background: SyncTrigger.SYNC_TRIGGER_BACKGROUND,
});
const syncMode = mapping<SyncModeName, SyncMode>('SyncMode', {
  transactions: SyncMode.SYNC_MODE_TRANSACTIONS,
  balance: SyncMode.SYNC_MODE_BALANCE,
  full: SyncMode.SYNC_MODE_FULL,
});
const runOutcome = mapping<RunOutcomeName, RunOutcome>('RunOutcome', {
  succeeded: RunOutcome.RUN_OUTCOME_SUCCEEDED,
  failed: RunOutcome.RUN_OUTCOME_FAILED,
  cancelled: RunOutcome.RUN_OUTCOME_CANCELLED,
});
const errorKind = mapping<ErrorKindName, ErrorKind>('ErrorKind', {
  auth: ErrorKind.ERROR_KIND_AUTH,
  retryable: ErrorKind.ERROR_KIND_RETRYABLE,
  permanent: ErrorKind.ERROR_KIND_PERMANENT,
  validation: ErrorKind.ERROR_KIND_VALIDATION,
});

export const providerToProto = provider.toProto;
export const providerFromProto = provider.fromProto;
export const accountStatusToProto = accountStatus.toProto;
export const accountStatusFromProto = accountStatus.fromProto;
export const accountTypeToProto = accountType.toProto;
export const accountTypeFromProto = accountType.fromProto;
export const syncTriggerToProto = syncTrigger.toProto;
export const syncTriggerFromProto = syncTrigger.fromProto;
export const syncModeToProto = syncMode.toProto;
export const syncModeFromProto = syncMode.fromProto;
export const runOutcomeToProto = runOutcome.toProto;
export const runOutcomeFromProto = runOutcome.fromProto;
export const errorKindToProto = errorKind.toProto;
export const errorKindFromProto = errorKind.fromProto;

/** The names each mapping covers (for exhaustiveness tests). */
export const MAPPED_NAMES = Object.freeze({
  provider: provider.names,
  accountStatus: accountStatus.names,
  accountType: accountType.names,
  syncTrigger: syncTrigger.names,
  syncMode: syncMode.names,
  runOutcome: runOutcome.names,
  errorKind: errorKind.names,
});
