/**
 * Inline-SVG charts for index.html, as small pure string generators.
 *
 * Why our own generators and not a charting library: the three charts are bars
 * and a grid of rectangles, about 250 lines together. The libraries that render
 * SVG in Node without a DOM (vega + vega-lite, echarts' SSR renderer) add
 * megabytes of dependencies, emit their own ids and floating-point layout that
 * we would have to pin to keep output byte-for-byte reproducible, and do not let
 * us put `data-cell`/`data-metric` on each bar, which the browser test uses to
 * compare every drawn number with report.json. Owning the geometry keeps that
 * comparison exact and the output stable.
 *
 * Conventions: every coordinate goes through `px` (2 decimals, deterministic);
 * every element that stands for a number carries data-cell (the cell id),
 * data-metric (its path in the cell) and data-value (the JSON value).
 */
import { Arrangement, Key, cellAt, STATUS_LABEL } from './layout';
import { fmtBytes, fmtFixed, fmtInt, fmtRate, fmtRatio } from './format';
import { CellResult, CellStatus, NON_OK, TAGS, Tag, VERDICTS } from './schema';
import { VERDICT_SHORT } from '../crash/verdict';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function px(x: number): string {
  return String(Math.round(x * 100) / 100);
}

export function dataAttrs(c: CellResult, metric: string, value: unknown): string {
  return `data-cell="${esc(c.id)}" data-metric="${esc(metric)}" data-value="${esc(JSON.stringify(value))}"`;
}

export const TAG_COLORS: Record<Tag, string> = {
  wal: '#4c78a8',
  fpi: '#f58518',
  doublewrite: '#b279a2',
  page: '#54a24b',
  meta: '#9d9d9d',
  other: '#9d755d',
};

const SERIES_COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d'];

export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length];
}

export const STATUS_COLORS: Record<CellStatus, { fill: string; stroke: string }> = {
  pass: { fill: '#d5ecd4', stroke: '#2e7d32' },
  'finding-expected': { fill: '#ffe3bf', stroke: '#d9822b' },
  'finding-bug': { fill: '#ffc9c9', stroke: '#c62828' },
  // Not a finding and not a pass: the testbed failed to judge some crash states.
  'harness-error': { fill: '#e4dcf4', stroke: '#5e35b1' },
  // A pass that proves nothing: a crash window never hit, a positive control not caught.
  'not-covered': { fill: '#e0e0e0', stroke: '#616161' },
};

/** Colour of the harness-error count wherever it is drawn (matrix text, summary). */
export const HARNESS_COLOR = STATUS_COLORS['harness-error'].stroke;

/** Ticks from 0 covering max with 1/2/5 steps; at least one step. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

// Bar-chart geometry shared by the two bar charts.
const BAR_W = 28;
const BAR_GAP = 8;
const GROUP_GAP = 28;
const LEFT = 70;
const RIGHT = 12;
const TOP = 34;
const PLOT_H = 190;
const BOTTOM = 84;
const MIN_SEG_PX = 1;

interface BarSlot {
  cell: CellResult;
  series: Key;
  seriesIndex: number;
  x: number;
}

/** Place one bar per (group, series) that has a cell in this panel. */
function slots(a: Arrangement, panel: Key): { slots: BarSlot[]; groups: { key: Key; x0: number; x1: number }[]; width: number } {
  const out: BarSlot[] = [];
  const groups: { key: Key; x0: number; x1: number }[] = [];
  let x = LEFT + GROUP_GAP / 2;
  for (const g of a.groups) {
    const x0 = x;
    a.series.forEach((s, si) => {
      const cell = cellAt(a, panel, g, s);
      if (!cell) return;
      out.push({ cell, series: s, seriesIndex: si, x });
      x += BAR_W + BAR_GAP;
    });
    if (x === x0) continue;
    groups.push({ key: g, x0, x1: x - BAR_GAP });
    x += GROUP_GAP;
  }
  return { slots: out, groups, width: x - GROUP_GAP / 2 + RIGHT };
}

function frame(width: number, title: string, chart: string, panel: Key, body: string[]): string {
  const height = TOP + PLOT_H + BOTTOM;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${chart}" data-panel="${esc(panel.id)}" width="${px(width)}" height="${height}" viewBox="0 0 ${px(width)} ${height}" role="img" aria-label="${esc(title)}">`,
    `<text class="chart-title" x="${LEFT}" y="18">${esc(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function yAxis(ticks: number[], scale: (v: number) => number, label: (v: number) => string, x1: number): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    const y = scale(t);
    out.push(`<line class="grid" x1="${LEFT}" y1="${px(y)}" x2="${px(x1)}" y2="${px(y)}"/>`);
    out.push(`<text class="tick" x="${LEFT - 6}" y="${px(y + 4)}" text-anchor="end">${esc(label(t))}</text>`);
  }
  return out;
}

function xLabels(placed: BarSlot[], groups: { key: Key; x0: number; x1: number }[]): string[] {
  const base = TOP + PLOT_H;
  const out = [`<line class="axis" x1="${LEFT}" y1="${base}" x2="${px(groups.length ? groups[groups.length - 1].x1 + GROUP_GAP / 2 : LEFT)}" y2="${base}"/>`];
  for (const s of placed) {
    const cx = s.x + BAR_W / 2;
    out.push(`<text class="bar-label" transform="translate(${px(cx + 3)},${base + 8}) rotate(-40)" text-anchor="end">${esc(s.series.label)}</text>`);
  }
  for (const g of groups) {
    out.push(`<text class="group-label" x="${px((g.x0 + g.x1) / 2)}" y="${base + BOTTOM - 8}" text-anchor="middle">${esc(g.key.label)}</text>`);
  }
  return out;
}

/** Largest binary unit not above max, for axis labels in whole units. */
function byteUnit(max: number): { div: number; name: string } {
  const units = [
    { div: 1, name: 'B' },
    { div: 1024, name: 'KiB' },
    { div: 1024 ** 2, name: 'MiB' },
    { div: 1024 ** 3, name: 'GiB' },
    { div: 1024 ** 4, name: 'TiB' },
  ];
  let u = units[0];
  for (const x of units) if (max >= x.div) u = x;
  return u;
}

/**
 * Host bytes written per mode, stacked by tag, bars grouped by profile; one
 * panel per workload and page size. The number above each bar is the host write
 * amplification.
 */
export function bytesByTagChart(a: Arrangement, panel: Key): string {
  const { slots: placed, groups, width } = slots(a, panel);
  const max = Math.max(0, ...placed.map((s) => s.cell.hostWriteBytes));
  const unit = byteUnit(max);
  const ticks = niceTicks(max / unit.div);
  const top = ticks[ticks.length - 1] * unit.div;
  const scale = (v: number): number => TOP + PLOT_H - (v / top) * PLOT_H;
  const body = yAxis(ticks, (t) => scale(t * unit.div), (t) => `${t} ${unit.name}`, width - RIGHT);
  for (const s of placed) {
    // Segments stack on their drawn heights; a non-zero tag is drawn at least
    // MIN_SEG_PX tall so that it stays visible (its exact value is in the tooltip).
    let yTop = scale(0);
    const parts: string[] = [];
    for (const tag of TAGS) {
      const v = s.cell.bytesByTag[tag];
      if (v === 0) continue; // a zero-height rect would be an invisible bar
      const y0 = yTop;
      const y1 = y0 - Math.max(MIN_SEG_PX, scale(0) - scale(v));
      yTop = y1;
      parts.push(
        `<rect class="bar seg" ${dataAttrs(s.cell, `bytesByTag.${tag}`, v)} data-tag="${tag}" x="${px(s.x)}" y="${px(y1)}" width="${BAR_W}" height="${px(y0 - y1)}" fill="${TAG_COLORS[tag]}"><title>${esc(`${s.series.label}, ${s.cell.profile}: ${tag} ${fmtBytes(v)}`)}</title></rect>`,
      );
    }
    body.push(`<g class="stack" data-cell="${esc(s.cell.id)}">`, ...parts, '</g>');
    body.push(
      `<text class="bar-value" ${dataAttrs(s.cell, 'hostWriteAmplification', s.cell.hostWriteAmplification)} x="${px(s.x + BAR_W / 2)}" y="${px(yTop - 4)}" text-anchor="middle">${esc(fmtRatio(s.cell.hostWriteAmplification))}</text>`,
    );
  }
  body.push(...xLabels(placed, groups));
  return frame(width, `Host bytes written by tag: ${panel.label} (label: host WA)`, 'bytes-by-tag', panel, body);
}

/** Simulated throughput per mode, grouped by profile; one panel per workload and page size. */
export function throughputChart(a: Arrangement, panel: Key): string {
  const { slots: placed, groups, width } = slots(a, panel);
  const max = Math.max(0, ...placed.map((s) => s.cell.throughputTxnPerSec ?? 0));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const scale = (v: number): number => TOP + PLOT_H - (v / top) * PLOT_H;
  const decimals = ticks.length > 1 && !Number.isInteger(ticks[1]) ? 1 : 0;
  const body = yAxis(ticks, scale, (t) => fmtFixed(t, decimals), width - RIGHT);
  for (const s of placed) {
    const v = s.cell.throughputTxnPerSec;
    if (v === null || v === 0) {
      body.push(`<text class="bar-value" ${dataAttrs(s.cell, 'throughputTxnPerSec', v)} x="${px(s.x + BAR_W / 2)}" y="${px(scale(0) - 4)}" text-anchor="middle">${esc(fmtRate(v))}</text>`);
      continue;
    }
    const y = scale(v);
    body.push(
      `<rect class="bar" ${dataAttrs(s.cell, 'throughputTxnPerSec', v)} x="${px(s.x)}" y="${px(y)}" width="${BAR_W}" height="${px(scale(0) - y)}" fill="${seriesColor(s.seriesIndex)}"><title>${esc(`${s.series.label}, ${s.cell.profile}: ${fmtRate(v)} txn/s`)}</title></rect>`,
      `<text class="bar-value" ${dataAttrs(s.cell, 'throughputTxnPerSec', v)} x="${px(s.x + BAR_W / 2)}" y="${px(y - 4)}" text-anchor="middle">${esc(fmtRate(v))}</text>`,
    );
  }
  body.push(...xLabels(placed, groups));
  return frame(width, `Simulated throughput (txn/s): ${panel.label}`, 'throughput', panel, body);
}

// Verdict matrix geometry.
const M_LEFT = 120;
const M_TOP = 58;
const M_COL = 132;
const M_ROW = 46;

/** Modes (rows) x profile, workload and page size (columns); each square coloured by status, with counts. */
export function verdictMatrix(a: Arrangement): string {
  const cols: { group: Key; panel: Key }[] = [];
  for (const g of a.groups) for (const p of a.panels) if (a.series.some((s) => cellAt(a, p, g, s))) cols.push({ group: g, panel: p });
  const width = M_LEFT + cols.length * M_COL + 8;
  const height = M_TOP + a.series.length * M_ROW + 8;
  const body: string[] = [];
  // Header: group label spanning its columns, then the panel label per column.
  let i = 0;
  while (i < cols.length) {
    let j = i;
    while (j < cols.length && cols[j].group.id === cols[i].group.id) j++;
    body.push(`<text class="group-label" x="${px(M_LEFT + ((i + j) / 2) * M_COL)}" y="20" text-anchor="middle">${esc(cols[i].group.label)}</text>`);
    body.push(`<line class="axis" x1="${px(M_LEFT + i * M_COL + 6)}" y1="27" x2="${px(M_LEFT + j * M_COL - 6)}" y2="27"/>`);
    i = j;
  }
  cols.forEach((c, ci) => body.push(`<text class="tick" x="${px(M_LEFT + (ci + 0.5) * M_COL)}" y="46" text-anchor="middle">${esc(c.panel.label)}</text>`));
  a.series.forEach((s, si) => {
    const y = M_TOP + si * M_ROW;
    body.push(`<text class="row-label" x="${M_LEFT - 10}" y="${px(y + M_ROW / 2 + 4)}" text-anchor="end">${esc(s.label)}</text>`);
    cols.forEach((col, ci) => {
      const x = M_LEFT + ci * M_COL;
      const cell = cellAt(a, col.panel, col.group, s);
      if (!cell) {
        body.push(`<rect class="matrix-empty" x="${px(x + 2)}" y="${px(y + 2)}" width="${M_COL - 4}" height="${M_ROW - 4}"/>`);
        return;
      }
      const color = STATUS_COLORS[cell.status];
      // The two most telling counts: findings first; a harness error always shows (it has its own colour).
      const found = NON_OK.filter((v) => cell.verdicts[v] > 0);
      const harness = cell.verdicts['harness-error'] > 0;
      const shown = [...found.slice(0, harness ? 1 : 2), ...(harness ? (['harness-error'] as const) : [])];
      const detail = shown
        .map((v) => `<tspan ${v === 'harness-error' ? `class="harness" fill="${HARNESS_COLOR}" ` : ''}${dataAttrs(cell, `verdicts.${v}`, cell.verdicts[v])}>${VERDICT_SHORT[v]} ${fmtInt(cell.verdicts[v])}</tspan>`)
        .join(' · ');
      const tip = [`${cell.id}: ${STATUS_LABEL[cell.status]} (${cell.expectation.kind})`, ...VERDICTS.map((v) => `${v}: ${cell.verdicts[v]}`)].join('\n');
      body.push(
        `<g class="matrix-cell" data-cell="${esc(cell.id)}" data-status="${cell.status}">`,
        `<title>${esc(tip)}</title>`,
        `<rect x="${px(x + 2)}" y="${px(y + 2)}" width="${M_COL - 4}" height="${M_ROW - 4}" rx="4" fill="${color.fill}" stroke="${color.stroke}"/>`,
        `<text class="matrix-main" x="${px(x + M_COL / 2)}" y="${px(y + 19)}" text-anchor="middle"><tspan ${dataAttrs(cell, 'verdicts.ok', cell.verdicts.ok)}>${fmtInt(cell.verdicts.ok)}</tspan>/<tspan ${dataAttrs(cell, 'crashStatesTried', cell.crashStatesTried)}>${fmtInt(cell.crashStatesTried)}</tspan> ok</text>`,
        `<text class="matrix-sub" x="${px(x + M_COL / 2)}" y="${px(y + 34)}" text-anchor="middle">${detail || esc(STATUS_LABEL[cell.status])}</text>`,
        '</g>',
      );
    });
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="verdict-matrix" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}" role="img" aria-label="Verdict matrix">`,
    ...body,
    '</svg>',
  ].join('\n');
}

/** A row of coloured swatches with labels. */
export function legend(items: { label: string; color: string; stroke?: string }[]): string {
  let x = 0;
  const parts: string[] = [];
  for (const it of items) {
    parts.push(`<rect x="${px(x)}" y="3" width="12" height="12" rx="2" fill="${it.color}"${it.stroke ? ` stroke="${it.stroke}"` : ''}/>`);
    parts.push(`<text class="tick" x="${px(x + 17)}" y="13">${esc(it.label)}</text>`);
    x += 17 + it.label.length * 6.5 + 16;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="${px(x)}" height="18" viewBox="0 0 ${px(x)} 18">${parts.join('')}</svg>`;
}
