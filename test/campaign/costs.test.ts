/** Costs at scale (issue 10, point 5): a separate crash-free run per cell, per transaction, beside the published anchors. */
import { CellSpec } from '../../src/crash/cell';
import { closeWorkerPool, runCell } from '../../src/campaign/run-cell';
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
  const report = buildReport({ toolVersion: 'test', generatedAt: '2026-01-01T00:00:00.000Z', campaign: {}, cells });
  expect(() => validateReport(JSON.parse(JSON.stringify(report)))).not.toThrow();
  const md = renderMarkdown(report);
  for (const h of ['## Costs at scale', '## Positive controls', '## Crash-window coverage', 'doublewrite page+dw bytes / none page bytes', 'Sensitivity: 1/1']) expect(md).toContain(h);
});
