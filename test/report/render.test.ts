import { buildReport } from '../../src/report/build';
import { fmtBytes, fmtCount, fmtDays, fmtFixed, fmtInt, fmtRate, fmtRatio, fmtUs } from '../../src/report/format';
import { COST_COLUMNS, metricValue, PERF_COLUMNS, VERDICT_COLUMNS } from '../../src/report/layout';
import { renderMarkdown } from '../../src/report/markdown';
import { renderHtml } from '../../src/report/html';
import { renderReportFiles } from '../../src/report/writer';
import { niceTicks } from '../../src/report/svg';
import { TAGS } from '../../src/report/schema';
import { GENERATED_AT, syntheticReport } from './fixture';

const report = syntheticReport();
const html = renderHtml(report);
const md = renderMarkdown(report);

function unescape(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

describe('number formatting is fixed (no locale)', () => {
  test('known answers', () => {
    expect(fmtInt(1234567)).toBe('1,234,567');
    expect(fmtInt(999)).toBe('999');
    expect(fmtInt(-1000)).toBe('-1,000');
    expect(fmtFixed(12345.678, 1)).toBe('12,345.7');
    expect(fmtFixed(null, 2)).toBe('n/a');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.50 KiB');
    expect(fmtBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
    expect(fmtRatio(2.005)).toBe('2.00'); // binary 2.005 is just below: toFixed, not "round half up"
    expect(fmtRatio(1 / 3)).toBe('0.33');
    expect(fmtRate(1234.5)).toBe('1,235');
    expect(fmtRate(56.04)).toBe('56.0');
    expect(fmtUs(850)).toBe('850 us');
    expect(fmtUs(1250)).toBe('1.25 ms');
    expect(fmtUs(2_500_000)).toBe('2.50 s');
    expect(fmtDays(45.64)).toBe('45.6 days');
    expect(fmtDays(3650)).toBe('10.0 years');
    expect(fmtCount(3.2e9)).toBe('3.20 G');
    expect(fmtCount(999)).toBe('999');
  });
  test('axis ticks', () => {
    expect(niceTicks(7.6)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(204)).toEqual([0, 50, 100, 150, 200, 250]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});

describe('reproducible output', () => {
  test('same report, same bytes; only the timestamp differs between runs', () => {
    const a = renderReportFiles(syntheticReport('2026-11-21T14:00:00.000Z'));
    const b = renderReportFiles(syntheticReport('2031-02-03T04:05:06.789Z'));
    for (const name of Object.keys(a)) {
      expect(a[name]).not.toEqual(b[name]);
      expect(a[name].split('2026-11-21T14:00:00.000Z').join('T')).toEqual(b[name].split('2031-02-03T04:05:06.789Z').join('T'));
    }
    expect(renderReportFiles(syntheticReport())).toEqual(renderReportFiles(syntheticReport()));
  });

  test('input cell order does not matter', () => {
    const r2 = buildReport({ toolVersion: report.tool.version, generatedAt: report.generatedAt, title: report.title, campaign: report.campaign, cells: [...report.cells].reverse() });
    expect(renderReportFiles(r2)).toEqual(renderReportFiles(report));
  });

  test('renderers do not read the clock', () => {
    const spy = jest.spyOn(Date, 'now');
    renderReportFiles(report);
    expect(spy).not.toHaveBeenCalled();
    expect(html).toContain(GENERATED_AT);
    spy.mockRestore();
  });
});

describe('index.html', () => {
  test('is self-contained: no script, no stylesheet link, no external URL', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|\ssrc=|\shref=|url\(|@import/i);
    const urls = html.match(/https?:\/\/[^\s"'<>]+/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg']));
  });

  test('every data-value equals the report value of its cell and metric', () => {
    const byId = new Map(report.cells.map((c) => [c.id, c]));
    const re = /data-cell="([^"]*)" data-metric="([^"]*)" data-value="([^"]*)"/g;
    let n = 0;
    for (const m of html.matchAll(re)) {
      const cell = byId.get(unescape(m[1]));
      expect(cell).toBeDefined();
      expect(JSON.parse(unescape(m[3]))).toEqual(metricValue(cell!, m[2]));
      n++;
    }
    expect(n).toBeGreaterThan(report.cells.length * 20);
  });

  test('table numbers are the formatted report values', () => {
    const cols = new Map([...COST_COLUMNS, ...PERF_COLUMNS, ...VERDICT_COLUMNS].map((c) => [c.metric, c]));
    const byId = new Map(report.cells.map((c) => [c.id, c]));
    const re = /<td class="num" data-cell="([^"]*)" data-metric="([^"]*)" data-value="[^"]*">([^<]*)<\/td>/g;
    let n = 0;
    for (const m of html.matchAll(re)) {
      const col = cols.get(m[2])!;
      expect(unescape(m[3])).toBe(col.format(metricValue(byId.get(unescape(m[1]))!, m[2]) as number | null));
      n++;
    }
    expect(n).toBe(report.cells.length * cols.size);
  });

  test('chart element counts follow the data', () => {
    const segs = report.cells.reduce((s, c) => s + TAGS.filter((t) => c.bytesByTag[t] > 0).length, 0);
    expect(html.match(/<rect class="bar seg"/g)).toHaveLength(segs);
    expect(html.match(/<g class="matrix-cell"/g)).toHaveLength(report.cells.length);
    expect(html.match(/data-chart="bytes-by-tag"/g)).toHaveLength(2);
    expect(html.match(/data-chart="throughput"/g)).toHaveLength(2);
    expect(html.match(/data-chart="verdict-matrix"/g)).toHaveLength(1);
    expect(html.match(/data-status="finding-bug"/g)).toHaveLength(1);
  });
});

describe('report.md', () => {
  test('has the tables and a replay command for every kept finding', () => {
    for (const h of ['## Summary', '## Verdict matrix', '## Bytes written by tag and write amplification', '## Flushes, latency, throughput and device lifetime', '## Crash verdicts', '## Findings', '## Campaign']) expect(md).toContain(h);
    for (const c of report.cells) for (const f of c.findings) expect(md).toContain(`\`tornlab replay ${f.replayId}\``);
    expect(md).toContain('**1 cell(s) found a bug**');
    expect(md).toContain('`minipage/fpw/consumer-tlc/8192/kv-zipf`: 198/200 ok (lost-commit 2)');
    // the bug cell's findings come first
    expect(md.indexOf('### minipage/fpw/consumer-tlc/8192/kv-zipf')).toBeLessThan(md.indexOf('### minipage/none/consumer-tlc/8192/bank'));
  });

  test('a cell row shows the formatted figures', () => {
    const c = report.cells.find((x) => x.id === 'minipage/doublewrite/consumer-tlc/8192/bank')!;
    const row = md.split('\n').find((l) => l.startsWith('| doublewrite · consumer-tlc · bank · 8 KiB |') && l.includes('KiB |'))!;
    expect(row).toContain(`| ${fmtBytes(c.bytesByTag.doublewrite)} |`);
    expect(row).toContain(`| ${fmtRatio(c.hostWriteAmplification)} |`);
    expect(c.bytesByTag.doublewrite).toBe(c.bytesByTag.page);
  });

  test('an empty report still renders', () => {
    const empty = buildReport({ toolVersion: 'x', generatedAt: GENERATED_AT, campaign: {}, cells: [] });
    expect(renderMarkdown(empty)).toContain('None: every crash state ended `ok`.');
    expect(renderHtml(empty)).toContain('<p>No cells.</p>');
  });
});

describe('harness errors in the renderers', () => {
  const id = 'minipage/doublewrite/enterprise-plp/8192/kv-zipf';

  test('markdown labels them on their own: summary, matrix, a section; never as findings', () => {
    expect(md).toContain('**HARNESS ERROR: 2 crash state(s) in 1 cell(s) were not judged**');
    expect(md).toContain('**HARNESS ERROR** 198/200 ok (2 not judged: harness-error)');
    expect(md).toContain('## Harness errors');
    expect(md).toContain(`### ${id} (HARNESS ERROR (not judged))`);
    expect(md).toContain('| not judged (harness error) |');
    const findings = md.slice(md.indexOf('## Findings'), md.indexOf('## Harness errors'));
    expect(findings).not.toContain(id);
  });

  test('html: its own status colour in the matrix, its own stat and section', () => {
    expect(html).toMatch(new RegExp(`<g class="matrix-cell" data-cell="${id.replace(/\//g, '\\/')}" data-status="harness-error">`));
    expect(html).toContain('fill="#e4dcf4" stroke="#5e35b1"');
    expect(html).toMatch(/<tspan class="harness" fill="#5e35b1" data-cell="[^"]*" data-metric="verdicts.harness-error" data-value="2">harness 2<\/tspan>/);
    expect(html).toContain('data-total="verdicts.harness-error" data-value="2"');
    expect(html).toContain('<td class="status-harness-error"');
    expect(html).toContain('<h2>Harness errors</h2>');
    expect(html.match(/<tr class="harness-error"/g)).toHaveLength(2);
  });
});
