import type { Logger } from 'pino';

export type ShutdownStep = () => Promise<void> | void;

interface Registered {
  name: string;
  step: ShutdownStep;
  timeoutMs: number;
}

/**
 * An ordered graceful-shutdown registry. Steps run one at a time **in registration order**, each
 * within its own time limit; a step that fails or times out is logged and the next one still runs.
 * Register in the order things must stop: stop intake (mark unready, stop pulling), finish
 * in-flight work, close clients (NATS drain, Redis, Postgres), then the health/metrics server.
 */
export class ShutdownRegistry {
  private readonly steps: Registered[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly logger?: Logger) {}

  register(name: string, step: ShutdownStep, timeoutMs = 10_000): void {
    this.steps.push({ name, step, timeoutMs });
  }

  get isShuttingDown(): boolean {
    return this.running !== undefined;
  }

  /** Runs every step once; concurrent or repeated calls share the first run. */
  shutdown(reason = 'requested'): Promise<void> {
    this.running ??= this.runAll(reason);
    return this.running;
  }

  private async runAll(reason: string): Promise<void> {
    this.logger?.info({ reason, steps: this.steps.map((s) => s.name) }, 'shutting down');
    for (const { name, step, timeoutMs } of this.steps) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(step),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        this.logger?.debug({ step: name }, 'shutdown step done');
      } catch (err) {
        this.logger?.error({ step: name, err }, 'shutdown step failed');
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger?.info('shutdown complete');
  }

  /** Runs the shutdown on SIGTERM/SIGINT, then exits; a second signal exits at once. */
  installSignalHandlers(exit: (code: number) => void = (c) => process.exit(c)): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.isShuttingDown) {
        this.logger?.warn({ signal }, 'second signal: exiting now');
        exit(1);
        return;
      }
      void this.shutdown(signal).then(() => exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}
