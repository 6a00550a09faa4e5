/**
 * The harness's own figures per scenario (timings, nemesis actions, respawns, peak RSS per process)
 * and the totals line. The invariant tables are the checker's (`renderReport`); `renderInvariants`
 * is the fallback when the checker cannot render.
 */
import type { CheckInvariants, CheckReport, RenderReport } from './checker/types';
import type { ScenarioRun } from './run-scenario';

/**
 * The checker (chaos/src/checker, built alongside the harness), loaded when first used so that a
 * checker that fails to load is reported as a failed invariant instead of stopping the run.
 */
export function loadChecker(): { checkInvariants: CheckInvariants; renderReport: RenderReport } {
  return require('./checker') as { checkInvariants: CheckInvariants; renderReport: RenderReport };
}

export function totals(runs: ScenarioRun[]): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const r of runs)
    for (const i of r.report.invariants) {
      if (i.ok) passed++;
      else failed++;
    }
  return { passed, failed };
}

export function renderInvariants(reports: CheckReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.scenario}`);
    for (const i of r.invariants)
      lines.push(`  ${i.ok ? 'ok  ' : 'FAIL'}  ${i.name.padEnd(40)} ${String(i.count).padStart(6)}  ${i.detail}`);
  }
  return lines.join('\n');
}

const secs = (ms: number | null) => (ms === null ? 'timeout' : `${(ms / 1000).toFixed(1)} s`);

export function renderFigures(runs: ScenarioRun[]): string {
  const lines = ['Harness figures (per scenario)'];
  for (const { report, figures: f } of runs) {
    const m = report.measurements;
    const amp = Object.entries(m.amplification)
      .map(([p, a]) => `${p} ${a && Number.isFinite(a.ratio) ? a.ratio.toFixed(3) : 'n/a'}`)
      .join(', ');
    const actions = Object.entries(f.actions)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ');
    const rss = Object.entries(f.peakRssMiB)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(
      `${report.scenario}: seed ${f.seed}, ${f.accounts} accounts, setup ${secs(f.setupMs)}, quiescence ${secs(f.quiescenceMs)}, ` +
        `respawns ${f.respawns}, nemesis: ${actions || 'none'}`,
      `    amplification: ${amp || 'n/a'}; redeliveries ${m.redeliveries ?? 'n/a'}; fenced rejections ${m.fencedRejections}; ` +
        `overlaps ${m.overlaps}; DLQ ${m.dlqMessages}; naks ${JSON.stringify(m.naksByReason)}; runs ${JSON.stringify(m.runsByOutcome)}`,
      `    worker counters: ${
        Object.entries(f.counters)
          .map(([k, v]) => `${k.replace('intellifin_sync_', '')} ${v}`)
          .join(', ') || 'n/a'
      }`,
      `    taps ("Sync now"): ${
        f.taps
          ? `${Object.entries(f.taps.answers)
              .map(([k, v]) => `${k} ×${v}`)
              .join(
                ', ',
              )}; ${f.taps.duringRun} sent during a running sync, ${f.taps.skipped} skipped, ${f.taps.errors.length} harness errors`
          : 'n/a'
      }`,
      `    peak RSS MiB: ${rss}`,
    );
  }
  return lines.join('\n');
}

/** The checker's tables for `reports` without its totals line (the CLI prints the totals last). */
export function renderTable(reports: CheckReport[]): string {
  let table: string;
  try {
    table = loadChecker().renderReport(reports);
  } catch (err) {
    table = `${renderInvariants(reports)}\n(checker's renderReport unavailable: ${err instanceof Error ? err.message : String(err)})`;
  }
  return table.replace(/\n?\d+ passed, \d+ failed\s*$/, '');
}
