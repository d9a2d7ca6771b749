/**
 * From MariaDB's evidence to a verdict (ARCHITECTURE 4), in the order of
 * engines/postgres/verdict.ts: silent damage and lost data outrank damage the
 * engine noticed by itself.
 *
 * An InnoDB that refuses to start over a page it found corrupt is
 * torn-page-detected — the torn write was noticed — and the cycle carries
 * `outage: true`: the data is not lost, but the database is down until
 * someone restores it or forces recovery.
 */
import { VERDICTS, Verdict } from '../../src/crash/verdict';
import type { CheckTableResult, InnochecksumResult } from './checks';
import type { MariadbOracle } from './load';

export { VERDICTS };
export type { Verdict };

/** InnoDB's error-log words for a page that failed verification when read (buf0buf.cc, recovery). */
export const CHECKSUM_WORDS = /Database page corruption|Corrupted page \[page id|apply log to corrupted page|Page read from tablespace is corrupted|checksum mismatch|Failed to read page|page \[page id:[^\]]*\] log sequence number \d+ is in the future/i;
/** What a client sees when InnoDB refused a page it could not verify. */
export const QUERY_CORRUPTION_WORDS = /is corrupted|Tablespace is missing|doesn't exist in engine|Index for table .* is corrupt|error 19[0-9] /i;

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
    CHECKSUM_WORDS.test(e.log) ||
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
