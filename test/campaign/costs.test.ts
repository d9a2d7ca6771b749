/** Costs at scale (issue 10, point 5): a separate crash-free run per cell, per transaction, beside the published anchors. */
import { CellSpec } from '../../src/crash/cell';
import { closeWorkerPool, runCell, startCostRuns } from '../../src/campaign/run-cell';
import { buildReport } from '../../src/report/build';
import { renderMarkdown } from '../../src/report/markdown';
import { validateReport } from '../../src/report/validate';

const base: CellSpec = {
  engine: 'minipage',
  mode: 'none',
  force: false,
  profile: 'atomic-16k',
  faults: [],
  pageSize: 8192,
  workload: 'ycsb-a',
  txns: 120,
  seed: 7,
  crashes: 60,
  strategy: 'mixed',
  crashDuringRecovery: false,
  keys: 1000,
  frames: 16,
  checkpointEvery: 20,
  checkpointBatch: 24,
  costTxns: 3000,
};

afterAll(() => closeWorkerPool());

test('doublewrite about doubles page bytes, atomic writes none to the doublewrite area; the report shows costs, coverage and controls', async () => {
  const cells = [];
  for (const mode of ['none', 'doublewrite', 'atomic', 'fpw']) cells.push((await runCell({ ...base, mode }, { workers: 1 })).result);
  cells.push((await runCell({ ...base, mode: 'doublewrite', profile: 'consumer-tlc', sabotage: 'dw-no-flush-after-inplace', costTxns: undefined, crashes: 150 }, { workers: 1 })).result);
  const [none, dw, atomic, fpw] = cells;
  for (const c of [none, dw, atomic, fpw]) {
    expect(c.costs!.txns).toBeGreaterThanOrEqual(2990);
    expect(c.costs!.warmupTxns).toBeGreaterThanOrEqual(1000);
    expect(c.costs!.evictions).toBeGreaterThan(100);
    expect(c.costs!.commitLatencyUs.p99).toBeGreaterThanOrEqual(c.costs!.commitLatencyUs.p50);
  }
  const pages = (c: typeof none) => (c.costs!.perTxn.byTag.page ?? 0) + (c.costs!.perTxn.byTag.doublewrite ?? 0);
  const r = pages(dw) / pages(none);
  console.log(`per txn: none page ${pages(none).toFixed(0)} B, doublewrite page+dw ${pages(dw).toFixed(0)} B (${r.toFixed(2)}x), atomic ${pages(atomic).toFixed(0)} B; fpw fpi ${fpw.costs!.perTxn.byTag.fpi?.toFixed(0)} B`);
  expect(r).toBeGreaterThan(1.75);
  expect(r).toBeLessThan(2.25);
  expect(atomic.costs!.perTxn.byTag.doublewrite).toBe(0);
  expect(fpw.costs!.perTxn.byTag.fpi).toBeGreaterThan(0);
  // fpw's checkpoint sweep: the cell's interval, 4x and 16x it; the images' share of the WAL falls.
  const sweep = fpw.costs!.checkpointSweep!;
  expect(sweep.map((p) => p.checkpointEvery)).toEqual([20, 80, 320]);
  expect(sweep[1].fpiShare).toBeLessThan(sweep[0].fpiShare);
  expect(sweep[2].fpiShare).toBeLessThan(sweep[1].fpiShare);
  for (const c of [none, dw, atomic]) expect(c.costs!.checkpointSweep).toBeUndefined();
  const report = buildReport({ toolVersion: 'test', generatedAt: '2026-01-01T00:00:00.000Z', campaign: {}, cells });
  expect(() => validateReport(JSON.parse(JSON.stringify(report)))).not.toThrow();
  const md = renderMarkdown(report);
  for (const h of ['## Costs at scale', '## Positive controls', '## Crash-window coverage', 'doublewrite page+dw bytes / none page bytes', 'checkpoint every 20 / 80 / 320 txns', 'Sensitivity: 1/1']) expect(md).toContain(h);
});

test('a cost run gives the same figures in this thread, in a pool worker, and started ahead by startCostRuns', async () => {
  const cell: CellSpec = { ...base, mode: 'doublewrite', crashes: 20, costTxns: 1500 };
  const here = await runCell(cell, { workers: 1 });
  const pooled = await runCell(cell, { workers: 2 });
  // Only cells with a cost run are started, keyed by their index in the list.
  const started = startCostRuns([{ ...cell, costTxns: undefined }, cell], { concurrency: 2 });
  expect([...started.keys()]).toEqual([1]);
  const handed = await runCell(cell, { workers: 2, costs: started.get(1) });
  expect(here.result.costs!.txns).toBe(1500);
  expect(pooled.result.costs).toEqual(here.result.costs);
  expect(handed.result.costs).toEqual(here.result.costs);
});
