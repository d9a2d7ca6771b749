/** The engine's fault set (sabotage.ts): steps, window marks, and the workloads at scale. */
import { runWorkload } from '../../engines/minipage';
import { SABOTAGE_NAMES, Steps, WINDOWS, windowsFor } from '../../engines/minipage/sabotage';
import { createWorkload, WORKLOAD_NAMES } from '../../engines/minipage/workloads';
import { PROTECTION_MODES } from '../../engines/minipage/layout';
import { smallDevice } from './helpers';

test('an unknown sabotage switch is refused at entry, naming the switches', () => {
  expect(() => new Steps(smallDevice(), ['no-such-step'])).toThrow(/unknown sabotage switch "no-such-step": use dw-no-flush-after-area/);
  expect(SABOTAGE_NAMES.length).toBeGreaterThanOrEqual(10);
});

test('windows are recorded only when asked, as [from, to) with from < to', () => {
  const dev = smallDevice();
  const s = new Steps(dev);
  s.open('page.inplace-unflushed');
  dev.write(100, new Uint8Array(dev.blockSize), { tag: 'page' });
  s.flush('dw.after-inplace');
  expect(s.intervals).toEqual([]);
  s.record = true;
  s.open('page.inplace-unflushed');
  const from = dev.seq + 1;
  dev.write(100, new Uint8Array(dev.blockSize), { tag: 'page' });
  s.flush('dw.after-inplace');
  expect(s.intervals).toEqual([{ name: 'page.inplace-unflushed', from, to: dev.seq }]);
});

test.each(PROTECTION_MODES.map((m) => [m]))('%s at scale: the data set exceeds the pool, every declared window opens, only declared windows are marked', (mode) => {
  const r = runWorkload({
    profile: 'atomic-16k',
    seed: 5,
    engine: { mode, pageSize: 8192, frames: 16, checkpointBatch: 24, maxPages: 512 },
    workload: { name: 'tpcc-like', seed: 5, txns: 200, keys: 1000 },
    checkpointEvery: 20,
    capture: 'none',
    windows: true,
  });
  expect(r.stats.evictions).toBeGreaterThan(50);
  const declared = windowsFor(mode);
  for (const w of r.windows) {
    expect(declared).toContain(w.name);
    expect(w.from).toBeLessThan(w.to);
  }
  for (const name of declared) expect([name, r.windows.some((w) => w.name === name)]).toEqual([name, true]);
  expect(Object.keys(WINDOWS)).toEqual(expect.arrayContaining(declared));
});

test.each([['ycsb-a'], ['ycsb-f'], ['tpcc-like'], ['bank']])('%s: the final state holds the workload invariant', (name) => {
  const r = runWorkload({
    profile: 'enterprise-plp',
    seed: 3,
    engine: { mode: 'none', pageSize: 8192, frames: 16, maxPages: 512 },
    workload: { name: name as (typeof WORKLOAD_NAMES)[number], seed: 3, txns: 250, keys: 600, accounts: 600 },
    capture: 'none',
  });
  const state = new Map(r.engine.scan().map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]));
  expect(state.size).toBeGreaterThan(500);
  expect(createWorkload(r.oracle.workload).checkInvariant(state)).toBeNull();
  // Reads happen (ycsb: half the operations are reads): some transactions have no writes.
  if (name.startsWith('ycsb')) expect(r.oracle.txns.filter((t) => t.writes.length === 0).length).toBeGreaterThan(30);
});
