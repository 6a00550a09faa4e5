import {
  AccountStatus,
  AuthEvent,
  AuthEventKind,
  ErrorKind,
  Provider,
  RunOutcome,
  SyncCommand,
  SyncMode,
  SyncRunFinished,
  SyncServiceService,
  SyncTrigger,
  WatchSyncStatusResponse,
  SYNC_SERVICE_NAME,
  syncTypes,
} from '../src';

const bigMinor = 9_223_372_036_854_775_807n; // int64 max: far beyond Number.MAX_SAFE_INTEGER

function command(): SyncCommand {
  return SyncCommand.fromPartial({
    commandId: '4b6f2f3e-3c1a-4c52-9a53-1f7b1e0d9c11',
    accountId: '00000000-0000-4000-8000-000000000001',
    orgId: '00000000-0000-4000-8000-0000000000aa',
    provider: Provider.PROVIDER_MONO,
    trigger: SyncTrigger.SYNC_TRIGGER_MANUAL,
    mode: SyncMode.SYNC_MODE_FULL,
    realtime: true,
    requestedWindow: { startDate: '2025-07-17', endDate: '2025-10-15' },
    triggerId: 'idem-123',
    issuedAt: new Date('2025-10-15T09:30:00.123Z'),
    hintRefs: ['ref-a', 'ref-b'],
    requestedBy: 'user-9',
  });
}

function runFinished(): SyncRunFinished {
  return SyncRunFinished.fromPartial({
    eventId: 'evt-1',
    run: {
      runId: 'run-1',
      accountId: '00000000-0000-4000-8000-000000000001',
      orgId: '00000000-0000-4000-8000-0000000000aa',
      provider: Provider.PROVIDER_MONO,
      trigger: SyncTrigger.SYNC_TRIGGER_SCHEDULED,
      mode: SyncMode.SYNC_MODE_TRANSACTIONS,
      outcome: RunOutcome.RUN_OUTCOME_FAILED,
      counts: { added: 120, modified: 3, unchanged: 877 },
      pages: 10,
      errorKind: ErrorKind.ERROR_KIND_RETRYABLE,
      errorCode: 'provider_unavailable',
      errorHint: 'Mono answered 503; retrying in 4 s',
      window: { startDate: '2025-10-12', endDate: '2025-10-15' },
      startedAt: new Date('2025-10-15T09:30:01.000Z'),
      finishedAt: new Date('2025-10-15T09:30:03.250Z'),
      durationMs: 2250,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      commandId: 'cmd-1',
      attempt: 2,
    },
    statusAfter: AccountStatus.ACCOUNT_STATUS_ACTIVE,
    balance: { minor: bigMinor, currency: 'NGN' },
    balanceAsOf: new Date('2025-10-15T09:30:02.000Z'),
    occurredAt: new Date('2025-10-15T09:30:03.300Z'),
  });
}

describe('binary round trip', () => {
  it('a sync command survives encode/decode unchanged (oneof, repeated, timestamps)', () => {
    const original = command();
    const bytes = SyncCommand.encode(original).finish();
    expect(bytes.length).toBeGreaterThan(0);
    const decoded = SyncCommand.decode(bytes);
    expect(decoded).toEqual(original);
    expect(decoded.issuedAt).toBeInstanceOf(Date);
    expect(decoded.issuedAt!.getTime()).toBe(Date.parse('2025-10-15T09:30:00.123Z'));
    expect(decoded.plannedSlot).toBeUndefined();
    expect(decoded.triggerId).toBe('idem-123');
  });

  it('a run-finished event keeps int64 money exact as bigint, positive and negative', () => {
    const original = runFinished();
    const decoded = SyncRunFinished.decode(SyncRunFinished.encode(original).finish());
    expect(decoded).toEqual(original);
    expect(typeof decoded.balance!.minor).toBe('bigint');
    expect(decoded.balance!.minor).toBe(bigMinor);

    const negative = SyncRunFinished.fromPartial({ ...original, balance: { minor: -(bigMinor + 1n), currency: 'NGN' } });
    expect(SyncRunFinished.decode(SyncRunFinished.encode(negative).finish()).balance!.minor).toBe(-9_223_372_036_854_775_808n);
  });

  it('refuses to encode money beyond int64 instead of truncating it', () => {
    expect(() => syncTypes.Money.encode({ minor: bigMinor + 1n, currency: 'NGN' })).toThrow(/too large/);
  });

  it('an auth event round-trips', () => {
    const original = AuthEvent.fromPartial({
      eventId: 'evt-2',
      kind: AuthEventKind.AUTH_EVENT_KIND_REQUIRED,
      accountId: 'acc',
      orgId: 'org',
      provider: Provider.PROVIDER_MONO,
      reasonCode: 'mono_reauthorisation_required',
      relinkUrl: 'https://connect.example/reauth?token=x',
      relinkExpiresAt: new Date('2025-10-16T00:00:00Z'),
      occurredAt: new Date('2025-10-15T00:00:00Z'),
    });
    expect(AuthEvent.decode(AuthEvent.encode(original).finish())).toEqual(original);
  });

  it('decodes bytes written by an older writer with defaults (unset fields → zero values)', () => {
    const decoded = SyncCommand.decode(new Uint8Array());
    expect(decoded.accountId).toBe('');
    expect(decoded.provider).toBe(Provider.PROVIDER_UNSPECIFIED);
    expect(decoded.hintRefs).toEqual([]);
    expect(decoded.issuedAt).toBeUndefined();
  });
});

describe('JSON round trip (proto3 JSON mapping)', () => {
  it('int64 is a string in JSON and comes back as the same bigint; enums are names', () => {
    const original = runFinished();
    const json = SyncRunFinished.toJSON(original) as {
      balance: unknown;
      statusAfter: unknown;
      run: { outcome: unknown };
      occurredAt: unknown;
    };
    const text = JSON.stringify(json); // must not throw on bigint
    expect(json.balance).toEqual({ minor: '9223372036854775807', currency: 'NGN' });
    expect(json.statusAfter).toBe('ACCOUNT_STATUS_ACTIVE');
    expect(json.run.outcome).toBe('RUN_OUTCOME_FAILED');
    expect(json.occurredAt).toBe('2025-10-15T09:30:03.300Z');
    expect(SyncRunFinished.fromJSON(JSON.parse(text))).toEqual(original);
  });

  it('a command with a planned slot round-trips through JSON', () => {
    const original = SyncCommand.fromPartial({ ...command(), triggerId: undefined, plannedSlot: new Date('2025-10-15T09:30:00Z') });
    expect(SyncCommand.fromJSON(JSON.parse(JSON.stringify(SyncCommand.toJSON(original))))).toEqual(original);
  });
});

describe('service definition', () => {
  it('exposes the eight RPCs under intellifin.sync.v1.SyncService, Watch as server streaming', () => {
    const methods = Object.values(SyncServiceService).map((m) => ({ path: m.path, req: m.requestStream, res: m.responseStream }));
    expect(methods).toEqual([
      { path: `/${SYNC_SERVICE_NAME}/GetAccountStatus`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/ListAccountStatuses`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/TriggerSync`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/CancelSync`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/ListSyncRuns`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/GetSyncRun`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/GetQueueStats`, req: false, res: false },
      { path: `/${SYNC_SERVICE_NAME}/WatchSyncStatus`, req: false, res: true },
    ]);
  });

  it('its serializers are the message codecs', () => {
    const msg = WatchSyncStatusResponse.fromPartial({
      initial: true,
      account: { accountId: 'a', balance: { minor: 5n, currency: 'ZMW' } },
    });
    const def = SyncServiceService.watchSyncStatus;
    expect(def.responseDeserialize(def.responseSerialize(msg))).toEqual(msg);
  });
});
