import { execFileSync, spawnSync } from 'child_process';
import path from 'path';
import { createDevice, DeviceError } from '../../src/device/device';
import { linuxAtomicLimits, validateIdentify, isPowerFailAtomic, powerFailAtomicity } from '../../src/device/identify';
import { getProfile, parseFaults, PROFILES } from '../../src/device/profiles';
import { BlockStore } from '../../src/device/store';
import { choiceSpace } from '../../src/device/power-loss';
import { BadInputError } from '../../src/util/errors';
import { stamp, stampOf } from './helpers';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');

describe('identify', () => {
  test('every built-in profile passes the spec constraints', () => {
    for (const name of Object.keys(PROFILES)) expect(() => getProfile(name)).not.toThrow();
  });

  test.each([
    ['awupf', (p: any) => (p.identify.controller.awupf = 5), /AWUPF <= AWUN/],
    ['nawupf', (p: any) => (p.identify.namespace.nawupf = 7), /NAWUPF <= NAWUN/],
    ['nabspf', (p: any) => (p.identify.namespace.nabspf = 1), /NABSPF >= NAWUPF/],
    ['nabo', (p: any) => (p.identify.namespace.nabo = 9), /NABO <= NABSN/],
    ['lbaf', (p: any) => (p.identify.namespace.lbaDataSize = 1024), /512 or 4096/],
  ])('a profile violating a rule is refused, naming the field (%s)', (field, mutate, rule) => {
    const p = getProfile('atomic-16k');
    mutate(p);
    expect(() => validateIdentify(p.identify)).toThrow(BadInputError);
    expect(() => validateIdentify(p.identify)).toThrow(new RegExp(`${field}=.*${rule.source}`));
  });

  test('namespace fields must be clear without NSABP', () => {
    const p = getProfile('consumer-tlc');
    p.identify.namespace.nawupf = 3;
    expect(() => validateIdentify(p.identify)).toThrow(/nawupf=3 .*NSABP/);
  });

  test('Linux advertises NAWUPF/NABSPF only with NSABP, and nothing when NABO != 0', () => {
    expect(linuxAtomicLimits(getProfile('atomic-16k').identify)).toMatchObject({ atomic_write_unit_max_bytes: 16384, atomic_write_boundary_bytes: 16384 });
    expect(linuxAtomicLimits(getProfile('azure-atomic-16k').identify)).toMatchObject({ atomic_write_unit_max_bytes: 16384, logical_block_size: 512 });
    expect(linuxAtomicLimits(getProfile('consumer-tlc').identify)).toMatchObject({ atomic_write_unit_max_bytes: 4096 });
    const off = getProfile('atomic-16k');
    off.identify.namespace.nabo = 2;
    expect(linuxAtomicLimits(off.identify)).toMatchObject({ atomic_write_unit_max_bytes: 0 });
    // ... while the device itself still honours the offset boundary.
    off.identify.controller.awun = off.identify.controller.awupf = 0;
    const a = powerFailAtomicity(off.identify);
    expect(isPowerFailAtomic(a, 2, 4)).toBe(true);
    expect(isPowerFailAtomic(a, 0, 4)).toBe(false);
  });
});

describe('commands', () => {
  test('a completed write is visible to reads; read-after-write through the cache', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 64 });
    dev.write(3, stamp(1, 2, 4096));
    expect(stampOf(dev.read(4, 1))).toEqual({ writeNo: 1, index: 2 });
    expect(stampOf(dev.read(5, 1))).toEqual({ writeNo: 0, index: 0 });
  });

  test('commands in flight complete out of submission order (no ordering between them)', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 2, nsze: 4096 });
    const big = dev.submitWrite(0, new Uint8Array(4096 * 64));
    const small = dev.submitRead(100, 1);
    const order = dev.waitAll().map((c) => c.id);
    expect(order).toEqual([small, big]);
  });

  test('flush makes earlier completed writes durable; a write completed after the flush was submitted is not covered', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 3, nsze: 64 });
    dev.write(1, stamp(1, 1, 4096));
    const f = dev.submitFlush();
    const late = dev.submitWrite(2, stamp(2, 1, 4096));
    dev.wait(late);
    dev.wait(f);
    const p = dev.capture();
    expect(p.pending.map((w) => w.lba)).toEqual([2]);
  });

  test('FUA read forces the LBAs it reads to media', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 3, nsze: 64 });
    dev.write(1, stamp(1, 1, 4096));
    dev.write(2, stamp(2, 1, 4096));
    dev.read(1, 1, { fua: true });
    expect(dev.capture().pending.map((w) => w.lba)).toEqual([2]);
  });

  test('write zeroes, counters by tag, flush and FUA counts', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 3, nsze: 64 });
    dev.write(0, stamp(1, 2, 4096), { tag: 'page' });
    dev.write(2, stamp(2, 1, 4096), { tag: 'wal', fua: true });
    dev.writeZeroes(0, 1, { tag: 'meta' });
    dev.flush();
    expect(dev.read(0, 1).every((b) => b === 0)).toBe(true);
    expect(dev.counters.byTag.page).toEqual({ commands: 1, bytes: 8192 });
    expect(dev.counters.byTag.wal).toEqual({ commands: 1, bytes: 4096 });
    expect(dev.counters.byTag.meta).toEqual({ commands: 1, bytes: 4096 });
    expect(dev.counters.flushes).toBe(1);
    expect(dev.counters.fuaWrites).toBe(1);
    expect(dev.counters.hostWriteBytes).toBe(16384);
    // Programmed: the FUA block and page block 1; block 0 ends zeroed, which unmaps instead of programming.
    expect(dev.counters.nandBytesProgrammed).toBe(4096 * 2);
    expect(dev.counters.simTimeUs).toBeGreaterThan(1500); // the consumer flush costs ~1.5 ms
  });

  test('background destage makes cached writes durable in simulated time', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 3, nsze: 64 });
    const t = dev.write(1, stamp(1, 1, 4096)).token!;
    expect(dev.isDurable(t)).toBe(false);
    dev.advance(10_000);
    expect(dev.isDurable(t)).toBe(true);
    expect(dev.capture().pending).toHaveLength(0);
  });
});

describe('asynchronous durability (persistence tokens, intents, power window)', () => {
  test('every write returns a token; confirmations arrive by destage, Flush, or at completion for FUA/CRITICAL', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 4, nsze: 64 });
    const confirmed: number[] = [];
    dev.onDurable((t) => confirmed.push(t));
    const a = dev.write(1, stamp(1, 1, 4096)).token!;
    const b = dev.write(2, stamp(2, 1, 4096), { fua: true }).token!;
    const c = dev.write(3, stamp(3, 1, 4096), { intent: 'critical' }).token!;
    expect(confirmed).toEqual([b, c]);
    const waited = dev.waitDurable(a);
    expect(waited).toBeGreaterThan(0);
    expect(confirmed).toEqual([b, c, a]);
    const d = dev.write(4, stamp(4, 1, 4096)).token!;
    dev.flush();
    expect(dev.isDurable(d)).toBe(true);
    expect(dev.counters.criticalWrites).toBe(1);
  });

  test('EPHEMERAL writes destage after STANDARD ones and later', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 4, nsze: 64 });
    const e = dev.write(1, stamp(1, 1, 4096), { intent: 'ephemeral' }).token!;
    const s = dev.write(2, stamp(2, 1, 4096)).token!;
    dev.advance(5_000);
    expect(dev.isDurable(s)).toBe(true);
    expect(dev.isDurable(e)).toBe(false);
    dev.advance(60_000);
    expect(dev.isDurable(e)).toBe(true);
  });

  test('an advertised power window destages what fits at NAND bandwidth; revoked or not honoured, nothing', () => {
    const fill = (dev: ReturnType<typeof createDevice>) => {
      for (let i = 0; i < 32; i++) dev.write(i, stamp(i + 1, 1, 4096));
    };
    const none = createDevice({ profile: 'consumer-tlc', seed: 4, nsze: 64 });
    fill(none);
    expect(none.capture().pending).toHaveLength(32);
    const some = createDevice({ profile: 'consumer-tlc', seed: 4, nsze: 64 });
    fill(some);
    some.setPowerWindow(0.2); // 200 us x 190 B/us = 38,000 bytes: 9 blocks
    const p = some.powerCut();
    expect(p.pending).toHaveLength(32 - 9);
    expect(p.windowDestagedBytes).toBe(9 * 4096);
    expect(choiceSpace(p).count).toBe(2n ** 23n);
    const revoked = createDevice({ profile: 'consumer-tlc', seed: 4, nsze: 64 });
    fill(revoked);
    revoked.setPowerWindow(10);
    revoked.setPowerWindow(0);
    expect(revoked.capture().pending).toHaveLength(32);
    const broken = createDevice({ profile: 'consumer-tlc', faults: parseFaults(['power-window-not-honoured']), seed: 4, nsze: 64 });
    fill(broken);
    broken.setPowerWindow(10);
    expect(broken.capture().pending).toHaveLength(32);
  });
});

describe('storage', () => {
  test('sparse: a 1 TiB namespace with a few blocks written holds only those', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 2 ** 28 });
    dev.write(2 ** 28 - 1, stamp(1, 1, 4096));
    dev.write(12345678, stamp(2, 1, 4096));
    dev.flush();
    expect(dev.media.size).toBe(2);
  });

  test('snapshots are copy-on-write: writes on either side do not show on the other', () => {
    const s = new BlockStore(4096);
    s.set(1, stamp(1, 1, 4096));
    const snap = s.snapshot();
    s.set(1, stamp(2, 1, 4096));
    snap.set(2, stamp(3, 1, 4096));
    expect(stampOf(snap.get(1)!)).toEqual({ writeNo: 1, index: 1 });
    expect(stampOf(s.get(1)!)).toEqual({ writeNo: 2, index: 1 });
    expect(s.get(2)).toBeUndefined();
  });

  test('a device powered on from an image shares its blocks and does not change it', () => {
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 64 });
    dev.write(1, stamp(1, 1, 4096));
    dev.flush();
    const base = dev.media.snapshot();
    const copy = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 64, image: { store: base } });
    copy.write(1, stamp(2, 1, 4096), { fua: true });
    expect(stampOf(base.get(1)!)).toEqual({ writeNo: 1, index: 1 });
  });
});

describe('bad input', () => {
  const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 64 });
  test.each([
    ['out-of-range LBA', () => dev.write(64, new Uint8Array(4096)), /exceeds the namespace/],
    ['negative LBA', () => dev.read(-1, 1), /not a non-negative integer/],
    ['data not a multiple of the block size', () => dev.write(0, new Uint8Array(1000)), /not a positive multiple of the 4096-byte block size/],
    ['empty write', () => dev.write(0, new Uint8Array(0)), /not a positive multiple/],
  ])('%s: a typed DeviceError with a clear message', (_name, f, msg) => {
    expect(f).toThrow(DeviceError);
    expect(f).toThrow(msg);
  });

  test('unknown profile and unknown fault are BadInputErrors', () => {
    expect(() => getProfile('ssd-9000')).toThrow(/unknown profile "ssd-9000"; known profiles: consumer-tlc/);
    expect(() => parseFaults(['flaky'])).toThrow(/unknown fault "flaky"/);
    expect(() => parseFaults(['sub-block-tear:7'])).toThrow(/512 or 8/);
  });

  test('commands after a power cut are refused', () => {
    const d = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 64 });
    d.powerCut();
    expect(() => d.write(0, new Uint8Array(4096))).toThrow(/lost power/);
  });

  test('the CLI prints the message and exits 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'identify', '--profile', 'nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown profile "nope"/);
    const ok = execFileSync(process.execPath, [CLI, 'identify', '--profile', 'azure-atomic-16k', '--json'], { encoding: 'utf8' });
    expect(JSON.parse(ok).linux.atomic_write_unit_max_bytes).toBe(16384);
    const prof = spawnSync(process.execPath, [CLI, 'profiles'], { encoding: 'utf8' });
    expect(prof.status).toBe(0);
    expect(prof.stdout).toMatch(/lying-flush/);
  });
});
