/**
 * One SQLite configuration under test (a campaign cell): journal mode,
 * synchronous level and page size, validated, plus what SQLite's documentation
 * promises for that combination across a power cut. The promise decides which
 * verdicts are findings and which are the documented price of the setting.
 */
import { BadInputError } from '../../src/util/errors';

export const JOURNAL_MODES = ['DELETE', 'TRUNCATE', 'PERSIST', 'WAL', 'OFF'] as const;
export type JournalMode = (typeof JOURNAL_MODES)[number];

/** EXTRA is accepted too: it is FULL plus a directory sync after unlinking the journal. */
export const SYNCHRONOUS_LEVELS = ['FULL', 'NORMAL', 'OFF', 'EXTRA'] as const;
export type SynchronousLevel = (typeof SYNCHRONOUS_LEVELS)[number];

/** The page sizes of the campaign grid; any size SQLite accepts can be run by hand. */
export const GRID_PAGE_SIZES = [4096, 8192, 16384] as const;

export interface SqliteCell {
  journalMode: JournalMode;
  synchronous: SynchronousLevel;
  pageSize: number;
}

export function parseJournalMode(raw: string): JournalMode {
  const v = raw.trim().toUpperCase();
  if ((JOURNAL_MODES as readonly string[]).includes(v)) return v as JournalMode;
  const extra = v === 'MEMORY' ? ' (MEMORY keeps the rollback journal in RAM: a power cut mid-commit corrupts by design, so it is not a cell)' : '';
  throw new BadInputError(`unknown journal mode "${raw}"${extra}; use one of ${JOURNAL_MODES.join(', ')}`);
}

export function parseSynchronous(raw: string): SynchronousLevel {
  const v = raw.trim().toUpperCase();
  if ((SYNCHRONOUS_LEVELS as readonly string[]).includes(v)) return v as SynchronousLevel;
  throw new BadInputError(`unknown synchronous level "${raw}"; use one of ${SYNCHRONOUS_LEVELS.join(', ')}`);
}

/** SQLite accepts a power of two between 512 and 65536 (sqlite3.c, PRAGMA page_size); anything else it silently ignores, which would test the wrong thing. */
export function parsePageSize(raw: string | number): number {
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 512 || n > 65536 || (n & (n - 1)) !== 0) {
    throw new BadInputError(
      `page size "${raw}" is not one SQLite accepts: use a power of two from 512 to 65536 bytes (the grid uses ${GRID_PAGE_SIZES.join(', ')})`,
    );
  }
  return n;
}

export function parseCell(o: { journalMode: string; synchronous: string; pageSize: string | number }): SqliteCell {
  return { journalMode: parseJournalMode(o.journalMode), synchronous: parseSynchronous(o.synchronous), pageSize: parsePageSize(o.pageSize) };
}

export function cellName(c: SqliteCell): string {
  return `journal=${c.journalMode} sync=${c.synchronous} page=${c.pageSize}`;
}

/** Every cell of the grid the issue names (5 x 3 x 3 = 45). */
export function gridCells(): SqliteCell[] {
  const out: SqliteCell[] = [];
  for (const journalMode of JOURNAL_MODES)
    for (const synchronous of ['FULL', 'NORMAL', 'OFF'] as const)
      for (const pageSize of GRID_PAGE_SIZES) out.push({ journalMode, synchronous, pageSize });
  return out;
}

/**
 * What SQLite says a cell keeps across a power cut (https://sqlite.org/pragma.html#pragma_synchronous,
 * https://sqlite.org/wal.html, https://sqlite.org/atomiccommit.html):
 * - integrity: the database file is never corrupted, transactions are all-or-nothing;
 * - durability: a commit that returned survives.
 * journal_mode=OFF has no rollback journal, so a cut mid-commit may leave part of it;
 * synchronous=OFF hands data to the OS without syncing: corruption is possible.
 * WAL with synchronous=NORMAL syncs the WAL only at checkpoints: commits may roll
 * back after a power loss, but the database stays consistent.
 */
export interface CellPromise {
  integrity: boolean;
  durability: boolean;
  /**
   * DELETE mode commits by unlinking the journal and syncs the directory only
   * with synchronous=EXTRA ("EXTRA provides additional durability if the commit
   * is followed closely by a power loss"): with FULL or NORMAL the unlink of the
   * last commit may not be durable, the journal comes back hot and rolls that
   * one commit back. TRUNCATE with NORMAL likewise (its truncation is synced
   * only with FULL). Set when exactly that is the documented loss.
   */
  lastCommitMayRollBack?: string;
  /** Why the cell promises less, quoted in reports. */
  note?: string;
}

export function cellPromise(c: SqliteCell): CellPromise {
  if (c.journalMode === 'OFF') return { integrity: false, durability: false, note: 'journal_mode=OFF has no rollback journal: a power cut (or crash) mid-commit can leave a partial transaction or a corrupt file' };
  if (c.synchronous === 'OFF') return { integrity: false, durability: false, note: 'synchronous=OFF never syncs: a power cut can lose commits and corrupt the database' };
  if (c.journalMode === 'WAL' && c.synchronous === 'NORMAL')
    return { integrity: true, durability: false, note: 'WAL with synchronous=NORMAL syncs the WAL only at checkpoints: acknowledged commits may roll back after a power loss (documented trade-off), the database must stay consistent' };
  // The commit point of a rollback journal is its finalisation (unlink, truncate, zeroed
  // header). SQLite makes that durable only with EXTRA (DELETE: directory sync) or FULL
  // (TRUNCATE: sync after truncating; pager.c says the journal may otherwise come back after a
  // power loss and roll the last transaction back). PERSIST syncs its zeroed header unless OFF.
  const lastCommitMayRollBack =
    c.journalMode === 'DELETE' && c.synchronous !== 'EXTRA'
      ? `journal_mode=DELETE with synchronous=${c.synchronous} does not sync the directory after unlinking the journal (only EXTRA does): the last acknowledged commit may roll back after a power loss (documented trade-off)`
      : c.journalMode === 'TRUNCATE' && c.synchronous === 'NORMAL'
        ? 'journal_mode=TRUNCATE syncs the truncated journal only with synchronous=FULL: with NORMAL the journal may come back after a power loss and roll the last acknowledged commit back (documented trade-off)'
        : undefined;
  if (c.synchronous === 'NORMAL')
    return { integrity: true, durability: true, lastCommitMayRollBack, note: 'rollback journal with synchronous=NORMAL syncs the journal once instead of twice; SQLite warns of "a very small chance" of corruption on power loss' };
  return { integrity: true, durability: true, lastCommitMayRollBack };
}
