import { counter, gauge, METRIC_PREFIX, type Logger, type Registry } from '@intellifin/core';
import { countPendingWalletReferences, type Pool, type WalletProviderId } from '@intellifin/persistence';

/** Metrics of the wallet layer (prefix `intellifin_sync_`), labelled by provider. */
export function walletMetrics(registry: Registry) {
  return {
    lookups: counter(
      registry,
      `${METRIC_PREFIX}wallet_reference_lookups_total`,
      'Reference statuses a run resolved, by source (poll, callback) and normalised status (pending, successful, failed, not_found, expired)',
      ['provider', 'source', 'status'],
    ),
    registrations: counter(
      registry,
      `${METRIC_PREFIX}wallet_registrations_total`,
      'Reference registrations by outcome (registered, unchanged, refused)',
      ['provider', 'outcome'],
    ),
    callbacks: counter(
      registry,
      `${METRIC_PREFIX}wallet_callbacks_total`,
      'Provider callbacks by outcome (applied: a sync was asked for; duplicate; unbound: reference not registered yet; refused)',
      ['provider', 'outcome'],
    ),
    pending: gauge(registry, `${METRIC_PREFIX}wallet_pending_references`, 'References not yet final (sampled from Postgres)', ['provider']),
  };
}

export type WalletMetrics = ReturnType<typeof walletMetrics>;

/** Samples the pending-reference gauge every `everyMs` (one count query per provider). */
export function startPendingGauge(opts: {
  pool: Pool;
  provider: WalletProviderId;
  metrics: WalletMetrics;
  logger: Logger;
  everyMs?: number;
}): { stop(): void; sample(): Promise<number> } {
  const sample = async () => {
    const n = await countPendingWalletReferences(opts.pool, opts.provider);
    opts.metrics.pending.set({ provider: opts.provider }, n);
    return n;
  };
  const timer = setInterval(() => {
    sample().catch((err: unknown) => opts.logger.warn({ err }, 'pending reference gauge: count failed'));
  }, opts.everyMs ?? 15_000);
  timer.unref();
  return { stop: () => clearInterval(timer), sample };
}
