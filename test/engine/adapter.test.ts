/**
 * The campaign adapter (engines/minipage/adapter.ts): one run with the
 * campaign's own crash-point capture, recover + judge through the adapter,
 * and what each mode claims on each profile.
 */
import { buildCrashImage, choiceSpace, ChoiceSpace, powerOn, sampleChoice } from '../../src/device/power-loss';
import { Prng } from '../../src/util/prng';
import type { CellSpec } from '../../src/crash/cell';
import { minipageAdapter, deviceCoversPages } from '../../engines/minipage/adapter';
import { countVerdicts } from './helpers';

function cell(over: Partial<CellSpec>): CellSpec {
  return { engine: 'minipage', mode: 'fpw', force: false, profile: 'consumer-tlc', faults: [], pageSize: 8192, workload: 'bank', txns: 150, seed: 3, crashes: 100, strategy: 'random', crashDuringRecovery: false, ...over };
}

test('expectations: what each mode claims where', () => {
  expect(deviceCoversPages('consumer-tlc', 8192)).toBe(false);
  expect(deviceCoversPages('atomic-16k', 8192)).toBe(true);
  expect(deviceCoversPages('atomic-16k', 16384)).toBe(true);
  expect(deviceCoversPages('azure-atomic-16k', 16384)).toBe(true);
  const e = (c: Partial<CellSpec>) => minipageAdapter.expectation(cell(c));
  expect(e({ mode: 'none' }).kind).toBe('demonstration');
  expect(e({ mode: 'none' }).tolerated).toEqual(['torn-page-detected']);
  expect(e({ mode: 'doublewrite' }).kind).toBe('claims-safe');
  expect(e({ mode: 'fpw' }).kind).toBe('claims-safe');
  expect(e({ mode: 'atomic', profile: 'atomic-16k' }).kind).toBe('claims-safe');
  expect(e({ mode: 'atomic', force: true }).kind).toBe('demonstration');
  expect(e({ mode: 'atomic', profile: 'atomic-16k', faults: ['torn-atomic'] }).kind).toBe('demonstration');
  expect(e({ mode: 'fpw', faults: ['lying-flush'] }).kind).toBe('demonstration');
});

test('runWorkload with campaign capture, recoverAndVerify and recover through the adapter', () => {
  const spaces = new Map<number, ChoiceSpace>();
  const run = minipageAdapter.runWorkload(cell({ mode: 'doublewrite' }), (e, dev) => {
    if (e.seq % 5 === 0) spaces.set(e.seq, choiceSpace(dev.capture()));
  });
  expect(spaces.size).toBeGreaterThan(50);
  expect(run.metrics.commits).toBeGreaterThan(100);
  expect(run.metrics.logicalBytesCommitted).toBeGreaterThan(0);
  expect(run.metrics.commitLatenciesUs.length).toBe(run.metrics.commits);
  const prng = new Prng(1, 'adapter');
  const verdicts: { verdict: string }[] = [];
  let recoveryEvents = 0;
  for (const [seq, space] of spaces) {
    const image = buildCrashImage(space, sampleChoice(space, prng));
    verdicts.push(run.recoverAndVerify(seq, powerOn(space.point, image)));
    run.recover(powerOn(space.point, image), { onEvent: () => recoveryEvents++ });
  }
  expect(countVerdicts(verdicts)).toEqual({ ok: spaces.size });
  expect(recoveryEvents).toBeGreaterThan(spaces.size);
});

test('the adapter refuses atomic on consumer-tlc unless forced', () => {
  expect(() => minipageAdapter.runWorkload(cell({ mode: 'atomic' }))).toThrow(/atomic mode refused/);
  expect(() => minipageAdapter.runWorkload(cell({ mode: 'atomic', force: true }))).not.toThrow();
});

test('a run is deterministic in its seed (campaign workers re-run it)', () => {
  const a = minipageAdapter.runWorkload(cell({ mode: 'fpw', workload: 'kv-zipf', txns: 120 }));
  const b = minipageAdapter.runWorkload(cell({ mode: 'fpw', workload: 'kv-zipf', txns: 120 }));
  expect(JSON.stringify(b.metrics)).toBe(JSON.stringify(a.metrics));
  const c = minipageAdapter.runWorkload(cell({ mode: 'fpw', workload: 'kv-zipf', txns: 120, seed: 4 }));
  expect(JSON.stringify(c.metrics)).not.toBe(JSON.stringify(a.metrics));
});
