/**
 * From MariaDB's evidence to a verdict (ARCHITECTURE 4), in the order of
 * engines/postgres/verdict.ts: silent damage and lost data outrank damage the
 * engine noticed by itself.
 *
 * An InnoDB that refuses to start over a page it found corrupt is
 * torn-page-detected — the torn write was noticed — and the cycle carries
 * `outage: true`: the data is not lost, but the database is down until
 * someone restores it or forces recovery.
 *
 * A checksum line is not damage when InnoDB's own doublewrite recovery then
 * restored that page: the Note "Checksum mismatch in datafile: ./ibdata1,
 * Space ID: 0" at startup, answered by "Recovered page [page id: space=0,
 * page number=0] to './ibdata1' from the doublewrite buffer." (MariaDB 10.11,
 * buf_dblwr_t::recover). That is the protection working; the checks after it
 * still judge the data (logChecksumEvidence).
 */
import { VERDICTS, Verdict } from '../../src/crash/verdict';
import type { CheckTableResult, InnochecksumResult } from './checks';
import type { MariadbOracle } from './load';

export { VERDICTS };
export type { Verdict };

/** InnoDB could not open a tablespace because its page 0 is corrupt (fil_node_t::read_page0); group 1: the file. */
export const IBD_FIRST_PAGE_CORRUPT = /The first page of file \.\/(\S+\.ibd) is corrupted/g;
/** InnoDB's error-log words for a page that failed verification when read (buf0buf.cc, recovery). */
export const CHECKSUM_WORDS = /Database page corruption|The first page of file \S+ is corrupted|Not applying \S+ due to corruption on|Corrupted page \[page id|apply log to corrupted page|Page read from tablespace is corrupted|checksum mismatch|Failed to read page|page \[page id:[^\]]*\] log sequence number \d+ is in the future/i;
/** What a client sees when InnoDB refused a page it could not verify. */
export const QUERY_CORRUPTION_WORDS = /is corrupted|Tablespace is missing|doesn't exist in engine|Index for table .* is corrupt|error 19[0-9] /i;

/** A page-0 check of a data file at startup (Datafile::validate_first_page): file and space id. */
const DATAFILE_MISMATCH = /Checksum mismatch in datafile: \.\/(\S+), Space ID: (\d+)/;
/** A checksum line that names its page. */
const PAGE_ID = /\[page id: space=(\d+), page number=(\d+)\]/;
/** InnoDB wrote a page back from its doublewrite copy. */
const RESTORED = /Recovered page \[page id: space=(\d+), page number=(\d+)\] to '\.\/([^']+)' from the doublewrite buffer/;

export interface LogChecksumEvidence {
  /** Checksum lines that no doublewrite restore answered: the damage InnoDB noticed. */
  damage: string[];
  /** Pages InnoDB wrote back from the doublewrite buffer ("ibdata1 page 0"). */
  restored: string[];
  /** The checksum lines that a later restore of the same page answered. */
  repairLines: string[];
}

/** The error log's checksum words, minus those the doublewrite buffer repaired. */
export function logChecksumEvidence(log: string): LogChecksumEvidence {
  const lines = log.split('\n');
  const restoredAt = new Map<string, number>();
  const restored: string[] = [];
  lines.forEach((line, i) => {
    const m = RESTORED.exec(line);
    if (!m) return;
    restored.push(`${m[3]} page ${m[2]}`);
    restoredAt.set(`${m[1]}:${m[2]}`, i);
    restoredAt.set(`${m[3]}#${m[2]}`, i);
  });
  const damage: string[] = [];
  const repairLines: string[] = [];
  lines.forEach((line, i) => {
    if (!CHECKSUM_WORDS.test(line)) return;
    const df = DATAFILE_MISMATCH.exec(line);
    const pid = PAGE_ID.exec(line);
    // A redo record skipped over an inconsistent page is lost work, whatever is restored after it.
    const key = df ? `${df[1]}#0` : pid && !/Not applying/.test(line) ? `${pid[1]}:${pid[2]}` : undefined;
    const at = key === undefined ? undefined : restoredAt.get(key);
    if (at !== undefined && at > i) repairLines.push(line);
    else damage.push(line);
  });
  return { damage, restored, repairLines };
}

export interface Evidence {
  /** The server refused to start after the cut (it exited, or never accepted a connection). */
  refused: boolean;
  log: string;
  oracle?: MariadbOracle;
  oltpRowsExpected?: number;
  checkTable?: CheckTableResult;
  innochecksum?: InnochecksumResult;
  cleanShutdown?: boolean;
}

export function decideVerdict(e: Evidence): Verdict {
  const checksumBad = e.innochecksum !== undefined && (e.innochecksum.bad.length > 0 || e.innochecksum.unreadable.length > 0);
  const corruptionSeen =
    checksumBad ||
    logChecksumEvidence(e.log).damage.length > 0 ||
    (e.oracle?.queryErrors.some((q) => QUERY_CORRUPTION_WORDS.test(q)) ?? false) ||
    (e.checkTable?.errors.some((q) => QUERY_CORRUPTION_WORDS.test(q)) ?? false);
  if (e.refused) return corruptionSeen ? 'torn-page-detected' : 'recovery-failed';
  const o = e.oracle;
  if (o && o.lostCommits.length > 0) return 'lost-commit';
  if (o && (o.balanceSum !== o.expectedSum || o.inconsistentAccounts > 0 || o.inconsistentBranches > 0)) return 'atomicity-violation';
  if (o && e.oltpRowsExpected !== undefined && o.oltpRows >= 0 && o.oltpRows !== e.oltpRowsExpected) return 'atomicity-violation';
  const structureBad = e.checkTable !== undefined && (e.checkTable.problems.length > 0 || e.checkTable.errors.length > 0);
  if (structureBad && !corruptionSeen) return 'silent-corruption';
  if (corruptionSeen) return 'torn-page-detected';
  if (o && (o.queryErrors.length > 0 || o.accountRows === 0)) return 'recovery-failed';
  if (e.cleanShutdown === false) return 'recovery-failed';
  return 'ok';
}
