/**
 * Recovery properties: idempotent (the same crash image recovered twice gives
 * identical bytes on the device) and safe against a crash during recovery
 * (crash points captured while recovery runs, rebuilt, recovered again: still
 * ok for the safe modes).
 */
import { buildCrashImage, choiceSpace, powerOn, sampleChoice } from '../../src/device/power-loss';
import { Prng } from '../../src/util/prng';
import { runWorkload, verifyCrashDuringRecovery, verifyCrashState, RunConfig, MiniPageEngine } from '../../engines/minipage';
import { countVerdicts, tornPagesOnMedia } from './helpers';

function cfg(mode: 'none' | 'doublewrite' | 'fpw' | 'atomic', profile = 'consumer-tlc'): RunConfig {
  return {
    profile,
    seed: 5,
    engine: { mode, pageSize: 8192, frames: 24 },
    workload: { name: 'kv-uniform', seed: 55, txns: 160 },
    checkpointEvery: 25,
  };
}

/** Crash states inside checkpoints with torn pages on the media (where recovery has real work). */
function hardStates(run: ReturnType<typeof runWorkload>, want: number, seed: number) {
  const out: { point: (typeof run.points)[number]; choice: number[] }[] = [];
  const prng = new Prng(seed, 'hard-states');
  const ck = run.points.filter((p) => p.phase === 'checkpoint');
  for (let tries = 0; tries < 2000 && out.length < want; tries++) {
    const cp = ck[prng.int(0, ck.length - 1)];
    const space = choiceSpace(cp.point);
    const choice = sampleChoice(space, prng);
    const dev = powerOn(cp.point, buildCrashImage(space, choice));
    if (tornPagesOnMedia(dev, run).length > 0) out.push({ point: cp, choice });
  }
  return out;
}

describe('recovery is idempotent', () => {
  test.each(['doublewrite', 'fpw', 'none'] as const)('%s: same crash image recovered twice -> identical bytes', (mode) => {
    const run = runWorkload(cfg(mode));
    const prng = new Prng(3, 'idem');
    let compared = 0;
    for (let i = 0; i < 25; i++) {
      const cp = run.points[prng.int(0, run.points.length - 1)];
      const space = choiceSpace(cp.point);
      const choice = sampleChoice(space, prng);
      const a = powerOn(cp.point, buildCrashImage(space, choice));
      const b = powerOn(cp.point, buildCrashImage(space, choice));
      const ra = verifyCrashState(a, run.oracle, cp.seq);
      const rb = verifyCrashState(b, run.oracle, cp.seq);
      expect(rb.verdict).toBe(ra.verdict);
      const bytesA = Buffer.from(a.read(0, a.nsze));
      const bytesB = Buffer.from(b.read(0, b.nsze));
      expect(bytesA.equals(bytesB)).toBe(true);
      compared++;
      if (ra.verdict === 'ok') {
        // Recovering the recovered database again changes nothing but the control block (epoch).
        const again = MiniPageEngine.open(a, {});
        expect(again.recovery!.txnsReplayed).toBe(0);
        expect(again.recovery!.pagesWritten).toBe(0);
        const bytesA2 = Buffer.from(a.read(0, a.nsze));
        const bs = a.blockSize;
        expect(bytesA2.subarray(bs).equals(bytesA.subarray(bs))).toBe(true);
      }
    }
    expect(compared).toBe(25);
  });
});

describe('a crash during recovery, then recovery again', () => {
  test.each([
    ['doublewrite', 'consumer-tlc'],
    ['fpw', 'consumer-tlc'],
    ['atomic', 'atomic-16k'],
  ] as const)('%s on %s: still ok', (mode, profile) => {
    const run = runWorkload(cfg(mode, profile));
    const states = mode === 'atomic' ? run.points.filter((p) => p.phase === 'checkpoint').slice(0, 8).map((point) => ({ point, choice: sampleChoice(choiceSpace(point.point), new Prng(9, `s${point.seq}`)) })) : hardStates(run, 8, 21);
    expect(states.length).toBeGreaterThanOrEqual(mode === 'atomic' ? 1 : 6);
    const all: { verdict: string; detail: string }[] = [];
    let innerPoints = 0;
    for (const s of states) {
      const { first, second } = verifyCrashDuringRecovery(s.point.point, s.choice, run.oracle, { maxPoints: 30, samplesPerPoint: 2, seed: 4 });
      expect(first.verdict).toBe('ok');
      innerPoints += second.length;
      all.push(...second);
    }
    const counts = countVerdicts(all);
    console.log(`${mode}/${profile}: ${states.length} crash states with work for recovery; ${innerPoints} crash states during their recovery: ${JSON.stringify(counts)}`);
    expect(innerPoints).toBeGreaterThan(100);
    expect(all.filter((r) => r.verdict !== 'ok').slice(0, 3)).toEqual([]);
  });
});
