/**
 * Torn-write protections as plug-ins at three hooks:
 *  - page modified (`needsFullPageImage`): may turn a change into a full page image (fpw);
 *  - pages written (`writePages`): how a batch of page images reaches the device;
 *  - before redo (`beforeRedo`): repair pages from the protection's own copies (doublewrite).
 * Plus an open-time check (`checkDevice`) where a protection relies on the device (atomic).
 *
 * `writePages` returns when every write it submitted has completed; making
 * them durable is the caller's Flush (checkpoint end), except where the
 * protection itself needs ordering (doublewrite flushes between its phases).
 */
import { NvmeDevice } from '../../src/device/device';
import { isPowerFailAtomic } from '../../src/device/identify';
import { DeviceError } from '../../src/device/device';
import { BadInputError } from '../../src/util/errors';
import { Layout, ProtectionMode } from './layout';
import { PAGE_MAGIC, Page, checkPageImage, peekHeader } from './page';
import { TornPageError } from './errors';
import { Steps } from './sabotage';

export interface PageImage {
  pageNo: number;
  lsn: number;
  image: Buffer;
}

export interface Protection {
  readonly mode: ProtectionMode;
  checkDevice(dev: NvmeDevice, layout: Layout, force: boolean): void;
  needsFullPageImage(page: Page, redoLsn: number): boolean;
  /** Ordering steps (Flushes, single-command writes) go through `steps`, which also marks the crash windows. */
  writePages(dev: NvmeDevice, layout: Layout, pages: PageImage[], steps: Steps): void;
  /** Returns page images to use instead of the data-area copies (pageNo -> image). */
  beforeRedo(dev: NvmeDevice, layout: Layout, steps: Steps): Map<number, Buffer>;
}

export function pageLba(layout: Layout, pageNo: number): number {
  return layout.dataStart + pageNo * layout.pageBlocks;
}

/**
 * Submit one write command per page, all in flight at once, then wait for all
 * (two commands per page, halves, when the single-command step is sabotaged).
 */
function writeInPlace(dev: NvmeDevice, layout: Layout, pages: PageImage[], steps: Steps, window: 'page.inplace-unflushed' | 'dw.inplace-unflushed' = 'page.inplace-unflushed'): void {
  steps.open(window);
  const ids: number[] = [];
  const split = !steps.keeps('atomic.single-command') && layout.pageBlocks >= 2;
  for (const p of pages) {
    const lba = pageLba(layout, p.pageNo);
    if (!split) ids.push(dev.submitWriteOwned(lba, p.image, { tag: 'page' }));
    else {
      const half = (layout.pageBlocks >> 1) * layout.blockSize;
      ids.push(dev.submitWriteOwned(lba, p.image.subarray(0, half), { tag: 'page' }));
      ids.push(dev.submitWriteOwned(lba + (layout.pageBlocks >> 1), p.image.subarray(half), { tag: 'page' }));
    }
  }
  for (const id of ids) dev.wait(id);
}

const inPlace = (mode: ProtectionMode): Protection => ({
  mode,
  checkDevice() {},
  needsFullPageImage: () => false,
  writePages: writeInPlace,
  beforeRedo: () => new Map(),
});

/** PostgreSQL full_page_writes: the first change of a page after the redo point is logged as its full image. */
const fpw: Protection = {
  ...inPlace('fpw'),
  // PostgreSQL's rule (XLogRecordAssemble): page LSN <= RedoRecPtr means no image since the checkpoint began.
  needsFullPageImage: (page, redoLsn) => page.lsn <= redoLsn,
};

/** Atomic page writes: correct only if the device guarantees each page write lands all-or-nothing. */
const atomic: Protection = {
  ...inPlace('atomic'),
  checkDevice(dev, layout, force) {
    const a = dev.atomicity;
    let bad = -1;
    for (let n = 0; n < layout.maxPages && bad < 0; n++) if (!isPowerFailAtomic(a, pageLba(layout, n), layout.pageBlocks)) bad = n;
    if (bad < 0 || force) return;
    const bs = dev.blockSize;
    const alignBytes = largestPow2Dividing(pageLba(layout, bad) * bs);
    throw new BadInputError(
      `atomic mode refused on profile ${dev.profile.name}: page size ${layout.pageSize} B (${layout.pageBlocks} blocks of ${bs} B), ` +
        `page ${bad} at LBA ${pageLba(layout, bad)} (aligned to ${alignBytes} B); the device's power-fail atomic unit is ` +
        `${a.unitBlocks} block(s) = ${a.unitBlocks * bs} B (${a.source === 'namespace' ? 'NAWUPF' : 'AWUPF'}), atomic boundary ` +
        `${a.boundaryBlocks === 0 ? 'none' : `${a.boundaryBlocks * bs} B at offset LBA ${a.boundaryOffset}`}: page writes could tear. ` +
        `Use a device whose atomic unit covers the page at its alignment (e.g. atomic-16k), another protection, or force to start anyway`,
      'atomic-refused',
    );
  },
};

function largestPow2Dividing(v: number): number {
  if (v === 0) return 2 ** 30;
  let p = 1;
  while (v % (p * 2) === 0 && p < 2 ** 30) p *= 2;
  return p;
}

/**
 * InnoDB's doublewrite buffer: a batch goes to the doublewrite area in one
 * write, Flush, then to its places, Flush. A tear can therefore hit only one
 * of the two copies. Before redo, a page whose data-area copy fails its
 * checksum (or is all zeros) is taken from the doublewrite copy with the
 * highest LSN; with no valid copy anywhere, recovery stops.
 */
const doublewrite: Protection = {
  mode: 'doublewrite',
  checkDevice() {},
  needsFullPageImage: () => false,
  writePages(dev, layout, pages, steps) {
    for (let i = 0; i < pages.length; i += layout.dwSlots) {
      const batch = pages.slice(i, i + layout.dwSlots);
      const dw = Buffer.allocUnsafe(batch.length * layout.pageSize);
      batch.forEach((p, j) => p.image.copy(dw, j * layout.pageSize));
      steps.open('dw.area-unflushed');
      dev.wait(dev.submitWriteOwned(layout.dwStart, dw, { tag: 'doublewrite' }));
      steps.flush('dw.after-area');
      writeInPlace(dev, layout, batch, steps, 'dw.inplace-unflushed');
      steps.flush('dw.after-inplace');
    }
  },
  beforeRedo(dev, layout, steps) {
    const slots = readRange(dev, layout.dwStart, layout.dwSlots, layout.pageBlocks);
    const best = new Map<number, { lsn: number; image: Buffer }>();
    const tornCopies = new Set<number>();
    slots.forEach((img) => {
      // A slot without the page magic names no page we could trust (never written, or torn at its head).
      if (!img || img.readUInt32LE(0) !== PAGE_MAGIC) return;
      const { pageNo, lsn } = peekHeader(img);
      const check = checkPageImage(img, pageNo);
      if (check === 'ok') {
        const cur = best.get(pageNo);
        if (!cur || cur.lsn < lsn) best.set(pageNo, { lsn, image: img });
      } else if (check !== 'zero' && pageNo < layout.maxPages) {
        tornCopies.add(pageNo);
      }
    });
    const repaired = new Map<number, Buffer>();
    const candidates = new Set<number>([...best.keys(), ...tornCopies]);
    for (const pageNo of [...candidates].sort((a, b) => a - b)) {
      if (pageNo >= layout.maxPages) continue;
      const [img] = readRange(dev, pageLba(layout, pageNo), 1, layout.pageBlocks);
      const check = img ? (steps.keeps('page.crc') ? checkPageImage(img, pageNo) : 'ok') : 'unreadable';
      if (check === 'ok') continue;
      const copy = best.get(pageNo);
      if (copy) repaired.set(pageNo, copy.image);
      else if (check !== 'zero') {
        throw new TornPageError(pageNo, 'corrupt in place and in the doublewrite area',
          `doublewrite recovery stopped: page ${pageNo} fails its checksum in the data area (${check}) and has no valid doublewrite copy`);
      }
    }
    return repaired;
  },
};

/** Read `count` page-sized units starting at `lba`; a unit with an unreadable block is null. */
export function readRange(dev: NvmeDevice, lba: number, count: number, pageBlocks: number): (Buffer | null)[] {
  const bs = dev.blockSize;
  const ps = pageBlocks * bs;
  try {
    const all = Buffer.from(dev.read(lba, count * pageBlocks).buffer);
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) out.push(all.subarray(i * ps, (i + 1) * ps));
    return out;
  } catch (e) {
    if (!(e instanceof DeviceError) || e.code !== 'unrecovered-read-error') throw e;
    const out: (Buffer | null)[] = [];
    for (let i = 0; i < count; i++) {
      try {
        out.push(Buffer.from(dev.read(lba + i * pageBlocks, pageBlocks).buffer));
      } catch (e2) {
        if (!(e2 instanceof DeviceError) || e2.code !== 'unrecovered-read-error') throw e2;
        out.push(null);
      }
    }
    return out;
  }
}

export function protectionFor(mode: ProtectionMode): Protection {
  switch (mode) {
    case 'none': return inPlace('none');
    case 'fpw': return fpw;
    case 'atomic': return atomic;
    case 'doublewrite': return doublewrite;
    default: throw new BadInputError(`unknown protection mode "${String(mode)}": use none, doublewrite, fpw or atomic`);
  }
}
