import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { trace, type Logger, type Registry, type Tracer } from '@intellifin/core';
import { SYNC_SERVICE_NAME } from '@intellifin/proto';
import type { OperatorApi } from '../app/operator';
import type { StatusFeed } from '../app/status-feed';
import type { SyncApi } from '../app/sync-api';
import type { JwtVerifier } from '../http/auth';
import { reflectionDefinition } from './descriptor';
import { syncServiceImplementation, tolerantServiceDefinition } from './sync-service';

export interface GrpcServerOptions {
  api: SyncApi;
  /** Queue numbers (GetQueueStats) for operators and admins. */
  ops: OperatorApi;
  verifier: JwtVerifier;
  feed: StatusFeed;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  /** Readiness of the process (the service kit's); the health service's status follows it. Absent: serving while listening. */
  readiness?: () => Promise<boolean>;
  /** How often readiness is polled for the health status. Default 2 s. */
  healthPollMs?: number;
  /** Largest request message accepted, bytes (larger: RESOURCE_EXHAUSTED). Default 64 KiB. */
  maxReceiveBytes?: number;
}

/**
 * The gRPC transport: `intellifin.sync.v1.SyncService`, `grpc.health.v1.Health` (overall and per
 * service, SERVING while the process is ready) and server reflection (v1 and v1alpha).
 */
export class GrpcTransport {
  readonly server: Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [SYNC_SERVICE_NAME]: 'NOT_SERVING' });
  private poll: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly o: GrpcServerOptions) {
    this.server = new Server({
      'grpc.max_receive_message_length': o.maxReceiveBytes ?? 65_536,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
    this.server.addService(
      tolerantServiceDefinition(),
      syncServiceImplementation({
        api: o.api,
        ops: o.ops,
        verifier: o.verifier,
        feed: o.feed,
        logger: o.logger,
        tracer: o.tracer ?? trace.getTracer('@intellifin/sync-api'),
        ...(o.registry ? { registry: o.registry } : {}),
      }),
    );
    this.health.addToServer(this.server);
    new ReflectionService(reflectionDefinition()).addToServer(this.server);
  }

  /** Binds and starts following readiness; resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    await this.refreshHealth();
    this.poll = setInterval(() => void this.refreshHealth(), this.o.healthPollMs ?? 2_000);
    this.poll.unref();
    return bound;
  }

  private async refreshHealth(): Promise<void> {
    const ready = this.stopping ? false : this.o.readiness ? await this.o.readiness().catch(() => false) : true;
    this.setServing(ready && !this.stopping);
  }

  private setServing(serving: boolean): void {
    const s = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', s);
    this.health.setStatus(SYNC_SERVICE_NAME, s);
  }

  /**
   * NOT_SERVING at once, then `tryShutdown` (no new calls; in-flight calls finish) within
   * `deadlineMs`, then `forceShutdown` (cancels what is left). Watch streams are ended by the
   * status feed's stop before this.
   */
  async stop(deadlineMs = 5_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.poll);
    this.setServing(false);
    let timer: NodeJS.Timeout | undefined;
    const graceful = new Promise<boolean>((resolve) => this.server.tryShutdown(() => resolve(true)));
    const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
    const clean = await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    if (!clean) {
      this.o.logger.warn({ deadlineMs }, 'gRPC calls still open after the shutdown deadline: forcing');
      this.server.forceShutdown();
    }
  }
}
