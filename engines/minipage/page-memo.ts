/**
 * The page memo of delta judging (delta.ts): page number + page bytes ->
 * checksum result, decoded page, key order, pairs as strings. Shared by the
 * crash states of a cell (the verifier's): recovery loads pages through it
 * and remembers the pages it writes, the judge reads the recovered media
 * through it.
 *
 * Invariants:
 *  M1 an entry depends only on the page number and the bytes: it is reused
 *     only for the same stored block views or equal bytes (Buffer.equals);
 *  M2 entries are never handed out to be mutated: load gives a clone, the
 *     judge only reads them; images handed over are never mutated after;
 *  M3 a remembered page is the page decodePage gives for its image (asDecoded);
 *  M4 a redo lineage node stands for one page content: its root is a memo
 *     entry's page (or the page an init record rebuilds), each step one WAL
 *     record object applied (the record memo hands out one object per LSN and
 *     bytes), so every page reached by the same path has the same content and
 *     `image`, once set, is encodePage of it.
 */
import type { NvmeDevice } from '../../src/device/device';
import { Page, PageCheck, PageType, checkPageImage, decodePage, clonePage } from './page';
import type { RecordMemo } from './wal';

/** A page content reached by redo: the memo entry or init record it started from plus the records applied (M4). */
export interface RedoNode {
  /** encodePage of the content, once some state wrote it. */
  image?: Buffer;
  /** The content after one more record (keyed by the record object: weakly, records of a state without the record memo die with it). */
  readonly next: WeakMap<object, RedoNode>;
}

/** The node after applying `rec` to a content at `node` (M4). */
export function redoStep(node: RedoNode, rec: object): RedoNode {
  let n = node.next.get(rec);
  if (!n) node.next.set(rec, (n = { next: new WeakMap() }));
  return n;
}

export interface MemoEntry {
  /** Block views the bytes were last seen as (undefined = unwritten block). */
  views: (Uint8Array | undefined)[];
  image: Buffer;
  check: PageCheck;
  /** Decoded when check is 'ok'. Read-only (M2). */
  page?: Page;
  sortedKeys?: boolean;
  strs?: { k: string[]; v: string[] };
  /** Redo lineage root: this entry's page as loaded (M4). */
  redo?: RedoNode;
}

/** Distinct versions kept per page number (the newest first). */
const VERSIONS_PER_PAGE = 6;

export class PageMemo {
  private readonly byNo = new Map<number, MemoEntry[]>();
  /** Redo lineage roots of pages rebuilt by an init record (Format, Fpi), by record object (M4). */
  private readonly initRoots = new WeakMap<object, RedoNode>();
  /** WAL records recovery decoded, by LSN (wal.ts readWal); kept only by a shared memo. */
  readonly records?: RecordMemo;

  /** @param versions distinct images kept per page number (the newest first). */
  constructor(private readonly versions = VERSIONS_PER_PAGE) {
    if (versions > 1) this.records = new Map();
  }
  /** Lookups answered by the stored views, by equal bytes, and by checking new bytes. */
  viewHits = 0;
  hits = 0;
  misses = 0;

  /**
   * The page `pageNo` as the device shows it now (peekBlock, no command), or
   * 'unreadable' when one of its blocks is.
   */
  atDevice(dev: NvmeDevice, pageNo: number, lba: number, pageBlocks: number): MemoEntry | 'unreadable' {
    const views: (Uint8Array | undefined)[] = new Array(pageBlocks);
    for (let i = 0; i < pageBlocks; i++) {
      const v = dev.peekBlock(lba + i);
      if (v === null) return 'unreadable';
      views[i] = v;
    }
    const list = this.byNo.get(pageNo);
    if (list) {
      for (const e of list) {
        if (sameViews(e.views, views)) {
          this.viewHits++;
          return e;
        }
      }
    }
    const bs = dev.blockSize;
    const image = Buffer.alloc(pageBlocks * bs);
    for (let i = 0; i < pageBlocks; i++) if (views[i]) image.set(views[i]!, i * bs);
    const e = this.byImage(pageNo, image);
    e.views = views;
    return e;
  }

  /** The entry for these bytes (`image` is handed over: never mutated afterwards). */
  byImage(pageNo: number, image: Buffer): MemoEntry {
    let list = this.byNo.get(pageNo);
    if (!list) this.byNo.set(pageNo, (list = []));
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e.image.equals(image)) {
        this.hits++;
        if (i > 0) list.unshift(...list.splice(i, 1));
        return e;
      }
    }
    this.misses++;
    const check = checkPageImage(image, pageNo);
    const e: MemoEntry = { views: [], image, check, page: check === 'ok' ? decodePage(image) : undefined };
    list.unshift(e);
    if (list.length > this.versions) list.pop();
    return e;
  }

  /**
   * The engine wrote `page` as `image` (encodePage's fresh buffer, never
   * mutated): a later load of these bytes gets the page without decoding.
   * The entry holds the page as decodePage would return it from the image
   * (asDecoded; M3), not the engine's object.
   */
  remember(pageNo: number, image: Buffer, page: Page): void {
    let list = this.byNo.get(pageNo);
    if (!list) this.byNo.set(pageNo, (list = []));
    // The same bytes keep their entry (the content tracker tells leaves apart by entry).
    for (let i = 0; i < list.length; i++) {
      if (!list[i].image.equals(image)) continue;
      if (i > 0) list.unshift(...list.splice(i, 1));
      return;
    }
    list.unshift({ views: [], image, check: 'ok', page: asDecoded(page) });
    if (list.length > this.versions) list.pop();
  }

  /** Every entry (tests). */
  *entries(): IterableIterator<MemoEntry> {
    for (const list of this.byNo.values()) yield* list;
  }

  /** Recovery's page load (`image` is handed over, as readRange's fresh buffer is): checked and decoded once per distinct image; the engine gets its own copy (M2). */
  load(pageNo: number, image: Buffer): { check: PageCheck; page?: Page; redo?: RedoNode } {
    const e = this.byImage(pageNo, image);
    if (!e.page) return { check: e.check };
    return { check: e.check, page: clonePage(e.page), redo: (e.redo ??= { next: new WeakMap() }) };
  }

  /** The lineage root of the page an init record rebuilds (M4). */
  initRoot(rec: object): RedoNode {
    let n = this.initRoots.get(rec);
    if (!n) this.initRoots.set(rec, (n = { next: new WeakMap() }));
    return n;
  }
}

/** The fields decodePage(encodePage(p)) yields: what a page type encodes, the rest as newPage leaves it. */
export function asDecoded(p: Page): Page {
  const meta = p.type === PageType.Meta;
  const internal = p.type === PageType.Internal;
  return {
    pageNo: p.pageNo,
    type: p.type,
    level: p.level,
    lsn: p.lsn,
    right: p.right,
    keys: meta ? [] : p.keys.slice(),
    vals: p.type === PageType.Leaf ? p.vals.slice() : [],
    children: internal ? p.children.slice(0, p.keys.length + 1) : [],
    root: meta ? p.root : 0,
    pageCount: meta ? p.pageCount : 0,
    dirty: false,
    recLsn: 0,
  };
}

function sameViews(a: (Uint8Array | undefined)[], b: (Uint8Array | undefined)[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (!x || !y || x.buffer !== y.buffer || x.byteOffset !== y.byteOffset || x.byteLength !== y.byteLength) return false;
  }
  return true;
}

/** Are the entry's keys strictly ascending (a property of its bytes alone)? */
export function keysSorted(e: MemoEntry): boolean {
  if (e.sortedKeys === undefined) {
    const keys = e.page!.keys;
    let ok = true;
    for (let i = 1; i < keys.length && ok; i++) if (Buffer.compare(keys[i - 1], keys[i]) >= 0) ok = false;
    e.sortedKeys = ok;
  }
  return e.sortedKeys;
}

/** A leaf's pairs as latin1 strings (what the judge's state map holds). */
export function leafStrings(e: MemoEntry): { k: string[]; v: string[] } {
  if (!e.strs) {
    const p = e.page!;
    e.strs = { k: p.keys.map((b) => b.toString('latin1')), v: p.vals.map((b) => b.toString('latin1')) };
  }
  return e.strs;
}

