/**
 * Known answers on the device's crash states (ARCHITECTURE 4, issue 3):
 *  - 8 KiB pages on consumer-tlc: `none` gets torn-page-detected in some crash
 *    states; doublewrite and fpw only `ok` over hundreds of crash states;
 *  - atomic refuses consumer-tlc, is `ok` on atomic-16k, and forced onto
 *    consumer-tlc it gets caught.
 * Crash points are captured during one run per configuration (every device
 * event, denser inside checkpoints); survivor choices are sampled by seed.
 */
import { buildCrashImage, choiceSpace, enumerateChoices, powerOn, sampleChoice } from '../../src/device/power-loss';
import { Prng } from '../../src/util/prng';
import { BadInputError } from '../../src/util/errors';
import { RunConfig, runWorkload, verifyCrashState, WorkloadConfig } from '../../engines/minipage';
import { countVerdicts, pickPoints, tornPagesOnMedia } from './helpers';

const PAGE = 8192;

function campaign(cfg: RunConfig, every: number, perPoint: number, seed: number) {
  const run = runWorkload(cfg);
  const points = pickPoints(run.points, every);
  const results: { verdict: string; detail: string; seq: number; tornBefore: number; repaired: number; tornTail: boolean }[] = [];
  for (const cp of points) {
    const space = choiceSpace(cp.point);
    for (let n = 0; n < perPoint; n++) {
      const choice = sampleChoice(space, new Prng(seed, `crash/p${cp.seq}/s${n}`));
      const dev = powerOn(cp.point, buildCrashImage(space, choice));
      const tornBefore = tornPagesOnMedia(dev, run).length;
      const r = verifyCrashState(dev, run.oracle, cp.seq);
      results.push({ verdict: r.verdict, detail: r.detail, seq: cp.seq, tornBefore, repaired: r.recovery?.repairedPages.length ?? 0, tornTail: /CRC mismatch/.test(r.recovery?.stop ?? '') });
    }
  }
  return { run, results, counts: countVerdicts(results) };
}

const workloads: WorkloadConfig[] = [
  { name: 'kv-uniform', seed: 101, txns: 240 },
  { name: 'bank', seed: 102, txns: 200, accounts: 150, valueBytes: [60, 60] },
  { name: 'insert-seq', seed: 103, txns: 200 },
  { name: 'kv-zipf', seed: 104, txns: 200 },
];

function cfg(mode: 'none' | 'doublewrite' | 'fpw' | 'atomic', profile: string, workload: WorkloadConfig, extra: Partial<RunConfig['engine']> = {}): RunConfig {
  return { profile, seed: 42, engine: { mode, pageSize: PAGE, frames: 24, ...extra }, workload, groupSize: 4, checkpointEvery: 30 };
}

describe('8 KiB pages on consumer-tlc', () => {
  test('none: torn-page-detected in some crash states of a modest run', () => {
    const { results, counts } = campaign(cfg('none', 'consumer-tlc', workloads[0]), 3, 2, 7);
    console.log(`none/consumer-tlc/kv-uniform: ${results.length} crash states: ${JSON.stringify(counts)}`);
    expect(counts['torn-page-detected'] ?? 0).toBeGreaterThan(5);
    // Every torn-page verdict comes from a page the crash actually tore.
    expect(results.filter((r) => r.verdict === 'torn-page-detected' && r.tornBefore === 0)).toEqual([]);
  });

  test.each(['doublewrite', 'fpw'] as const)('%s: only ok over hundreds of crash states (4 workloads)', (mode) => {
    let total = 0;
    let tornSurvived = 0;
    let repaired = 0;
    let tornTails = 0;
    for (const wl of workloads) {
      const { results, counts } = campaign(cfg(mode, 'consumer-tlc', wl), 3, 2, 11);
      const bad = results.filter((r) => r.verdict !== 'ok');
      console.log(`${mode}/consumer-tlc/${wl.name}: ${results.length} crash states: ${JSON.stringify(counts)}`);
      expect(bad.slice(0, 3)).toEqual([]);
      total += results.length;
      tornSurvived += results.filter((r) => r.tornBefore > 0).length;
      repaired += results.filter((r) => r.repaired > 0).length;
      tornTails += results.filter((r) => r.tornTail).length;
    }
    console.log(`${mode}: ${total} crash states ok; ${tornSurvived} of them had torn pages on the media before recovery; ${repaired} doublewrite repairs; ${tornTails} ended the log at a torn WAL record`);
    expect(tornTails).toBeGreaterThan(10);
    expect(total).toBeGreaterThan(800);
    // The protection was needed: torn pages were on the media and recovery still ended ok.
    expect(tornSurvived).toBeGreaterThan(10);
    if (mode === 'doublewrite') expect(repaired).toBeGreaterThan(0);
  });

  test('fpw with FUA WAL writes (no Flush per commit): only ok', () => {
    const { results, counts, run } = campaign(cfg('fpw', 'consumer-tlc', workloads[0], { walDurability: 'fua' }), 4, 2, 13);
    console.log(`fpw+fua/consumer-tlc: ${results.length} crash states: ${JSON.stringify(counts)}; fua writes ${run.counters.fuaWrites}, flushes ${run.counters.flushes}`);
    expect(run.counters.fuaWrites).toBeGreaterThan(100);
    expect(counts).toEqual({ ok: results.length });
  });
});

describe('atomic', () => {
  test('refuses consumer-tlc (nothing is run)', () => {
    expect(() => runWorkload(cfg('atomic', 'consumer-tlc', workloads[0]))).toThrow(BadInputError);
    expect(() => runWorkload(cfg('atomic', 'consumer-tlc', workloads[0]))).toThrow(/atomic mode refused.*page size 8192 B.*atomic unit is 1 block/);
  });

  test('ok on atomic-16k over hundreds of crash states', () => {
    let total = 0;
    for (const wl of workloads.slice(0, 2)) {
      const { results, counts } = campaign(cfg('atomic', 'atomic-16k', wl), 3, 2, 17);
      console.log(`atomic/atomic-16k/${wl.name}: ${results.length} crash states: ${JSON.stringify(counts)}`);
      expect(counts).toEqual({ ok: results.length });
      total += results.length;
    }
    expect(total).toBeGreaterThan(400);
  });

  test('forced onto consumer-tlc it gets caught', () => {
    const { results, counts } = campaign(cfg('atomic', 'consumer-tlc', workloads[0], { force: true }), 3, 2, 7);
    console.log(`atomic(forced)/consumer-tlc: ${results.length} crash states: ${JSON.stringify(counts)}`);
    expect(counts['torn-page-detected'] ?? 0).toBeGreaterThan(5);
  });
});

describe('exhaustive survivor choices at small crash points', () => {
  test.each(['doublewrite', 'fpw'] as const)('%s: every choice of every point with <= 64 choices is ok', (mode) => {
    const run = runWorkload(cfg(mode, 'consumer-tlc', workloads[0]));
    let states = 0;
    let points = 0;
    for (const cp of run.points) {
      const space = choiceSpace(cp.point);
      if (space.count < 2n || space.count > 64n) continue;
      points++;
      for (const choice of enumerateChoices(space)) {
        const r = verifyCrashState(powerOn(cp.point, buildCrashImage(space, choice)), run.oracle, cp.seq);
        states++;
        if (r.verdict !== 'ok') throw new Error(`${mode}: seq ${cp.seq} choice ${choice.join(',')}: ${r.verdict}: ${r.detail}`);
      }
    }
    console.log(`${mode}: ${states} crash states, all choices of ${points} crash points: all ok`);
    expect(states).toBeGreaterThan(300);
  });
});
