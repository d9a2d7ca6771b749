/**
 * The on-device page format and its in-memory form.
 *
 * A page on the device (pageSize bytes, 4/8/16 KiB) is a slotted page:
 *
 *   0  magic u32          'MPG1'
 *   4  crc32c u32         CRC-32C over bytes [0,4) and [8,pageSize): the whole page but the CRC itself
 *   8  pageNo u32         the page's own number: a page that lands at the wrong place fails here
 *  12  type u8            1 meta, 2 leaf, 3 internal
 *  13  level u8           0 for leaves, height above the leaves for internal pages
 *  14  nCells u16
 *  16  lsn (lo u32, hi u32)  LSN of the last WAL record applied to the page
 *  24  right u32          right sibling (leaves and internal pages of one level), 0 = none
 *  28  extra u32          internal: leftmost child; meta: root page number
 *  32  meta: pageCount u32 (pages allocated, the meta page included)
 *  32  leaf/internal: slot array, nCells x u16 cell offsets, in key order
 *  ... free space ...
 *      cells, packed from the end of the page downwards:
 *        leaf cell:     klen u16, vlen u16, key, value
 *        internal cell: klen u16, child u32, key     (child holds keys >= key)
 *
 * In memory a page is decoded into arrays (keys, values or children): the
 * B+tree works on arrays, and `encodePage` lays them out again when the page
 * is written or logged as a full image. Invariant: `usedBytes(page)` is the
 * exact size `encodePage` needs, and the B+tree never lets it exceed pageSize.
 */
import { crc32c } from '@node-rs/crc32';

export const PAGE_MAGIC = 0x3147504d; // 'MPG1' little-endian
export const PAGE_HEADER = 32;
export const META_PAGE_NO = 0;
export const VALID_PAGE_SIZES = [4096, 8192, 16384] as const;

export enum PageType {
  Meta = 1,
  Leaf = 2,
  Internal = 3,
}

export interface Page {
  pageNo: number;
  type: PageType;
  level: number;
  lsn: number;
  right: number;
  /** Sorted, strictly ascending (leaf and internal). */
  keys: Buffer[];
  /** Leaf values, parallel to keys. */
  vals: Buffer[];
  /** Internal: children.length === keys.length + 1; children[i+1] holds keys >= keys[i]. */
  children: number[];
  /** Meta page: root page number and number of allocated pages. */
  root: number;
  pageCount: number;
  /** Buffer-pool state: dirty since it was last written, and the LSN that first dirtied it. */
  dirty: boolean;
  recLsn: number;
}

export function newPage(pageNo: number, type: PageType, level = 0): Page {
  return { pageNo, type, level, lsn: 0, right: 0, keys: [], vals: [], children: [], root: 0, pageCount: 0, dirty: false, recLsn: 0 };
}

export const LEAF_CELL_OVERHEAD = 2 + 4; // slot + klen/vlen
export const INTERNAL_CELL_OVERHEAD = 2 + 6; // slot + klen/child

export function leafCellSize(klen: number, vlen: number): number {
  return LEAF_CELL_OVERHEAD + klen + vlen;
}

export function internalCellSize(klen: number): number {
  return INTERNAL_CELL_OVERHEAD + klen;
}

/** Exact encoded size of the page's content (header + slots + cells). */
export function usedBytes(p: Page): number {
  let n = PAGE_HEADER;
  if (p.type === PageType.Meta) return n + 4;
  if (p.type === PageType.Leaf) {
    for (let i = 0; i < p.keys.length; i++) n += LEAF_CELL_OVERHEAD + p.keys[i].length + p.vals[i].length;
  } else {
    for (let i = 0; i < p.keys.length; i++) n += INTERNAL_CELL_OVERHEAD + p.keys[i].length;
  }
  return n;
}

/**
 * Lay the page out in `pageSize` bytes with a valid CRC.
 *
 * This is the hottest function of a workload run (a 8 KiB leaf holds 100+
 * small cells and a tpcc-like transaction encodes about five pages), so the
 * cell loop writes bytes directly: Buffer's writeUInt16LE and a native copy
 * per field cost more than the bytes they move (measured: 1.5-1.8x slower).
 */
export function encodePage(p: Page, pageSize: number): Buffer {
  const b = Buffer.alloc(pageSize);
  b.writeUInt32LE(PAGE_MAGIC, 0);
  b.writeUInt32LE(p.pageNo, 8);
  b[12] = p.type;
  b[13] = p.level;
  const n = p.keys.length;
  putU16(b, 14, n);
  b.writeUInt32LE(p.lsn % 2 ** 32, 16);
  b.writeUInt32LE(Math.floor(p.lsn / 2 ** 32), 20);
  b.writeUInt32LE(p.right, 24);
  if (p.type === PageType.Meta) {
    b.writeUInt32LE(p.root, 28);
    b.writeUInt32LE(p.pageCount, 32);
  } else {
    const leaf = p.type === PageType.Leaf;
    const { keys, vals, children } = p;
    if (!leaf) b.writeUInt32LE(children[0], 28);
    let end = pageSize;
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      const kl = k.length;
      if (leaf) {
        const v = vals[i];
        end -= 4 + kl + v.length;
        putU16(b, end, kl);
        putU16(b, end + 2, v.length);
        copyBytes(k, b, end + 4);
        copyBytes(v, b, end + 4 + kl);
      } else {
        end -= 6 + kl;
        putU16(b, end, kl);
        const c = children[i + 1];
        putU16(b, end + 2, c & 0xffff);
        putU16(b, end + 4, c >>> 16);
        copyBytes(k, b, end + 6);
      }
      putU16(b, PAGE_HEADER + 2 * i, end);
    }
    if (end < PAGE_HEADER + 2 * n) throw new Error(`page ${p.pageNo} overflows ${pageSize} bytes (internal error)`);
  }
  b.writeUInt32LE(pageCrc(b), 4);
  return b;
}

/** A little-endian u16 (v < 65536), without Buffer's range checks. */
function putU16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = v >>> 8;
}

/**
 * Copy `src` into `dst` at `at`. Keys and values are short: a byte loop beats
 * TypedArray.set's native call for them; longer ones go through set (a memmove).
 */
export function copyBytes(src: Uint8Array, dst: Uint8Array, at: number): void {
  const n = src.length;
  if (n > 64) {
    dst.set(src, at);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[i];
}

export function pageCrc(b: Uint8Array): number {
  return crc32c(b.subarray(8), crc32c(b.subarray(0, 4)));
}

export type PageCheck = 'ok' | 'zero' | 'bad-magic' | 'bad-crc' | 'wrong-page-no';

/** Is this image a valid page `expectNo`? 'zero' = never written (all zero bytes). */
export function checkPageImage(b: Uint8Array, expectNo: number): PageCheck {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== PAGE_MAGIC) return isAllZero(b) ? 'zero' : 'bad-magic';
  if (dv.getUint32(4, true) !== pageCrc(b)) return 'bad-crc';
  if (dv.getUint32(8, true) !== expectNo) return 'wrong-page-no';
  return 'ok';
}

const ZEROS = Buffer.alloc(16384);

export function isAllZero(b: Uint8Array): boolean {
  // Native memcmp against a zero page (a JS byte loop costs more than the CRC).
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (Buffer.compare(b.subarray(off, off + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

/** The page number and LSN in an image's header (no validation). */
export function peekHeader(b: Uint8Array): { pageNo: number; lsn: number } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { pageNo: dv.getUint32(8, true), lsn: dv.getUint32(16, true) + dv.getUint32(20, true) * 2 ** 32 };
}

/**
 * Decode a page image that passed checkPageImage. Keys and values are views
 * into `img` (the caller hands the buffer over and never mutates it).
 */
export function decodePage(img: Uint8Array): Page {
  const b = Buffer.isBuffer(img) ? img : Buffer.from(img.buffer, img.byteOffset, img.byteLength);
  const type = b[12] as PageType;
  const n = b.readUInt16LE(14);
  const p = newPage(b.readUInt32LE(8), type, b[13]);
  p.lsn = b.readUInt32LE(16) + b.readUInt32LE(20) * 2 ** 32;
  p.right = b.readUInt32LE(24);
  if (type === PageType.Meta) {
    p.root = b.readUInt32LE(28);
    p.pageCount = b.readUInt32LE(32);
    return p;
  }
  if (type === PageType.Internal) p.children.push(b.readUInt32LE(28));
  for (let i = 0; i < n; i++) {
    const off = b.readUInt16LE(PAGE_HEADER + 2 * i);
    const klen = b.readUInt16LE(off);
    if (type === PageType.Leaf) {
      const vlen = b.readUInt16LE(off + 2);
      p.keys.push(b.subarray(off + 4, off + 4 + klen));
      p.vals.push(b.subarray(off + 4 + klen, off + 4 + klen + vlen));
    } else {
      p.children.push(b.readUInt32LE(off + 2));
      p.keys.push(b.subarray(off + 6, off + 6 + klen));
    }
  }
  return p;
}

/** Deep copy of the page's content (used when a record must not alias a live page). */
export function clonePage(p: Page): Page {
  return { ...p, keys: p.keys.slice(), vals: p.vals.slice(), children: p.children.slice() };
}

/** Buffer.compare's order (bytewise, then length) without its native call: keys are short. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** First index i with keys[i] >= key (binary search). */
export function lowerBound(keys: Buffer[], key: Buffer): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the child of an internal page that covers `key`. */
export function childIndex(p: Page, key: Buffer): number {
  // children[i] covers [keys[i-1], keys[i]): count separators <= key.
  let lo = 0;
  let hi = p.keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(p.keys[mid], key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
