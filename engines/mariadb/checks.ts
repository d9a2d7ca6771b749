/**
 * InnoDB's own checks of a recovered datadir: CHECK TABLE … EXTENDED on a
 * running server, and innochecksum on the stopped one.
 *
 * innochecksum is read page by page: with --allow-mismatches it goes on past
 * a bad page and exits 0 whatever it found, so the verdict comes from its
 * "Fail: page::N invalid" lines, never from its exit status. The doublewrite
 * area of the system tablespace (two blocks of one extent each, located by
 * the TRX_SYS page) holds copies of other tablespaces' pages — stale or torn
 * by design after a cut — so failures there are not findings.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Connection, MariadbInstance } from './server';

/** TRX_SYS page of the system tablespace (FSP_TRX_SYS_PAGE_NO) and the doublewrite header in it. */
const TRX_SYS_PAGE = 5;
const DOUBLEWRITE_FROM_END = 200;
const DOUBLEWRITE_MAGIC = 536853855;

/** Pages per extent (FSP_EXTENT_SIZE): 1 MiB worth up to 16 KiB pages, 64 pages above. */
export function extentPages(pageSize: number): number {
  return pageSize <= 16384 ? (1024 * 1024) / pageSize : 64;
}

/** The doublewrite area of ibdata1 as page ranges [from, to), or [] when the header is not there. */
export function doublewriteArea(ibdata1: string, pageSize: number): [number, number][] {
  const buf = Buffer.alloc(22);
  let fd: number | undefined;
  try {
    fd = fs.openSync(ibdata1, 'r');
    if (fs.readSync(fd, buf, 0, 22, TRX_SYS_PAGE * pageSize + pageSize - DOUBLEWRITE_FROM_END) < 22) return [];
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (buf.readUInt32BE(10) !== DOUBLEWRITE_MAGIC) return [];
  const n = extentPages(pageSize);
  return [buf.readUInt32BE(14), buf.readUInt32BE(18)].map((b): [number, number] => [b, b + n]);
}

export interface BadPage {
  /** Path relative to the datadir. */
  file: string;
  page: number;
}

export interface InnochecksumResult {
  files: number;
  /** Pages that failed, outside the doublewrite area. */
  bad: BadPage[];
  /** Failures inside the doublewrite area (not findings). */
  doublewriteSkipped: number;
  /** Files innochecksum could not read at all (e.g. a torn page 0), with its words. */
  unreadable: { file: string; output: string }[];
}

/** InnoDB data files of a datadir: the system tablespace, undo tablespaces and every .ibd. */
export function innodbFiles(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dataDir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (/\.ibd$/.test(e.name) || /^ibdata\d+$/.test(e.name) || /^undo\d+$/.test(e.name)) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

const FAIL_LINE = /Fail: page::(\d+) invalid/g;

/** Run innochecksum over every InnoDB file of a stopped server's datadir. */
export async function runInnochecksum(server: MariadbInstance, pageSize: number): Promise<InnochecksumResult> {
  const dataDir = server.opts.dataDir;
  const res: InnochecksumResult = { files: 0, bad: [], doublewriteSkipped: 0, unreadable: [] };
  const dblwr = doublewriteArea(path.join(dataDir, 'ibdata1'), pageSize);
  const files = innodbFiles(dataDir);
  const runs = await server.innochecksum(files.map((f) => path.join(dataDir, f)), ['--allow-mismatches=1000000000']);
  for (const [i, file] of files.entries()) {
    res.files++;
    const r = runs[i];
    if (!r) {
      res.unreadable.push({ file, output: 'innochecksum gave no result for this file' });
      continue;
    }
    const out = r.output;
    const skip = file === 'ibdata1' ? dblwr : [];
    const pages = new Set<number>();
    for (const m of out.matchAll(FAIL_LINE)) pages.add(Number(m[1]));
    for (const page of [...pages].sort((a, b) => a - b)) {
      if (skip.some(([a, b]) => page >= a && page < b)) res.doublewriteSkipped++;
      else res.bad.push({ file, page });
    }
    if (r.code !== 0) res.unreadable.push({ file, output: out.trim().split('\n').slice(-3).join(' / ') });
  }
  return res;
}

export interface CheckTableRow {
  table: string;
  msgType: string;
  msgText: string;
}

export interface CheckTableResult {
  /** Every row that is an error, a warning or a status other than OK, but the benign ones. */
  problems: CheckTableRow[];
  /** Warnings InnoDB gives for garbage a consistent database may hold (classifyCheckRow); not findings. */
  benign?: (CheckTableRow & { why: string })[];
  /** The statement itself failed (e.g. the table is unreadable). */
  errors: string[];
}

/**
 * A delete-marked secondary index record (info_bits with REC_INFO_DELETED_FLAG, 0x20) whose
 * clustered record or version is gone. CHECK TABLE ... EXTENDED (row_check_index, MDEV-24402)
 * reports such a record as a Warning, at most one per index, keeps the status OK and flags
 * nothing as corrupted: a rollback may delete-mark a secondary record instead of removing it
 * and leave no purge work for it (MDEV-29823), and a record whose history was purged looks the
 * same. A record that is not delete-marked without its clustered record is an error (status
 * Corrupt) and stays a problem.
 */
const DELETE_MARKED_ORPHAN = /^InnoDB: Clustered index record not found for index .*: COMPACT RECORD\(info_bits=(\d+),/;

/** Is one CHECK TABLE row fine, a problem, or benign (with why)? */
export function classifyCheckRow(row: CheckTableRow): 'ok' | 'problem' | { benign: string } {
  if (row.msgType === 'status') return row.msgText === 'OK' ? 'ok' : 'problem';
  if (row.msgType === 'note') return 'ok';
  const m = row.msgType.toLowerCase() === 'warning' ? DELETE_MARKED_ORPHAN.exec(row.msgText) : null;
  if (m && (Number(m[1]) & 0x20) !== 0) return { benign: 'a delete-marked secondary index record left without its clustered record: garbage InnoDB only warns about (MDEV-29823), not lost data' };
  return 'problem';
}

export const CHECKED_TABLES = ['tornlab.accounts', 'tornlab.transfers', 'tornlab.branches', 'tornlab.sbtest1'];

/** CHECK TABLE … EXTENDED on the load's tables. */
export async function checkTables(c: Connection): Promise<CheckTableResult> {
  const benign: NonNullable<CheckTableResult['benign']> = [];
  const res: CheckTableResult = { problems: [], benign, errors: [] };
  for (const t of CHECKED_TABLES) {
    try {
      const rows = (await c.query(`CHECK TABLE ${t} EXTENDED`)) as Record<string, unknown>[];
      for (const r of rows) {
        const row = { table: String(r.Table), msgType: String(r.Msg_type), msgText: String(r.Msg_text) };
        const k = classifyCheckRow(row);
        if (k === 'problem') res.problems.push(row);
        else if (k !== 'ok') benign.push({ ...row, why: k.benign });
      }
    } catch (e) {
      res.errors.push(`${t}: ${(e as Error).message}`);
    }
  }
  return res;
}
