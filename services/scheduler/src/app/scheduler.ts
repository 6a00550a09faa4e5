import { SpanStatusCode, trace, withSpan, type Logger, type Tracer } from '@intellifin/core';
import type { BackoffPolicy } from '@intellifin/domain';
import { LostLeadershipError } from '../adapters/leader-lease.repo';
import type { Clock } from '../domain/clock';
import { type DispatchDeps, type DispatchReport } from './dispatch';
import { planAndDispatch } from './plan-and-dispatch';
import type { LeaderElector } from './leader';
import { runMaintenanceIfDue, type MaintenanceDeps, type MaintenanceReport } from './maintenance';
import type { SchedulerMetrics } from './metrics';
import type { ExecutedSlot } from './plan-slots';

export interface SchedulerDeps extends DispatchDeps {
  clock: Clock;
  elector: LeaderElector;
  logger: Logger;
  metrics: SchedulerMetrics;
  tracer?: Tracer;
  errorBackoff: BackoffPolicy;
  maintenance: MaintenanceDeps['settings'];
  dlqSize?: () => Promise<number>;
  /** Interval between planning passes in `start()` (real time). */
  tickMs: number;
}

export interface PassReport {
  at: Date;
  epoch: bigint;
  slots: ExecutedSlot[];
  dispatch: DispatchReport;
  maintenance: MaintenanceReport | null;
}

/**
 * The planner: one pass = execute due plan slots (with catch-up) and dispatch due accounts, each
 * provider's dispatch starting as soon as its slots are executed → run maintenance if due. Only the leader plans; every write is fenced by its epoch. `tick()` is
 * the whole pass, driven by `start()` in production and called directly by tests with a manual
 * clock (tests never wait for schedule times).
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<PassReport | null> | undefined;

  constructor(private readonly d: SchedulerDeps) {}

  /** One planning pass, or null when this replica is not the leader. Concurrent calls share one pass. */
  tick(): Promise<PassReport | null> {
    this.current ??= this.pass().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private async pass(): Promise<PassReport | null> {
    const fence = this.d.elector.fence;
    if (!fence) return null;
    const now = this.d.clock.now();
    const started = process.hrtime.bigint();
    const tracer = this.d.tracer ?? trace.getTracer('scheduler');
    try {
      return await withSpan(
        tracer,
        'scheduler.planning_pass',
        { attributes: { 'scheduler.now': now.toISOString(), 'scheduler.epoch': Number(fence.epoch) } },
        async (span) => {
          const log = this.d.logger.child({ pass: now.toISOString(), epoch: fence.epoch.toString() });
          const { slots, dispatch } = await planAndDispatch(
            {
              plan: { pool: this.d.pool, logger: log, metrics: this.d.metrics, errorBackoff: this.d.errorBackoff },
              dispatch: { ...this.d, logger: log },
            },
            fence,
            now,
          );
          const maintenance = await runMaintenanceIfDue(
            {
              pool: this.d.pool,
              logger: log,
              metrics: this.d.metrics,
              settings: this.d.maintenance,
              ...(this.d.dlqSize ? { dlqSize: this.d.dlqSize } : {}),
            },
            fence,
            now,
          );
          span.setAttributes({
            'scheduler.slots_executed': slots.length,
            'scheduler.accounts_due': dispatch.due,
            'scheduler.commands_published': dispatch.published,
            'scheduler.commands_duplicate': dispatch.duplicates,
            'scheduler.deferred': dispatch.deferred,
            'scheduler.due_dropped': dispatch.dropped,
          });
          if (dispatch.failed > 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `${dispatch.failed} publishes failed` });
          return { at: now, epoch: fence.epoch, slots, dispatch, maintenance };
        },
      );
    } catch (err) {
      if (err instanceof LostLeadershipError) {
        this.d.elector.lost('a fenced write found the lease moved on');
        return null;
      }
      throw err;
    } finally {
      this.d.metrics.passDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** Runs the elector and a pass every `tickMs` until `stop()`. Errors are logged; the next pass retries. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.d.elector.start();
    const loop = () => {
      if (!this.running) return;
      this.tick()
        .catch((err: unknown) => this.d.logger.error({ err }, 'planning pass failed'))
        .finally(() => {
          if (this.running) this.timer = setTimeout(loop, this.d.tickMs);
        });
    };
    loop();
  }

  /** Stops planning, waits for the pass in flight, releases the lease. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
    await this.d.elector.stop({ release: true });
  }
}
