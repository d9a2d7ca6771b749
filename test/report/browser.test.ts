/// <reference lib="dom" />
// page.evaluate callbacks run in the browser, so this file type-checks against the DOM as well.
/**
 * index.html in a real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): the SVG charts render with real sizes, the expected number of
 * bars and matrix squares is drawn, bar heights follow the data, and every number
 * shown matches report.json. Skips, saying so, when Chromium is missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumAvailable, chromiumPath, openHtml, OpenedPage } from '../../src/report/browser';
import { fmtInt, fmtRate, fmtRatio } from '../../src/report/format';
import { COST_COLUMNS, metricValue, PERF_COLUMNS, VERDICT_COLUMNS } from '../../src/report/layout';
import { Report, TAGS } from '../../src/report/schema';
import { screenshotReportDir } from '../../src/report/screenshot';
import { STATUS_COLORS } from '../../src/report/svg';
import { writeReportDir } from '../../src/report/writer';
import { syntheticReport } from './fixture';

const available = chromiumAvailable();
if (!available) console.log(`SKIPPED browser test of index.html: Chromium not found at ${chromiumPath()} (apt-get install chromium, or set TORNLAB_CHROMIUM)`);
const maybe = available ? describe : describe.skip;

interface Drawn {
  tag: string;
  cls: string;
  cell: string | null;
  metric: string | null;
  value: string | null;
  text: string;
  fill: string | null;
  status: string | null;
  chart: string | null;
  panel: string | null;
  w: number;
  h: number;
}

maybe('index.html in headless Chromium', () => {
  let dir: string;
  let report: Report;
  let opened: OpenedPage;
  let drawn: Drawn[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-report-browser-'));
    report = syntheticReport();
    writeReportDir(dir, report);
    opened = await openHtml(path.join(dir, 'index.html'));
    drawn = await opened.page.evaluate(() =>
      Array.from(document.querySelectorAll('[data-cell], [data-total], svg.chart, g.matrix-cell > rect')).map((el) => {
        const r = el.getBoundingClientRect();
        const chart = el.closest('svg.chart');
        return {
          tag: el.tagName.toLowerCase(),
          cls: el.getAttribute('class') ?? '',
          cell: el.getAttribute('data-cell') ?? el.parentElement?.getAttribute('data-cell') ?? null,
          metric: el.getAttribute('data-metric') ?? el.getAttribute('data-total'),
          value: el.getAttribute('data-value'),
          text: (el.textContent ?? '').trim(),
          fill: el.getAttribute('fill'),
          status: el.getAttribute('data-status') ?? el.parentElement?.getAttribute('data-status') ?? null,
          chart: chart?.getAttribute('data-chart') ?? null,
          panel: chart?.getAttribute('data-panel') ?? null,
          w: r.width,
          h: r.height,
        };
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await opened?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cellById = (id: string) => report.cells.find((c) => c.id === id)!;

  test('loads offline: no request besides the file itself', () => {
    expect(opened.blockedRequests).toEqual([]);
  });

  test('every chart renders with a real size', () => {
    const charts = drawn.filter((d) => d.tag === 'svg' && d.cls === 'chart');
    expect(charts.map((c) => c.chart)).toEqual(['verdict-matrix', 'bytes-by-tag', 'bytes-by-tag', 'throughput', 'throughput']);
    for (const c of charts) {
      expect(c.w).toBeGreaterThan(300);
      expect(c.h).toBeGreaterThan(200);
    }
  });

  test('stacked bytes bars: one visible segment per non-zero tag, heights proportional to bytes', () => {
    const segs = drawn.filter((d) => d.tag === 'rect' && d.cls === 'bar seg');
    const expected = report.cells.reduce((s, c) => s + TAGS.filter((t) => c.bytesByTag[t] > 0).length, 0);
    expect(segs).toHaveLength(expected);
    for (const s of segs) {
      expect(s.w).toBeGreaterThan(10);
      expect(s.h).toBeGreaterThanOrEqual(0.99); // tiny tags are drawn 1 px tall
      expect(JSON.parse(s.value!)).toBe(metricValue(cellById(s.cell!), s.metric!));
    }
    // within a panel, pixels per byte are the same for every segment (to rounding)
    for (const panel of new Set(segs.map((s) => s.panel))) {
      const inPanel = segs.filter((s) => s.panel === panel);
      const largest = inPanel.reduce((a, b) => (Number(b.value) > Number(a.value) ? b : a));
      const ref = largest.h / Number(largest.value);
      for (const s of inPanel) expect(Math.abs(s.h - Math.max(1, Number(s.value) * ref))).toBeLessThan(0.6);
    }
  });

  test('throughput bars: one per cell, taller for faster cells', () => {
    const bars = drawn.filter((d) => d.tag === 'rect' && d.chart === 'throughput');
    expect(bars).toHaveLength(report.cells.length);
    for (const panel of new Set(bars.map((b) => b.panel))) {
      const inPanel = bars.filter((b) => b.panel === panel).sort((a, b) => Number(a.value) - Number(b.value));
      for (let i = 1; i < inPanel.length; i++) expect(inPanel[i].h).toBeGreaterThanOrEqual(inPanel[i - 1].h - 0.01);
      const ref = inPanel[inPanel.length - 1].h / Number(inPanel[inPanel.length - 1].value);
      for (const b of inPanel) expect(Math.abs(b.h - Number(b.value) * ref)).toBeLessThan(0.6);
    }
  });

  test('verdict matrix: one square per cell, coloured by status, counts as in report.json', () => {
    const squares = drawn.filter((d) => d.tag === 'rect' && d.chart === 'verdict-matrix' && d.cell);
    expect(squares).toHaveLength(report.cells.length);
    for (const sq of squares) {
      const c = cellById(sq.cell!);
      expect(sq.status).toBe(c.status);
      expect(sq.fill).toBe(STATUS_COLORS[c.status].fill);
      expect(sq.w).toBeGreaterThan(50);
    }
    const groups = drawn.filter((d) => d.tag === 'g' && d.cls === 'matrix-cell');
    for (const g of groups) {
      const c = cellById(g.cell!);
      expect(g.text).toContain(`${fmtInt(c.verdicts.ok)}/${fmtInt(c.crashStatesTried)} ok`);
    }
    expect(groups.filter((g) => g.status === 'finding-bug').map((g) => g.cell)).toEqual(['minipage/fpw/consumer-tlc/8192/kv-zipf']);
  });

  test('every number shown matches report.json', () => {
    const cols = new Map([...COST_COLUMNS, ...PERF_COLUMNS, ...VERDICT_COLUMNS].map((c) => [c.metric, c]));
    let checked = 0;
    for (const d of drawn) {
      if (!d.metric || d.value === null) continue;
      if (d.cell) {
        const v = metricValue(cellById(d.cell), d.metric);
        expect(JSON.parse(d.value)).toEqual(v);
        if (d.tag === 'td' && cols.has(d.metric)) expect(d.text).toBe(cols.get(d.metric)!.format(v as number | null));
        if (d.tag === 'text' && d.metric === 'hostWriteAmplification') expect(d.text).toBe(fmtRatio(v as number | null));
        if (d.tag === 'text' && d.metric === 'throughputTxnPerSec') expect(d.text).toBe(fmtRate(v as number | null));
      } else {
        // summary totals
        const v = d.metric.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], report.totals);
        expect(Number(d.value)).toBe(v);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(report.cells.length * 30);
  });

  test('the screenshot command writes a PNG', async () => {
    const out = await screenshotReportDir(dir);
    const png = fs.readFileSync(out);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1400); // width of the viewport
    expect(png.readUInt32BE(20)).toBeGreaterThan(2000); // full page
  }, 60_000);
});
