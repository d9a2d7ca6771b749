/**
 * Unit tests of the mini page engine: page format, B+tree against a Map
 * model (with evictions), WAL torn-tail detection, bad input.
 */
import { createDevice } from '../../src/device/device';
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';
import { MiniPageEngine, checkTree, requiredBlocks } from '../../engines/minipage';
import { decodePage, encodePage, checkPageImage, newPage, PageType, Page, META_PAGE_NO } from '../../engines/minipage/page';
import { readRange, pageLba } from '../../engines/minipage/protections';
import { readWal } from '../../engines/minipage/wal';
import { smallDevice } from './helpers';

describe('page format', () => {
  test('encode/decode round trip with CRC; a flipped byte fails the checksum', () => {
    const p = newPage(7, PageType.Leaf);
    p.lsn = 2 ** 40 + 5;
    p.right = 9;
    p.keys = [Buffer.from('a'), Buffer.from('bb')];
    p.vals = [Buffer.from('1'), Buffer.alloc(300, 7)];
    const img = encodePage(p, 8192);
    expect(checkPageImage(img, 7)).toBe('ok');
    expect(checkPageImage(img, 8)).toBe('wrong-page-no');
    const q = decodePage(img);
    expect(q.lsn).toBe(2 ** 40 + 5);
    expect(q.right).toBe(9);
    expect(q.keys.map((k) => k.toString())).toEqual(['a', 'bb']);
    expect(q.vals[1].equals(Buffer.alloc(300, 7))).toBe(true);
    const torn = Buffer.from(img);
    torn[5000] ^= 1;
    expect(checkPageImage(torn, 7)).toBe('bad-crc');
    expect(checkPageImage(Buffer.alloc(8192), 7)).toBe('zero');
  });
});

describe('B+tree over a small buffer pool', () => {
  test.each([4096, 8192, 16384])('random puts/deletes match a Map model, %i-byte pages, with evictions and splits', (pageSize) => {
    const dev = smallDevice('consumer-tlc', { pageSize, maxPages: 512 });
    const eng = MiniPageEngine.create(dev, { mode: 'fpw', pageSize, frames: 16, maxPages: 512 });
    const model = new Map<string, string>();
    const prng = new Prng(5, 'btree-model');
    for (let t = 0; t < 300; t++) {
      const tx = eng.begin();
      for (let i = 0; i < 4; i++) {
        const k = `key-${prng.int(0, 1500).toString().padStart(5, '0')}`.repeat(prng.int(1, 3));
        if (prng.chance(0.2)) {
          eng.delete(tx, k);
          model.delete(k);
        } else {
          const v = 'v'.repeat(prng.int(1, 400)) + t;
          eng.put(tx, k, v);
          model.set(k, v);
        }
      }
      eng.commit(tx);
      if (t % 3 === 0) eng.sync();
      if (t % 50 === 49) eng.checkpoint();
    }
    eng.close();
    expect(eng.engineStats().evictions).toBeGreaterThan(0);
    const got = eng.scan().map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]);
    expect(got).toEqual([...model].sort((a, b) => Buffer.compare(Buffer.from(a[0], 'latin1'), Buffer.from(b[0], 'latin1'))));
    // Reopen (recovery on a clean image) and check the structure on the media.
    const eng2 = MiniPageEngine.open(dev, {});
    const meta = decodePage(readRange(dev, pageLba(eng2.layout, META_PAGE_NO), 1, eng2.layout.pageBlocks)[0]!);
    const pages: Page[] = [meta];
    const imgs = readRange(dev, pageLba(eng2.layout, 1), meta.pageCount - 1, eng2.layout.pageBlocks);
    imgs.forEach((img, i) => {
      expect(checkPageImage(img!, i + 1)).toBe('ok');
      pages.push(decodePage(img!));
    });
    const tree = checkTree(pages, meta.root);
    expect('error' in tree ? tree.error : '').toBe('');
    expect(pages[meta.root].level).toBeGreaterThanOrEqual(1);
    expect(eng2.scan().length).toBe(model.size);
  });
});

describe('WAL', () => {
  test('a torn last WAL block ends the log cleanly; records past it from the old epoch are never replayed', () => {
    const dev = smallDevice();
    const eng = MiniPageEngine.create(dev, { mode: 'none', pageSize: 8192 });
    for (let i = 0; i < 5; i++) {
      const tx = eng.begin();
      eng.put(tx, `a${i}`, 'x'.repeat(1500));
      eng.commitSync(tx);
    }
    const goodEnd = eng.wal.durableLsn;
    // Two more txns spanning several WAL blocks, then tear the block holding goodEnd's successor.
    for (let i = 0; i < 4; i++) {
      const tx = eng.begin();
      eng.put(tx, `b${i}`, 'y'.repeat(1500));
      eng.commitSync(tx);
    }
    const bs = dev.blockSize;
    const layout = eng.layout;
    const tornBlock = layout.walStart + (Math.floor(goodEnd / bs) % layout.walBlocks) + 1;
    const raw = Buffer.from(dev.read(tornBlock, 1));
    raw.fill(0xee, 1000, 2000); // torn inside: part new, part garbage
    dev.write(tornBlock, raw, { tag: 'other' });
    const log = readWal(dev, layout, eng.redoLsn, eng.epoch, layout.pageSize + 256);
    expect(log.stop).toMatch(/CRC|length|stale|epoch/);
    expect(log.endLsn).toBeGreaterThanOrEqual(goodEnd);
    expect(log.endLsn).toBeLessThan(eng.wal.durableLsn);
    // Recover: b0 may or may not survive (its record may precede the tear), b3 must be gone.
    const eng2 = MiniPageEngine.open(dev, {});
    expect(eng2.get('a4')?.length).toBe(1500);
    expect(eng2.get('b3')).toBeUndefined();
    // New epoch: write less than was cut off, crash-free reopen must not resurrect old records.
    const tx = eng2.begin();
    eng2.put(tx, 'c0', 'z');
    eng2.commitSync(tx);
    const eng3 = MiniPageEngine.open(dev, {});
    expect(eng3.get('c0')?.toString()).toBe('z');
    expect(eng3.get('b3')).toBeUndefined();
    expect(eng3.epoch).toBe(eng.epoch + 2);
  });
});

describe('bad input: clear errors, nothing written', () => {
  test('invalid page size', () => {
    const dev = smallDevice();
    expect(() => MiniPageEngine.create(dev, { mode: 'none', pageSize: 12288 })).toThrow(BadInputError);
    expect(() => MiniPageEngine.create(dev, { mode: 'none', pageSize: 12288 })).toThrow(/page size 12288.*4096, 8192 or 16384/);
    expect(dev.counters.writes).toBe(0);
  });

  test('unknown mode', () => {
    const dev = smallDevice();
    expect(() => MiniPageEngine.create(dev, { mode: 'magic' as never, pageSize: 8192 })).toThrow(/unknown protection mode "magic"/);
    expect(dev.counters.writes).toBe(0);
  });

  test('device too small', () => {
    const need = requiredBlocks({ pageSize: 8192 }, 4096);
    const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: need - 1 });
    expect(() => MiniPageEngine.create(dev, { mode: 'none', pageSize: 8192 })).toThrow(/device too small.*needs \d+ blocks/);
    expect(dev.counters.writes).toBe(0);
  });

  test('key or value larger than fits a page', () => {
    const dev = smallDevice();
    const eng = MiniPageEngine.create(dev, { mode: 'none', pageSize: 4096 });
    const before = dev.counters.writes;
    const tx = eng.begin();
    expect(() => eng.put(tx, 'k'.repeat(600), 'v')).toThrow(/key of 600 bytes: keys must be 1\.\.\d+ bytes with 4096-byte pages/);
    expect(() => eng.put(tx, 'k', 'v'.repeat(5000))).toThrow(/does not fit a 4096-byte page/);
    expect(() => eng.put(tx, '', 'v')).toThrow(BadInputError);
    eng.put(tx, 'k', 'v');
    eng.commitSync(tx);
    expect(eng.get('k')?.toString()).toBe('v');
    expect(dev.counters.writes).toBeGreaterThan(before);
  });

  test('opened with a different page size than created', () => {
    const dev = smallDevice();
    MiniPageEngine.create(dev, { mode: 'none', pageSize: 8192 });
    const before = dev.counters.writes;
    expect(() => MiniPageEngine.open(dev, { pageSize: 4096 })).toThrow(/created with 8192-byte pages, opened with pageSize 4096/);
    expect(dev.counters.writes).toBe(before);
  });

  test('atomic refuses consumer-tlc with page size, alignment, atomic unit and boundary; force starts it', () => {
    const dev = smallDevice('consumer-tlc');
    let msg = '';
    try {
      MiniPageEngine.create(dev, { mode: 'atomic', pageSize: 8192 });
    } catch (e) {
      expect(e).toBeInstanceOf(BadInputError);
      msg = (e as Error).message;
    }
    console.log(`atomic refusal: ${msg}`);
    expect(msg).toMatch(/page size 8192 B/);
    expect(msg).toMatch(/aligned to \d+ B/);
    expect(msg).toMatch(/atomic unit is 1 block\(s\) = 4096 B/);
    expect(msg).toMatch(/atomic boundary none/);
    expect(dev.counters.writes).toBe(0);
    expect(() => MiniPageEngine.create(dev, { mode: 'atomic', pageSize: 8192, force: true })).not.toThrow();
    // atomic-16k covers 8 KiB and 16 KiB pages at their alignment.
    for (const pageSize of [8192, 16384]) expect(() => MiniPageEngine.create(smallDevice('atomic-16k'), { mode: 'atomic', pageSize })).not.toThrow();
  });
});

describe('queue depth', () => {
  test('checkpoints and group commits keep several writes in flight', () => {
    const dev = smallDevice();
    let maxInflight = 0;
    dev.onEvent((e) => {
      if (e.phase === 'submit') maxInflight = Math.max(maxInflight, dev.inflightCount);
    });
    const eng = MiniPageEngine.create(dev, { mode: 'none', pageSize: 8192 });
    for (let t = 0; t < 100; t++) {
      const tx = eng.begin();
      eng.put(tx, `k${(t * 7919) % 1000}`, 'v'.repeat(300));
      eng.commit(tx);
      if (t % 4 === 3) eng.sync();
    }
    eng.sync();
    eng.checkpoint();
    expect(maxInflight).toBeGreaterThanOrEqual(4);
  });
});
