/**
 * Byte accounting, same workload and seed for every mode (all on atomic-16k,
 * so that atomic runs unforced; the bytes do not depend on the profile):
 *  - doublewrite writes about twice the page bytes of none (page + doublewrite tags);
 *  - atomic writes about the same as none;
 *  - fpw writes more WAL (+fpi) bytes than none.
 */
import { runWorkload, RunConfig, ByteAccounting } from '../../engines/minipage';

function run(mode: 'none' | 'doublewrite' | 'fpw' | 'atomic', workload: RunConfig['workload'], profile = 'atomic-16k'): ByteAccounting {
  return runWorkload({ profile, seed: 9, engine: { mode, pageSize: 8192, frames: 32 }, workload, checkpointEvery: 40, capture: 'none' }).bytes;
}

describe.each([
  { name: 'kv-uniform', seed: 1, txns: 400 },
  { name: 'insert-seq', seed: 2, txns: 400 },
] as RunConfig['workload'][])('byte accounting, $name', (workload) => {
  const b = {
    none: run('none', workload),
    doublewrite: run('doublewrite', workload),
    fpw: run('fpw', workload),
    atomic: run('atomic', workload),
  };

  test('factors', () => {
    const dwFactor = b.doublewrite.pageBytes / b.none.pageBytes;
    const atomicFactor = b.atomic.pageBytes / b.none.pageBytes;
    const fpwWalFactor = b.fpw.walBytes / b.none.walBytes;
    const lines = Object.entries(b).map(
      ([mode, x]) =>
        `${mode.padEnd(11)} page ${x.byTag.page.bytes} dw ${x.byTag.doublewrite.bytes} wal ${x.byTag.wal.bytes} fpi ${x.byTag.fpi.bytes} meta ${x.byTag.meta.bytes} ` +
        `host ${x.hostWriteBytes} logical ${x.logicalBytes} WA ${x.writeAmplification.toFixed(1)} flushes ${x.flushes} commit p50/p99 ${x.commitLatencyUs.p50.toFixed(0)}/${x.commitLatencyUs.p99.toFixed(0)} us`,
    );
    console.log(
      `${workload.name}, 8 KiB pages, same seed:\n${lines.join('\n')}\n` +
        `doublewrite/none page(+dw) bytes = ${dwFactor.toFixed(2)}x; atomic/none = ${atomicFactor.toFixed(2)}x; fpw/none wal(+fpi) bytes = ${fpwWalFactor.toFixed(2)}x`,
    );
    expect(dwFactor).toBeGreaterThan(1.8);
    expect(dwFactor).toBeLessThan(2.05);
    expect(atomicFactor).toBeGreaterThan(0.95);
    expect(atomicFactor).toBeLessThan(1.05);
    expect(fpwWalFactor).toBeGreaterThan(1.1);
    expect(b.fpw.byTag.fpi.bytes).toBeGreaterThan(0);
    expect(b.none.byTag.fpi.bytes).toBe(0);
    expect(b.none.byTag.doublewrite.bytes).toBe(0);
    // Same logical work in every mode.
    for (const x of Object.values(b)) {
      expect(x.logicalBytes).toBe(b.none.logicalBytes);
      expect(x.commits).toBe(b.none.commits);
    }
  });

  test('bytes do not depend on the device profile (only timing does)', () => {
    const tlc = run('none', workload, 'consumer-tlc');
    expect(tlc.byTag).toEqual(b.none.byTag);
    expect(tlc.commitLatencyUs.p50).toBeGreaterThan(b.none.commitLatencyUs.p50);
  });
});
