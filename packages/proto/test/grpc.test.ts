import { Server, ServerCredentials, credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  AccountStatus,
  GetAccountStatusResponse,
  Provider,
  SyncServiceClient,
  SyncServiceService,
  type SyncServiceServer,
  WatchSyncStatusResponse,
} from '../src';

/** The generated grpc-js server and client talk to each other over a real loopback socket. */
describe('grpc-js service (generated server + client)', () => {
  let server: Server;
  let client: SyncServiceClient;

  const unimplemented = (_call: unknown, callback: (err: Partial<ServiceError>) => void) =>
    callback({ code: status.UNIMPLEMENTED, details: 'not in this test' });

  beforeAll(async () => {
    const impl: SyncServiceServer = {
      getAccountStatus: (call, callback) => {
        if (call.request.accountId === 'missing') {
          callback({ code: status.NOT_FOUND, details: 'no such account' });
          return;
        }
        callback(
          null,
          GetAccountStatusResponse.fromPartial({
            account: {
              accountId: call.request.accountId,
              provider: Provider.PROVIDER_MOMO,
              status: AccountStatus.ACCOUNT_STATUS_AUTH_REQUIRED,
              balance: { minor: 123_456_789_012_345_678n, currency: 'UGX' },
              lastSuccessAt: new Date('2025-10-15T09:30:00Z'),
            },
          }),
        );
      },
      listAccountStatuses: unimplemented,
      triggerSync: unimplemented,
      cancelSync: unimplemented,
      listSyncRuns: unimplemented,
      getSyncRun: unimplemented,
      getQueueStats: unimplemented,
      watchSyncStatus: (call) => {
        for (const id of call.request.accountIds) {
          call.write(
            WatchSyncStatusResponse.fromPartial({
              initial: true,
              account: { accountId: id, status: AccountStatus.ACCOUNT_STATUS_ACTIVE },
            }),
          );
        }
        // Handlers must write complete messages: build them with fromPartial (a bare partial
        // object fails to serialise with INTERNAL).
        call.write(
          WatchSyncStatusResponse.fromPartial({
            initial: false,
            change: {
              accountId: call.request.accountIds[0] ?? '',
              statusAfter: AccountStatus.ACCOUNT_STATUS_ERROR,
            },
          }),
        );
        call.end();
      },
    };
    server = new Server();
    server.addService(SyncServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new SyncServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
  });

  it('unary call carries bigint money and dates intact', async () => {
    const res = await new Promise<GetAccountStatusResponse>((resolve, reject) =>
      client.getAccountStatus({ accountId: 'acc-1' }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    expect(res.account?.accountId).toBe('acc-1');
    expect(res.account?.status).toBe(AccountStatus.ACCOUNT_STATUS_AUTH_REQUIRED);
    expect(res.account?.balance).toEqual({ minor: 123_456_789_012_345_678n, currency: 'UGX' });
    expect(res.account?.lastSuccessAt).toEqual(new Date('2025-10-15T09:30:00Z'));
  });

  it('unary errors arrive with their gRPC status', async () => {
    const err = await new Promise<ServiceError>((resolve, reject) =>
      client.getAccountStatus({ accountId: 'missing' }, (e) => (e ? resolve(e) : reject(new Error('expected an error')))),
    );
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe('no such account');
  });

  it('server streaming delivers the snapshot, then the change, then ends', async () => {
    const received: WatchSyncStatusResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = client.watchSyncStatus({ accountIds: ['a1', 'a2'], providers: [], sendInitial: true });
      stream.on('data', (m: WatchSyncStatusResponse) => received.push(m));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    expect(received.map((m) => [m.initial, m.account?.accountId ?? null, m.change?.statusAfter ?? null])).toEqual([
      [true, 'a1', null],
      [true, 'a2', null],
      [false, null, AccountStatus.ACCOUNT_STATUS_ERROR],
    ]);
  });
});
