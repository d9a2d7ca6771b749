import fc from 'fast-check';
import { createDevice, CrashPoint } from '../../src/device/device';
import { NO_FAULTS, getProfile, parseFaults } from '../../src/device/profiles';
import { buildCrashImage, choiceAt, choiceSpace, CrashImage, enumerateChoices, sampleChoice, ChoiceSpace, tearWrite } from '../../src/device/power-loss';
import { Prng } from '../../src/util/prng';
import { Op, opArb, runScript, stamp, stampOf, WriteLog, FlushLog } from './helpers';

const NSZE = 48;

/** Up to `n` choices: all of them when the space is small, else seeded samples (always including "nothing landed"). */
function someChoices(space: ChoiceSpace, n: number, seed: number): number[][] {
  if (space.count <= BigInt(n)) return [...enumerateChoices(space)];
  const prng = new Prng(seed, 'test-choices');
  const out = [choiceAt(space, 0n), choiceAt(space, space.count - 1n)];
  while (out.length < n) out.push(sampleChoice(space, prng));
  return out;
}

function blockAt(img: CrashImage, lba: number, bs: number): Uint8Array {
  return img.store.get(lba) ?? new Uint8Array(bs);
}

/** The newest write to `lba` the host was promised is durable (by FUA/CRITICAL, a completed Flush after it, or a device without volatile cache). */
function guaranteed(writes: WriteLog[], flushes: FlushLog[], lba: number, volatile: boolean): WriteLog | undefined {
  const done = flushes.filter((f) => f.completed);
  let best: WriteLog | undefined;
  for (const w of writes) {
    if (!w.completed || lba < w.lba || lba >= w.lba + w.nlb) continue;
    const durable = !volatile || w.fua || w.intent === 'critical' || done.some((f) => w.completedSeq! < f.submitSeq);
    if (durable && (!best || w.completedSeq! > best.completedSeq!)) best = w;
  }
  return best;
}

function checkImage(point: CrashPoint, img: CrashImage, writes: WriteLog[], flushes: FlushLog[], volatile: boolean): void {
  const bs = point.blockSize;
  for (let lba = 0; lba < NSZE; lba++) {
    const s = stampOf(blockAt(img, lba, bs));
    // Never bytes that were not written to this block.
    if (s === 'mixed') throw new Error(`LBA ${lba} holds a mix of versions without a sub-block-tear fault`);
    let holder: WriteLog | undefined;
    if (s.writeNo !== 0) {
      holder = writes[s.writeNo - 1];
      if (!holder || lba < holder.lba || lba >= holder.lba + holder.nlb || s.index !== lba - holder.lba + 1) {
        throw new Error(`LBA ${lba} holds write #${s.writeNo} block ${s.index}, which was never written there`);
      }
    }
    // Never older than what was promised durable.
    const g = guaranteed(writes, flushes, lba, volatile);
    if (g) {
      if (!holder) throw new Error(`LBA ${lba} lost durable write #${g.writeNo} (reads as never written)`);
      // In flight at the cut, newer, or in flight together with it (NVM-CS 2.1.4.1: then either may end on top).
      const newerOrInflight = !holder.completed || holder.completedSeq! >= g.completedSeq! || holder.completedSeq! > g.submitSeq;
      if (!newerOrInflight) throw new Error(`LBA ${lba} went back to write #${holder.writeNo}, older than durable write #${g.writeNo}`);
    }
  }
}

describe('crash states: durability promises', () => {
  const scripts = fc.array(opArb(NSZE), { minLength: 1, maxLength: 40 });

  test.each(['consumer-tlc', 'qemu-default', 'atomic-16k'])('%s: flushed, FUA and CRITICAL writes survive every crash state; nothing unwritten appears', (profile) => {
    fc.assert(
      fc.property(scripts, fc.integer({ min: 1, max: 1000 }), (ops: Op[], seed: number) => {
        const dev = createDevice({ profile, seed, nsze: NSZE });
        const { writes, flushes } = runScript(dev, ops);
        const point = dev.capture();
        const space = choiceSpace(point);
        for (const c of someChoices(space, 64, seed)) checkImage(point, buildCrashImage(space, c), writes, flushes, dev.volatileCache);
      }),
      { numRuns: 150 },
    );
  });

  test('enterprise-plp: every completed write survives (the cache is protected)', () => {
    fc.assert(
      fc.property(scripts, fc.integer({ min: 1, max: 1000 }), (ops: Op[], seed: number) => {
        const dev = createDevice({ profile: 'enterprise-plp', seed, nsze: NSZE });
        const { writes, flushes } = runScript(dev, ops);
        expect(dev.volatileCache).toBe(false);
        const point = dev.powerCut();
        // Only in-flight writes can still be undecided.
        expect(point.pending.every((p) => p.inflight)).toBe(true);
        const space = choiceSpace(point);
        for (const c of someChoices(space, 32, seed)) checkImage(point, buildCrashImage(space, c), writes, flushes, false);
      }),
      { numRuns: 100 },
    );
  });

  test('a device with the write cache off makes every completed write durable', () => {
    const profile = JSON.parse(JSON.stringify(require('../../src/device/profiles').PROFILES['consumer-tlc']));
    profile.identify.controller.vwc.present = false;
    fc.assert(
      fc.property(scripts, fc.integer({ min: 1, max: 1000 }), (ops: Op[], seed: number) => {
        const dev = createDevice({ profile, seed, nsze: NSZE });
        const { writes, flushes } = runScript(dev, ops);
        const point = dev.capture();
        expect(point.pending.every((p) => p.inflight)).toBe(true);
        const space = choiceSpace(point);
        for (const c of someChoices(space, 32, seed)) checkImage(point, buildCrashImage(space, c), writes, flushes, false);
      }),
      { numRuns: 60 },
    );
  });

  test('a block never goes back to a version older than a durable one, across many versions', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 5, nsze: NSZE });
    const ops: Op[] = [];
    for (let i = 0; i < 6; i++) ops.push({ op: 'write', lba: 3, nlb: 1, fua: false, intent: 'standard', wait: true });
    ops.push({ op: 'flush', wait: true });
    for (let i = 0; i < 3; i++) ops.push({ op: 'write', lba: 3, nlb: 1, fua: false, intent: 'standard', wait: true });
    const { writes, flushes } = runScript(dev, ops);
    const point = dev.capture();
    const space = choiceSpace(point);
    expect(space.count).toBe(4n); // durable #6, or #7, #8, #9
    const seen = new Set<number>();
    for (const c of enumerateChoices(space)) {
      const img = buildCrashImage(space, c);
      checkImage(point, img, writes, flushes, true);
      seen.add((stampOf(blockAt(img, 3, 4096)) as { writeNo: number }).writeNo);
    }
    expect([...seen].sort()).toEqual([6, 7, 8, 9]);
  });
});

describe('crash states: power-fail atomicity', () => {
  /** Non-overlapping writes, so all-or-nothing is exact. */
  function disjointWrites(dev: ReturnType<typeof createDevice>, spans: [number, number][]): WriteLog[] {
    const ops: Op[] = spans.map(([lba, nlb]) => ({ op: 'write', lba, nlb, fua: false, intent: 'standard', wait: true }));
    return runScript(dev, ops).writes;
  }

  test('atomic-16k: a write within the unit and boundary is all-old or all-new in every crash state', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), (slots, nlb) => {
        const dev = createDevice({ profile: 'atomic-16k', seed: 3, nsze: NSZE });
        const unique = [...new Set(slots)];
        const writes = disjointWrites(dev, unique.map((s) => [s * 4, nlb] as [number, number]));
        const point = dev.capture();
        const space = choiceSpace(point);
        for (const c of someChoices(space, 200, 9)) {
          const img = buildCrashImage(space, c);
          for (const w of writes) {
            const landed = Array.from({ length: w.nlb }, (_, i) => (stampOf(blockAt(img, w.lba + i, 4096)) as { writeNo: number }).writeNo === w.writeNo);
            expect(landed.every((x) => x) || landed.every((x) => !x)).toBe(true);
          }
        }
      }),
      { numRuns: 80 },
    );
  });

  test('NABSPF 16 KiB with AWUPF=0: a write that crosses the boundary can tear, and enumeration finds the torn state', () => {
    const profile = getProfile('atomic-16k');
    profile.identify.controller.awun = profile.identify.controller.awupf = 0; // no controller-wide promise across boundaries
    const dev = createDevice({ profile, seed: 3, nsze: NSZE });
    const [w] = disjointWrites(dev, [[2, 4]]); // LBAs 2..5 cross the boundary at LBA 4
    const space = choiceSpace(dev.capture());
    let torn = false;
    for (const c of enumerateChoices(space)) {
      const img = buildCrashImage(space, c);
      const landed = [0, 1, 2, 3].map((i) => (stampOf(blockAt(img, w.lba + i, 4096)) as { writeNo: number }).writeNo === w.writeNo);
      if (landed.some((x) => x) && landed.some((x) => !x)) torn = true;
    }
    expect(torn).toBe(true);
  });

  test('atomic-16k: a write larger than the atomic unit can tear', () => {
    const dev = createDevice({ profile: 'atomic-16k', seed: 3, nsze: NSZE });
    disjointWrites(dev, [[8, 8]]);
    const space = choiceSpace(dev.capture());
    expect(space.count).toBe(2n ** 8n);
  });

  test('consumer-tlc: an 8 KiB write is two independent blocks; azure-atomic-16k keeps 32 x 512 B together', () => {
    const tlc = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: NSZE });
    disjointWrites(tlc, [[0, 2]]);
    expect(choiceSpace(tlc.capture()).count).toBe(4n);
    const az = createDevice({ profile: 'azure-atomic-16k', seed: 1, nsze: 128 });
    runScript(az, [{ op: 'write', lba: 32, nlb: 32, fua: false, intent: 'standard', wait: true }]);
    expect(choiceSpace(az.capture()).count).toBe(2n);
  });

  test('in-flight writes may land partially (per block) when not atomic', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: NSZE });
    dev.submitWrite(0, stamp(1, 3, 4096));
    const point = dev.capture();
    expect(point.pending).toHaveLength(1);
    expect(point.pending[0].inflight).toBe(true);
    expect(choiceSpace(point).count).toBe(8n);
  });
});

describe('crash states: fault profiles break promises on purpose', () => {
  test('lying-flush can lose flushed data', () => {
    const dev = createDevice({ profile: 'consumer-tlc', faults: parseFaults(['lying-flush']), seed: 1, nsze: NSZE });
    dev.write(1, stamp(1, 1, 4096));
    dev.flush();
    const space = choiceSpace(dev.capture());
    const img = buildCrashImage(space, choiceAt(space, 0n));
    expect(stampOf(blockAt(img, 1, 4096))).toEqual({ writeNo: 0, index: 0 });
    // The honest device keeps it.
    const honest = createDevice({ profile: 'consumer-tlc', faults: NO_FAULTS, seed: 1, nsze: NSZE });
    honest.write(1, stamp(1, 1, 4096));
    honest.flush();
    expect(choiceSpace(honest.capture()).count).toBe(1n);
  });

  test.each([512, 8])('sub-block-tear:%i tears inside a block', (g) => {
    const dev = createDevice({ profile: 'consumer-tlc', faults: parseFaults([`sub-block-tear:${g}`]), seed: 1, nsze: NSZE });
    dev.write(2, stamp(1, 1, 4096));
    const space = choiceSpace(dev.capture());
    const tearDigit = space.digits.findIndex((d) => d.kind === 'tear');
    const blockDigit = space.digits.findIndex((d) => d.kind === 'block');
    const c = space.digits.map(() => 0);
    c[blockDigit] = 1;
    c[tearDigit] = 1;
    const img = buildCrashImage(space, c);
    expect(stampOf(blockAt(img, 2, 4096))).toBe('mixed');
    expect(space.digits[tearDigit].radix).toBe(4096 / g);
  });

  test('torn-atomic tears a write the device advertises as atomic', () => {
    const dev = createDevice({ profile: 'atomic-16k', faults: parseFaults(['torn-atomic']), seed: 1, nsze: NSZE });
    dev.write(4, stamp(1, 4, 4096));
    const space = choiceSpace(dev.capture());
    expect(space.count).toBe(16n);
    const c = space.digits.map((_, i) => (i % 2 === 0 ? 1 : 0));
    const img = buildCrashImage(space, c);
    const landed = [4, 5, 6, 7].map((l) => (stampOf(blockAt(img, l, 4096)) as { writeNo: number }).writeNo);
    expect(landed).toEqual([1, 0, 1, 0]);
  });

  test('misdirected-write lands a write at the wrong LBA', () => {
    const dev = createDevice({ profile: 'consumer-tlc', faults: parseFaults(['misdirected-write']), seed: 1, nsze: NSZE });
    dev.write(10, stamp(1, 2, 4096));
    const space = choiceSpace(dev.capture());
    const c = space.digits.map((d) => (d.kind === 'misdirect' ? 1 : 0));
    const img = buildCrashImage(space, c);
    expect((stampOf(blockAt(img, 12, 4096)) as { writeNo: number }).writeNo).toBe(1);
    expect((stampOf(blockAt(img, 10, 4096)) as { writeNo: number }).writeNo).toBe(0);
  });

  test('latent-sector-error and inflight-read-error make blocks unreadable until rewritten', () => {
    const dev = createDevice({ profile: 'consumer-tlc', faults: parseFaults(['latent-sector-error', 'inflight-read-error']), seed: 1, nsze: NSZE });
    dev.write(1, stamp(1, 1, 4096));
    dev.flush();
    dev.submitWrite(5, stamp(2, 1, 4096));
    const point = dev.capture();
    const space = choiceSpace(point);
    const c = space.digits.map((d) => (d.kind === 'lse' ? 1 : d.kind === 'block' && d.errorOption ? d.radix - 1 : 0));
    const img = buildCrashImage(space, c);
    expect(img.unreadable).toEqual([1, 5]);
    const after = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: NSZE, image: img });
    expect(() => after.read(1, 1)).toThrow(/unrecovered read error/);
    after.write(1, stamp(3, 1, 4096));
    expect((stampOf(after.read(1, 1)) as { writeNo: number }).writeNo).toBe(3);
  });
});

describe('determinism', () => {
  test('same seed and host commands: identical crash images, counters and choices', () => {
    const run = () => {
      const dev = createDevice({ profile: 'consumer-tlc', seed: 77, nsze: NSZE });
      const ops = fc.sample(fc.array(opArb(NSZE), { minLength: 30, maxLength: 30 }), { seed: 4, numRuns: 1 })[0];
      runScript(dev, ops);
      const point = dev.capture();
      const space = choiceSpace(point);
      const c = sampleChoice(space, new Prng(77, 'x'));
      const img = buildCrashImage(space, c);
      const bytes = Buffer.concat(Array.from({ length: NSZE }, (_, l) => blockAt(img, l, 4096)));
      return { counters: JSON.stringify(dev.counters), choice: c.join(','), hash: require('crypto').createHash('sha256').update(bytes).digest('hex'), seq: point.seq };
    };
    expect(run()).toEqual(run());
  });
});

describe('tearWrite: a crash state aimed at one write the device does not cover', () => {
  test.each(['consumer-tlc', 'atomic-16k'])('%s: the write lands half new, half old; an atomic write is never torn', (profile) => {
    const dev = createDevice({ profile, seed: 5, nsze: NSZE });
    const bs = dev.blockSize;
    dev.write(8, stamp(1, 4, bs));
    dev.flush();
    // Across the 16 KiB boundary at LBA 12 (blocks 10..13): unprotected on both profiles.
    dev.write(10, stamp(2, 4, bs));
    // Inside one 16 KiB unit (blocks 16..19): atomic on atomic-16k only.
    dev.write(16, stamp(3, 4, bs));
    const space = choiceSpace(dev.powerCut());
    const writeNos = (choice: number[], lbas: number[]) => {
      const img = buildCrashImage(space, choice);
      return lbas.map((lba) => {
        const st = stampOf(blockAt(img, lba, bs));
        return st === 'mixed' ? -1 : st.writeNo;
      });
    };
    for (const seed of [1, 2, 3, 4]) {
      const sampled = sampleChoice(space, new Prng(seed, 'tear-test'));
      const torn = tearWrite(space, sampled, { lba: 10, nlb: 4 });
      torn.forEach((v, i) => expect(v).toBeLessThan(space.digits[i].radix));
      // Blocks 10 and 11 end with the new write; 12 and 13 keep what they held before it (never written: 0).
      expect(writeNos(torn, [10, 11, 12, 13])).toEqual([2, 2, 0, 0]);
      const whole = writeNos(tearWrite(space, sampled, { lba: 16, nlb: 4 }), [16, 17, 18, 19]);
      if (profile === 'atomic-16k') expect(new Set(whole).size).toBe(1);
      else expect(whole).toEqual([3, 3, 0, 0]);
    }
  });
});
