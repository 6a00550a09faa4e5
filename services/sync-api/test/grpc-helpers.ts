import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import type { Publisher, Topology } from '@intellifin/messaging';
import {
  CancelSyncRequest,
  GetAccountStatusRequest,
  GetQueueStatsRequest,
  GetSyncRunRequest,
  ListAccountStatusesRequest,
  ListSyncRunsRequest,
  SyncServiceClient,
  TriggerSyncRequest,
} from '@intellifin/proto';
import type { ApiEnv } from './helpers';

/** The gRPC side of a started sync-api: listening on a free port, with a generated client. */
export interface GrpcEnv {
  address: string;
  client: SyncServiceClient;
  close(): void;
}

export async function startGrpc(env: ApiEnv): Promise<GrpcEnv> {
  const port = await env.parts.grpc.listen('127.0.0.1', 0);
  const address = `127.0.0.1:${port}`;
  const client = new SyncServiceClient(address, credentials.createInsecure());
  return { address, client, close: () => client.close() };
}

export function metadata(values: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(values)) md.set(k, v);
  return md;
}

export const auth = (jwt: string, extra: Record<string, string> = {}) => metadata({ authorization: `Bearer ${jwt}`, ...extra });

export interface Answer<T> {
  err: ServiceError | null;
  res: T | undefined;
}

/** The request codec of each unary method: partial test requests are completed with `fromPartial`. */
const REQUESTS: Record<string, { fromPartial(o: object): unknown }> = {
  getAccountStatus: GetAccountStatusRequest,
  listAccountStatuses: ListAccountStatusesRequest,
  triggerSync: TriggerSyncRequest,
  cancelSync: CancelSyncRequest,
  listSyncRuns: ListSyncRunsRequest,
  getSyncRun: GetSyncRunRequest,
  getQueueStats: GetQueueStatsRequest,
};

/** A unary call as a promise that never rejects: the error (with its code) or the response. */
export function unary<Req, Res>(client: SyncServiceClient, method: string, req: Req, md: Metadata = new Metadata()): Promise<Answer<Res>> {
  const fn = (client as unknown as Record<string, (r: Req, m: Metadata, o: object, cb: (e: ServiceError | null, r?: Res) => void) => void>)[
    method
  ]!;
  const message = REQUESTS[method] ? (REQUESTS[method].fromPartial(req as object) as Req) : req;
  return new Promise((resolve) => fn.call(client, message, md, { deadline: Date.now() + 20_000 }, (err, res) => resolve({ err, res })));
}

/** grpc.health.v1.Health/Check. */
export function healthCheck(address: string, service = ''): Promise<{ err: ServiceError | null; status?: string }> {
  const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
  const c = new Health(address, credentials.createInsecure()) as Client & Record<string, (...a: unknown[]) => void>;
  return new Promise((resolve) =>
    c.Check!({ service }, (err: ServiceError | null, res?: { status: string }) => {
      c.close();
      resolve({ err, ...(res ? { status: res.status } : {}) });
    }),
  );
}

/** One raw grpc.reflection.v1 request (list_services, file_containing_symbol…) and its first answer. */
export function reflect(address: string, request: Record<string, string>): Promise<any> {
  const dir = join(require.resolve('@grpc/reflection'), '..', '..', 'proto');
  const def = loadSync(join(dir, 'grpc', 'reflection', 'v1', 'reflection.proto'), { keepCase: true, includeDirs: [dir] });
  const pkg = loadPackageDefinition(def) as any;
  const c = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = c.ServerReflectionInfo();
    stream.on('data', (m: unknown) => {
      resolve(m);
      stream.end();
      c.close();
    });
    stream.on('error', reject);
    stream.write({ host: '', ...request });
  });
}

/** A run or auth event on SYNC_EVENTS, as the engine publishes it (through its outbox relay). */
export async function publishEvent(
  publisher: Publisher,
  topology: Topology,
  kind: 'run' | 'auth',
  payload: { accountId: string; orgId: string; provider?: 'mono' | 'momo' | 'airtel' } & Record<string, unknown>,
): Promise<number> {
  const provider = payload.provider ?? 'mono';
  const body =
    kind === 'run'
      ? {
          runId: `run-${Math.random().toString(36).slice(2)}`,
          commandId: 'c',
          trigger: 'scheduled',
          mode: 'transactions',
          outcome: 'succeeded',
          accountStatus: 'active',
          pages: 1,
          added: 3,
          modified: 1,
          unchanged: 0,
          finishedAt: new Date().toISOString(),
          durationMs: 10,
          provider,
          ...payload,
        }
      : { kind: 'reauth_required', runId: `run-${Math.random()}`, at: new Date().toISOString(), provider, ...payload };
  return (await publisher.publish(topology.eventSubject(kind, provider, payload.accountId), body)).seq;
}
