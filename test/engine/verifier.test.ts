/**
 * The verifier can fail: each verdict comes out where it should.
 */
import { MiniPageEngine, checkTree, judgeContent, verifyCrashState, Oracle, runWorkload } from '../../engines/minipage';
import { PageType, newPage, Page, peekHeader } from '../../engines/minipage/page';
import { pageLba, readRange } from '../../engines/minipage/protections';
import { createDevice } from '../../src/device/device';
import { smallDevice } from './helpers';

function oracleOf(txns: [string, string | null][][], acked: number): Oracle {
  return {
    engine: { mode: 'none', pageSize: 8192 },
    workload: { name: 'kv-uniform', seed: 1, txns: txns.length, keys: 10, accounts: 2, maxOps: 4, valueBytes: [8, 8] },
    txns: txns.map((writes, index) => ({ index, writes, commitSeq: index * 10, ackSeq: index < acked ? index * 10 + 5 : -1 })),
    createdSeq: 0,
  };
}

describe('judgeContent', () => {
  const o = oracleOf(
    [
      [['a', '1'], ['b', '1']],
      [['a', '2'], ['b', '2']],
      [['c', '3'], ['a', null]],
    ],
    2,
  );
  const st = (e: Record<string, string>) => new Map(Object.entries(e));
  test('ok: exactly a prefix that holds every acknowledged txn', () => {
    expect(judgeContent(st({ a: '2', b: '2' }), o, 1000).verdict).toBe('ok');
    expect(judgeContent(st({ b: '2', c: '3' }), o, 1000).verdict).toBe('ok');
    // At seq 12 only txn 0 was acknowledged (ackSeq 5): state after txn 0 is fine.
    expect(judgeContent(st({ a: '1', b: '1' }), o, 12).verdict).toBe('ok');
  });
  test('lost-commit: an acknowledged txn is missing', () => {
    const r = judgeContent(st({ a: '1', b: '1' }), o, 1000);
    expect(r.verdict).toBe('lost-commit');
    expect(r.txn).toBe(1);
  });
  test('atomicity-violation: half of a txn', () => {
    const r = judgeContent(st({ a: '2', b: '2', c: '3' }), o, 1000);
    expect(r.verdict).toBe('atomicity-violation');
    expect(r.txn).toBe(2);
  });
  test('silent-corruption: a value nobody wrote', () => {
    const r = judgeContent(st({ a: '2', b: 'zz' }), o, 1000);
    expect(r.verdict).toBe('silent-corruption');
    expect(r.key).toBe('b');
  });
});

describe('checkTree', () => {
  function leaf(no: number, keys: string[], right: number): Page {
    const p = newPage(no, PageType.Leaf);
    p.keys = keys.map((k) => Buffer.from(k));
    p.vals = keys.map(() => Buffer.from('v'));
    p.right = right;
    return p;
  }
  function tree(l1Right: number, l2Keys = ['m', 'n']): Page[] {
    const meta = newPage(0, PageType.Meta);
    const root = newPage(1, PageType.Internal, 1);
    root.keys = [Buffer.from('m')];
    root.children = [2, 3];
    return [meta, root, leaf(2, ['a', 'b'], l1Right), leaf(3, l2Keys, 0)];
  }
  test('a good tree passes', () => {
    const r = checkTree(tree(3), 1);
    expect('pairs' in r && r.pairs.length).toBe(4);
  });
  test('a broken sibling link, a key outside its range, an unreachable page are caught', () => {
    expect(checkTree(tree(0), 1)).toMatchObject({ error: expect.stringMatching(/right sibling 0 on level 0, expected 3/) });
    expect(checkTree(tree(3, ['a', 'n']), 1)).toMatchObject({ error: expect.stringMatching(/outside the range/) });
    expect(checkTree([...tree(3), leaf(4, ['z'], 0)], 1)).toMatchObject({ error: expect.stringMatching(/page 4: allocated but not reachable/) });
  });
});

describe('doublewrite: a page corrupt in place and in the doublewrite area', () => {
  test('recovery stops with a clear error -> torn-page-detected', () => {
    const dev = smallDevice();
    const eng = MiniPageEngine.create(dev, { mode: 'doublewrite', pageSize: 8192 });
    for (let t = 0; t < 40; t++) {
      const tx = eng.begin();
      eng.put(tx, `k${t}`, 'v'.repeat(500));
      eng.commitSync(tx);
    }
    eng.checkpoint();
    const layout = eng.layout;
    const slots = readRange(dev, layout.dwStart, layout.dwSlots, layout.pageBlocks);
    const slot = slots.findIndex((img) => img && peekHeader(img).pageNo >= 1 && peekHeader(img).lsn > 0);
    const pageNo = peekHeader(slots[slot]!).pageNo;
    const garbage = (img: Buffer) => {
      const b = Buffer.from(img);
      b.fill(0x5a, 5000, 6000);
      return b;
    };
    dev.write(layout.dwStart + slot * layout.pageBlocks, garbage(slots[slot]!), { tag: 'other' });
    dev.write(pageLba(layout, pageNo), garbage(readRange(dev, pageLba(layout, pageNo), 1, layout.pageBlocks)[0]!), { tag: 'other' });
    dev.flush();
    expect(() => MiniPageEngine.open(dev, {})).toThrow(new RegExp(`page ${pageNo} fails its checksum in the data area .* no valid doublewrite copy`));
    const r = verifyCrashState(dev, { ...oracleOf([], 0), engine: { mode: 'doublewrite', pageSize: 8192 } }, 0);
    expect(r.verdict).toBe('torn-page-detected');
    expect(r.page).toBe(pageNo);
  });

  test('only the in-place copy corrupt: restored from the doublewrite copy', () => {
    const dev = smallDevice();
    const eng = MiniPageEngine.create(dev, { mode: 'doublewrite', pageSize: 8192 });
    for (let t = 0; t < 40; t++) {
      const tx = eng.begin();
      eng.put(tx, `k${t}`, 'v'.repeat(500));
      eng.commitSync(tx);
    }
    eng.checkpoint();
    const layout = eng.layout;
    const img = readRange(dev, pageLba(layout, 2), 1, layout.pageBlocks)[0]!;
    dev.write(pageLba(layout, 2), Buffer.concat([img.subarray(0, 4096), Buffer.alloc(4096, 1)]), { tag: 'other' });
    dev.flush();
    const eng2 = MiniPageEngine.open(dev, {});
    expect(eng2.recovery!.repairedPages).toContain(2);
    expect(eng2.scan().length).toBe(40);
  });
});

describe('verifyCrashState on a device without a database', () => {
  test('recovery-failed with the reason', () => {
    const r = verifyCrashState(createDevice({ profile: 'consumer-tlc', nsze: 4096 }), oracleOf([], 0), 0);
    expect(r.verdict).toBe('recovery-failed');
    expect(r.detail).toMatch(/no control block/);
  });
  test('an image with a page image written at the wrong place is caught', () => {
    const run = runWorkload({ profile: 'consumer-tlc', seed: 1, engine: { mode: 'fpw', pageSize: 8192 }, workload: { name: 'kv-uniform', seed: 1, txns: 60 }, capture: 'none' });
    run.engine.close();
    const dev = run.device;
    const layout = run.engine.layout;
    const p3 = readRange(dev, pageLba(layout, 3), 1, layout.pageBlocks)[0]!;
    dev.write(pageLba(layout, 2), p3, { tag: 'other' }); // a misdirected page write: valid CRC, wrong page number
    dev.flush();
    const r = verifyCrashState(dev, run.oracle, dev.seq);
    expect(r.verdict).toBe('torn-page-detected');
    expect(r.detail).toMatch(/page 2.*wrong-page-no/);
  });
});
