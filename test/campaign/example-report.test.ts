import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';

/**
 * reports/example is produced by `npm run report:example` (the default
 * campaign, seed 42, timestamp fixed): every figure in it is a function of the
 * code and the seed. Regenerating all 46 cells costs ~90 CPU-s of crash states
 * and ~10 CPU-min of cost runs, so the suite checks the example in two parts:
 *  1. rendering: report.md and index.html rendered again from the committed
 *     report.json (`tornlab report DIR`) are the committed bytes;
 *  2. results: a fixed sample of cells, rerun with `tornlab campaign --default
 *     --only ... --no-costs`, gives exactly the committed cells, field for
 *     field, but for their cost runs (100,000 transactions each, the bulk of
 *     the regeneration's CPU); one cell (WHOLE) is rerun with its cost run. The
 *     sample has every mode (and forced atomic), every profile and workload,
 *     demonstrations and passes, and three positive controls of different
 *     protections and windows, so a change to the engine, the device, the
 *     planner or the judge that moves a figure almost always moves a sampled
 *     one too.
 * A change that moves only an unsampled cell would get through: the full
 * regeneration (`npm run report:example`, then `git diff reports/example`) is
 * the check for that, and docs/reports.md says to run it after any change
 * that may move a figure.
 */
const ROOT = path.join(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const EXAMPLE = path.join(ROOT, 'reports/example');
const SAMPLE = [
  'minipage/none/consumer-tlc/8192/bank',
  'minipage/doublewrite/consumer-tlc/8192/tpcc-like',
  'minipage/atomic/atomic-16k/8192/bank',
  'minipage/fpw/atomic-16k/8192/ycsb-a',
  'minipage/atomic!/enterprise-plp/8192/ycsb-a',
  'minipage/doublewrite%dw-no-flush-after-inplace/consumer-tlc/8192/ycsb-a',
  'minipage/doublewrite%wal-ack-before-flush/consumer-tlc/8192/tpcc-like',
  'minipage/fpw%ckpt-control-early/consumer-tlc/8192/tpcc-like',
];
/** A sampled cell rerun whole, its cost run included (ycsb-a: the cheapest workload to run at 100,000 transactions). */
const WHOLE = 'minipage/fpw/atomic-16k/8192/ycsb-a';

interface ReportCell {
  id: string;
  costs?: unknown;
}

function rerun(ids: readonly string[], extra: readonly string[]): ReportCell[] {
  const dir = tempDir();
  try {
    const only = ids.flatMap((id) => ['--only', id]);
    // The spawn's own bound: a blocked spawnSync keeps jest's timeout from firing.
    const r = spawnSync(process.execPath, [CLI, 'campaign', '--default', ...only, ...extra, '--out', dir, '--generated-at', '2026-11-21T00:00:00.000Z'], { encoding: 'utf8', timeout: 900_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    return (JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as { cells: ReportCell[] }).cells;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-example-'));
}

test('the committed report.md and index.html render again byte for byte from the committed report.json', () => {
  const dir = tempDir();
  try {
    fs.copyFileSync(path.join(EXAMPLE, 'report.json'), path.join(dir, 'report.json'));
    const r = spawnSync(process.execPath, [CLI, 'report', dir, '--quiet'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const f of ['report.json', 'report.md', 'index.html']) {
      expect(fs.readFileSync(path.join(dir, f), 'utf8') === fs.readFileSync(path.join(EXAMPLE, f), 'utf8')).toBe(true);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(`a sample of ${SAMPLE.length} cells of the default campaign reruns to exactly the committed cells (one with its cost run)`, () => {
  const committed = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'report.json'), 'utf8')) as { cells: ReportCell[] };
  const byId = new Map(committed.cells.map((c) => [c.id, c]));
  for (const id of SAMPLE) expect(byId.has(id)).toBe(true);
  expect(SAMPLE).toContain(WHOLE);
  const cells = rerun(SAMPLE, ['--no-costs']);
  // A report lists its cells in one canonical order: the committed report's, less the cells not rerun.
  expect(cells.map((c) => c.id)).toEqual(committed.cells.map((c) => c.id).filter((id) => SAMPLE.includes(id)));
  const withoutCosts = ({ costs: _costs, ...rest }: ReportCell) => JSON.stringify(rest, null, 1);
  for (const c of cells) {
    expect(c.costs).toBeUndefined();
    expect(withoutCosts(c)).toBe(withoutCosts(byId.get(c.id)!));
  }
  // Every committed cell carries its costs at scale, but the positive controls (judged by their crash states only).
  for (const c of committed.cells as (ReportCell & { control?: unknown })[]) expect([c.id, c.costs !== undefined]).toEqual([c.id, c.control === undefined]);
  const whole = rerun([WHOLE], []);
  expect(whole).toHaveLength(1);
  expect(byId.get(WHOLE)!.costs).toBeDefined();
  expect(JSON.stringify(whole[0], null, 1)).toBe(JSON.stringify(byId.get(WHOLE), null, 1));
}, 900_000);
