/**
 * The WAL is circular: with a small WAL area the log laps it several times
 * (checkpoints forced by WAL space move the redo point on); crash states
 * across the laps still recover ok, and stale records of earlier laps are
 * never replayed.
 */
import { runWorkload, verifySampled } from '../../engines/minipage';
import { countVerdicts } from './helpers';

test.each(['fpw', 'doublewrite'] as const)('%s: a 64 KiB WAL lapped several times, crash states all ok', (mode) => {
  const run = runWorkload({
    profile: 'consumer-tlc',
    seed: 8,
    engine: { mode, pageSize: 8192, walBytes: 65536, frames: 16 },
    workload: { name: 'kv-uniform', seed: 8, txns: 400 },
    checkpointEvery: 1000,
  });
  const laps = run.engine.wal.insertLsn / run.engine.wal.capacity;
  const v = verifySampled(run.points.filter((_, i) => i % 3 === 0), run.oracle, 1, 2);
  console.log(`${mode}: WAL laps ${laps.toFixed(1)}, checkpoints ${run.stats.checkpoints}, ${v.length} crash states: ${JSON.stringify(countVerdicts(v))}`);
  expect(laps).toBeGreaterThan(3);
  expect(v.filter((r) => r.verdict !== 'ok').slice(0, 3)).toEqual([]);
});

test('a transaction bigger than the free WAL space is refused, never written over the redo point', () => {
  const { MiniPageEngine } = require('../../engines/minipage');
  const { smallDevice } = require('./helpers');
  const dev = smallDevice('consumer-tlc', { pageSize: 8192, walBytes: 65536 });
  const eng = MiniPageEngine.create(dev, { mode: 'none', pageSize: 8192, walBytes: 65536 });
  const tx = eng.begin();
  for (let i = 0; i < 60; i++) eng.put(tx, `k${i}`, 'v'.repeat(1500));
  expect(() => eng.commit(tx)).toThrow(/WAL full: \d+ bytes since the redo point exceed the \d+-byte WAL area/);
  // Nothing of it reached the device: recovery finds the empty database.
  const eng2 = MiniPageEngine.open(dev, {});
  expect(eng2.scan()).toEqual([]);
});
