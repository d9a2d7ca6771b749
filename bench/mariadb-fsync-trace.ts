/**
 * The fsync anomaly of issue 13 (item 5), traced. Not a test: an investigation
 * that prints evidence and writes it to a folder.
 *   npm run build && node dist/bench/mariadb-fsync-trace.js OUT [cycles] [--profile P] [--doublewrite on|off]
 *     [--flush-method fsync|O_DIRECT] [--page-size 16k] [--crash-at WHERE] [--set name=value]... [--strace] [--seed S]
 *
 * Each cycle is a normal `tornlab mariadb` cycle (engines/mariadb/cycle.ts)
 * with a probe:
 *  - at the cut, before mariadbd is killed, it is stopped (SIGSTOP) and the
 *    page cache of every InnoDB file is read without I/O (pagecache-probe.py:
 *    preadv2 RWF_NOWAIT + cachestat): the LSN of each page as InnoDB last
 *    wrote it, and whether that copy was still dirty (never written back);
 *  - the crash image, mounted before recovery, is read page by page: the
 *    LSN of each page on the device, and the checkpoint LSN of ib_logfile0;
 *  - the device-level trace (FUSE write requests and fsync/flush requests)
 *    is kept with the file map, so each page's writes and the checkpoint
 *    block's writes can be placed among the device flushes.
 * A page whose cached copy has an LSN below the device's checkpoint LSN but
 * whose device copy is older is a page InnoDB declared durable (the
 * checkpoint says every change below it is in the data files) while its
 * write was only in the page cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { crc32c } from '@node-rs/crc32';
import { CycleProbe, CycleResult, DEFAULT_CELL, FlushMethod, MariadbCellConfig, baseImage, runCycle, validateCell } from '../engines/mariadb/cycle';
import { doublewriteArea, innodbFiles } from '../engines/mariadb/checks';
import { missingForMariadb } from '../engines/mariadb/runtime';
import { requireExport } from '../src/export';
import { run } from '../src/export/exec';
import { runLedger } from '../src/export/ledger';
import type { FileExtent, TracedFile } from '../src/export/write-shape';
import type { WriteTrace } from '../src/export/device-host/client';

interface ProbedPage {
  page: number;
  stat: { cache: number; dirty: number; writeback: number } | null;
  head: { no: number; lsn: number; space: number } | null;
}
interface ProbedFile {
  file: string;
  size?: number;
  pages?: ProbedPage[];
  error?: string;
}

const PROBE = path.join(__dirname, '..', '..', 'bench', 'pagecache-probe.py');

/** LSN fields are 64-bit; these LSNs stay far below 2^53, so a JS number is exact. */
function readU64(b: Buffer, at: number): number {
  return Number(b.readBigUInt64BE(at));
}

/** The device copy of each page of an InnoDB file: page number, LSN. */
function devicePages(file: string, pageSize: number): { page: number; lsn: number; crcOk?: false }[] {
  const b = fs.readFileSync(file);
  const out: { page: number; lsn: number; crcOk?: false }[] = [];
  for (let off = 0; off + pageSize <= b.length; off += pageSize) {
    const lsn = readU64(b, off + 16);
    // full_crc32: a written page whose last 4 bytes are not the CRC-32C of the rest is torn (or never whole).
    const crcOk = lsn === 0 || crc32c(b.subarray(off, off + pageSize - 4)) === b.readUInt32BE(off + pageSize - 4);
    out.push(crcOk ? { page: off / pageSize, lsn } : { page: off / pageSize, lsn, crcOk: false });
  }
  return out;
}

/** Both checkpoint blocks of a 10.8+ ib_logfile0 (bytes 0x1000 and 0x2000): checkpoint LSN and end LSN. */
function checkpoints(file: string): { at: number; checkpointLsn: number; endLsn: number }[] {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(0x3000);
    fs.readSync(fd, b, 0, b.length, 0);
    return [0x1000, 0x2000].map((at) => ({ at, checkpointLsn: readU64(b, at), endLsn: readU64(b, at + 8) }));
  } finally {
    fs.closeSync(fd);
  }
}

/** The pages the doublewrite area of the crash image's ibdata1 holds: space id, page number, LSN. */
function doublewriteCopies(ibdata1: string, pageSize: number): { space: number; page: number; lsn: number; slot: number; crcOk: boolean }[] {
  const b = fs.readFileSync(ibdata1);
  const out: { space: number; page: number; lsn: number; slot: number; crcOk: boolean }[] = [];
  for (const [a, z] of doublewriteArea(ibdata1, pageSize)) {
    for (let slot = a; slot < z && (slot + 1) * pageSize <= b.length; slot++) {
      const off = slot * pageSize;
      const lsn = readU64(b, off + 16);
      // full_crc32 (MariaDB's default): the last 4 bytes are the CRC-32C of all the bytes before them.
      const crcOk = crc32c(b.subarray(off, off + pageSize - 4)) === b.readUInt32BE(off + pageSize - 4);
      if (lsn !== 0) out.push({ space: b.readUInt32BE(off + 34), page: b.readUInt32BE(off + 4), lsn, slot, crcOk });
    }
  }
  return out;
}

/**
 * What InnoDB's recovery would do if it used the doublewrite buffer for a .ibd's page 0: for each
 * .ibd whose page 0 fails its full_crc32 checksum, write back the newest copy of that page that
 * passes its own and is not older than the checkpoint. Returns the files written.
 */
function restorePage0ByHand(dataDir: string, pageSize: number, copies: ReturnType<typeof doublewriteCopies>, checkpointLsn: number): string[] {
  const out: string[] = [];
  for (const f of innodbFiles(dataDir).filter((x) => x.endsWith('.ibd'))) {
    const file = path.join(dataDir, f);
    const fd = fs.openSync(file, 'r+');
    try {
      const page = Buffer.alloc(pageSize);
      if (fs.readSync(fd, page, 0, pageSize, 0) < pageSize) continue;
      if (crc32c(page.subarray(0, pageSize - 4)) === page.readUInt32BE(pageSize - 4)) continue;
      const space = page.readUInt32BE(34);
      const copy = copies.filter((c) => c.space === space && c.page === 0 && c.crcOk && c.lsn >= checkpointLsn).sort((a, b) => b.lsn - a.lsn)[0];
      if (!copy) continue;
      const ibdata1 = fs.openSync(path.join(dataDir, 'ibdata1'), 'r');
      try {
        fs.readSync(ibdata1, page, 0, pageSize, copy.slot * pageSize);
      } finally {
        fs.closeSync(ibdata1);
      }
      fs.writeSync(fd, page, 0, pageSize, 0);
      fs.fsyncSync(fd);
      out.push(`${f} page 0 from doublewrite slot ${copy.slot} (LSN ${copy.lsn})`);
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

/** Header and trailer of one page of the crash image: page number, space id, FIL_PAGE_LSN, the low 32 bits of the LSN at the end (full_crc32). */
function pageEnds(file: string, page: number, pageSize: number): { no: number; space: number; lsn: number; endLsnLow: number } | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(pageSize);
    if (fs.readSync(fd, b, 0, pageSize, page * pageSize) < pageSize) return undefined;
    return { no: b.readUInt32BE(4), space: b.readUInt32BE(34), lsn: readU64(b, 16), endLsnLow: b.readUInt32BE(pageSize - 8) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Device byte ranges of file bytes [off, off+len). */
function deviceRanges(extents: readonly FileExtent[], file: string, off: number, len: number): [number, number][] {
  const out: [number, number][] = [];
  for (const e of extents) {
    if (e.file !== file) continue;
    const a = Math.max(off, e.logical);
    const z = Math.min(off + len, e.logical + e.length);
    if (a < z) out.push([e.physical + (a - e.logical), z - a]);
  }
  return out;
}

/** Indexes of the traced writes that touch any of `ranges`, and the flushes between. */
function writesTouching(trace: WriteTrace, ranges: [number, number][]): number[] {
  const hits: number[] = [];
  for (let i = 0; i < trace.writes.length / 2; i++) {
    const p = trace.writes[2 * i];
    const l = trace.writes[2 * i + 1];
    if (ranges.some(([a, n]) => p < a + n && a < p + l)) hits.push(i);
  }
  return hits;
}

interface Args {
  out: string;
  cycles: number;
  cfg: MariadbCellConfig;
  settings: Record<string, string>;
  strace: boolean;
  /** Before recovery, write each torn .ibd page 0 back from its doublewrite copy by hand (is the copy enough?). */
  restorePage0: boolean;
  /** With a crash point aimed at page 0: strike this file only. */
  aimFile?: string;
}

function parseArgs(argv: string[]): Args {
  const out = argv[0];
  if (!out) throw new Error('usage: mariadb-fsync-trace.js OUT [cycles] [--profile P] [--doublewrite on|off] [--flush-method M] [--page-size 16k] [--crash-at flush|unprotected|first-page|ibd-first-page|ibdata1-first-page|seeded] [--set k=v]... [--strace] [--seed S] [--restore-page0-by-hand] [--aim-file transfers.ibd]');
  let cycles = 4;
  const cfg: MariadbCellConfig = { ...DEFAULT_CELL, profile: 'enterprise-plp', doublewrite: false, flushMethod: 'fsync', seed: 1, crashes: 1 };
  const settings: Record<string, string> = {};
  let strace = false;
  let restorePage0 = false;
  let aimFile: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (/^\d+$/.test(a)) cycles = Number(a);
    else if (a === '--profile') cfg.profile = next();
    else if (a === '--doublewrite') cfg.doublewrite = next() === 'on';
    else if (a === '--flush-method') cfg.flushMethod = next() as FlushMethod;
    else if (a === '--seed') cfg.seed = Number(next());
    else if (a === '--page-size') cfg.pageSize = Number(next().replace(/k$/i, '')) * 1024;
    else if (a === '--crash-at') cfg.crashAt = next() as MariadbCellConfig['crashAt'];
    else if (a === '--strace') strace = true;
    else if (a === '--restore-page0-by-hand') restorePage0 = true;
    else if (a === '--aim-file') aimFile = next();
    else if (a === '--set') {
      const [k, v] = next().split('=');
      settings[k] = v;
    } else throw new Error(`unknown argument ${a}`);
  }
  cfg.crashes = cycles;
  validateCell(cfg);
  return { out, cycles, cfg, settings, strace, restorePage0, aimFile };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  requireExport('ext4', missingForMariadb());
  fs.mkdirSync(args.out, { recursive: true });
  const ledger = runLedger();
  const base = await baseImage(args.cfg, ledger);
  const summary: unknown[] = [];
  for (let cycle = 0; cycle < args.cycles; cycle++) {
    const dir = path.join(args.out, `cycle${cycle}`);
    fs.mkdirSync(dir, { recursive: true });
    let cache: ProbedFile[] = [];
    let dev: { file: string; pages: ReturnType<typeof devicePages> }[] = [];
    let devCheckpoints: ReturnType<typeof checkpoints> = [];
    let dblwr: ReturnType<typeof doublewriteCopies> = [];
    const page0: Record<string, ReturnType<typeof pageEnds>> = {};
    let cacheCheckpoints: ReturnType<typeof checkpoints> | undefined;
    let traces: Parameters<NonNullable<CycleProbe['traced']>>[0] = {};
    let strace: ChildProcess | undefined;
    let rel = 'mysql';
    let restored: string[] = [];
    const probe: CycleProbe = {
      firstPageFile: args.aimFile,
      settings: args.settings,
      started: ({ pid }) => {
        if (!args.strace || pid === undefined) return;
        strace = spawn('strace', ['-f', '-tt', '-T', '-qq', '-e', 'trace=pwrite64,pwritev,pwritev2,fsync,fdatasync,io_uring_enter,io_submit', '-o', path.join(dir, 'strace.txt'), '-p', String(pid)], { stdio: 'ignore' });
        return new Promise((r) => setTimeout(r, 500));
      },
      atCut: async ({ pid, mountPoint, dataDir, files }) => {
        if (pid !== undefined) process.kill(pid, 'SIGSTOP');
        rel = path.relative(mountPoint, dataDir);
        if (pid !== undefined) {
          fs.writeFileSync(path.join(dir, 'fds.txt'), (await run('ls', ['-l', `/proc/${pid}/fd`], { timeoutMs: 10_000 })).stdout);
          // Thread names (ib_pg_flush_co, ib_io_wr, ...), to name the threads of the strace.
          const tasks = fs.readdirSync(`/proc/${pid}/task`);
          fs.writeFileSync(path.join(dir, 'threads.txt'), tasks.map((t) => `${t} ${fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim()}`).join('\n') + '\n');
        }
        const list = files.filter((f) => f.pageSize).map((f) => path.join(mountPoint, f.file));
        const r = await run('python3', [PROBE, String(args.cfg.pageSize), ...list, path.join(dataDir, 'ib_logfile0')], { timeoutMs: 60_000 });
        cache = JSON.parse(r.stdout || '[]') as ProbedFile[];
        fs.writeFileSync(path.join(dir, 'pagecache.json'), r.stdout);
        // The page cache's copy of the checkpoint blocks (what InnoDB last wrote there), if cached.
        const hex = (cache.find((f) => f.file.endsWith('ib_logfile0')) as { checkpointBlocks?: string } | undefined)?.checkpointBlocks;
        if (hex) {
          const blk = Buffer.from(hex, 'hex');
          cacheCheckpoints = [0, 0x1000].map((at) => ({ at: at + 0x1000, checkpointLsn: readU64(blk, at), endLsn: readU64(blk, at + 8) }));
        }
      },
      traced: (t) => {
        traces = t;
        if (strace) strace.kill('SIGTERM');
      },
      recovered: ({ log }) => fs.writeFileSync(path.join(dir, 'error.log'), log),
      beforeRecovery: ({ dataDir }) => {
        dev = innodbFiles(dataDir).map((f) => ({ file: `${rel}/${f}`, pages: devicePages(path.join(dataDir, f), args.cfg.pageSize) }));
        devCheckpoints = checkpoints(path.join(dataDir, 'ib_logfile0'));
        dblwr = doublewriteCopies(path.join(dataDir, 'ibdata1'), args.cfg.pageSize);
        for (const f of innodbFiles(dataDir)) if (f.endsWith('.ibd')) page0[f] = pageEnds(path.join(dataDir, f), 0, args.cfg.pageSize);
        if (args.restorePage0) restored = restorePage0ByHand(dataDir, args.cfg.pageSize, dblwr, Math.max(0, ...devCheckpoints.map((c) => c.checkpointLsn)));
      },
    };
    const res: CycleResult = await runCycle(args.cfg, base, cycle, ledger, undefined, probe);
    const report = analyze(args.cfg.pageSize, res, cache, dev, devCheckpoints, cacheCheckpoints, traces, rel);
    fs.writeFileSync(path.join(dir, 'cycle.json'), JSON.stringify(res, null, 1));
    fs.writeFileSync(path.join(dir, 'analysis.json'), JSON.stringify(report, null, 1));
    fs.writeFileSync(path.join(dir, 'trace.json'), JSON.stringify(traces));
    // Torn pages named by innochecksum: the crash image's copy (header/trailer LSN) and the doublewrite area's copies of it.
    // Recovery ignores a doublewrite copy older than the checkpoint (docs/mariadb.md, 64 KiB pages): each copy says which side it is on.
    const checkpointLsn = Math.max(0, ...devCheckpoints.map((c) => c.checkpointLsn));
    const torn = (res.checks.innochecksum?.bad ?? []).map((t) => {
      const ends = t.page === 0 ? page0[t.file] : undefined;
      const copies = ends ? dblwr.filter((c) => c.space === ends.space && c.page === t.page).map((c) => ({ ...c, beforeCheckpoint: c.lsn < checkpointLsn })) : undefined;
      return { ...t, ends, doublewriteCopies: copies };
    });
    fs.writeFileSync(path.join(dir, 'doublewrite.json'), JSON.stringify({ checkpointLsn, checkpoints: devCheckpoints, copies: dblwr.length, torn, page0, restoredByHand: restored }, null, 1));
    // Every page of the crash image (LSN; crcOk: false when torn) and every doublewrite copy: what a recovery log line names can be looked up here.
    fs.writeFileSync(path.join(dir, 'device-pages.json'), JSON.stringify({ files: dev, doublewrite: dblwr }));
    if (torn.length) console.log(JSON.stringify({ cycle, torn }));
    summary.push(report.summary);
    console.log(JSON.stringify(report.summary));
  }
  fs.writeFileSync(path.join(args.out, 'summary.json'), JSON.stringify(summary, null, 1));
}

function analyze(
  pageSize: number,
  res: CycleResult,
  cache: ProbedFile[],
  dev: { file: string; pages: { page: number; lsn: number }[] }[],
  devCp: ReturnType<typeof checkpoints>,
  cacheCp: ReturnType<typeof checkpoints> | undefined,
  traces: Parameters<NonNullable<CycleProbe['traced']>>[0],
  rel: string,
) {
  const checkpointLsn = Math.max(0, ...devCp.map((c) => c.checkpointLsn));
  const cacheByFile = new Map<string, ProbedPage[]>();
  for (const f of cache) if (f.pages) cacheByFile.set(`${rel}/${f.file.split(`/${rel}/`)[1]}`, f.pages);
  const newerInCache: { file: string; page: number; devLsn: number; cacheLsn: number; dirty: number; writeback: number; belowCheckpoint: boolean }[] = [];
  let pagesCompared = 0;
  let dirtyPages = 0;
  for (const f of dev) {
    const cached = cacheByFile.get(f.file) ?? [];
    for (const p of f.pages) {
      const c = cached[p.page];
      if (!c?.head) continue;
      pagesCompared++;
      if ((c.stat?.dirty ?? 0) > 0) dirtyPages++;
      if (c.head.lsn > p.lsn) newerInCache.push({ file: f.file, page: p.page, devLsn: p.lsn, cacheLsn: c.head.lsn, dirty: c.stat?.dirty ?? -1, writeback: c.stat?.writeback ?? -1, belowCheckpoint: c.head.lsn < checkpointLsn });
    }
  }
  const violations = newerInCache.filter((p) => p.belowCheckpoint);
  // Device-level timeline of the forced flush: where the violating pages' and the checkpoint blocks' writes fall among the flushes.
  const timeline: unknown[] = [];
  const flush = traces.flush;
  if (flush && traces.extents) {
    const cpWrites = writesTouching(flush, deviceRanges(traces.extents, `${rel}/ib_logfile0`, 0x1000, 0x2000));
    const syncsAfter = (i: number) => flush.syncs.filter((s) => s > i).length;
    timeline.push({ what: 'checkpoint block writes (ib_logfile0 0x1000-0x2fff)', writes: cpWrites, flushesAfterLast: cpWrites.length ? syncsAfter(cpWrites[cpWrites.length - 1]) : null });
    for (const v of violations.slice(0, 20)) {
      const w = writesTouching(flush, deviceRanges(traces.extents, v.file, v.page * pageSize, pageSize));
      timeline.push({ what: `${v.file} page ${v.page}`, writes: w });
    }
    timeline.push({ totalWrites: flush.writes.length / 2, flushes: flush.syncs });
  }
  const summary = {
    cycle: res.cycle,
    replayId: res.replayId,
    verdict: res.verdict,
    findings: res.findings.slice(0, 4),
    cut: { trigger: res.cut.trigger, pendingWrites: res.cut.pendingWrites, changedBlocks: res.cut.changedBlocks },
    checkpointLsnOnDevice: checkpointLsn,
    checkpointBlocksInCache: cacheCp,
    pagesCompared,
    dirtyAtCut: dirtyPages,
    newerInCache: newerInCache.length,
    declaredDurableButNot: violations.length,
    examples: violations.slice(0, 6),
  };
  return { summary, newerInCache, timeline, devCheckpoints: devCp };
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
