import { FtlModel, FTL_UNIT_BYTES, lambertWWriteAmplification } from '../../src/device/ftl';
import { createDevice } from '../../src/device/device';
import { Prng } from '../../src/util/prng';

function run(op: number, pattern: 'sequential' | 'random', footprint = 4096, passes = 8): number {
  const ftl = new FtlModel({ userBytes: footprint * FTL_UNIT_BYTES, overProvisioning: op });
  const prng = new Prng(1, 'ftl');
  for (let i = 0; i < footprint * passes; i++) {
    const u = pattern === 'sequential' ? i % footprint : prng.int(0, footprint - 1);
    ftl.program(u * FTL_UNIT_BYTES, FTL_UNIT_BYTES);
  }
  return ftl.stats().gcWriteAmplification;
}

/** WA over `measure` x capacity of uniform random writes after `warm` x capacity (steady state). */
function steadyState(op: number, units: number, warm: number, measure: number): number {
  const ftl = new FtlModel({ userBytes: units * FTL_UNIT_BYTES, overProvisioning: op });
  const prng = new Prng(7, `ftl-ss-${op}`);
  for (let i = 0; i < units * warm; i++) ftl.program(prng.int(0, units - 1) * FTL_UNIT_BYTES, FTL_UNIT_BYTES);
  const a = ftl.stats();
  for (let i = 0; i < units * measure; i++) ftl.program(prng.int(0, units - 1) * FTL_UNIT_BYTES, FTL_UNIT_BYTES);
  const b = ftl.stats();
  return (b.hostUnits - a.hostUnits + b.gcUnits - a.gcUnits) / (b.hostUnits - a.hostUnits);
}

describe('FTL model (page-mapped, greedy GC)', () => {
  test('sequential overwrites need no relocation; uniform random ones do, less with more over-provisioning', () => {
    const seq = run(0.07, 'sequential');
    const rnd7 = run(0.07, 'random');
    const rnd28 = run(0.28, 'random');
    console.log(`GC write amplification: sequential ${seq.toFixed(2)}, random 7% OP ${rnd7.toFixed(2)}, random 28% OP ${rnd28.toFixed(2)}`);
    expect(seq).toBeLessThan(1.05);
    expect(rnd7).toBeGreaterThan(3);
    expect(rnd7).toBeLessThan(9);
    expect(rnd28).toBeGreaterThan(1.5);
    expect(rnd28).toBeLessThan(rnd7);
  });

  test.each([0.07, 0.28])('steady-state WA at %f OP is within 10%% of the greedy-GC Lambert-W model (Desnoyers 2012)', (op) => {
    const sim = steadyState(op, 65536, 4, 4);
    const model = lambertWWriteAmplification(op);
    console.log(`OP ${op}: simulated steady-state WA ${sim.toFixed(2)}, Lambert-W ${model.toFixed(2)}`);
    expect(Math.abs(sim - model) / model).toBeLessThan(0.1);
  });

  test('Lambert-W model figures: A = a / (a + W0(-a e^-a)), a = 1 + OP: 7% OP ~7.8, 28% OP ~2.5', () => {
    expect(lambertWWriteAmplification(0.07)).toBeCloseTo(7.83, 1);
    expect(lambertWWriteAmplification(0.28)).toBeCloseTo(2.48, 1);
  });

  test('the FTL is sized from the namespace and preconditioned full: a small footprint on a full drive still pays GC', () => {
    // 1024 hot units rewritten at random on a preconditioned 16384-unit drive with 7% OP.
    const full = new FtlModel({ userBytes: 16384 * FTL_UNIT_BYTES, overProvisioning: 0.07 });
    const prng = new Prng(3, 'hot');
    for (let i = 0; i < 200000; i++) full.program(prng.int(0, 16383) * FTL_UNIT_BYTES, FTL_UNIT_BYTES);
    const s = full.stats();
    expect(s.userUnits).toBe(16384);
    expect(s.physicalPages).toBeGreaterThanOrEqual(Math.ceil(16384 * 1.07));
    expect(s.fill).toBe(1);
    expect(s.gcWriteAmplification).toBeGreaterThan(4);
    // An empty (unpreconditioned) drive of the same size hardly collects at first.
    const empty = new FtlModel({ userBytes: 16384 * FTL_UNIT_BYTES, overProvisioning: 0.07, fill: 0 });
    for (let i = 0; i < 8192; i++) empty.program(prng.int(0, 16383) * FTL_UNIT_BYTES, FTL_UNIT_BYTES);
    expect(empty.stats().gcWriteAmplification).toBe(1);
  });

  test('512-byte LBAs written piecewise count as one unit program', () => {
    const ftl = new FtlModel(0.07);
    for (let i = 0; i < 8; i++) ftl.program(i * 512, 512);
    expect(ftl.stats().hostUnits).toBe(1);
  });

  test('the device reports NAND bytes including GC copies', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 4096 });
    const prng = new Prng(2, 'dev');
    const data = new Uint8Array(4096);
    for (let i = 0; i < 20000; i++) dev.write(prng.int(0, 1023), data, { fua: true });
    const c = dev.counters;
    expect(c.destagedBytes).toBe(20000 * 4096);
    expect(c.nandBytesProgrammed).toBe(c.destagedBytes + c.gcBytes);
    expect(c.gcBytes).toBeGreaterThan(0);
    expect(c.erases).toBeGreaterThan(0);
  });
});
