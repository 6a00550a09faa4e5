// The domain is imported only here, to prove the restated unions match it; the proto package
// itself has no dependency on @intellifin/domain (workspace symlink resolves it for the test).
import { ACCOUNT_STATUSES, ACCOUNT_TYPES, PROVIDERS, RUN_OUTCOMES, SYNC_MODES, SYNC_TRIGGERS } from '@intellifin/domain';
import {
  AccountStatus,
  ErrorKind,
  MAPPED_NAMES,
  Provider,
  SyncTrigger,
  UnmappedEnumError,
  accountStatusFromProto,
  accountStatusToProto,
  accountTypeFromProto,
  accountTypeToProto,
  errorKindFromProto,
  errorKindToProto,
  providerFromProto,
  providerToProto,
  runOutcomeFromProto,
  runOutcomeToProto,
  syncModeFromProto,
  syncModeToProto,
  syncTriggerFromProto,
  syncTriggerToProto,
  syncTypes,
} from '../src';

/** Enum values of a generated enum except UNSPECIFIED (0) and UNRECOGNIZED (-1). */
function meaningful(e: Record<string, string | number>): number[] {
  return Object.values(e).filter((v): v is number => typeof v === 'number' && v > 0);
}

describe('domain ↔ proto enum mapping', () => {
  it('covers exactly the domain lists', () => {
    expect([...MAPPED_NAMES.provider].sort()).toEqual([...PROVIDERS].sort());
    expect([...MAPPED_NAMES.accountStatus].sort()).toEqual([...ACCOUNT_STATUSES].sort());
    expect([...MAPPED_NAMES.accountType].sort()).toEqual([...ACCOUNT_TYPES].sort());
    expect([...MAPPED_NAMES.syncTrigger].sort()).toEqual([...SYNC_TRIGGERS].sort());
    expect([...MAPPED_NAMES.syncMode].sort()).toEqual([...SYNC_MODES].sort());
    expect([...MAPPED_NAMES.runOutcome].sort()).toEqual([...RUN_OUTCOMES].sort());
    expect([...MAPPED_NAMES.errorKind].sort()).toEqual(['auth', 'permanent', 'retryable', 'validation']);
  });

  it('covers every meaningful proto value, and round-trips both ways', () => {
    const pairs: Array<[Record<string, string | number>, (n: never) => number, (v: number) => string, readonly string[]]> = [
      [syncTypes.Provider, providerToProto as never, providerFromProto, MAPPED_NAMES.provider],
      [syncTypes.AccountStatus, accountStatusToProto as never, accountStatusFromProto, MAPPED_NAMES.accountStatus],
      [syncTypes.AccountType, accountTypeToProto as never, accountTypeFromProto, MAPPED_NAMES.accountType],
      [syncTypes.SyncTrigger, syncTriggerToProto as never, syncTriggerFromProto, MAPPED_NAMES.syncTrigger],
      [syncTypes.SyncMode, syncModeToProto as never, syncModeFromProto, MAPPED_NAMES.syncMode],
      [syncTypes.RunOutcome, runOutcomeToProto as never, runOutcomeFromProto, MAPPED_NAMES.runOutcome],
      [syncTypes.ErrorKind, errorKindToProto as never, errorKindFromProto, MAPPED_NAMES.errorKind],
    ];
    for (const [e, to, from, names] of pairs) {
      expect(names.map((n) => to(n as never)).sort()).toEqual(meaningful(e).sort());
      for (const n of names) expect(from(to(n as never))).toBe(n);
    }
  });

  it('maps names to the matching proto constants', () => {
    expect(providerToProto('airtel')).toBe(Provider.PROVIDER_AIRTEL);
    expect(accountStatusToProto('auth_required')).toBe(AccountStatus.ACCOUNT_STATUS_AUTH_REQUIRED);
    expect(syncTriggerToProto('callback')).toBe(SyncTrigger.SYNC_TRIGGER_CALLBACK);
    expect(errorKindToProto('validation')).toBe(ErrorKind.ERROR_KIND_VALIDATION);
  });

  it('refuses UNSPECIFIED, UNRECOGNIZED and unknown numbers', () => {
    expect(() => providerFromProto(Provider.PROVIDER_UNSPECIFIED)).toThrow(UnmappedEnumError);
    expect(() => providerFromProto(Provider.UNRECOGNIZED)).toThrow(UnmappedEnumError);
    expect(() => syncTriggerFromProto(99)).toThrow(/SyncTrigger value 99/);
    expect(() => providerToProto('plaid' as never)).toThrow(TypeError);
  });
});
