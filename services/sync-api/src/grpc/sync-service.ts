import { status, type Metadata, type ServerWritableStream, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import type { z } from 'zod';
import { histogram, withSpan, type Logger, type Registry, type Tracer } from '@intellifin/core';
import {
  GetAccountStatusResponse,
  GetQueueStatsResponse,
  GetSyncRunResponse,
  ListAccountStatusesResponse,
  ListSyncRunsResponse,
  SYNC_SERVICE_NAME,
  SyncServiceService,
  TriggerSyncResponse,
  WatchSyncStatusResponse,
  type SyncServiceServer,
  type WatchSyncStatusRequest,
} from '@intellifin/proto';
import type { Caller } from '../app/caller';
import type { OperatorApi } from '../app/operator';
import { NotFoundError } from '../app/errors';
import type { StatusFeed, StatusSubscription } from '../app/status-feed';
import type { SyncApi } from '../app/sync-api';
import type { JwtVerifier } from '../http/auth';
import { callerOfMetadata, metadataText } from './auth';
import { InvalidArgumentError, StreamEndedError, toServiceError } from './errors';
import { accountMessage, cancelMessage, changeMessage, laneStatsMessage, queuedMessage, runMessage } from './messages';
import {
  cancelSyncRequest,
  describeIssues,
  getAccountStatusRequest,
  getQueueStatsRequest,
  getSyncRunRequest,
  idempotencyKey,
  listAccountStatusesRequest,
  listSyncRunsRequest,
  triggerSyncRequest,
  watchSyncStatusRequest,
} from './requests';

/**
 * `intellifin.sync.v1.SyncService` over the application layer: each handler authenticates the
 * metadata's JWT, validates the decoded request with zod and calls the same `SyncApi` method as
 * the REST route, then translates the view into the generated message. One span
 * (`grpc.<Method>`) and one histogram observation (method, code) per call.
 */
export interface SyncServiceOptions {
  api: SyncApi;
  ops: OperatorApi;
  verifier: JwtVerifier;
  feed: StatusFeed;
  logger: Logger;
  registry?: Registry;
  tracer: Tracer;
}

/** What a request that did not decode becomes (the deserializer never throws: grpc-js would answer INTERNAL). */
class MalformedRequest {
  constructor(readonly message: string) {}
}

/** The generated service definition with deserializers that turn undecodable bytes into `MalformedRequest`. */
export function tolerantServiceDefinition(): typeof SyncServiceService {
  const def = { ...SyncServiceService } as Record<string, (typeof SyncServiceService)[keyof typeof SyncServiceService]>;
  for (const [name, method] of Object.entries(def)) {
    const decode = method.requestDeserialize as (b: Buffer) => unknown;
    def[name] = {
      ...method,
      requestDeserialize: (b: Buffer) => {
        try {
          return decode(b);
        } catch {
          return new MalformedRequest(`request: not a valid ${method.path.split('/').pop()} request message`);
        }
      },
    } as typeof method;
  }
  return def as unknown as typeof SyncServiceService;
}

function parse<S extends z.ZodType>(schema: S, request: unknown): z.output<S> {
  if (request instanceof MalformedRequest) throw new InvalidArgumentError(request.message);
  const r = schema.safeParse(request);
  if (!r.success) throw new InvalidArgumentError(describeIssues(r.error));
  return r.data;
}

const codeName = (code: number): string => status[code] ?? String(code);

export function syncServiceImplementation(o: SyncServiceOptions): SyncServiceServer {
  const log = o.logger.child({ component: 'grpc' });
  const duration = o.registry
    ? histogram(o.registry, 'intellifin_sync_api_grpc_request_duration_seconds', 'gRPC calls by method and status code', ['method', 'code'])
    : undefined;

  /** Runs one call: span, auth, the handler, the status code into the histogram. */
  async function observed<T>(
    method: string,
    metadata: Metadata,
    fn: (caller: Caller) => Promise<T>,
  ): Promise<{ ok: T } | { err: Partial<ServiceError> }> {
    const started = performance.now();
    let code: number = status.OK;
    try {
      return await withSpan(
        o.tracer,
        `grpc.${method}`,
        { attributes: { 'rpc.system': 'grpc', 'rpc.service': SYNC_SERVICE_NAME, 'rpc.method': method } },
        async (span) => {
          try {
            const caller = await callerOfMetadata(o.verifier, metadata);
            return { ok: await fn(caller) };
          } catch (err) {
            const se = toServiceError(err, log);
            code = se.code ?? status.UNKNOWN;
            span.setAttribute('rpc.grpc.status_code', code);
            return { err: se };
          }
        },
      );
    } finally {
      duration?.observe({ method, code: codeName(code) }, (performance.now() - started) / 1000);
    }
  }

  function unary<Req, Res>(method: string, fn: (caller: Caller, request: Req, metadata: Metadata) => Promise<Res>) {
    return (call: { request: Req; metadata: Metadata }, callback: sendUnaryData<Res>): void => {
      void observed(method, call.metadata, (caller) => fn(caller, call.request, call.metadata)).then((r) =>
        'ok' in r ? callback(null, r.ok) : callback(r.err),
      );
    };
  }

  return {
    getAccountStatus: unary('GetAccountStatus', async (caller, req) => {
      const { accountId } = parse(getAccountStatusRequest, req);
      return GetAccountStatusResponse.fromPartial({ account: accountMessage(await o.api.accountStatus(caller, accountId), caller.orgId) });
    }),

    listAccountStatuses: unary('ListAccountStatuses', async (caller, req) => {
      const q = parse(listAccountStatusesRequest, req);
      const accounts = (await o.api.listAccounts(caller)).filter(
        (a) => (q.providers.length === 0 || q.providers.includes(a.provider)) && (q.statuses.length === 0 || q.statuses.includes(a.status)),
      );
      return ListAccountStatusesResponse.fromPartial({ accounts: accounts.map((a) => accountMessage(a, caller.orgId)) });
    }),

    triggerSync: unary('TriggerSync', async (caller, req, metadata) => {
      const input = parse(triggerSyncRequest, req);
      const key = metadataText(metadata, 'idempotency-key');
      if (key === null) throw new InvalidArgumentError('idempotency-key: expected one text value');
      if (key !== undefined && !idempotencyKey.safeParse(key).success)
        throw new InvalidArgumentError('idempotency-key: 1 to 255 printable ASCII characters without spaces');
      const r = await o.api.triggerSync(caller, { ...input, idempotencyKey: key });
      return TriggerSyncResponse.fromPartial({ command: queuedMessage(r.command), replayed: r.replayed });
    }),

    cancelSync: unary('CancelSync', async (caller, req) => {
      const { accountId } = parse(cancelSyncRequest, req);
      return cancelMessage(await o.api.cancelSync(caller, accountId));
    }),

    listSyncRuns: unary('ListSyncRuns', async (caller, req) => {
      const q = parse(listSyncRunsRequest, req);
      const page = await o.api.listRuns(caller, q.accountId, {
        status: q.state,
        trigger: q.trigger,
        from: q.startedFrom,
        to: q.startedBefore,
        limit: q.pageSize,
        cursor: q.pageToken,
      });
      return ListSyncRunsResponse.fromPartial({
        runs: page.runs.map((r) => runMessage(r, caller.orgId)),
        nextPageToken: page.nextCursor ?? '',
      });
    }),

    getSyncRun: unary('GetSyncRun', async (caller, req) => {
      const { accountId, runId } = parse(getSyncRunRequest, req);
      return GetSyncRunResponse.fromPartial({ run: runMessage(await o.api.getRun(caller, accountId, runId), caller.orgId) });
    }),

    getQueueStats: unary('GetQueueStats', async (caller, req) => {
      const { providers } = parse(getQueueStatsRequest, req);
      const lanes = (await o.ops.queueStats(caller)).filter((l) => providers.length === 0 || providers.includes(l.provider));
      return GetQueueStatsResponse.fromPartial({ lanes: lanes.map(laneStatsMessage), asOf: new Date() });
    }),

    watchSyncStatus: (call) => void watch(call),
  };

  /**
   * A server stream of the caller's status changes: subscribes first, then (send_initial) writes
   * the current state of every watched account, then one message per change with the account's
   * state after it. Ends OK when the client cancels, RESOURCE_EXHAUSTED when it fell too far
   * behind (bounded buffer), UNAVAILABLE when the server shuts down.
   */
  async function watch(call: ServerWritableStream<WatchSyncStatusRequest, WatchSyncStatusResponse>): Promise<void> {
    let sub: StatusSubscription | undefined;
    call.on('cancelled', () => sub?.close());
    const r = await observed('WatchSyncStatus', call.metadata, async (caller) => {
      const q = parse(watchSyncStatusRequest, call.request);
      sub = o.feed.subscribe(caller, { accountIds: q.accountIds, providers: q.providers });
      if (call.cancelled) sub.close();
      const write = async (m: WatchSyncStatusResponse) => {
        if (!call.write(m))
          await Promise.race([
            new Promise<void>((resolve) => (call.once('drain', resolve), call.once('cancelled', resolve))),
            sub!.whenEnded,
          ]);
      };
      if (q.sendInitial) {
        for (const a of await o.api.listAccounts(caller)) {
          if (q.accountIds.length > 0 && !q.accountIds.includes(a.id)) continue;
          if (q.providers.length > 0 && !q.providers.includes(a.provider)) continue;
          await write(WatchSyncStatusResponse.fromPartial({ initial: true, account: accountMessage(a, caller.orgId) }));
        }
      }
      for await (const e of sub) {
        let account;
        try {
          account = accountMessage(await o.api.accountStatus(caller, e.accountId), caller.orgId);
        } catch (err) {
          if (err instanceof NotFoundError) continue; // unlinked from this caller since: nothing to show
          throw err;
        }
        await write(WatchSyncStatusResponse.fromPartial({ change: changeMessage(e), account }));
      }
      if (sub.endReason === 'slow_consumer')
        throw new StreamEndedError(status.RESOURCE_EXHAUSTED, 'watch ended: the client read too slowly (buffer full); watch again');
      if (sub.endReason === 'shutdown') throw new StreamEndedError(status.UNAVAILABLE, 'server shutting down; watch again');
    });
    sub?.close();
    if ('err' in r) call.emit('error', r.err);
    else if (!call.cancelled) call.end();
  }
}
