/**
 * The write-shape report of a real-database run (src/export/write-shape.ts
 * computes the data): write-shape.json, write-shape.md and write-shape.html
 * (a self-contained page with SVG charts: command sizes, and per cycle how the
 * page writes fared against the device's power-fail atomicity).
 *
 * Invariant: the Markdown and HTML are functions of the JSON data only.
 */
import * as path from 'node:path';
import { PageLayout, WriteShape, mergeShapes } from '../export/write-shape';
import { writeFileAtomic } from '../util/output';
import { fmtBytes, fmtInt } from './format';
import { esc, niceTicks, seriesColor } from './svg';

export interface WriteShapeCycle {
  cycle: number;
  replayId: string;
  verdict: string;
  phases: WriteShape[];
  layout?: PageLayout;
  tornPages: { file: string; page: number; write: string; misaligned: boolean }[];
}

export interface WriteShapeRun {
  title: string;
  /** Settings in force (device profile, file system and its options, engine settings). */
  settings: Record<string, string>;
  cycles: WriteShapeCycle[];
}

export const WRITE_SHAPE_FILES = ['write-shape.json', 'write-shape.md', 'write-shape.html'] as const;

function phaseTotals(run: WriteShapeRun): WriteShape[] {
  const names = [...new Set(run.cycles.flatMap((c) => c.phases.map((p) => p.phase)))];
  return names.map((n) => mergeShapes(n, run.cycles.flatMap((c) => c.phases.filter((p) => p.phase === n)))!).filter(Boolean);
}

function histogramRows(s: WriteShape, top = 12): [number, number][] {
  return Object.entries(s.sizeHistogram)
    .map(([k, v]): [number, number] => [Number(k), v])
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, top);
}

function pct(n: number, d: number): string {
  return d > 0 ? `${((100 * n) / d).toFixed(1)}%` : '–';
}

export function renderWriteShapeMarkdown(run: WriteShapeRun): string {
  const out: string[] = [`# Write shape: ${run.title}`, ''];
  out.push('| setting | value |', '|---|---|', ...Object.entries(run.settings).map(([k, v]) => `| ${k} | ${v} |`), '');
  const totals = phaseTotals(run);
  if (totals[0]) {
    const a = totals[0].atomicity;
    out.push(`Power-fail atomicity of the device: ${fmtBytes(a.unitBytes)} unit (controller ${fmtBytes(a.controllerUnitBytes)}), boundary ${a.boundaryBytes ? fmtBytes(a.boundaryBytes) + ' at ' + fmtBytes(a.boundaryOffsetBytes) : 'none'}.`, '');
  }
  out.push('## Page writes per phase (all cycles)', '', '| phase | commands | bytes | syncs | page writes | one | merged | split | protected | exceeds unit | crosses boundary | misaligned pages |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of totals) {
    out.push(`| ${s.phase} | ${fmtInt(s.commands)} | ${fmtBytes(s.bytes)} | ${fmtInt(s.syncs)} | ${fmtInt(s.pageWrites)} | ${fmtInt(s.one)} | ${fmtInt(s.merged)} | ${fmtInt(s.split)} | ${fmtInt(s.protected)} (${pct(s.protected, s.pageWrites)}) | ${fmtInt(s.unprotected['exceeds-unit'])} | ${fmtInt(s.unprotected['crosses-boundary'])} | ${fmtInt(s.misalignedPages)} |`);
  }
  out.push('');
  for (const s of totals) {
    out.push(`## Command sizes, ${s.phase}`, '', '| size | commands |', '|---|---|', ...histogramRows(s).map(([k, v]) => `| ${fmtBytes(k)} | ${fmtInt(v)} |`), '');
    out.push('| file | commands | bytes | page writes | unprotected | misaligned pages |', '|---|---|---|---|---|---|');
    for (const [f, v] of Object.entries(s.byFile).sort((a, b) => b[1].bytes - a[1].bytes)) out.push(`| ${f} | ${fmtInt(v.commands)} | ${fmtBytes(v.bytes)} | ${fmtInt(v.pageWrites)} | ${fmtInt(v.unprotected)} | ${fmtInt(v.misalignedPages)} |`);
    out.push(`| (file-system journal, metadata, other files) | ${fmtInt(s.other.commands)} | ${fmtBytes(s.other.bytes)} | | | |`, '');
  }
  const layout = run.cycles.find((c) => c.layout)?.layout;
  if (layout) {
    out.push('## Page layout (first cycle)', '', `${fmtInt(layout.misaligned)} of ${fmtInt(layout.pages)} pages (${pct(layout.misaligned, layout.pages)}) start off an atomic boundary.`, '');
    const mis = Object.entries(layout.byFile).filter(([, v]) => v.misaligned > 0);
    if (mis.length) out.push('| file | pages | misaligned | misaligned pages (first) |', '|---|---|---|---|', ...mis.map(([f, v]) => `| ${f} | ${fmtInt(v.pages)} | ${fmtInt(v.misaligned)} | ${v.misalignedPages.join(', ')} |`), '');
  }
  out.push('## Cycles', '', '| cycle | verdict | torn pages (file#page: last write) | replay id |', '|---|---|---|---|');
  for (const c of run.cycles) {
    const torn = c.tornPages.map((t) => `${t.file}#${t.page}: ${t.write}${t.misaligned ? ', misaligned' : ''}`).join('; ') || '–';
    out.push(`| ${c.cycle} | ${c.verdict} | ${torn} | \`${c.replayId}\` |`);
  }
  return out.join('\n') + '\n';
}

function barChart(title: string, rows: [string, number][], w = 640): string {
  const h = 24 * rows.length + 40;
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const ticks = niceTicks(max);
  const x0 = 120;
  const scale = (w - x0 - 20) / ticks[ticks.length - 1];
  const bars = rows.map(([label, v], i) => `<text x="${x0 - 6}" y="${30 + i * 24 + 12}" text-anchor="end" font-size="12">${esc(label)}</text><rect x="${x0}" y="${30 + i * 24}" width="${(v * scale).toFixed(1)}" height="18" fill="${seriesColor(0)}"><title>${esc(label)}: ${v}</title></rect><text x="${x0 + v * scale + 4}" y="${30 + i * 24 + 13}" font-size="11">${fmtInt(v)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(title)}"><text x="4" y="16" font-size="13" font-weight="bold">${esc(title)}</text>${bars.join('')}</svg>`;
}

const FATES: { key: 'protected' | 'split' | 'exceeds-unit' | 'crosses-boundary'; label: string; color: string }[] = [
  { key: 'protected', label: 'protected', color: '#54a24b' },
  { key: 'split', label: 'split', color: '#eeca3b' },
  { key: 'exceeds-unit', label: 'exceeds unit', color: '#f58518' },
  { key: 'crosses-boundary', label: 'crosses boundary', color: '#e45756' },
];

function fateChart(run: WriteShapeRun, w = 640): string {
  const rows = run.cycles.map((c) => {
    const s = mergeShapes('all', c.phases)!;
    return { label: `cycle ${c.cycle} (${c.verdict})`, parts: FATES.map((f) => (f.key === 'protected' ? s?.protected ?? 0 : s?.unprotected[f.key] ?? 0)) };
  });
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, b) => a + b, 0)));
  const x0 = 200;
  const scale = (w - x0 - 20) / max;
  const h = 24 * rows.length + 60;
  const bars = rows.map((r, i) => {
    let x = x0;
    const segs = r.parts.map((v, k) => {
      const seg = `<rect x="${x.toFixed(1)}" y="${30 + i * 24}" width="${(v * scale).toFixed(1)}" height="18" fill="${FATES[k].color}"><title>${FATES[k].label}: ${v}</title></rect>`;
      x += v * scale;
      return seg;
    });
    return `<text x="${x0 - 6}" y="${30 + i * 24 + 13}" text-anchor="end" font-size="12">${esc(r.label)}</text>${segs.join('')}`;
  });
  const legend = FATES.map((f, k) => `<rect x="${x0 + k * 110}" y="${h - 20}" width="12" height="12" fill="${f.color}"/><text x="${x0 + k * 110 + 16}" y="${h - 10}" font-size="11">${f.label}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="page writes per cycle"><text x="4" y="16" font-size="13" font-weight="bold">Page writes per cycle, by fate against the power-fail atomicity</text>${bars.join('')}${legend.join('')}</svg>`;
}

export function renderWriteShapeHtml(run: WriteShapeRun): string {
  const totals = phaseTotals(run);
  const charts = totals.map((s) => barChart(`Command sizes reaching the device, ${s.phase}`, histogramRows(s).map(([k, v]) => [fmtBytes(k), v])));
  const md = renderWriteShapeMarkdown(run);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(`Write shape: ${run.title}`)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}</style></head>
<body><h1>${esc(`Write shape: ${run.title}`)}</h1>
${fateChart(run)}
${charts.join('\n')}
<h2>Tables</h2><pre>${esc(md)}</pre>
</body></html>
`;
}

/** Write the three files into `dir` (each atomically); returns their paths. */
export function writeWriteShapeReport(dir: string, run: WriteShapeRun): string[] {
  const files: Record<(typeof WRITE_SHAPE_FILES)[number], string> = {
    'write-shape.json': JSON.stringify(run, null, 2) + '\n',
    'write-shape.md': renderWriteShapeMarkdown(run),
    'write-shape.html': renderWriteShapeHtml(run),
  };
  return Object.entries(files).map(([name, text]) => {
    const p = path.join(dir, name);
    writeFileAtomic(p, text);
    return p;
  });
}
