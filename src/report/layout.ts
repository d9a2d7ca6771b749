/**
 * What the renderers share: how cells are arranged in charts and tables, and
 * which metric columns exist with their formatting. Markdown and HTML both read
 * this, so a number prints the same in both and the HTML test can compare any
 * displayed number with report.json by its metric path.
 *
 * Arrangement: a *series* is an engine+mode (a bar, a matrix row); a *group*
 * is a profile with its faults (a cluster of bars, a matrix column); a *panel*
 * is a workload at a page size (one small chart each, with its own scale).
 * Keys are sorted explicitly, never taken from input order.
 */
import { compareModes, compareProfiles } from './build';
import { fmtBytes, fmtCount, fmtDays, fmtIntOrNa, fmtRate, fmtRatio, fmtUs, fmtPageSize } from './format';
import { CellResult, NON_OK, Report, TAGS, VERDICTS } from './schema';

export interface Key {
  id: string;
  label: string;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function seriesOf(c: CellResult, multiEngine: boolean): Key {
  return { id: `${c.engine}/${c.mode}`, label: multiEngine ? `${c.engine} ${c.mode}` : c.mode };
}

export function groupOf(c: CellResult): Key {
  const id = [c.profile, ...c.faults].join('+');
  return { id, label: c.faults.length ? `${c.profile} + ${c.faults.join(' + ')}` : c.profile };
}

export function panelOf(c: CellResult): Key {
  return { id: `${c.pageSize}/${c.workload}`, label: `${c.workload}, ${fmtPageSize(c.pageSize)} pages` };
}

export interface Arrangement {
  series: Key[];
  groups: Key[];
  panels: Key[];
  /** cell by `${panel.id}|${group.id}|${series.id}` */
  at: Map<string, CellResult>;
  multiEngine: boolean;
}

export function arrange(report: Report): Arrangement {
  const multiEngine = new Set(report.cells.map((c) => c.engine)).size > 1;
  const series = new Map<string, { key: Key; engine: string; mode: string }>();
  const groups = new Map<string, { key: Key; profile: string; faults: string }>();
  const panels = new Map<string, { key: Key; pageSize: number; workload: string }>();
  const at = new Map<string, CellResult>();
  for (const c of report.cells) {
    const s = seriesOf(c, multiEngine);
    const g = groupOf(c);
    const p = panelOf(c);
    series.set(s.id, { key: s, engine: c.engine, mode: c.mode });
    groups.set(g.id, { key: g, profile: c.profile, faults: c.faults.join('+') });
    panels.set(p.id, { key: p, pageSize: c.pageSize, workload: c.workload });
    at.set(`${p.id}|${g.id}|${s.id}`, c);
  }
  return {
    series: [...series.values()].sort((a, b) => cmp(a.engine, b.engine) || compareModes(a.mode, b.mode)).map((x) => x.key),
    groups: [...groups.values()].sort((a, b) => compareProfiles(a.profile, b.profile) || cmp(a.faults, b.faults)).map((x) => x.key),
    panels: [...panels.values()].sort((a, b) => a.pageSize - b.pageSize || cmp(a.workload, b.workload)).map((x) => x.key),
    at,
    multiEngine,
  };
}

export function cellAt(a: Arrangement, panel: Key, group: Key, series: Key): CellResult | undefined {
  return a.at.get(`${panel.id}|${group.id}|${series.id}`);
}

/** Read a metric of a cell by its dotted path (`bytesByTag.wal`, `commitLatencyUs.p99`). */
export function metricValue(c: CellResult, path: string): unknown {
  let v: unknown = c;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export interface MetricColumn {
  metric: string;
  header: string;
  format: (v: number | null) => string;
}

/** The cost table, in display order. */
export const COST_COLUMNS: MetricColumn[] = [
  ...TAGS.map((t) => ({ metric: `bytesByTag.${t}`, header: t, format: fmtBytes })),
  { metric: 'hostWriteBytes', header: 'host total', format: fmtBytes },
  { metric: 'logicalBytesCommitted', header: 'logical', format: fmtBytes },
  { metric: 'hostWriteAmplification', header: 'host WA', format: fmtRatio },
  { metric: 'nandWriteAmplification', header: 'NAND WA', format: fmtRatio },
  { metric: 'totalWriteAmplification', header: 'total WA', format: fmtRatio },
];

export const PERF_COLUMNS: MetricColumn[] = [
  { metric: 'commits', header: 'commits', format: fmtIntOrNa },
  { metric: 'flushesPerCommit', header: 'flushes/commit', format: fmtRatio },
  { metric: 'fuaWritesPerCommit', header: 'FUA/commit', format: fmtRatio },
  { metric: 'throughputTxnPerSec', header: 'txn/s', format: fmtRate },
  { metric: 'commitLatencyUs.p50', header: 'commit p50', format: fmtUs },
  { metric: 'commitLatencyUs.p99', header: 'commit p99', format: fmtUs },
  { metric: 'lifetime.hostBytesPerTxn', header: 'host B/txn', format: fmtBytes },
  { metric: 'lifetime.txnsToTbw', header: 'txns to TBW', format: fmtCount },
  { metric: 'lifetime.daysToTbwAtSimRate', header: 'TBW at sim rate', format: fmtDays },
];

export const VERDICT_COLUMNS: MetricColumn[] = [
  { metric: 'crashStatesTried', header: 'tried', format: fmtIntOrNa },
  ...VERDICTS.map((v) => ({ metric: `verdicts.${v}`, header: v, format: fmtIntOrNa })),
];

export const STATUS_LABEL: Record<CellResult['status'], string> = {
  pass: 'pass',
  'finding-expected': 'finding (expected)',
  'finding-bug': 'FINDING (BUG)',
  'harness-error': 'HARNESS ERROR (not judged)',
  'not-covered': 'not covered',
};

/** Short description of a cell's key for table rows: "none · consumer-tlc · bank · 8 KiB". */
export function cellLabel(c: CellResult, multiEngine: boolean): string {
  return [seriesOf(c, multiEngine).label, groupOf(c).label, c.workload, fmtPageSize(c.pageSize)].join(' · ');
}

/** Cells with harness errors (crash states the testbed failed to judge), in report order. */
export function cellsWithHarnessErrors(report: Report): CellResult[] {
  return report.cells.filter((c) => c.harnessErrors.length + c.harnessErrorsOmitted > 0);
}

/** Cells with findings, bugs first (what a reader must look at), then in report order. */
export function cellsWithFindings(report: Report): CellResult[] {
  const withF = report.cells.filter((c) => c.findings.length + c.findingsOmitted > 0);
  return [...withF.filter((c) => c.status === 'finding-bug'), ...withF.filter((c) => c.status !== 'finding-bug')];
}

/** Crash-window coverage as a table: one row per cell with coverage, one column per window any cell declares. */
export function coverageTable(report: Report, multiEngine: boolean): { header: string[]; rows: { cell: CellResult; values: string[] }[] } | undefined {
  const cells = report.cells.filter((c) => c.coverage && !c.control);
  if (cells.length === 0) return undefined;
  const windows: string[] = [];
  for (const c of cells) for (const w of c.coverage!) if (!windows.includes(w.window)) windows.push(w.window);
  const rows = cells.map((c) => ({
    cell: c,
    values: [
      cellLabel(c, multiEngine),
      ...windows.map((name) => {
        const w = c.coverage!.find((x) => x.window === name);
        if (!w) return '-';
        const bad = Object.values(w.nonOk).reduce((a, b) => a + (b ?? 0), 0);
        return w.states === 0 ? '0 (never hit)' : `${w.states}${bad ? ` (${bad} non-ok)` : ''}`;
      }),
      STATUS_LABEL[c.status],
    ],
  }));
  return { header: ['cell', ...windows, 'status'], rows };
}

/** Positive controls: sabotage -> caught or not -> verdicts -> states in its window; and the sensitivity. */
export function controlsTable(report: Report): { header: string[]; rows: { cell: CellResult; values: string[] }[]; caught: number; tried: number } | undefined {
  const cells = report.cells.filter((c) => c.control);
  if (cells.length === 0) return undefined;
  const rows = cells.map((c) => {
    const k = c.control!;
    const nonOk = [...NON_OK, 'harness-error' as const].filter((v) => c.verdicts[v] > 0).map((v) => `${v} ${c.verdicts[v]}`).join(', ');
    return { cell: c, values: [k.sabotage, `${c.mode.split('%')[0]} · ${c.profile} · ${c.workload}`, k.caught ? 'caught' : 'NOT CAUGHT', nonOk || 'all ok', `${k.statesInWindow} (${k.window})`, String(c.crashStatesTried), k.what] };
  });
  return { header: ['sabotage', 'cell', 'caught', 'verdicts', 'states in window', 'states', 'what it breaks'], rows, caught: cells.filter((c) => c.control!.caught).length, tried: cells.length };
}

/**
 * Costs at scale (cells with a cost run), per committed transaction, and the
 * measured ratios beside the published anchors, per profile x workload x page size:
 *  - doublewrite writes every page twice: (page + doublewrite bytes) / none's page bytes about 2x
 *    (InnoDB documentation, "Doublewrite Buffer"; the write volume doubles);
 *  - atomic page writes remove the doublewrite bytes: atomic's / doublewrite's page + dw bytes about 0.5x
 *    (MySQL/InnoDB on 16 KiB atomic-write devices, innodb_doublewrite=OFF, e.g. the Percona and
 *    ScaleFlux write-ups: about half the write I/O);
 *  - fpw's full page images: their share of WAL bytes falls as the checkpoint interval grows
 *    (PostgreSQL documentation, "WAL Configuration": fewer first-touches per checkpoint),
 *    measured by the cost run's checkpoint sweep (the cell's interval, 4x and 16x it).
 * A ratio far from its anchor carries an explanation.
 */
export function costsTables(report: Report, multiEngine: boolean): { header: string[]; rows: { cell: CellResult; values: string[] }[]; anchors: string[][] } | undefined {
  const cells = report.cells.filter((c) => c.costs && !c.control);
  if (cells.length === 0) return undefined;
  const f0 = (v: number) => fmtCount(Math.round(v));
  const rows = cells.map((c) => {
    const k = c.costs!;
    const t = k.perTxn.byTag;
    return {
      cell: c,
      values: [cellLabel(c, multiEngine), fmtCount(k.txns), f0(k.perTxn.hostBytes), f0(t.page ?? 0), f0(t.doublewrite ?? 0), f0(t.wal ?? 0), f0(t.fpi ?? 0), f0(t.meta ?? 0), k.perTxn.flushes.toFixed(2), k.perTxn.fuaWrites.toFixed(2), f0(k.perTxn.nandBytes), `${k.commitLatencyUs.p50} / ${k.commitLatencyUs.p99}`],
    };
  });
  const anchors: string[][] = [];
  const key = (c: CellResult) => `${c.engine}|${c.profile}|${c.faults.join('+')}|${c.workload}|${c.pageSize}`;
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const g = groups.get(key(c)) ?? [];
    g.push(c);
    groups.set(key(c), g);
  }
  const pageBytes = (c: CellResult | undefined) => (c ? (c.costs!.perTxn.byTag.page ?? 0) + (c.costs!.perTxn.byTag.doublewrite ?? 0) : 0);
  for (const g of groups.values()) {
    const by = (m: string) => g.find((c) => c.mode === m);
    const label = `${g[0].profile} · ${g[0].workload} · ${fmtPageSize(g[0].pageSize)}`;
    const none = by('none');
    const dw = by('doublewrite');
    const at = by('atomic') ?? by('atomic!');
    const fpw = by('fpw');
    if (none && dw && pageBytes(none) > 0) {
      const r = pageBytes(dw) / pageBytes(none);
      anchors.push([label, 'doublewrite page+dw bytes / none page bytes', `${r.toFixed(2)}x`, 'about 2x', Math.abs(r - 2) < 0.25 ? 'near the anchor' : 'far: the two runs evict and checkpoint different pages (the doublewrite run is slower, so its checkpoints find other pages dirty)']);
    }
    if (dw && at && pageBytes(dw) > 0) {
      const r = pageBytes(at) / pageBytes(dw);
      anchors.push([label, 'atomic page bytes / doublewrite page+dw bytes', `${r.toFixed(2)}x`, 'about 0.5x (doublewrite bytes removed)', Math.abs(r - 0.5) < 0.1 ? 'near the anchor' : 'far: see the two cells\' page bytes']);
    }
    if (fpw) {
      const t = fpw.costs!.perTxn.byTag;
      const share = (t.fpi ?? 0) / Math.max(1, (t.fpi ?? 0) + (t.wal ?? 0));
      const sweep = fpw.costs!.checkpointSweep ?? [];
      if (sweep.length > 1) {
        const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
        const falls = sweep.every((p, i) => i === 0 || p.fpiShare < sweep[i - 1].fpiShare);
        anchors.push([
          label,
          `fpw: full-page-image share of WAL bytes, checkpoint every ${sweep.map((p) => p.checkpointEvery).join(' / ')} txns`,
          sweep.map((p) => pct(p.fpiShare)).join(' / '),
          'falls as the checkpoint interval grows',
          `${falls ? 'falls' : 'far: it does not fall (fewer checkpoints should mean fewer first touches of a page; look at the workload\'s page reuse)'}: WAL ${sweep.map((p) => fmtCount(Math.round(p.walBytesPerTxn))).join(' / ')} B/txn, a checkpoint every ${sweep.map((p) => (p.checkpoints > 0 ? fmtCount(Math.round(p.txns / p.checkpoints)) : '-')).join(' / ')} txns as run (a full WAL starts one early; the WAL area grows with the interval; the longer intervals from ${fmtCount(sweep[1].txns)}-txn runs)`,
        ]);
      } else {
        anchors.push([label, 'fpw: full-page-image share of WAL bytes', `${(100 * share).toFixed(0)}%`, 'falls as the checkpoint interval grows', `at this cell's checkpoint interval only; with ${fpw.costs!.checkpoints} checkpoints in ${fmtCount(fpw.costs!.txns)} txns`]);
      }
    }
  }
  return { header: ['cell', 'txns', 'host B/txn', 'page', 'doublewrite', 'wal', 'fpi', 'meta', 'flushes/txn', 'FUA/txn', 'NAND B/txn', 'commit p50 / p99 us'], rows, anchors };
}
