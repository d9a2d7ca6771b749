/**
 * Conformance suite, organised by spec clause. Every test name starts with the
 * clause it checks; docs/device-conformance.md maps clause -> test -> status.
 * Clauses: "NVM-CS" = NVM Express NVM Command Set Specification, revision 1.2
 * (section numbers 2.1.x / 3.2.x as in revisions 1.0-1.2); "Base" = NVM Express
 * Base Specification 2.1; "RFC" = the linux-block asynchronous-durability RFC
 * (ARCHITECTURE 2.5); "Linux" = the kernel behaviour named in identify.ts.
 */
import { createDevice } from '../../src/device/device';
import { Identify, isAtomicWrite, linuxAtomicLimits, normalAtomicity, powerFailAtomicity, validateIdentify } from '../../src/device/identify';
import { getProfile, DeviceProfile } from '../../src/device/profiles';
import { buildCrashImage, choiceSpace, enumerateChoices } from '../../src/device/power-loss';
import { stamp, stampOf } from './helpers';

function ident(ctrl: Partial<Identify['controller']>, ns: Partial<Identify['namespace']>): Identify {
  const p = getProfile('atomic-16k');
  return { controller: { ...p.identify.controller, ...ctrl }, namespace: { ...p.identify.namespace, ...ns } };
}

function profileWith(base: string, ctrl: Partial<Identify['controller']>, ns: Partial<Identify['namespace']>): DeviceProfile {
  const p = getProfile(base);
  p.identify = { controller: { ...p.identify.controller, ...ctrl }, namespace: { ...p.identify.namespace, ...ns } };
  return p;
}

/** Every distinct crash image of blocks [lo, hi) as write numbers per block ('m' = mixed). */
function images(dev: ReturnType<typeof createDevice>, lo: number, hi: number): Set<string> {
  const space = choiceSpace(dev.capture());
  const out = new Set<string>();
  for (const c of enumerateChoices(space)) {
    const img = buildCrashImage(space, c);
    const row: string[] = [];
    for (let l = lo; l < hi; l++) {
      const s = stampOf(img.store.get(l) ?? new Uint8Array(dev.blockSize));
      row.push(s === 'mixed' ? 'm' : String(s.writeNo));
    }
    out.add(row.join(','));
  }
  return out;
}

describe('NVM-CS 2.1.4 atomicity parameters (Identify fields and their rules)', () => {
  test('NVM-CS 2.1.4.2 NAWUPF=0h with NSABP means the same as AWUPF, not one block', () => {
    const a = powerFailAtomicity(ident({ awun: 7, awupf: 3 }, { nsabp: true, nawun: 0, nawupf: 0, nabsn: 0, nabspf: 0 }));
    expect(a.unitBlocks).toBe(4);
    const dev = createDevice({ profile: profileWith('atomic-16k', { awun: 7, awupf: 3 }, { nawun: 0, nawupf: 0, nabsn: 0, nabspf: 0 }), seed: 1, nsze: 32 });
    dev.write(8, stamp(1, 4, 4096));
    expect(images(dev, 8, 12)).toEqual(new Set(['0,0,0,0', '1,1,1,1']));
  });

  test('NVM-CS 2.1.4.1 NAWUN=0h with NSABP means the same as AWUN', () => {
    expect(normalAtomicity(ident({ awun: 7, awupf: 3 }, { nsabp: true, nawun: 0, nawupf: 3, nabsn: 0, nabspf: 0 })).unitBlocks).toBe(8);
  });

  test('NVM-CS Figure "Atomicity Parameters": NAWUN=0, NAWUPF=3, AWUN=7 is valid (NAWUPF <= effective NAWUN)', () => {
    expect(() => validateIdentify(ident({ awun: 7, awupf: 3 }, { nsabp: true, nawun: 0, nawupf: 3, nabsn: 0, nabspf: 0 }))).not.toThrow();
  });

  test.each([
    ['NABSN >= AWUN', { awun: 7, awupf: 3 }, { nawun: 7, nawupf: 3, nabsn: 3, nabspf: 3 }, /nabsn=3 .*NABSN >= NAWUN/],
    ['NABSPF >= AWUPF', { awun: 7, awupf: 7 }, { nawun: 7, nawupf: 0, nabsn: 7, nabspf: 3 }, /nabspf=3 .*NABSPF >= NAWUPF/],
    ['NABSPF >= NAWUPF', { awun: 7, awupf: 1 }, { nawun: 7, nawupf: 7, nabsn: 7, nabspf: 3 }, /nabspf=3 .*NABSPF >= NAWUPF/],
    ['NAWUN >= AWUN', { awun: 7, awupf: 1 }, { nawun: 3, nawupf: 1, nabsn: 0, nabspf: 0 }, /nawun=3 .*NAWUN >= AWUN/],
    ['NAWUPF >= AWUPF', { awun: 7, awupf: 3 }, { nawun: 7, nawupf: 1, nabsn: 0, nabspf: 0 }, /nawupf=1 .*NAWUPF >= AWUPF/],
    ['NABO <= NABSN (always checked)', { awun: 0, awupf: 0 }, { nawun: 3, nawupf: 3, nabsn: 0, nabspf: 3, nabo: 2 }, /nabo=2 .*NABO <= NABSN/],
    ['NABO <= NABSPF (always checked)', { awun: 0, awupf: 0 }, { nawun: 3, nawupf: 3, nabsn: 3, nabspf: 0, nabo: 2 }, /nabo=2 .*NABO <= NABSPF/],
  ])('NVM-CS Figure "Atomicity Parameters": %s is enforced', (_rule, ctrl, ns, msg) => {
    expect(() => validateIdentify(ident(ctrl, { nsabp: true, nabo: 0, ...ns }))).toThrow(msg);
  });

  test('NVM-CS Figure "Atomicity Parameters": no invented NABSPF <= NABSN rule', () => {
    expect(() => validateIdentify(ident({ awun: 0, awupf: 0 }, { nsabp: true, nawun: 1, nawupf: 1, nabsn: 1, nabspf: 7, nabo: 0 }))).not.toThrow();
  });
});

describe('NVM-CS 2.1.4.3 atomic boundaries', () => {
  test('NVM-CS 2.1.4.3 AWUPF holds across a namespace atomic boundary (AWUPF=3 over NABSPF=3, 4 blocks at LBA 2)', () => {
    const dev = createDevice({ profile: profileWith('atomic-16k', { awun: 3, awupf: 3 }, {}), seed: 1, nsze: 32 });
    dev.write(2, stamp(1, 4, 4096));
    expect(images(dev, 2, 6)).toEqual(new Set(['0,0,0,0', '1,1,1,1']));
  });

  test('NVM-CS 2.1.4.3 NAWUPF within boundary is all-or-nothing; crossing the boundary beyond AWUPF may tear', () => {
    // atomic-16k v2 itself: controller AWUPF 0, NAWUPF = NABSPF = 3.
    const p = getProfile('atomic-16k');
    const inside = createDevice({ profile: p, seed: 1, nsze: 32 });
    inside.write(4, stamp(1, 4, 4096));
    expect(images(inside, 4, 8)).toEqual(new Set(['0,0,0,0', '1,1,1,1']));
    const across = createDevice({ profile: p, seed: 1, nsze: 32 });
    across.write(2, stamp(1, 4, 4096));
    expect(images(across, 2, 6).size).toBe(16);
  });

  test('NVM-CS 2.1.4.3 boundaries sit at NABO + k x NABSPF, also below NABO', () => {
    const a = powerFailAtomicity(ident({ awun: 0, awupf: 0 }, { nsabp: true, nawun: 3, nawupf: 3, nabsn: 3, nabspf: 3, nabo: 2 }));
    expect(isAtomicWrite(a, 2, 4)).toBe(true);
    expect(isAtomicWrite(a, 0, 4)).toBe(false);
    expect(isAtomicWrite(a, 0, 2)).toBe(true); // LBAs 0..1: the segment [-2, 2)
  });
});

describe('NVM-CS 3.2.4 Read with FUA', () => {
  test('NVM-CS 3.2.4 a FUA read makes the whole atomic write it touches durable together, never one block of it', () => {
    const dev = createDevice({ profile: 'atomic-16k', seed: 1, nsze: 32 });
    dev.write(4, stamp(1, 4, 4096));
    dev.read(4, 1, { fua: true });
    // Durable as a whole: no crash state other than all-new.
    expect(images(dev, 4, 8)).toEqual(new Set(['1,1,1,1']));
  });
});

describe('RFC 2.5 persistence tokens', () => {
  test('RFC 2.5 a write superseded before reaching media is retired, not confirmed; one that reached media is confirmed', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 32 });
    const confirmed: number[] = [];
    const retired: number[] = [];
    dev.onDurable((t) => confirmed.push(t));
    dev.onRetired((t) => retired.push(t));
    const a = dev.write(3, stamp(1, 1, 4096)).token!;
    const b = dev.write(3, stamp(2, 1, 4096)).token!; // supersedes a in the cache
    dev.flush(); // only b's bytes are programmed
    expect(confirmed).toEqual([b]);
    expect(retired).toEqual([a]);
    expect(dev.tokenState(a)).toBe('retired');
    expect(dev.tokenState(b)).toBe('confirmed');
    expect(dev.counters.durabilityConfirmations).toBe(1);
    expect(dev.counters.retirements).toBe(1);
    // Settled either way: a host waiting on a no longer waits.
    expect(dev.isDurable(a)).toBe(true);
    // A write that reached media before being overwritten stays confirmed.
    const c = dev.write(5, stamp(3, 1, 4096)).token!;
    dev.flush();
    dev.write(5, stamp(4, 1, 4096), { fua: true });
    expect(dev.tokenState(c)).toBe('confirmed');
  });

  test('RFC 2.5 a FUA write that supersedes cached data retires the cached write', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 32 });
    const a = dev.write(1, stamp(1, 1, 4096)).token!;
    dev.write(1, stamp(2, 1, 4096), { fua: true });
    expect(dev.tokenState(a)).toBe('retired');
  });
});

describe('Linux: what the kernel advertises (identify.ts LINUX_KERNELS)', () => {
  test('Linux nvme_configure_atomic_write: NABO != 0 advertises no atomic writes at all', () => {
    const l = linuxAtomicLimits(ident({}, { nabo: 2, nabsn: 3, nabspf: 3 }));
    expect(l).toMatchObject({ atomic_write_unit_min_bytes: 0, atomic_write_unit_max_bytes: 0, atomic_write_max_bytes: 0, atomic_write_boundary_bytes: 0 });
  });

  test('Linux blk_validate_atomic_write_limits: a non-power-of-two boundary, or a unit larger than the boundary, is unsupported', () => {
    // NABSPF = 5 -> 6 blocks: not a power of two.
    expect(linuxAtomicLimits(ident({ awun: 0, awupf: 0 }, { nawun: 3, nawupf: 3, nabsn: 5, nabspf: 5 })).atomic_write_unit_max_bytes).toBe(0);
    // NAWUPF 8 blocks, boundary 4 blocks (invalid per NVMe too, so bypass validation: the kernel sees the raw fields).
    expect(linuxAtomicLimits(ident({ awun: 0, awupf: 0 }, { nawun: 7, nawupf: 7, nabsn: 3, nabspf: 3 })).atomic_write_unit_max_bytes).toBe(0);
  });

  test('Linux mainline ignores the controller AWUPF ("AWUPF ignored, only NAWUPF accepted"); v6.11 used it', () => {
    const id = ident({ awun: 7, awupf: 7 }, { nsabp: false, nawun: 0, nawupf: 0, nabsn: 0, nabspf: 0, nabo: 0 });
    expect(linuxAtomicLimits(id, 'mainline')).toMatchObject({ atomic_write_unit_max_bytes: 4096, atomic_write_max_bytes: 4096 });
    expect(linuxAtomicLimits(id, 'v6.11')).toMatchObject({ atomic_write_unit_max_bytes: 32768, atomic_write_max_bytes: 32768 });
    expect(linuxAtomicLimits(id).kernel).toBe('mainline');
  });

  test('Linux blk_atomic_writes_update_limits: MDTS caps the atomic unit and maximum', () => {
    const id = ident({ awun: 0, awupf: 0, mdts: 1 }, { nawun: 15, nawupf: 15, nabsn: 15, nabspf: 15 }); // 64 KiB atomic, MDTS 8 KiB
    expect(linuxAtomicLimits(id)).toMatchObject({ atomic_write_unit_max_bytes: 8192, atomic_write_max_bytes: 8192 });
  });
});

describe('tornlab identify', () => {
  test('Linux: tornlab identify prints the kernel view per behaviour, with its source and the default named', () => {
    const { execFileSync } = require('child_process');
    const path = require('path');
    const out: string = execFileSync(process.execPath, [path.join(__dirname, '../../dist/src/cli/main.js'), 'identify', '--profile', 'atomic-16k'], { encoding: 'utf8' });
    expect(out).toMatch(/What Linux advertises, mainline \(default\)/);
    expect(out).toMatch(/What Linux advertises, v6\.11/);
    expect(out).toMatch(/AWUPF ignored, only NAWUPF accepted/);
    expect(out).toMatch(/f46d273449ba/);
    const json = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, '../../dist/src/cli/main.js'), 'identify', '--profile', 'consumer-tlc', '--json'], { encoding: 'utf8' }));
    expect(Object.keys(json.linuxByKernel)).toEqual(['mainline', 'v6.11']);
  });
});

describe('NVM-CS 2.1.4.1 normal atomicity (AWUN/NAWUN/NABSN) and commands in flight', () => {
  const rowOf = (data: Uint8Array, nlb: number, bs: number) =>
    Array.from({ length: nlb }, (_, i) => {
      const s = stampOf(data.subarray(i * bs, (i + 1) * bs));
      return s === 'mixed' ? 'm' : s.writeNo;
    }).join(',');

  test('Base 3.4 / NVM-CS 2.1.2 commands in flight complete out of order: a later multi-block write often completes first', () => {
    let reordered = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const dev = createDevice({ profile: 'consumer-tlc', seed, nsze: 64 });
      const a = dev.submitWrite(0, stamp(1, 4, 4096));
      const b = dev.submitWrite(8, stamp(2, 4, 4096));
      const order = dev.waitAll().map((c) => c.id);
      if (order[0] === b && order[1] === a) reordered++;
    }
    expect(reordered).toBeGreaterThan(50); // > 10% of 500
  });

  test('NVM-CS 2.1.4.1 overlapping writes in flight together beyond AWUN may end in any mix of blocks', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const dev = createDevice({ profile: 'consumer-tlc', seed, nsze: 64 });
      dev.submitWrite(0, stamp(1, 4, 4096));
      dev.submitWrite(0, stamp(2, 4, 4096));
      dev.waitAll();
      seen.add(rowOf(dev.read(0, 4), 4, 4096));
    }
    expect(seen.has('1,1,1,1')).toBe(true);
    expect(seen.has('2,2,2,2')).toBe(true);
    expect([...seen].some((r) => r.includes('1') && r.includes('2'))).toBe(true);
  });

  test('NVM-CS 2.1.4.1 overlapping writes within AWUN in flight together end whole: all of one or all of the other', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const dev = createDevice({ profile: 'atomic-16k', seed, nsze: 64 });
      dev.submitWrite(4, stamp(1, 4, 4096));
      dev.submitWrite(4, stamp(2, 4, 4096));
      dev.waitAll();
      seen.add(rowOf(dev.read(4, 4), 4, 4096));
    }
    expect(seen).toEqual(new Set(['1,1,1,1', '2,2,2,2']));
  });

  test('NVM-CS 2.1.4.1 a read may return data of a write not yet completed; within AWUN all of it or none', () => {
    let early = 0;
    const rows = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const dev = createDevice({ profile: 'atomic-16k', seed, nsze: 64 });
      const w = dev.submitWrite(4, stamp(1, 4, 4096), { fua: true }); // slow: programs before completing
      const r = dev.submitRead(4, 4);
      const done = dev.waitAll();
      const read = done.find((c) => c.id === r)!;
      const row = rowOf(read.data!, 4, 4096);
      rows.add(row);
      if (done[0].id === r && row === '1,1,1,1') early++;
      expect(done.map((c) => c.id)).toContain(w);
    }
    expect(early).toBeGreaterThan(0);
    expect(rows).toEqual(new Set(['0,0,0,0', '1,1,1,1']));
  });

  test('NVM-CS 2.1.4.2 after overlapping writes raced, a crash with everything landed shows exactly what reads showed', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const dev = createDevice({ profile: 'consumer-tlc', seed, nsze: 64 });
      dev.submitWrite(0, stamp(1, 4, 4096));
      dev.submitWrite(2, stamp(2, 4, 4096));
      dev.waitAll();
      const visible = rowOf(dev.read(0, 6), 6, 4096);
      const space = choiceSpace(dev.capture());
      const all = space.digits.map((d) => (d.kind === 'block' ? d.radix - 1 : 1));
      const img = buildCrashImage(space, all);
      const crashed = Array.from({ length: 6 }, (_, l) => (stampOf(img.store.get(l) ?? new Uint8Array(4096)) as { writeNo: number }).writeNo).join(',');
      expect(crashed).toBe(visible);
    }
  });
});

describe('NVM-CS 3.2 commands: Dataset Management, Write Zeroes; Base Set Features VWC', () => {
  test('NVM-CS 3.2.3 Dataset Management deallocate: reads return zeros; a crash before it is durable may bring old data back per block; no NAND program', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 32 });
    dev.write(4, stamp(1, 2, 4096));
    dev.flush();
    const nand = dev.counters.nandBytesProgrammed;
    dev.deallocate(4, 2);
    expect(dev.read(4, 2).every((b) => b === 0)).toBe(true);
    expect(images(dev, 4, 6)).toEqual(new Set(['1,1', '0,1', '1,0', '0,0']));
    dev.flush();
    expect(images(dev, 4, 6)).toEqual(new Set(['0,0']));
    expect(dev.counters.nandBytesProgrammed).toBe(nand);
    expect(dev.counters.deallocates).toBe(1);
    expect(dev.counters.hostWriteBytes).toBe(8192);
  });

  test('NVM-CS 3.2.8 Write Zeroes: reads return zeros and the zeros are never programmed into the NAND', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 32 });
    dev.write(0, stamp(1, 8, 4096));
    dev.flush();
    const nand = dev.counters.nandBytesProgrammed;
    dev.writeZeroes(0, 8);
    dev.flush();
    expect(dev.read(0, 8).every((b) => b === 0)).toBe(true);
    expect(dev.counters.nandBytesProgrammed).toBe(nand);
    expect(dev.counters.destagedBytes).toBe(8 * 4096);
  });

  test('Base 5.27.1.4 Set Features Volatile Write Cache at run time: off makes new writes durable at completion; cached data still needs a Flush', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 32 });
    dev.write(1, stamp(1, 1, 4096));
    dev.setVolatileWriteCache(false);
    expect(dev.volatileWriteCacheEnabled).toBe(false);
    const t = dev.write(2, stamp(2, 1, 4096)).token!;
    expect(dev.tokenState(t)).toBe('confirmed');
    // Block 1 is still only cached; block 2 is durable.
    expect(images(dev, 1, 3)).toEqual(new Set(['0,2', '1,2']));
    dev.flush();
    expect(images(dev, 1, 3)).toEqual(new Set(['1,2']));
    dev.setVolatileWriteCache(true);
    dev.write(3, stamp(3, 1, 4096));
    expect(images(dev, 3, 4)).toEqual(new Set(['0', '3']));
    const plp = createDevice({ profile: 'enterprise-plp', seed: 1, nsze: 32 });
    expect(() => plp.setVolatileWriteCache(true)).toThrow(/no volatile write cache/);
  });
});
