/**
 * index.html: one self-contained page (inline CSS, inline SVG, no script, no
 * network). Pure: same Report, same string. Every displayed number carries
 * data-cell/data-metric/data-value (or data-total/data-value for the summary)
 * so a browser test can check it against report.json.
 */
import { arrange, cellsWithFindings, cellsWithHarnessErrors, cellAt, cellLabel, controlsTable, COST_COLUMNS, costsTables, coverageTable, MetricColumn, metricValue, PERF_COLUMNS, STATUS_LABEL, VERDICT_COLUMNS } from './layout';
import { fmtBytes, fmtInt } from './format';
import { CellResult, CELL_STATUSES, Report, TAGS } from './schema';
import { bytesByTagChart, dataAttrs, esc, HARNESS_COLOR, legend, STATUS_COLORS, TAG_COLORS, throughputChart, verdictMatrix } from './svg';

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d1d1f; margin: 24px 32px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
p.meta { color: #666; margin: 0 0 12px; }
p.note { color: #444; max-width: 70em; }
.summary { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.stat { border: 1px solid #ddd; border-radius: 6px; padding: 6px 12px; min-width: 90px; }
.stat .v { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat .k { color: #666; font-size: 12px; }
.stat.bug { border-color: #c62828; background: #fff0f0; }
.stat.harness { border-color: ${HARNESS_COLOR}; background: ${STATUS_COLORS['harness-error'].fill}; }
.harness, p.note.harness { color: ${HARNESS_COLOR}; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
svg.chart { font: 11px system-ui, "DejaVu Sans", sans-serif; background: #fcfcfc; border: 1px solid #eee; border-radius: 4px; }
svg.legend { font: 11px system-ui, "DejaVu Sans", sans-serif; display: block; margin: 4px 0 8px; }
svg .chart-title { font-size: 12px; font-weight: 600; }
svg .tick, svg .bar-label { fill: #555; font-size: 10px; }
svg .bar-value { fill: #222; font-size: 10px; }
svg .group-label, svg .row-label { fill: #222; font-size: 11px; font-weight: 600; }
svg .grid { stroke: #e6e6e6; }
svg .axis { stroke: #888; }
svg .matrix-main { font-size: 12px; font-weight: 600; fill: #222; }
svg .matrix-sub { font-size: 10px; fill: #333; }
svg .matrix-empty { fill: #f2f2f2; stroke: #ddd; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12px; }
th, td { border: 1px solid #e2e2e2; padding: 3px 7px; }
th { background: #f6f6f6; text-align: left; }
td:first-child { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.status-pass { background: ${STATUS_COLORS.pass.fill}; }
td.status-finding-expected { background: ${STATUS_COLORS['finding-expected'].fill}; }
td.status-finding-bug { background: ${STATUS_COLORS['finding-bug'].fill}; font-weight: 600; }
td.status-harness-error { background: ${STATUS_COLORS['harness-error'].fill}; color: ${HARNESS_COLOR}; font-weight: 600; }
td.status-not-covered { background: ${STATUS_COLORS['not-covered'].fill}; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
`;

function th(s: string): string {
  return `<th>${esc(s)}</th>`;
}

function metricTd(c: CellResult, col: MetricColumn): string {
  const v = metricValue(c, col.metric) as number | null;
  return `<td class="num" ${dataAttrs(c, col.metric, v)}>${esc(col.format(v))}</td>`;
}

function metricTable(report: Report, columns: MetricColumn[], multiEngine: boolean, withStatus = false): string {
  const rows = report.cells.map((c) => {
    const status = withStatus
      ? `<td class="status-${c.status}" data-cell="${esc(c.id)}" data-metric="status" data-value="${esc(JSON.stringify(c.status))}">${esc(STATUS_LABEL[c.status])}</td><td>${esc(c.expectation.kind)}: ${esc(c.expectation.reason)}</td>`
      : '';
    return `<tr data-cell="${esc(c.id)}"><td>${esc(cellLabel(c, multiEngine))}</td>${columns.map((col) => metricTd(c, col)).join('')}${status}</tr>`;
  });
  const head = `<tr>${th('cell')}${columns.map((c) => th(c.header)).join('')}${withStatus ? th('status') + th('expectation') : ''}</tr>`;
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

function stat(key: string, label: string, value: number, text: string, extraClass = ''): string {
  return `<div class="stat${extraClass}"><div class="v" data-total="${esc(key)}" data-value="${value}">${esc(text)}</div><div class="k">${esc(label)}</div></div>`;
}

function findings(report: Report): string {
  const cells = cellsWithFindings(report);
  if (cells.length === 0) return '<p>None: every crash state ended <code>ok</code>.</p>';
  const out = ['<p class="note">Rebuild any crash state, recover it and print its verdict with <code>tornlab replay ID</code> (add <code>--dump</code> for the crash image and a hex diff of the pages involved).</p>'];
  for (const c of cells) {
    out.push(`<h3>${esc(c.id)} — ${esc(STATUS_LABEL[c.status])}</h3>`);
    out.push('<table><thead><tr><th>replay id</th><th>verdict</th><th>detail</th><th>replay</th></tr></thead><tbody>');
    for (const f of c.findings) {
      out.push(`<tr class="finding" data-cell="${esc(c.id)}" data-replay-id="${esc(f.replayId)}"><td><code>${esc(f.replayId)}</code></td><td>${esc(f.verdict)}</td><td>${esc(f.detail)}</td><td><code>tornlab replay ${esc(f.replayId)}</code></td></tr>`);
    }
    out.push('</tbody></table>');
    if (c.findingsOmitted > 0) out.push(`<p class="note"><span ${dataAttrs(c, 'findingsOmitted', c.findingsOmitted)}>${fmtInt(c.findingsOmitted)}</span> more finding(s) omitted (the report keeps ${report.findingsCap} per cell).</p>`);
  }
  return out.join('\n');
}

function plainTable(header: string[], rows: { cell: CellResult; values: string[] }[]): string {
  const body = rows.map((r) => `<tr data-cell="${esc(r.cell.id)}">${r.values.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`);
  return `<table>\n<thead><tr>${header.map(th).join('')}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function controlsAndCoverage(report: Report, multiEngine: boolean): string[] {
  const out: string[] = [];
  const costs = costsTables(report, multiEngine);
  if (costs) {
    out.push('<h2>Costs at scale</h2>', '<p class="note">A separate crash-free run per cell after a warm-up; figures per committed transaction.</p>', plainTable(costs.header, costs.rows));
    if (costs.anchors.length) {
      out.push('<p class="note">Measured ratios beside the published anchors:</p>', `<table><thead><tr>${['cells', 'ratio', 'measured', 'anchor', 'note'].map(th).join('')}</tr></thead><tbody>${costs.anchors.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`).join('')}</tbody></table>`);
    }
  }
  const ctl = controlsTable(report);
  if (ctl) {
    out.push('<h2>Positive controls</h2>', `<p class="note">Each protection step broken on purpose (the engine's sabotage switches), run beside the real cells. <strong>Sensitivity: <span data-total="controls.caught" data-value="${ctl.caught}">${ctl.caught}</span>/${ctl.tried}</strong> caught. A control nothing catches makes the campaign not-covered.</p>`, plainTable(ctl.header, ctl.rows));
  }
  const cov = coverageTable(report, multiEngine);
  if (cov) {
    out.push('<h2>Crash-window coverage</h2>', '<p class="note">Crash states that landed inside each ordering window the cell\'s mode declares (non-ok among them); "-": not declared by the mode. A pass with a window never hit is not-covered.</p>', plainTable(cov.header, cov.rows));
  }
  return out;
}

function harnessErrors(report: Report): string {
  const cells = cellsWithHarnessErrors(report);
  if (cells.length === 0) return '<p>None: the testbed judged every crash state.</p>';
  const out = ['<p class="note harness">These crash states were not judged: the testbed itself failed (a phase passed its deadline, a tool was missing). They are neither a pass nor a finding; the run exits 3. <code>tornlab replay ID</code> runs one again.</p>'];
  for (const c of cells) {
    out.push(`<h3>${esc(c.id)} — ${esc(STATUS_LABEL[c.status])}</h3>`);
    out.push('<table><thead><tr><th>replay id</th><th>phase: message</th><th>replay</th></tr></thead><tbody>');
    for (const h of c.harnessErrors) {
      out.push(`<tr class="harness-error" data-cell="${esc(c.id)}" data-replay-id="${esc(h.replayId)}"><td><code>${esc(h.replayId)}</code></td><td>${esc(h.detail)}</td><td><code>tornlab replay ${esc(h.replayId)}</code></td></tr>`);
    }
    out.push('</tbody></table>');
    if (c.harnessErrorsOmitted > 0) out.push(`<p class="note"><span ${dataAttrs(c, 'harnessErrorsOmitted', c.harnessErrorsOmitted)}>${fmtInt(c.harnessErrorsOmitted)}</span> more harness error(s) omitted (the report keeps ${report.findingsCap} per cell).</p>`);
  }
  return out.join('\n');
}

export function renderHtml(report: Report): string {
  const a = arrange(report);
  const t = report.totals;
  const bugs = t.cellsByStatus['finding-bug'];
  const unjudged = t.verdicts['harness-error'];
  const tagLegend = legend(TAGS.map((tag) => ({ label: tag, color: TAG_COLORS[tag] })));
  const statusLegend = legend(CELL_STATUSES.map((s) => ({ label: STATUS_LABEL[s], color: STATUS_COLORS[s].fill, stroke: STATUS_COLORS[s].stroke })));
  const hasMatrix = a.series.length > 0 && a.groups.some((g) => a.panels.some((p) => a.series.some((s) => cellAt(a, p, g, s))));
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(report.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${esc(report.title)}</h1>`,
    `<p class="meta">tornlab ${esc(report.tool.version)} · generated <time data-generated-at="${esc(report.generatedAt)}">${esc(report.generatedAt)}</time> · report schema ${report.schemaVersion}</p>`,
    '<div class="summary">',
    stat('cells', 'cells', t.cells, fmtInt(t.cells)),
    stat('cellsByStatus.pass', 'pass', t.cellsByStatus.pass, fmtInt(t.cellsByStatus.pass)),
    stat('cellsByStatus.finding-expected', 'finding (expected)', t.cellsByStatus['finding-expected'], fmtInt(t.cellsByStatus['finding-expected'])),
    stat('cellsByStatus.finding-bug', 'finding (bug)', bugs, fmtInt(bugs), bugs > 0 ? ' bug' : ''),
    stat('cellsByStatus.harness-error', 'harness error (cells)', t.cellsByStatus['harness-error'], fmtInt(t.cellsByStatus['harness-error']), t.cellsByStatus['harness-error'] > 0 ? ' harness' : ''),
    stat('cellsByStatus.not-covered', 'not covered (cells)', t.cellsByStatus['not-covered'], fmtInt(t.cellsByStatus['not-covered'])),
    stat('crashStatesTried', 'crash states', t.crashStatesTried, fmtInt(t.crashStatesTried)),
    stat('findings', 'crash states with a finding', t.findings, fmtInt(t.findings)),
    stat('verdicts.harness-error', 'not judged (harness error)', unjudged, fmtInt(unjudged), unjudged > 0 ? ' harness' : ''),
    stat('hostWriteBytes', 'host bytes written', t.hostWriteBytes, fmtBytes(t.hostWriteBytes)),
    '</div>',
    bugs > 0
      ? `<p class="note"><strong>${bugs} cell(s) found a bug</strong>: a mode that claims safety on its profile produced a non-ok crash state (see the matrix and the findings).</p>`
      : '<p class="note">No mode that claims safety on its profile produced a non-ok crash state.</p>',
    ...(unjudged > 0
      ? [`<p class="note harness"><strong>${fmtInt(unjudged)} crash state(s) were not judged</strong> (harness error: the testbed itself failed); the result is incomplete (exit status 3). See "Harness errors".</p>`]
      : []),
    ...(t.cellsByStatus['not-covered'] > 0
      ? [`<p class="note"><strong>${fmtInt(t.cellsByStatus['not-covered'])} cell(s) not covered</strong>: they passed without proving anything (a crash window never hit, or a positive control not caught; exit status 4 when there is no bug and no harness error). See "Positive controls" and "Crash-window coverage".</p>`]
      : []),
    '<h2>Verdict matrix</h2>',
    '<p class="note">Rows: modes. Columns: device profile (with faults), workload and page size. Each square: crash states that ended ok out of those tried, and the most frequent non-ok verdicts. Colour: the cell status; "expected" findings are ones the mode does not claim to prevent on that profile; "harness error" marks crash states the testbed failed to judge (neither a pass nor a finding); "not covered" marks a pass that proves nothing (a crash window never hit, a positive control not caught).</p>',
    statusLegend,
    hasMatrix ? verdictMatrix(a) : '<p>No cells.</p>',
    '<h2>Bytes written by tag</h2>',
    '<p class="note">Host bytes written during the workload, stacked by the engine\'s tag; one chart per workload and page size, bars per mode grouped by profile. The number above each bar is the host write amplification (host bytes / logical bytes committed).</p>',
    tagLegend,
    '<div class="charts">',
    ...a.panels.map((p) => bytesByTagChart(a, p)),
    '</div>',
    '<h2>Throughput</h2>',
    '<p class="note">Committed transactions per simulated second, per mode and profile.</p>',
    '<div class="charts">',
    ...a.panels.map((p) => throughputChart(a, p)),
    '</div>',
    '<h2>Bytes and write amplification per cell</h2>',
    metricTable(report, COST_COLUMNS, a.multiEngine),
    '<h2>Flushes, latency, throughput and device lifetime</h2>',
    '<p class="note">Simulated time. "txns to TBW": committed transactions until the host has written the profile\'s TBW rating; "TBW at sim rate": time to reach it writing at the simulated rate around the clock.</p>',
    metricTable(report, PERF_COLUMNS, a.multiEngine),
    '<h2>Crash verdicts per cell</h2>',
    metricTable(report, VERDICT_COLUMNS, a.multiEngine, true),
    ...controlsAndCoverage(report, a.multiEngine),
    '<h2>Findings</h2>',
    findings(report),
    '<h2>Harness errors</h2>',
    harnessErrors(report),
    '<h2>Campaign</h2>',
    `<pre>${esc(JSON.stringify(report.campaign, null, 2))}</pre>`,
    '</body>',
    '</html>',
    '',
  ];
  return parts.join('\n');
}
