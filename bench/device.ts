/**
 * Device benchmark (issue 2). Not a test: prints figures, as ratios against a
 * baseline measured in the same run.
 *   npm run bench:device   (= npm run build && node --expose-gc dist/bench/device.js)
 * 1. 4 KiB write commands per second through the device API (submit+complete,
 *    volatile cache, background destage) versus a plain Buffer copy loop.
 * 2. Crash-image build time versus the number of differing blocks, on a small
 *    and on a 1 TiB namespace (it grows with the difference, not the namespace).
 * 3. Memory: a 1 TiB namespace with 64 MiB written.
 */
import { createDevice } from '../src/device/device';
import { buildCrashImage, choiceAt, choiceSpace } from '../src/device/power-loss';

const BS = 4096;
/** Writes cycle over 64 MiB of LBAs, a database-sized working set (memory stays bounded). */
const WORKING_SET = 16384;

function timeIt(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function writeRate(n: number): { devPerSec: number; copyPerSec: number } {
  const src = Buffer.alloc(BS, 7);
  const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 2 ** 28 });
  let lba = 0;
  const tDev = timeIt(() => {
    for (let i = 0; i < n; i++) {
      dev.write(lba, src);
      lba = (lba + 1) % WORKING_SET;
      if ((i & 4095) === 4095) dev.flush();
    }
  });
  // Baseline: the same bytes copied into freshly allocated buffers kept in a table of the same working set.
  const sink: Uint8Array[] = new Array(WORKING_SET);
  const tCopy = timeIt(() => {
    for (let i = 0; i < n; i++) {
      const b = new Uint8Array(BS);
      b.set(src);
      sink[i % WORKING_SET] = b;
    }
  });
  return { devPerSec: n / tDev, copyPerSec: n / tCopy };
}

function imageBuild(nsze: number, differing: number): number {
  const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze });
  const data = Buffer.alloc(BS, 1);
  // A durable base of 4096 blocks, then `differing` cached blocks that the choice lets land.
  for (let i = 0; i < 4096; i++) dev.write(i * 7 % nsze, data);
  dev.flush();
  for (let i = 0; i < differing; i++) dev.write((i * 13 + 5) % nsze, data);
  const point = dev.capture();
  const space = choiceSpace(point);
  const all = choiceAt(space, space.count - 1n);
  const times: number[] = [];
  for (let r = 0; r < 21; r++) times.push(timeIt(() => buildCrashImage(space, all)));
  times.sort((a, b) => a - b);
  return times[10] * 1e6; // median
}

function memory1TiB(): { heapMiB: number; rssMiB: number; blocks: number } {
  global.gc?.();
  const before = process.memoryUsage();
  const dev = createDevice({ profile: 'consumer-tlc', seed: 1, nsze: 2 ** 28 });
  const chunk = Buffer.alloc(256 * 1024, 3);
  const total = 64 * 1024 * 1024;
  for (let off = 0, i = 0; off < total; off += chunk.length, i++) {
    dev.write((i * 9973 * 64) % (2 ** 28 - 64), chunk);
    if (i % 16 === 15) dev.flush();
  }
  dev.flush();
  global.gc?.();
  const after = process.memoryUsage();
  return {
    heapMiB: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 2 ** 20,
    rssMiB: (after.rss - before.rss) / 2 ** 20,
    blocks: dev.media.size,
  };
}

function main(): void {
  if (!global.gc) throw new Error('run with node --expose-gc');
  const m = memory1TiB();
  console.log(`1 TiB namespace, 64 MiB written (${m.blocks} blocks): heap+buffers ${m.heapMiB.toFixed(0)} MiB, RSS growth ${m.rssMiB.toFixed(0)} MiB\n`);
  writeRate(20000); // warm-up
  const w = writeRate(300000);
  console.log(`4 KiB writes/s through the device API : ${Math.round(w.devPerSec).toLocaleString('en-US')}`);
  console.log(`4 KiB Buffer copies/s (baseline)      : ${Math.round(w.copyPerSec).toLocaleString('en-US')}`);
  console.log(`ratio device / copy                   : ${(w.devPerSec / w.copyPerSec).toFixed(3)}`);
  console.log(`device write bandwidth                : ${((w.devPerSec * BS) / 2 ** 20).toFixed(0)} MiB/s`);
  console.log('\ncrash-image build time (us) by differing blocks:');
  console.log('differing | 1 GiB namespace | 1 TiB namespace');
  for (const d of [16, 256, 4096, 16384]) {
    console.log(`${String(d).padStart(9)} | ${imageBuild(2 ** 18, d).toFixed(0).padStart(15)} | ${imageBuild(2 ** 28, d).toFixed(0).padStart(15)}`);
  }
}

main();
