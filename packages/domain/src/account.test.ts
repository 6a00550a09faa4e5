import {
  ACCOUNT_STATUSES,
  PROVIDERS,
  PROVIDER_ACCOUNT_TYPE,
  SYNC_TRIGGERS,
  assertSyncTransition,
  canSyncTransition,
  isAccountStatus,
  isProviderId,
  isSyncTrigger,
  parseProviderId,
  shouldRunSync,
  statusAfterRun,
  type AccountStatus,
  type FailureKind,
  type RunResult,
} from './account';
import { DomainError } from './errors';

describe('providers, types, statuses, triggers', () => {
  it('names the three providers and their account types', () => {
    expect(PROVIDERS).toEqual(['mono', 'momo', 'airtel']);
    expect(PROVIDER_ACCOUNT_TYPE).toEqual({ mono: 'bank', momo: 'mobile_money', airtel: 'mobile_money' });
    expect(isProviderId('mono')).toBe(true);
    expect(isProviderId('MONO')).toBe(false);
    expect(isProviderId('mtn')).toBe(false);
    expect(parseProviderId('airtel')).toBe('airtel');
    expect(() => parseProviderId('plaid')).toThrow(DomainError);
  });

  it('validates statuses and triggers', () => {
    expect(ACCOUNT_STATUSES).toEqual(['active', 'auth_required', 'error', 'disabled']);
    expect(isAccountStatus('auth_required')).toBe(true);
    expect(isAccountStatus('syncing')).toBe(false);
    expect(SYNC_TRIGGERS).toEqual([
      'scheduled',
      'nightly',
      'balance',
      'stale',
      'manual',
      'webhook',
      'callback',
      'link',
      'repair',
      'admin',
      'background',
    ]);
    expect(isSyncTrigger('webhook')).toBe(true);
    expect(isSyncTrigger('cron')).toBe(false);
  });
});

describe('status transitions a sync may make', () => {
  it('allows exactly the documented moves', () => {
    const allowed = new Set([
      'active>active',
      'active>auth_required',
      'active>error',
      'auth_required>auth_required',
      'auth_required>active',
      'error>error',
      'error>active',
      'error>auth_required',
    ]);
    for (const from of ACCOUNT_STATUSES) {
      for (const to of ACCOUNT_STATUSES) {
        expect([`${from}>${to}`, canSyncTransition(from, to)]).toEqual([`${from}>${to}`, allowed.has(`${from}>${to}`)]);
      }
    }
  });

  it('never lets a sync enable a disabled account or touch it at all', () => {
    for (const to of ACCOUNT_STATUSES) expect(canSyncTransition('disabled', to)).toBe(false);
    expect(() => assertSyncTransition('disabled', 'active')).toThrow(/disabled to active/);
    expect(() => assertSyncTransition('auth_required', 'error')).toThrow(DomainError);
  });
});

describe('shouldRunSync', () => {
  it('runs active and error accounts for every trigger', () => {
    for (const t of SYNC_TRIGGERS) {
      expect(shouldRunSync('active', t)).toBe(true);
      expect(shouldRunSync('error', t)).toBe(true);
    }
  });

  it('never runs disabled accounts', () => {
    for (const t of SYNC_TRIGGERS) expect(shouldRunSync('disabled', t)).toBe(false);
  });

  it('runs auth_required accounts only for user or provider triggers, not timers', () => {
    expect(SYNC_TRIGGERS.filter((t) => shouldRunSync('auth_required', t))).toEqual(['manual', 'webhook', 'callback', 'link', 'repair']);
  });
});

describe('statusAfterRun', () => {
  const failed = (failure: FailureKind): RunResult => ({ outcome: 'failed', failure });
  const cases: Array<[AccountStatus, RunResult, AccountStatus]> = [
    ['active', { outcome: 'succeeded' }, 'active'],
    ['error', { outcome: 'succeeded' }, 'active'],
    ['auth_required', { outcome: 'succeeded' }, 'active'],
    ['active', failed('auth'), 'auth_required'],
    ['error', failed('auth'), 'auth_required'],
    ['active', failed('retryable'), 'active'],
    ['error', failed('retryable'), 'error'],
    ['auth_required', failed('retryable'), 'auth_required'],
    ['active', failed('permanent'), 'error'],
    ['active', failed('validation'), 'error'],
    ['auth_required', failed('permanent'), 'auth_required'],
    ['active', { outcome: 'cancelled' }, 'active'],
    ['auth_required', { outcome: 'cancelled' }, 'auth_required'],
    ['disabled', { outcome: 'succeeded' }, 'disabled'],
    ['disabled', failed('auth'), 'disabled'],
  ];
  it.each(cases)('%s + %j → %s', (from, result, to) => {
    expect(statusAfterRun(from, result)).toBe(to);
  });
});
