/**
 * The write-ahead log: a circular byte stream on its own LBA range.
 *
 * Stream position p (the LSN) lives in WAL block floor(p / blockSize) mod
 * walBlocks, at byte p mod blockSize; records span blocks freely. The writer
 * keeps the not-yet-durable bytes plus the head of the block they start in,
 * and rewrites that partial tail block with its old prefix unchanged (so a
 * tear inside that block can only cut new bytes). Group commit = one `flush()`
 * for all records appended since the last one: the blocks go down as several
 * commands in flight at once (split where the stream wraps, and where the tag
 * changes between 'wal' and 'fpi'), then one Flush, or FUA writes instead.
 *
 * The reader walks records from the redo point and stops at the first one that
 * is not intact (length out of range, LSN or epoch not the expected one, CRC
 * mismatch, unreadable block): that is the end of the log. A torn last block
 * therefore ends the log cleanly; it is never replayed.
 */
import { DeviceError, NvmeDevice } from '../../src/device/device';
import { Tag } from '../../src/device/types';
import { Layout } from './layout';
import { Steps } from './sabotage';
import { REC_HEADER, WalRecord, decodeHeader, decodeRecord, encodeRecord, recordCrcOk } from './records';
import { CommitMethod, UnconfirmedWrites, walWriteOptions } from './commit-durability';

/** The first LSN of a fresh database (0 means "never logged" in page headers). */
export const WAL_START_LSN = 16;

/** How a group commit makes the WAL durable; see commit-durability.ts. */
export type WalDurability = CommitMethod;

/** Window mode: the host's count of unconfirmed writes and the window's destage budget (bytes). */
export interface WindowBudget {
  unconfirmed: UnconfirmedWrites;
  budgetBytes: number;
}

export interface WalStats {
  records: number;
  fpiRecords: number;
  recordBytes: number;
  fpiBytes: number;
  groupFlushes: number;
  /** Group commits that waited for persistence tokens (token mode: all that were not durable yet; window mode: over budget). */
  tokenWaits: number;
}

export class WalWriter {
  private bufStart: number;
  private chunks: Buffer[] = [];
  private fpiRanges: [number, number][] = [];
  insertLsn: number;
  durableLsn: number;
  /**
   * The first device command-stream position at which the durability of the
   * last group commit shows in a crash capture. Normally the current position;
   * after waiting for tokens it is the next one: destage in simulated time
   * emits no device event, so a crash point captured at the last event still
   * shows the WAL as volatile, and an acknowledgement must not be dated there.
   */
  ackSeqFloor = 0;
  readonly stats: WalStats = { records: 0, fpiRecords: 0, recordBytes: 0, fpiBytes: 0, groupFlushes: 0, tokenWaits: 0 };

  constructor(
    private readonly dev: NvmeDevice,
    private readonly layout: Layout,
    readonly epoch: number,
    startLsn: number,
    /** Bytes of the stream from the start of startLsn's block up to startLsn (kept on rewrite). */
    tailPrefix: Buffer,
    private readonly durability: WalDurability,
    /** The oldest LSN recovery may still need (the durable checkpoint's redo point): never overwritten. */
    private readonly oldestNeeded: () => number,
    /** Required in window mode. */
    private readonly window?: WindowBudget,
    /** Ordering steps and crash-window marks (sabotage.ts). */
    private readonly steps?: Steps,
  ) {
    if (durability === 'window' && !window) throw new Error('internal: window commit without a window budget');
    const bs = layout.blockSize;
    this.bufStart = Math.floor(startLsn / bs) * bs;
    if (tailPrefix.length !== startLsn - this.bufStart) throw new Error('WAL tail prefix does not match the start LSN');
    if (tailPrefix.length > 0) this.chunks.push(tailPrefix);
    this.insertLsn = startLsn;
    this.durableLsn = startLsn;
  }

  /** Capacity of the circular area in bytes (one block kept free so the head never overwrites the tail's block). */
  get capacity(): number {
    return (this.layout.walBlocks - 1) * this.layout.blockSize;
  }

  append(rec: WalRecord, isFpi = false): number {
    const lsn = this.insertLsn;
    const b = encodeRecord(rec, lsn, this.epoch);
    // Invariant: the bytes from the redo point to the insert position fit the area, so appending
    // never overwrites a block recovery still needs (the engine checkpoints long before this).
    if (lsn + b.length - this.oldestNeeded() > this.capacity) {
      throw new Error(`WAL full: ${lsn + b.length - this.oldestNeeded()} bytes since the redo point exceed the ${this.capacity}-byte WAL area; use a larger walBytes`);
    }
    this.chunks.push(b);
    this.insertLsn += b.length;
    this.stats.records++;
    this.stats.recordBytes += b.length;
    if (isFpi) {
      this.stats.fpiRecords++;
      this.stats.fpiBytes += b.length;
      this.fpiRanges.push([lsn, this.insertLsn]);
    }
    return lsn;
  }

  /** Make every appended record durable (one group commit). */
  flush(): void {
    if (this.insertLsn === this.durableLsn) return;
    const bs = this.layout.blockSize;
    const len = this.insertLsn - this.bufStart;
    const nBlocks = Math.ceil(len / bs);
    const data = Buffer.alloc(nBlocks * bs);
    let o = 0;
    for (const c of this.chunks) {
      c.copy(data, o);
      o += c.length;
    }
    const firstBlock = this.bufStart / bs;
    // Tag each block by what most of its bytes are, then coalesce runs into commands.
    const tags: Tag[] = [];
    for (let i = 0; i < nBlocks; i++) {
      const s = (firstBlock + i) * bs;
      const e = s + bs;
      let fpi = 0;
      for (const [a, b] of this.fpiRanges) if (b > s && a < e) fpi += Math.min(b, e) - Math.max(a, s);
      tags.push(fpi * 2 > bs ? 'fpi' : 'wal');
    }
    const ids: number[] = [];
    this.steps?.open('wal.commit-unflushed');
    const opts = walWriteOptions(this.durability);
    let i = 0;
    while (i < nBlocks) {
      const slot = (firstBlock + i) % this.layout.walBlocks;
      let j = i + 1;
      while (j < nBlocks && tags[j] === tags[i] && (firstBlock + j) % this.layout.walBlocks !== 0) j++;
      ids.push(this.dev.submitWriteOwned(this.layout.walStart + slot, data.subarray(i * bs, j * bs), { tag: tags[i], ...opts }));
      i = j;
    }
    const tokens = ids.map((id) => this.dev.wait(id).token!);
    let waited = false;
    switch (this.durability) {
      case 'flush':
        if (this.steps) this.steps.flush('wal.commit');
        else this.dev.flush();
        break;
      case 'fua':
      case 'critical':
        break; // durable at completion
      case 'token':
        // No Flush: wait for the device to confirm each token (background destage).
        for (const t of tokens) {
          if (this.dev.isDurable(t)) continue;
          this.dev.waitDurable(t);
          waited = true;
        }
        break;
      case 'window':
        // Acknowledge at completion, provided what is unconfirmed fits the window's destage budget.
        waited = this.window!.unconfirmed.waitUntilWithin(this.window!.budgetBytes);
        break;
    }
    this.steps?.close('wal.commit-unflushed');
    if (waited) this.stats.tokenWaits++;
    this.ackSeqFloor = waited ? this.dev.seq + 1 : this.dev.seq;
    this.stats.groupFlushes++;
    this.durableLsn = this.insertLsn;
    // Keep the partial last block's bytes for the next rewrite.
    this.bufStart = Math.floor(this.insertLsn / bs) * bs;
    const keep = this.insertLsn - this.bufStart;
    this.chunks = keep > 0 ? [Buffer.from(data.subarray(len - keep, len))] : [];
    this.fpiRanges = this.fpiRanges.filter(([, b]) => b > this.bufStart);
  }
}

export interface ReadRecord {
  lsn: number;
  rec: WalRecord;
}

export interface WalReadResult {
  records: ReadRecord[];
  endLsn: number;
  /** Bytes from the start of endLsn's block to endLsn. */
  tailPrefix: Buffer;
  /** Why reading stopped (for diagnostics). */
  stop: string;
}

/** Read the log from `redoLsn` up to its end (the first record that is not intact). */
/**
 * Records decoded before, by LSN, with their bytes (delta.ts): a record whose
 * bytes equal the remembered ones passed its CRC then and decodes the same.
 * Decoded records are never mutated (redo copies what it keeps).
 */
export type RecordMemo = Map<number, { bytes: Buffer; rec: WalRecord }>;

export function readWal(dev: NvmeDevice, layout: Layout, redoLsn: number, epoch: number, maxRecordLen: number, checkCrc = true, memo?: RecordMemo): WalReadResult {
  const bs = layout.blockSize;
  const blocks = new Map<number, Buffer | null>();
  const CHUNK = 32;
  const fetch = (bi: number): Buffer | null => {
    let b = blocks.get(bi);
    if (b !== undefined) return b;
    const slot = bi % layout.walBlocks;
    const n = Math.min(CHUNK, layout.walBlocks - slot);
    try {
      const data = Buffer.from(dev.read(layout.walStart + slot, n).buffer);
      for (let i = 0; i < n; i++) blocks.set(bi + i, data.subarray(i * bs, (i + 1) * bs));
    } catch (e) {
      if (!(e instanceof DeviceError) || e.code !== 'unrecovered-read-error') throw e;
      for (let i = 0; i < n; i++) {
        try {
          blocks.set(bi + i, Buffer.from(dev.read(layout.walStart + slot + i, 1).buffer));
        } catch (e2) {
          if (!(e2 instanceof DeviceError) || e2.code !== 'unrecovered-read-error') throw e2;
          blocks.set(bi + i, null);
        }
      }
    }
    return blocks.get(bi)!;
  };
  const readBytes = (p: number, n: number): Buffer | null => {
    const bi = Math.floor(p / bs);
    const off = p - bi * bs;
    const first = fetch(bi);
    if (!first) return null;
    if (off + n <= bs) return first.subarray(off, off + n);
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    let b = bi;
    let o = off;
    while (got < n) {
      const blk = fetch(b);
      if (!blk) return null;
      const take = Math.min(n - got, bs - o);
      blk.copy(out, got, o, o + take);
      got += take;
      b++;
      o = 0;
    }
    return out;
  };
  const limit = redoLsn + (layout.walBlocks - 1) * bs;
  const records: ReadRecord[] = [];
  let p = redoLsn;
  let stop = 'end';
  for (;;) {
    const h = readBytes(p, REC_HEADER);
    if (!h) { stop = `unreadable WAL block at lsn ${p}`; break; }
    const hdr = decodeHeader(h);
    if (hdr.len === 0) { stop = `empty at lsn ${p}`; break; }
    if (hdr.len < REC_HEADER + 4 || hdr.len > maxRecordLen || p + hdr.len > limit) { stop = `bad length ${hdr.len} at lsn ${p}`; break; }
    if (hdr.lsn !== p) { stop = `stale record (lsn ${hdr.lsn}) at lsn ${p}`; break; }
    if (hdr.epoch !== epoch) { stop = `record of epoch ${hdr.epoch} at lsn ${p}, expected ${epoch}`; break; }
    const full = readBytes(p, hdr.len);
    if (!full) { stop = `unreadable WAL block inside the record at lsn ${p}`; break; }
    const known = checkCrc ? memo?.get(p) : undefined;
    if (known && known.bytes.equals(full)) {
      records.push({ lsn: p, rec: known.rec });
      p += hdr.len;
      continue;
    }
    if (checkCrc && !recordCrcOk(full)) { stop = `CRC mismatch at lsn ${p} (torn tail)`; break; }
    // With the CRC check sabotaged, a damaged record is decoded as it is (and may throw: recovery fails).
    if (memo && checkCrc) {
      const bytes = Buffer.from(full);
      const rec = decodeRecord(bytes);
      memo.set(p, { bytes, rec });
      records.push({ lsn: p, rec });
    } else records.push({ lsn: p, rec: decodeRecord(full) });
    p += hdr.len;
  }
  const tailStart = Math.floor(p / bs) * bs;
  const prefix = p > tailStart ? readBytes(tailStart, p - tailStart) : Buffer.alloc(0);
  return { records, endLsn: p, tailPrefix: Buffer.from(prefix ?? Buffer.alloc(0)), stop };
}
