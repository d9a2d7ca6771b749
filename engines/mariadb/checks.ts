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
import type { Connection, MariadbServer } from './server';

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
export async function runInnochecksum(server: MariadbServer, pageSize: number): Promise<InnochecksumResult> {
  const dataDir = server.opts.dataDir;
  const res: InnochecksumResult = { files: 0, bad: [], doublewriteSkipped: 0, unreadable: [] };
  const dblwr = doublewriteArea(path.join(dataDir, 'ibdata1'), pageSize);
  for (const file of innodbFiles(dataDir)) {
    res.files++;
    const r = await server.runTool('innochecksum', ['--allow-mismatches=1000000000', path.join(dataDir, file)]);
    const out = r.stdout + r.stderr;
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
  /** Every row that is an error, a warning or a status other than OK. */
  problems: CheckTableRow[];
  /** The statement itself failed (e.g. the table is unreadable). */
  errors: string[];
}

export const CHECKED_TABLES = ['tornlab.accounts', 'tornlab.transfers', 'tornlab.branches', 'tornlab.sbtest1'];

/** CHECK TABLE … EXTENDED on the load's tables. */
export async function checkTables(c: Connection): Promise<CheckTableResult> {
  const res: CheckTableResult = { problems: [], errors: [] };
  for (const t of CHECKED_TABLES) {
    try {
      const rows = (await c.query(`CHECK TABLE ${t} EXTENDED`)) as Record<string, unknown>[];
      for (const r of rows) {
        const row = { table: String(r.Table), msgType: String(r.Msg_type), msgText: String(r.Msg_text) };
        if (row.msgType === 'status' ? row.msgText !== 'OK' : row.msgType !== 'note') res.problems.push(row);
      }
    } catch (e) {
      res.errors.push(`${t}: ${(e as Error).message}`);
    }
  }
  return res;
}
