import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric this system defines starts with this prefix. */
export const METRIC_PREFIX = 'intellifin_sync_';

/**
 * One registry per process, with Node's default metrics and a `service` label on every series.
 * Libraries take the registry as an argument and register their metrics on it; nothing uses
 * prom-client's global registry.
 */
export function createMetricsRegistry(service: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Returns the metric if a module already registered it on this registry, else creates it. */
export function counter<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[] = []): Counter<T> {
  return (registry.getSingleMetric(name) as Counter<T> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[] = []): Gauge<T> {
  return (registry.getSingleMetric(name) as Gauge<T> | undefined) ?? new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[] = [],
  buckets: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
): Histogram<T> {
  return (
    (registry.getSingleMetric(name) as Histogram<T> | undefined) ??
    new Histogram({ name, help, labelNames, buckets, registers: [registry] })
  );
}
