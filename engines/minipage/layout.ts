/**
 * Where the engine keeps what on the device, and the control block.
 *
 * On-device layout (LBAs; every region starts on a 64 KiB boundary so that a
 * page never straddles an atomic boundary of up to 64 KiB):
 *
 *   LBA 0            control block: one logical block, content < 512 bytes
 *   walStart         WAL: walBlocks blocks, a circular byte stream
 *   dwStart          doublewrite area: dwSlots page-sized slots (mode doublewrite only; reserved always)
 *   dataStart        data pages: page n at dataStart + n * pageBlocks, n < maxPages;
 *                    page 0 is the meta page (root, page count)
 *
 * The control block is written with a single one-block FUA write, and all it
 * says fits in its first 512-byte sector, so even a device that tears inside a
 * block at sector granularity leaves it either old or new: a checkpoint is
 * complete exactly when its control block is on media (PostgreSQL keeps
 * pg_control under 512 bytes for the same reason).
 */
import { crc32c } from '@node-rs/crc32';
import { BadInputError } from '../../src/util/errors';
import { VALID_PAGE_SIZES } from './page';

export const PROTECTION_MODES = ['none', 'doublewrite', 'fpw', 'atomic'] as const;
export type ProtectionMode = (typeof PROTECTION_MODES)[number];

export const CONTROL_MAGIC = 0x4243504d; // 'MPCB'
export const CONTROL_VERSION = 1;
/** Bytes of the control block that carry data (the rest of the block is zero). */
export const CONTROL_BYTES = 96;
const REGION_ALIGN_BYTES = 64 * 1024;

export interface LayoutOptions {
  pageSize: number;
  /** WAL area size in bytes (default 1 MiB). */
  walBytes?: number;
  /** Doublewrite slots, in pages (default 16). */
  dwPages?: number;
  /** Maximum number of data pages, meta page included (default 256). */
  maxPages?: number;
}

export interface Layout {
  blockSize: number;
  pageSize: number;
  pageBlocks: number;
  walStart: number;
  walBlocks: number;
  dwStart: number;
  dwSlots: number;
  dataStart: number;
  maxPages: number;
  /** Blocks the layout needs (the device must have at least this many). */
  totalBlocks: number;
}

export function checkPageSize(pageSize: unknown): number {
  if (!VALID_PAGE_SIZES.includes(pageSize as 4096)) {
    throw new BadInputError(`invalid page size ${String(pageSize)}: use 4096, 8192 or 16384 bytes (4, 8 or 16 KiB)`);
  }
  return pageSize as number;
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** Compute the layout for a device block size; throws BadInputError if it does not fit the namespace. */
/** The WAL area when a run names none: 1 MiB (a checkpoint starts when half of it is in use). */
export const DEFAULT_WAL_BYTES = 1024 * 1024;

export function computeLayout(opts: LayoutOptions, blockSize: number, nsze: number): Layout {
  const pageSize = checkPageSize(opts.pageSize);
  if (pageSize % blockSize !== 0) throw new BadInputError(`page size ${pageSize} is not a multiple of the device block size ${blockSize}`);
  const walBytes = opts.walBytes ?? DEFAULT_WAL_BYTES;
  const dwPages = opts.dwPages ?? 16;
  const maxPages = opts.maxPages ?? 256;
  if (!(Number.isInteger(walBytes) && walBytes >= 64 * 1024)) throw new BadInputError(`walBytes must be an integer >= 65536, got ${walBytes}`);
  if (!(Number.isInteger(dwPages) && dwPages >= 1)) throw new BadInputError(`dwPages must be an integer >= 1, got ${dwPages}`);
  if (!(Number.isInteger(maxPages) && maxPages >= 8)) throw new BadInputError(`maxPages must be an integer >= 8, got ${maxPages}`);
  const align = Math.max(REGION_ALIGN_BYTES, pageSize) / blockSize;
  const pageBlocks = pageSize / blockSize;
  const walStart = align;
  const walBlocks = Math.ceil(walBytes / blockSize);
  const dwStart = alignUp(walStart + walBlocks, align);
  const dataStart = alignUp(dwStart + dwPages * pageBlocks, align);
  const totalBlocks = dataStart + maxPages * pageBlocks;
  if (totalBlocks > nsze) {
    throw new BadInputError(
      `device too small: the database needs ${totalBlocks} blocks of ${blockSize} bytes (${(totalBlocks * blockSize) / 1024} KiB: ` +
        `WAL ${walBytes} B, doublewrite ${dwPages} pages, ${maxPages} pages of ${pageSize} B), the namespace has ${nsze}; ` +
        `use a larger nsze or smaller walBytes/maxPages`,
    );
  }
  return { blockSize, pageSize, pageBlocks, walStart, walBlocks, dwStart, dwSlots: dwPages, dataStart, maxPages, totalBlocks };
}

/** Blocks a layout with these options needs on a device of this block size. */
export function requiredBlocks(opts: LayoutOptions, blockSize: number): number {
  return computeLayout(opts, blockSize, Number.MAX_SAFE_INTEGER).totalBlocks;
}

/** The control block records the layout (all of it but what derives from page and block size) plus recovery state. */
export interface ControlBlock extends Omit<Layout, 'pageBlocks' | 'totalBlocks'> {
  version: number;
  mode: ProtectionMode;
  /** Incremented by every recovery; WAL records carry it (see engine.ts, torn tail). */
  epoch: number;
  /** Redo starts here: every change before it is on the data pages. */
  redoLsn: number;
  checkpoints: number;
}

export function encodeControl(c: ControlBlock, blockSize: number): Buffer {
  const b = Buffer.alloc(blockSize);
  b.writeUInt32LE(CONTROL_MAGIC, 0);
  b.writeUInt32LE(c.version, 8);
  b.writeUInt32LE(c.pageSize, 12);
  b.writeUInt32LE(c.blockSize, 16);
  b.writeUInt32LE(PROTECTION_MODES.indexOf(c.mode), 20);
  b.writeUInt32LE(c.epoch, 24);
  b.writeUInt32LE(c.redoLsn % 2 ** 32, 28);
  b.writeUInt32LE(Math.floor(c.redoLsn / 2 ** 32), 32);
  b.writeUInt32LE(c.checkpoints, 36);
  b.writeUInt32LE(c.walStart, 40);
  b.writeUInt32LE(c.walBlocks, 44);
  b.writeUInt32LE(c.dwStart, 48);
  b.writeUInt32LE(c.dwSlots, 52);
  b.writeUInt32LE(c.dataStart, 56);
  b.writeUInt32LE(c.maxPages, 60);
  b.writeUInt32LE(crc32c(b.subarray(8, CONTROL_BYTES)), 4);
  return b;
}

/** Decode a control block; returns a reason string if it is not valid. */
export function decodeControl(b: Uint8Array): ControlBlock | string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.readUInt32LE(0) !== CONTROL_MAGIC) return 'no control block (bad magic): the device holds no minipage database';
  if (buf.readUInt32LE(4) !== crc32c(buf.subarray(8, CONTROL_BYTES))) return 'control block checksum mismatch';
  const version = buf.readUInt32LE(8);
  if (version !== CONTROL_VERSION) return `control block version ${version} is not supported (expected ${CONTROL_VERSION})`;
  return {
    version,
    pageSize: buf.readUInt32LE(12),
    blockSize: buf.readUInt32LE(16),
    mode: PROTECTION_MODES[buf.readUInt32LE(20)] ?? 'none',
    epoch: buf.readUInt32LE(24),
    redoLsn: buf.readUInt32LE(28) + buf.readUInt32LE(32) * 2 ** 32,
    checkpoints: buf.readUInt32LE(36),
    walStart: buf.readUInt32LE(40),
    walBlocks: buf.readUInt32LE(44),
    dwStart: buf.readUInt32LE(48),
    dwSlots: buf.readUInt32LE(52),
    dataStart: buf.readUInt32LE(56),
    maxPages: buf.readUInt32LE(60),
  };
}

export function layoutOfControl(c: ControlBlock): Layout {
  const pageBlocks = c.pageSize / c.blockSize;
  return {
    blockSize: c.blockSize,
    pageSize: c.pageSize,
    pageBlocks,
    walStart: c.walStart,
    walBlocks: c.walBlocks,
    dwStart: c.dwStart,
    dwSlots: c.dwSlots,
    dataStart: c.dataStart,
    maxPages: c.maxPages,
    totalBlocks: c.dataStart + c.maxPages * pageBlocks,
  };
}
