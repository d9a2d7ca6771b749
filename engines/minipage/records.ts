/**
 * WAL records: physiological (one record changes one page, by a logical
 * operation on that page) plus full page images and commit markers.
 *
 * Encoded record (little-endian):
 *   0 crc32c u32   over bytes [4, len): everything but the CRC itself
 *   4 len u32      whole record, header included
 *   8 lsn lo u32, 12 lsn hi u32   the record's own position in the WAL stream
 *  16 epoch u32    the control block's epoch when the record was written
 *  20 type u8, 3 bytes padding
 *  24 body
 *
 * The LSN and epoch inside the record are what make torn-tail detection safe:
 * bytes left in the WAL area by an earlier lap (wrong LSN) or by a log tail
 * that a crash cut off (older epoch, see engine.ts) never pass as records.
 *
 * `applyRecord` is the single definition of what a record does to a page; the
 * engine runs it both when it makes a change and when redo replays it, so do
 * and redo cannot drift apart.
 */
import { crc32c } from '@node-rs/crc32';
import { Page, PageType, childIndex, copyBytes, decodePage, lowerBound, newPage } from './page';

export const REC_HEADER = 24;

export enum RecType {
  Put = 1,
  Del = 2,
  Format = 3,
  InsertChild = 4,
  Meta = 5,
  Fpi = 6,
  Commit = 7,
}

export type WalRecord =
  | { type: RecType.Put; pageNo: number; key: Buffer; val: Buffer }
  | { type: RecType.Del; pageNo: number; key: Buffer }
  /** Re-initialise the page with this logical content (a split's halves, a new root). */
  | { type: RecType.Format; pageNo: number; page: Page }
  | { type: RecType.InsertChild; pageNo: number; key: Buffer; child: number }
  | { type: RecType.Meta; pageNo: number; root: number; pageCount: number }
  /** Full page image (fpw): replaces the page without reading it. */
  | { type: RecType.Fpi; pageNo: number; image: Buffer }
  | { type: RecType.Commit; txid: number };

/** Records that rebuild their page from nothing: redo never reads the old page for them. */
export function willInit(r: WalRecord): boolean {
  return r.type === RecType.Format || r.type === RecType.Fpi;
}

function bodySize(r: WalRecord): number {
  switch (r.type) {
    case RecType.Put: return 8 + r.key.length + r.val.length;
    case RecType.Del: return 6 + r.key.length;
    case RecType.InsertChild: return 10 + r.key.length;
    case RecType.Meta: return 12;
    case RecType.Fpi: return 4 + r.image.length;
    case RecType.Commit: return 4;
    case RecType.Format: {
      let n = 16;
      const p = r.page;
      for (let i = 0; i < p.keys.length; i++) n += p.type === PageType.Leaf ? 4 + p.keys[i].length + p.vals[i].length : 6 + p.keys[i].length;
      return n;
    }
  }
}

export function encodeRecord(r: WalRecord, lsn: number, epoch: number): Buffer {
  const len = REC_HEADER + bodySize(r);
  const b = Buffer.allocUnsafe(len);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(lsn % 2 ** 32, 8);
  b.writeUInt32LE(Math.floor(lsn / 2 ** 32), 12);
  b.writeUInt32LE(epoch, 16);
  b[20] = r.type;
  b[21] = b[22] = b[23] = 0;
  let o = REC_HEADER;
  switch (r.type) {
    case RecType.Put:
      b.writeUInt32LE(r.pageNo, o);
      b.writeUInt16LE(r.key.length, o + 4);
      b.writeUInt16LE(r.val.length, o + 6);
      copyBytes(r.key, b, o + 8);
      copyBytes(r.val, b, o + 8 + r.key.length);
      break;
    case RecType.Del:
      b.writeUInt32LE(r.pageNo, o);
      b.writeUInt16LE(r.key.length, o + 4);
      copyBytes(r.key, b, o + 6);
      break;
    case RecType.InsertChild:
      b.writeUInt32LE(r.pageNo, o);
      b.writeUInt32LE(r.child, o + 4);
      b.writeUInt16LE(r.key.length, o + 8);
      copyBytes(r.key, b, o + 10);
      break;
    case RecType.Meta:
      b.writeUInt32LE(r.pageNo, o);
      b.writeUInt32LE(r.root, o + 4);
      b.writeUInt32LE(r.pageCount, o + 8);
      break;
    case RecType.Fpi:
      b.writeUInt32LE(r.pageNo, o);
      r.image.copy(b, o + 4);
      break;
    case RecType.Commit:
      b.writeUInt32LE(r.txid, o);
      break;
    case RecType.Format: {
      const p = r.page;
      b.writeUInt32LE(r.pageNo, o);
      b[o + 4] = p.type;
      b[o + 5] = p.level;
      b.writeUInt16LE(p.keys.length, o + 6);
      b.writeUInt32LE(p.right, o + 8);
      b.writeUInt32LE(p.type === PageType.Internal ? p.children[0] : 0, o + 12);
      o += 16;
      for (let i = 0; i < p.keys.length; i++) {
        const k = p.keys[i];
        if (p.type === PageType.Leaf) {
          const v = p.vals[i];
          b.writeUInt16LE(k.length, o);
          b.writeUInt16LE(v.length, o + 2);
          copyBytes(k, b, o + 4);
          copyBytes(v, b, o + 4 + k.length);
          o += 4 + k.length + v.length;
        } else {
          b.writeUInt16LE(k.length, o);
          b.writeUInt32LE(p.children[i + 1], o + 2);
          copyBytes(k, b, o + 6);
          o += 6 + k.length;
        }
      }
      break;
    }
  }
  b.writeUInt32LE(crc32c(b.subarray(4)), 0);
  return b;
}

export interface RecordHeader {
  len: number;
  lsn: number;
  epoch: number;
  type: number;
}

export function decodeHeader(b: Buffer): RecordHeader {
  return { len: b.readUInt32LE(4), lsn: b.readUInt32LE(8) + b.readUInt32LE(12) * 2 ** 32, epoch: b.readUInt32LE(16), type: b[20] };
}

export function recordCrcOk(b: Buffer): boolean {
  return b.readUInt32LE(0) === crc32c(b.subarray(4));
}

/** Decode a record whose CRC passed. Buffers in the result are views into `b`. */
export function decodeRecord(b: Buffer): WalRecord {
  const type = b[20] as RecType;
  const o = REC_HEADER;
  switch (type) {
    case RecType.Put: {
      const kl = b.readUInt16LE(o + 4);
      const vl = b.readUInt16LE(o + 6);
      return { type, pageNo: b.readUInt32LE(o), key: b.subarray(o + 8, o + 8 + kl), val: b.subarray(o + 8 + kl, o + 8 + kl + vl) };
    }
    case RecType.Del: {
      const kl = b.readUInt16LE(o + 4);
      return { type, pageNo: b.readUInt32LE(o), key: b.subarray(o + 6, o + 6 + kl) };
    }
    case RecType.InsertChild: {
      const kl = b.readUInt16LE(o + 8);
      return { type, pageNo: b.readUInt32LE(o), child: b.readUInt32LE(o + 4), key: b.subarray(o + 10, o + 10 + kl) };
    }
    case RecType.Meta:
      return { type, pageNo: b.readUInt32LE(o), root: b.readUInt32LE(o + 4), pageCount: b.readUInt32LE(o + 8) };
    case RecType.Fpi:
      return { type, pageNo: b.readUInt32LE(o), image: b.subarray(o + 4) };
    case RecType.Commit:
      return { type, txid: b.readUInt32LE(o) };
    case RecType.Format: {
      const pageNo = b.readUInt32LE(o);
      const p = newPage(pageNo, b[o + 4] as PageType, b[o + 5]);
      const n = b.readUInt16LE(o + 6);
      p.right = b.readUInt32LE(o + 8);
      if (p.type === PageType.Internal) p.children.push(b.readUInt32LE(o + 12));
      let q = o + 16;
      for (let i = 0; i < n; i++) {
        const kl = b.readUInt16LE(q);
        if (p.type === PageType.Leaf) {
          const vl = b.readUInt16LE(q + 2);
          p.keys.push(b.subarray(q + 4, q + 4 + kl));
          p.vals.push(b.subarray(q + 4 + kl, q + 4 + kl + vl));
          q += 4 + kl + vl;
        } else {
          p.children.push(b.readUInt32LE(q + 2));
          p.keys.push(b.subarray(q + 6, q + 6 + kl));
          q += 6 + kl;
        }
      }
      return { type, pageNo, page: p };
    }
    default:
      throw new Error(`unknown WAL record type ${type}`);
  }
}

/**
 * Apply a record that modifies an existing page (Put, Del, InsertChild,
 * Meta) in place. Throws if the page is not of the kind the record expects:
 * that means the page on the device is not the page the log was written
 * against (a lost or torn write that the checksum did not catch).
 */
export function applyRecord(p: Page, r: WalRecord): void {
  switch (r.type) {
    case RecType.Put: {
      expectType(p, PageType.Leaf, r);
      const i = lowerBound(p.keys, r.key);
      if (i < p.keys.length && p.keys[i].equals(r.key)) p.vals[i] = r.val;
      else {
        p.keys.splice(i, 0, r.key);
        p.vals.splice(i, 0, r.val);
      }
      return;
    }
    case RecType.Del: {
      expectType(p, PageType.Leaf, r);
      const i = lowerBound(p.keys, r.key);
      if (i < p.keys.length && p.keys[i].equals(r.key)) {
        p.keys.splice(i, 1);
        p.vals.splice(i, 1);
      }
      return;
    }
    case RecType.InsertChild: {
      expectType(p, PageType.Internal, r);
      const i = childIndex(p, r.key);
      p.keys.splice(i, 0, r.key);
      p.children.splice(i + 1, 0, r.child);
      return;
    }
    case RecType.Meta:
      expectType(p, PageType.Meta, r);
      p.root = r.root;
      p.pageCount = r.pageCount;
      return;
    default:
      throw new Error(`record type ${r.type} does not modify a page in place`);
  }
}

/** The page a self-contained record (Format, Fpi) rebuilds. */
export function pageFromInitRecord(r: WalRecord, lsn: number): Page {
  if (r.type === RecType.Fpi) {
    const p = decodePage(r.image);
    p.lsn = lsn;
    return p;
  }
  if (r.type === RecType.Format) {
    const src = r.page;
    const p = newPage(r.pageNo, src.type, src.level);
    p.right = src.right;
    p.keys = src.keys.slice();
    p.vals = src.vals.slice();
    p.children = src.children.slice();
    p.lsn = lsn;
    return p;
  }
  throw new Error(`record type ${r.type} does not initialise a page`);
}

export class PageMismatchError extends Error {
  constructor(
    readonly pageNo: number,
    message: string,
  ) {
    super(message);
  }
}

function expectType(p: Page, t: PageType, r: WalRecord): void {
  if (p.type !== t) {
    throw new PageMismatchError(p.pageNo, `WAL record type ${r.type} expects page ${p.pageNo} to be of type ${t}, found type ${p.type} (lsn ${p.lsn})`);
  }
}
