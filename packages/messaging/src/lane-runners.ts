import { ConsumerRunner } from './consumer-runner';
import type { ConsumerRunnerOptions } from './consumer-types';
import type { Lane, Provider } from './topology';

export interface LaneRunnersOptions<T> extends Omit<ConsumerRunnerOptions<T>, 'consumer' | 'concurrency' | 'buffer'> {
  provider: Provider;
  /** Handlers at once on the bulk lane (scheduled work). Default 8. */
  concurrency?: number;
  /** Handlers at once on the priority lane (manual and webhook triggers). Default 2. */
  priorityConcurrency?: number;
  /** Messages pulled ahead on the bulk lane. Default = concurrency. */
  buffer?: number;
  /** Messages pulled ahead on the priority lane. Default = priorityConcurrency. */
  priorityBuffer?: number;
}

/**
 * The two consumers of one provider's commands in one worker process, with one handler: the bulk
 * lane (`topology.workers[provider]`) and the priority lane (`topology.priorityWorkers[provider]`).
 * Each lane has its own slots, so a person's "Sync now" never waits behind a planning pass's
 * commands (it only waits for a free priority slot), and scheduled work is never starved by
 * manual work (the priority lane cannot take the bulk lane's slots). The process runs at most
 * `concurrency + priorityConcurrency` handlers at once.
 */
export class LaneRunners<T> {
  readonly bulk: ConsumerRunner<T>;
  readonly priority: ConsumerRunner<T>;

  constructor(opts: LaneRunnersOptions<T>) {
    const { provider, concurrency, priorityConcurrency, buffer, priorityBuffer, ...common } = opts;
    const bulkConcurrency = Math.max(1, concurrency ?? 8);
    const prioConcurrency = Math.max(1, priorityConcurrency ?? 2);
    this.bulk = new ConsumerRunner<T>({
      ...common,
      consumer: opts.topology.laneConsumer(provider, 'bulk'),
      concurrency: bulkConcurrency,
      buffer: buffer ?? bulkConcurrency,
    });
    this.priority = new ConsumerRunner<T>({
      ...common,
      consumer: opts.topology.laneConsumer(provider, 'priority'),
      concurrency: prioConcurrency,
      buffer: priorityBuffer ?? prioConcurrency,
    });
  }

  /** The runner of one lane. */
  lane(lane: Lane): ConsumerRunner<T> {
    return lane === 'bulk' ? this.bulk : this.priority;
  }

  /** Handlers running now on both lanes. */
  get inFlight(): number {
    return this.bulk.inFlight + this.priority.inFlight;
  }

  /** True while the lanes are paused (they are paused and resumed together). */
  get paused(): boolean {
    return this.bulk.paused || this.priority.paused;
  }

  /** Starts both lanes (the priority lane first); if the second fails to bind, the first is stopped again. */
  async start(): Promise<void> {
    await this.priority.start();
    try {
      await this.bulk.start();
    } catch (err) {
      await this.priority.stop(0);
      throw err;
    }
  }

  /** Graceful drain of both lanes at once, with one deadline (see ConsumerRunner.stop). */
  async stop(deadlineMs = 10_000): Promise<void> {
    await Promise.all([this.priority.stop(deadlineMs), this.bulk.stop(deadlineMs)]);
  }

  /** Pauses both lanes (see ConsumerRunner.pause). */
  pause(reason: string): void {
    this.priority.pause(reason);
    this.bulk.pause(reason);
  }

  /** Lifts one pause reason (or all) on both lanes. */
  resume(reason?: string): void {
    this.priority.resume(reason);
    this.bulk.resume(reason);
  }
}
