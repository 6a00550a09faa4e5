/**
 * The Jepsen-like report: per scenario, each invariant with its verdict, count and detail, then the
 * measurements; then a scenario × invariant matrix of counts; last line `N passed, N failed`
 * (one invariant of one scenario counts as one).
 */
import type { CheckReport, InvariantResult, Measurements } from './types';

export function failedCount(reports: readonly CheckReport[]): number {
  return reports.reduce((n, r) => n + r.invariants.filter((i) => !i.ok).length, 0);
}

export function passedCount(reports: readonly CheckReport[]): number {
  return reports.reduce((n, r) => n + r.invariants.filter((i) => i.ok).length, 0);
}

const verdict = (i: InvariantResult) => (i.ok ? 'ok' : 'FAIL');

function measurementsLines(m: Measurements): string[] {
  const amp = Object.entries(m.amplification)
    .map(([p, a]) => (a ? `${p} ${Number.isFinite(a.ratio) ? a.ratio.toFixed(3) : 'n/a'} (${a.requests}/${a.minimum})` : `${p} n/a`))
    .join(', ');
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    `  quiescence ${(m.quiescenceMs / 1000).toFixed(1)} s; amplification (requests/minimum): ${amp || 'n/a'}`,
    `  redeliveries ≥ ${m.redeliveries ?? 'n/a'}; fenced rejections ${m.fencedRejections}; overlaps ${m.overlaps}; DLQ ${m.dlqMessages}`,
    `  runs: ${kv(m.runsByOutcome)}; handed back by code: ${kv(m.naksByReason)}`,
    ...(Object.keys(m.extra).length ? [`  ${kv(m.extra)}`] : []),
  ];
}

function scenarioTable(r: CheckReport): string[] {
  const nameW = Math.max(10, ...r.invariants.map((i) => i.name.length));
  const lines = [`Scenario ${r.scenario}`, `  ${'invariant'.padEnd(nameW)}  result  ${'count'.padStart(6)}  detail`];
  for (const i of r.invariants) {
    lines.push(`  ${i.name.padEnd(nameW)}  ${verdict(i).padEnd(6)}  ${String(i.count).padStart(6)}  ${i.detail}`);
  }
  lines.push(...measurementsLines(r.measurements));
  return lines;
}

/** Scenario rows × invariant columns: the count, prefixed `!` when the invariant failed. */
function matrix(reports: readonly CheckReport[]): string[] {
  const names: string[] = [];
  for (const r of reports) for (const i of r.invariants) if (!names.includes(i.name)) names.push(i.name);
  const widths = names.map((n) => Math.max(n.length, 6));
  const scW = Math.max(8, ...reports.map((r) => r.scenario.length));
  const head = `${'scenario'.padEnd(scW)}  ${names.map((n, k) => n.padStart(widths[k]!)).join('  ')}`;
  const rows = reports.map((r) => {
    const cells = names.map((n, k) => {
      const i = r.invariants.find((x) => x.name === n);
      const cell = i ? `${i.ok ? '' : '!'}${i.count}` : '-';
      return cell.padStart(widths[k]!);
    });
    return `${r.scenario.padEnd(scW)}  ${cells.join('  ')}`;
  });
  return ['Summary: violations per scenario × invariant (! = failed, - = not run)', head, ...rows];
}

export function renderReport(reports: CheckReport[]): string {
  const out: string[] = [];
  for (const r of reports) out.push(...scenarioTable(r), '');
  if (reports.length > 0) out.push(...matrix(reports), '');
  out.push(`${passedCount(reports)} passed, ${failedCount(reports)} failed`);
  return out.join('\n');
}
