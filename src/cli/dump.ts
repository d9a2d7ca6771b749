/** Crash-image dumps for `tornlab replay --dump`: a dense image file and a hex diff of changed blocks. */
import fs from 'fs';
import { BlockStore } from '../device/store';
import { writeAtomically } from '../util/output';

/**
 * Write `nsze` blocks of `store` as a plain image file (holes for unwritten blocks),
 * under a temporary name renamed into place: never a half-written image.
 */
export function writeDenseImage(file: string, store: BlockStore, nsze: number): void {
  writeAtomically(
    file,
    (fd) => {
      fs.ftruncateSync(fd, nsze * store.blockSize);
      for (const lba of store.lbas()) fs.writeSync(fd, store.get(lba)!, 0, store.blockSize, lba * store.blockSize);
    },
    { fsync: false },
  );
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** The 16-byte rows that differ between `before` and `after`, block by block (at most `maxRows` rows per block). */
export function hexDiff(before: BlockStore, after: BlockStore, bs: number, maxRows = 16): string {
  const lbas = new Set([...before.lbas(), ...after.lbas()]);
  const zero = new Uint8Array(bs);
  const out: string[] = [];
  for (const lba of [...lbas].sort((a, b) => a - b)) {
    const a = before.get(lba) ?? zero;
    const b = after.get(lba) ?? zero;
    if (a === b) continue;
    const rows: string[] = [];
    let differing = 0;
    for (let o = 0; o < bs; o += 16) {
      const ra = a.subarray(o, o + 16);
      const rb = b.subarray(o, o + 16);
      if (ra.every((x, i) => x === rb[i])) continue;
      differing++;
      if (rows.length < maxRows) rows.push(`  ${o.toString(16).padStart(4, '0')}  - ${hex(ra)}\n        + ${hex(rb)}`);
    }
    if (differing === 0) continue;
    out.push(`LBA ${lba} (byte ${lba * bs}): ${differing} of ${bs / 16} rows differ (durable at the cut -> crash image)`, ...rows);
    if (differing > rows.length) out.push(`  ... ${differing - rows.length} more rows`);
  }
  return out.length ? out.join('\n') + '\n' : 'the crash image equals the durable media at the cut\n';
}
