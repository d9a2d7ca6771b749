/**
 * The write shape: what the database's page writes looked like by the time
 * they reached the device, and whether the device's power-fail atomicity
 * covered them. Input: the FUSE export's write trace (device byte ranges, in
 * order) and a map from device bytes back to files (FIEMAP through
 * `filefrag -v` on the mounted file system). Output: plain data for JSON,
 * Markdown and HTML.
 *
 * Classification of one database page written by one command:
 *  - one:    the command is exactly that page;
 *  - merged: the command holds that whole page and more (other pages, other files);
 *  - split:  the command holds only part of the page (the page came in pieces).
 * A page is *protected* by the device only if it came whole in one command
 * that is power-fail atomic (src/device/identify.ts isPowerFailAtomic). An
 * unprotected page write has one reason: split, exceeds-unit (the command is
 * larger than the atomic unit), or crosses-boundary (the command crosses a
 * namespace atomic boundary). A page is *misaligned* when its device bytes
 * do not start on an atomic boundary (or, without one, on a unit multiple).
 *
 * Invariants:
 *  1. Every traced command is counted once in the histogram, and its bytes
 *     once: in the files they map to, or in `other` (journal, metadata, files
 *     not mapped).
 *  2. one + merged + split = pageWrites; protected + unprotected = pageWrites.
 *  3. The analysis is pure: no I/O (fileMap is the only I/O, at the edge).
 */
import * as path from 'node:path';
import { AtomicityRule, isPowerFailAtomic } from '../device/identify';
import { run } from './exec';
import type { WriteTrace } from './fuse-file';

/** One extent of a file: file bytes [logical, logical+length) at device bytes [physical, …). */
export interface FileExtent {
  file: string;
  logical: number;
  physical: number;
  length: number;
}

/** A file of the database and its page size (undefined: a log or other unpaged file). */
export interface TracedFile {
  /** Path relative to the mount point. */
  file: string;
  pageSize?: number;
}

const EXTENT_LINE = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+)\.\.\s*(\d+):\s+(\d+):/;

/** Parse `filefrag -v` output of one or more files into extents (blockSize: the file system's). */
export function parseFilefrag(output: string, mountPoint: string): FileExtent[] {
  const out: FileExtent[] = [];
  let file: string | undefined;
  let bs = 4096;
  for (const line of output.split('\n')) {
    const head = /^File size of (.+) is \d+ \(\d+ blocks? of (\d+) bytes\)/.exec(line);
    if (head) {
      file = path.relative(mountPoint, head[1]);
      bs = Number(head[2]);
      continue;
    }
    const m = EXTENT_LINE.exec(line);
    if (m && file !== undefined) out.push({ file, logical: Number(m[1]) * bs, physical: Number(m[3]) * bs, length: Number(m[5]) * bs });
  }
  return out;
}

/** FIEMAP of files on a mounted file system (paths relative to the mount point). */
export async function fileMap(mountPoint: string, files: readonly string[], timeoutMs = 60_000): Promise<FileExtent[]> {
  if (files.length === 0) return [];
  const r = await run('filefrag', ['-v', ...files.map((f) => path.join(mountPoint, f))], { timeoutMs });
  return parseFilefrag(r.stdout, mountPoint);
}

export type Unprotected = 'split' | 'exceeds-unit' | 'crosses-boundary';

export interface PageWriteNote {
  file: string;
  page: number;
  /** Device bytes of the command that carried (part of) the page. */
  pos: number;
  len: number;
  reason: Unprotected;
  misaligned: boolean;
}

export interface FileShape {
  commands: number;
  bytes: number;
  pageWrites: number;
  unprotected: number;
  misalignedPages: number;
}

export interface WriteShape {
  phase: string;
  commands: number;
  bytes: number;
  syncs: number;
  truncated: boolean;
  /** Command size (bytes) -> count. */
  sizeHistogram: Record<string, number>;
  atomicity: { unitBytes: number; controllerUnitBytes: number; boundaryBytes: number; boundaryOffsetBytes: number };
  pageWrites: number;
  one: number;
  merged: number;
  split: number;
  protected: number;
  unprotected: Record<Unprotected, number>;
  /** Distinct pages written whose device bytes do not start on an atomic boundary. */
  misalignedPages: number;
  byFile: Record<string, FileShape>;
  /** Commands and bytes that map to no traced file (file-system journal and metadata, other files). */
  other: { commands: number; bytes: number };
  /** Unprotected page writes, the first `sampleLimit` of them. */
  unprotectedSample: PageWriteNote[];
  /**
   * The last write of every page written, "file#page" -> protected or why not,
   * with ",misaligned" appended when its device bytes are off the boundary
   * (for matching torn pages; callers may drop it from what they store).
   */
  pages?: Record<string, string>;
}

export function emptyShape(phase: string, rule: AtomicityRule, blockSize: number): WriteShape {
  return {
    phase,
    commands: 0,
    bytes: 0,
    syncs: 0,
    truncated: false,
    sizeHistogram: {},
    atomicity: { unitBytes: rule.unitBlocks * blockSize, controllerUnitBytes: rule.controllerUnitBlocks * blockSize, boundaryBytes: rule.boundaryBlocks * blockSize, boundaryOffsetBytes: rule.boundaryOffset * blockSize },
    pageWrites: 0,
    one: 0,
    merged: 0,
    split: 0,
    protected: 0,
    unprotected: { split: 0, 'exceeds-unit': 0, 'crosses-boundary': 0 },
    misalignedPages: 0,
    byFile: {},
    other: { commands: 0, bytes: 0 },
    unprotectedSample: [],
    pages: {},
  };
}

/** Why a command of `nlb` blocks at `lba` is not power-fail atomic (undefined: it is). */
function commandRisk(rule: AtomicityRule, lba: number, nlb: number): Unprotected | undefined {
  if (isPowerFailAtomic(rule, lba, nlb)) return undefined;
  return nlb > rule.unitBlocks ? 'exceeds-unit' : 'crosses-boundary';
}

function misalignedAt(rule: AtomicityRule, devicePos: number, blockSize: number): boolean {
  const unit = (rule.boundaryBlocks || rule.unitBlocks) * blockSize;
  if (unit <= blockSize) return false;
  return (devicePos - rule.boundaryOffset * blockSize) % unit !== 0;
}

/** Analyse a trace against a file map (pure). */
export function analyzeWriteShape(
  phase: string,
  trace: WriteTrace & { truncated?: boolean },
  extents: readonly FileExtent[],
  files: readonly TracedFile[],
  rule: AtomicityRule,
  blockSize: number,
  sampleLimit = 50,
): WriteShape {
  const s = emptyShape(phase, rule, blockSize);
  s.syncs = trace.syncs.length;
  s.truncated = trace.truncated ?? false;
  const pageSizeOf = new Map(files.map((f) => [f.file, f.pageSize]));
  const ext = extents.filter((e) => pageSizeOf.has(e.file)).sort((a, b) => a.physical - b.physical);
  const starts = ext.map((e) => e.physical);
  const misaligned = new Set<string>();
  const pages: Record<string, string> = {};
  const fileShape = (f: string): FileShape => (s.byFile[f] ??= { commands: 0, bytes: 0, pageWrites: 0, unprotected: 0, misalignedPages: 0 });
  for (let i = 0; i + 1 < trace.writes.length; i += 2) {
    const pos = trace.writes[i];
    const len = trace.writes[i + 1];
    s.commands++;
    s.bytes += len;
    s.sizeHistogram[len] = (s.sizeHistogram[len] ?? 0) + 1;
    const risk = commandRisk(rule, Math.floor(pos / blockSize), Math.ceil((pos + len) / blockSize) - Math.floor(pos / blockSize));
    // Extents overlapping [pos, pos+len): binary search for the last extent starting before the end.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] < pos + len) lo = mid + 1;
      else hi = mid;
    }
    let mapped = 0;
    const touched = new Set<string>();
    for (let k = lo - 1; k >= 0; k--) {
      const e = ext[k];
      // Extents of a file system never overlap: sorted by start, they are sorted by end too.
      if (e.physical + e.length <= pos) break;
      const a = Math.max(pos, e.physical);
      const b = Math.min(pos + len, e.physical + e.length);
      if (b <= a) continue;
      mapped += b - a;
      const fs0 = fileShape(e.file);
      fs0.bytes += b - a;
      if (!touched.has(e.file)) {
        touched.add(e.file);
        fs0.commands++;
      }
      const ps = pageSizeOf.get(e.file);
      if (!ps) continue;
      const fo = e.logical + (a - e.physical);
      const foEnd = fo + (b - a);
      for (let page = Math.floor(fo / ps); page * ps < foEnd; page++) {
        const pStart = page * ps;
        const whole = pStart >= fo && pStart + ps <= foEnd;
        const devPos = e.physical + (pStart - e.logical);
        s.pageWrites++;
        fs0.pageWrites++;
        const key = `${e.file}#${page}`;
        if (pStart >= e.logical && misalignedAt(rule, devPos, blockSize) && !misaligned.has(key)) {
          misaligned.add(key);
          s.misalignedPages++;
          fs0.misalignedPages++;
        }
        let reason: Unprotected | undefined;
        if (!whole) {
          s.split++;
          reason = 'split';
        } else {
          if (len === ps) s.one++;
          else s.merged++;
          reason = risk;
        }
        pages[key] = (reason ?? 'protected') + (misaligned.has(key) ? ',misaligned' : '');
        if (reason === undefined) {
          s.protected++;
          continue;
        }
        s.unprotected[reason]++;
        fs0.unprotected++;
        if (s.unprotectedSample.length < sampleLimit) s.unprotectedSample.push({ file: e.file, page, pos, len, reason, misaligned: misaligned.has(key) || misalignedAt(rule, whole ? devPos : pos, blockSize) });
      }
    }
    if (mapped < len) {
      s.other.commands += mapped === 0 ? 1 : 0;
      s.other.bytes += len - mapped;
    }
  }
  s.pages = pages;
  return s;
}

/** Merge the shapes of several phases or cycles (sums; the samples are concatenated up to the limit). */
export function mergeShapes(phase: string, shapes: readonly WriteShape[], sampleLimit = 50): WriteShape | undefined {
  if (shapes.length === 0) return undefined;
  const m: WriteShape = JSON.parse(JSON.stringify({ ...shapes[0], phase }));
  for (const s of shapes.slice(1)) {
    m.commands += s.commands;
    m.bytes += s.bytes;
    m.syncs += s.syncs;
    m.truncated ||= s.truncated;
    for (const [k, v] of Object.entries(s.sizeHistogram)) m.sizeHistogram[k] = (m.sizeHistogram[k] ?? 0) + v;
    m.pageWrites += s.pageWrites;
    m.one += s.one;
    m.merged += s.merged;
    m.split += s.split;
    m.protected += s.protected;
    for (const k of Object.keys(m.unprotected) as Unprotected[]) m.unprotected[k] += s.unprotected[k];
    m.misalignedPages += s.misalignedPages;
    for (const [f, v] of Object.entries(s.byFile)) {
      const t = (m.byFile[f] ??= { commands: 0, bytes: 0, pageWrites: 0, unprotected: 0, misalignedPages: 0 });
      t.commands += v.commands;
      t.bytes += v.bytes;
      t.pageWrites += v.pageWrites;
      t.unprotected += v.unprotected;
      t.misalignedPages += v.misalignedPages;
    }
    m.other.commands += s.other.commands;
    m.other.bytes += s.other.bytes;
    for (const n of s.unprotectedSample) if (m.unprotectedSample.length < sampleLimit) m.unprotectedSample.push(n);
    if (s.pages) m.pages = { ...(m.pages ?? {}), ...s.pages };
  }
  return m;
}

/** Where the file system placed the pages of the paged files: how many start off an atomic boundary. */
export interface PageLayout {
  pages: number;
  misaligned: number;
  byFile: Record<string, { pages: number; misaligned: number; misalignedPages: number[] }>;
}

/** The page layout of the mapped files (pure): every page whose first byte is mapped is counted. */
export function pageLayout(extents: readonly FileExtent[], files: readonly TracedFile[], rule: AtomicityRule, blockSize: number, listLimit = 20): PageLayout {
  const out: PageLayout = { pages: 0, misaligned: 0, byFile: {} };
  const pageSizeOf = new Map(files.map((f) => [f.file, f.pageSize]));
  for (const e of extents) {
    const ps = pageSizeOf.get(e.file);
    if (!ps) continue;
    const f = (out.byFile[e.file] ??= { pages: 0, misaligned: 0, misalignedPages: [] });
    for (let page = Math.ceil(e.logical / ps); page * ps < e.logical + e.length; page++) {
      f.pages++;
      out.pages++;
      if (misalignedAt(rule, e.physical + (page * ps - e.logical), blockSize)) {
        f.misaligned++;
        out.misaligned++;
        if (f.misalignedPages.length < listLimit) f.misalignedPages.push(page);
      }
    }
  }
  return out;
}
