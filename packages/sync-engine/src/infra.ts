import { gauge, METRIC_PREFIX, type Logger, type Registry } from '@intellifin/core';
import { FencedWriteError } from '@intellifin/persistence';

/** Our own servers, as opposed to a provider. */
export type Infrastructure = 'postgres' | 'redis' | 'nats';

/**
 * Our own Postgres, Redis or NATS failed (unreachable, timing out, shutting down). It is never the
 * account's fault: it never counts against the account, never marks it `error`, never dead-letters
 * the command. The worker stops pulling until the server answers again.
 */
export class InfrastructureError extends Error {
  constructor(
    readonly server: Infrastructure,
    cause: unknown,
  ) {
    super(`${server} unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'InfrastructureError';
  }
}

/**
 * Runs one of the engine's own calls to `server`, turning its failures into `InfrastructureError`.
 * A fenced rejection is a verdict, not an outage, and passes through unchanged.
 */
export async function onServer<T>(server: Infrastructure, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof FencedWriteError || err instanceof InfrastructureError) throw err;
    throw new InfrastructureError(server, err);
  }
}

export interface InfraProbe {
  server: Infrastructure;
  /** Resolves when the server answers; bounded by the client's own timeouts. */
  check(): Promise<void>;
}

export interface InfraMonitorOptions {
  probes: readonly InfraProbe[];
  logger: Logger;
  registry?: Registry;
  /** Called when an outage starts (stop pulling, fail readiness) and when every server answers again. */
  onOutage(server: Infrastructure, reason: string): void;
  onRecovered(server: Infrastructure): void;
  /** Probe interval during an outage. Default 1 s. */
  probeEveryMs?: number;
}

/**
 * Tracks outages of our own servers. `report(err)` opens an outage for the server named by an
 * `InfrastructureError`; the monitor then probes that server until it answers and closes the
 * outage. Several outages may overlap; each is closed by its own probe.
 */
export class InfraMonitor {
  private readonly down = new Map<Infrastructure, NodeJS.Timeout>();
  private stopped = false;
  private readonly outageGauge;

  constructor(private readonly o: InfraMonitorOptions) {
    this.outageGauge = o.registry
      ? gauge(o.registry, `${METRIC_PREFIX}infrastructure_outage`, '1 while this process sees our own server as unavailable', ['server'])
      : undefined;
  }

  get outages(): Infrastructure[] {
    return [...this.down.keys()];
  }

  /** Returns true when `err` was an infrastructure failure (and the outage is now tracked). */
  report(err: unknown): boolean {
    if (!(err instanceof InfrastructureError)) return false;
    if (this.stopped || this.down.has(err.server)) return true;
    const probe = this.o.probes.find((p) => p.server === err.server);
    this.o.logger.warn({ server: err.server, err }, 'our own server is unavailable; pausing work until it answers');
    this.outageGauge?.set({ server: err.server }, 1);
    this.o.onOutage(err.server, err.message);
    const tick = () => {
      const check = probe ? probe.check() : Promise.resolve();
      check.then(
        () => this.recovered(err.server),
        () => {
          if (!this.stopped && this.down.has(err.server)) this.down.set(err.server, setTimeout(tick, this.o.probeEveryMs ?? 1_000));
        },
      );
    };
    this.down.set(err.server, setTimeout(tick, this.o.probeEveryMs ?? 1_000));
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.down.values()) clearTimeout(t);
    this.down.clear();
  }

  private recovered(server: Infrastructure): void {
    if (!this.down.has(server)) return;
    clearTimeout(this.down.get(server));
    this.down.delete(server);
    this.outageGauge?.set({ server }, 0);
    this.o.logger.info({ server }, 'our own server answers again; resuming');
    this.o.onRecovered(server);
  }
}
