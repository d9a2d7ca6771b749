/**
 * The device's enumerated crash images equal the independent reference's
 * (test/device/reference-model.ts), both ways, over random small scripts:
 * <= 4 commands of every kind, <= 8 blocks, every fault switch, 512 B and
 * 4 KiB LBAs. Background destage is switched off (destage delays of ~forever)
 * so that what is durable follows from the host-visible history alone, and
 * overlapping writes are never in flight together (the script waits first),
 * so no race decision of the device is hidden from the reference; races are
 * covered by conformance.test.ts. REFERENCE_RUNS overrides the run count.
 */
import fc from 'fast-check';
import { createDevice } from '../../src/device/device';
import { DeviceProfile, FaultSet, NO_FAULTS, getProfile } from '../../src/device/profiles';
import { buildCrashImage, choiceSpace, enumerateChoices } from '../../src/device/power-loss';
import { DeviceEvent } from '../../src/device/types';
import { blockKey, RefWrite, referenceImages, referenceInflightImages } from './reference-model';
import { stamp } from './helpers';

const NSZE = 8;
const RUNS = Number(process.env.REFERENCE_RUNS ?? 10000);

function quiet(name: string, tweak?: (p: DeviceProfile) => void): DeviceProfile {
  const p = getProfile(name);
  p.cache.destageDelayUs = 1e15;
  p.cache.ephemeralDelayUs = 1e15;
  tweak?.(p);
  return p;
}

const PROFILES: DeviceProfile[] = [
  quiet('consumer-tlc'),
  quiet('qemu-default'),
  quiet('atomic-16k'),
  quiet('azure-atomic-16k'),
  quiet('enterprise-plp'),
  // Boundaries that bite: no controller-wide unit, 4-block boundary at NABO 2 (4 KiB and 512 B LBAs).
  quiet('atomic-16k', (p) => {
    p.name = 'atomic-16k-nabo2';
    p.identify.controller.awun = p.identify.controller.awupf = 0;
    p.identify.namespace.nabo = 2;
  }),
  quiet('qemu-default', (p) => {
    p.name = 'qemu-nabo1';
    Object.assign(p.identify.namespace, { nsabp: true, nawun: 3, nawupf: 2, nabsn: 3, nabspf: 3, nabo: 1 });
  }),
  // NAWUPF 0h = AWUPF (2 blocks), boundary 4.
  quiet('atomic-16k', (p) => {
    p.name = 'atomic-awupf1';
    p.identify.controller.awun = 3;
    p.identify.controller.awupf = 1;
    Object.assign(p.identify.namespace, { nawun: 0, nawupf: 0, nabsn: 3, nabspf: 3, nabo: 0 });
  }),
];

type Cmd =
  | { op: 'write'; lba: number; nlb: number; mode: 'standard' | 'fua' | 'critical' | 'ephemeral' | 'zeroes' | 'deallocate'; wait: boolean }
  | { op: 'vwc'; enabled: boolean }
  | { op: 'flush'; wait: boolean }
  | { op: 'read'; lba: number; nlb: number; fua: boolean; wait: boolean }
  | { op: 'waitAll' };

const span = fc.integer({ min: 1, max: 4 }).chain((nlb) => fc.record({ nlb: fc.constant(nlb), lba: fc.integer({ min: 0, max: NSZE - nlb }) }));
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ s: span, mode: fc.constantFrom('standard', 'standard', 'fua', 'critical', 'ephemeral', 'zeroes', 'deallocate' as const), wait: fc.boolean() }).map(({ s, mode, wait }) => ({ op: 'write' as const, ...s, mode: mode as any, wait })) },
  { weight: 2, arbitrary: fc.record({ wait: fc.boolean() }).map((r) => ({ op: 'flush' as const, ...r })) },
  { weight: 2, arbitrary: fc.record({ s: span, fua: fc.boolean(), wait: fc.boolean() }).map(({ s, fua, wait }) => ({ op: 'read' as const, ...s, fua, wait })) },
  { weight: 1, arbitrary: fc.constant({ op: 'waitAll' as const }) },
  { weight: 1, arbitrary: fc.boolean().map((enabled) => ({ op: 'vwc' as const, enabled })) },
);
const faultArb: fc.Arbitrary<FaultSet> = fc.record({
  lyingFlush: fc.boolean(),
  subBlockTear: fc.constantFrom(0, 0, 0, 512, 8),
  tornAtomic: fc.boolean(),
  misdirectedWrite: fc.boolean(),
  latentSectorError: fc.boolean(),
  inflightReadError: fc.boolean(),
  powerWindowNotHonoured: fc.boolean(),
});

function runCase(profile: DeviceProfile, faults: FaultSet, seed: number, cmds: Cmd[]): { device: Set<string>; reference: Set<string> } | undefined {
  const dev = createDevice({ profile, faults, seed, nsze: NSZE });
  const events: DeviceEvent[] = [];
  dev.onEvent((e) => events.push(e));
  const writes = new Map<number, RefWrite>();
  const fuaReads = new Set<number>();
  const inflightWrites = new Map<number, RefWrite>();
  const done = new Set<number>();
  dev.onEvent((e) => {
    if (e.phase === 'complete') {
      done.add(e.id);
      inflightWrites.delete(e.id);
    }
  });
  let commands = 0;
  const wceChanges: { afterEvents: number; enabled: boolean }[] = [];
  for (const c of cmds) {
    if (c.op === 'waitAll') {
      dev.waitAll();
      continue;
    }
    if (c.op === 'vwc') {
      if (!profile.identify.controller.vwc.present) continue;
      dev.setVolatileWriteCache(c.enabled);
      wceChanges.push({ afterEvents: events.length, enabled: c.enabled });
      continue;
    }
    if (++commands > 4) break;
    if (c.op === 'write') {
      // Never two overlapping writes in flight together (their race is covered elsewhere).
      for (const w of [...inflightWrites.values()]) if (w.lba < c.lba + c.nlb && c.lba < w.lba + w.nlb && !done.has(w.id)) dev.wait(w.id);
      const zero = c.mode === 'zeroes' || c.mode === 'deallocate';
      const data = zero ? new Uint8Array(c.nlb * dev.blockSize) : stamp(writes.size + 1, c.nlb, dev.blockSize);
      const opts = { fua: c.mode === 'fua', intent: c.mode === 'critical' ? ('critical' as const) : c.mode === 'ephemeral' ? ('ephemeral' as const) : ('standard' as const) };
      const id = c.mode === 'zeroes' ? dev.submitWriteZeroes(c.lba, c.nlb, opts) : c.mode === 'deallocate' ? dev.submitDeallocate(c.lba, c.nlb) : dev.submitWrite(c.lba, data, opts);
      const w: RefWrite = { id, lba: c.lba, nlb: c.nlb, data, fua: c.mode === 'deallocate' ? false : opts.fua, critical: c.mode !== 'deallocate' && opts.intent === 'critical', deallocate: c.mode === 'deallocate' };
      writes.set(id, w);
      inflightWrites.set(id, w);
      if (c.wait) dev.wait(id);
    } else if (c.op === 'flush') {
      const id = dev.submitFlush();
      if (c.wait) dev.wait(id);
    } else {
      const id = dev.submitRead(c.lba, c.nlb, { fua: c.fua });
      if (c.fua) fuaReads.add(id);
      if (c.wait) dev.wait(id);
    }
  }
  dev.assertInvariants();
  const point = dev.capture();
  const space = choiceSpace(point);
  if (space.count > 4096n) return undefined;
  const reference = referenceImages({ identify: profile.identify, volatile: profile.identify.controller.vwc.present && !profile.plp, wceChanges, faults, blockSize: dev.blockSize, nsze: NSZE, writes, fuaReads, events }, 200_000);
  if (!reference) return undefined;
  const device = new Set<string>();
  for (const choice of enumerateChoices(space)) {
    const img = buildCrashImage(space, choice);
    const bad = new Set(img.unreadable);
    const row: string[] = [];
    for (let b = 0; b < NSZE; b++) row.push(bad.has(b) ? 'U' : blockKey(img.store.get(b), dev.blockSize));
    device.add(row.join(' '));
  }
  return { device, reference };
}

describe('reference model: the device enumerates exactly the crash images the rules allow', () => {
  test(`device crash images == reference crash images, both ways (${RUNS} scripts)`, () => {
    let checked = 0;
    let images = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PROFILES.length - 1 }), faultArb, fc.integer({ min: 1, max: 1e6 }), fc.array(cmdArb, { minLength: 1, maxLength: 6 }), (pi, faults, seed, cmds) => {
        const r = runCase(PROFILES[pi], faults, seed, cmds);
        fc.pre(r !== undefined);
        checked++;
        images += r!.device.size;
        const onlyDevice = [...r!.device].filter((k) => !r!.reference.has(k));
        const onlyReference = [...r!.reference].filter((k) => !r!.device.has(k));
        if (onlyDevice.length || onlyReference.length) {
          throw new Error(`profile ${PROFILES[pi].name}: device-only ${JSON.stringify(onlyDevice.slice(0, 4))}, reference-only ${JSON.stringify(onlyReference.slice(0, 4))}`);
        }
      }),
      { numRuns: RUNS, seed: 20261201, maxSkipsPerRun: 10 },
    );
    console.log(`reference model: ${checked} scripts checked, ${images} distinct device images compared`);
    expect(checked).toBeGreaterThanOrEqual(RUNS);
  });

  test('the reference itself: a 4-block atomic write lands whole; a boundary-crossing one per block (sanity)', () => {
    const r = runCase(PROFILES[5], NO_FAULTS, 1, [{ op: 'write', lba: 2, nlb: 4, mode: 'standard', wait: true }]);
    expect(r!.reference.size).toBe(2);
    const t = runCase(PROFILES[5], NO_FAULTS, 1, [{ op: 'write', lba: 0, nlb: 4, mode: 'standard', wait: true }]);
    expect(t!.reference.size).toBe(16);
    expect(t!.device).toEqual(t!.reference);
  });
});

describe('reference model: every write in flight at the cut (no order known between them)', () => {
  const inflightRuns = Math.max(200, Math.floor(RUNS / 5));
  test(`device crash images == reference images with all writes in flight, both ways (${inflightRuns} scripts)`, () => {
    let checked = 0;
    const spanArb = fc.integer({ min: 1, max: 4 }).chain((nlb) => fc.record({ nlb: fc.constant(nlb), lba: fc.integer({ min: 0, max: NSZE - nlb }), zero: fc.boolean() }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: PROFILES.length - 1 }),
        fc.record({ tornAtomic: fc.boolean(), latentSectorError: fc.boolean(), inflightReadError: fc.boolean() }),
        fc.integer({ min: 1, max: 1e6 }),
        fc.array(fc.record({ lba: fc.integer({ min: 0, max: NSZE - 1 }) }), { maxLength: 3 }),
        fc.array(spanArb, { minLength: 1, maxLength: 4 }),
        (pi, f, seed, before, spans) => {
          const profile = PROFILES[pi];
          const faults: FaultSet = { ...NO_FAULTS, ...f };
          const dev = createDevice({ profile, faults, seed, nsze: NSZE });
          const bs = dev.blockSize;
          const durable: (RefWrite | undefined)[] = new Array(NSZE).fill(undefined);
          let n = 0;
          for (const b of before) {
            const data = stamp(++n, 1, bs);
            const id = dev.write(b.lba, data, { fua: true }).id;
            durable[b.lba] = { id, lba: b.lba, nlb: 1, data, fua: true, critical: false };
          }
          const inflight: RefWrite[] = [];
          for (const s of spans) {
            const data = s.zero ? new Uint8Array(s.nlb * bs) : stamp(++n, s.nlb, bs);
            const id = s.zero ? dev.submitWriteZeroes(s.lba, s.nlb) : dev.submitWrite(s.lba, data);
            inflight.push({ id, lba: s.lba, nlb: s.nlb, data, fua: false, critical: false });
          }
          const space = choiceSpace(dev.capture());
          fc.pre(space.count <= 1024n);
          const reference = referenceInflightImages({ identify: profile.identify, faults, blockSize: bs, nsze: NSZE, durable, inflight }, 20_000);
          fc.pre(reference !== undefined);
          const device = new Set<string>();
          for (const choice of enumerateChoices(space)) {
            const img = buildCrashImage(space, choice);
            const bad = new Set(img.unreadable);
            const row: string[] = [];
            for (let b = 0; b < NSZE; b++) row.push(bad.has(b) ? 'U' : blockKey(img.store.get(b), bs));
            device.add(row.join(' '));
          }
          checked++;
          const onlyDevice = [...device].filter((k) => !reference!.has(k));
          const onlyReference = [...reference!].filter((k) => !device.has(k));
          if (onlyDevice.length || onlyReference.length) {
            throw new Error(`profile ${profile.name}: device-only ${JSON.stringify(onlyDevice.slice(0, 4))}, reference-only ${JSON.stringify(onlyReference.slice(0, 4))}`);
          }
        },
      ),
      { numRuns: inflightRuns, seed: 20261202, maxSkipsPerRun: 10 },
    );
    console.log(`reference model (all in flight): ${checked} scripts checked`);
    expect(checked).toBeGreaterThanOrEqual(inflightRuns);
  });
});
