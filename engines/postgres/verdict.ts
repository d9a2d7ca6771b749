/**
 * From PostgreSQL's evidence to a verdict (ARCHITECTURE 4). When several
 * things are wrong the worst one names the cycle: silent damage and lost
 * data outrank damage the engine noticed by itself.
 */
import { OracleResult } from './bank';
import { VERDICTS, Verdict } from '../../src/crash/verdict';

export { VERDICTS };
export type { Verdict };

/** PostgreSQL's words for a page that failed verification (bufmgr.c, checksum.c, pg_checksums). */
const CHECKSUM_WORDS = /invalid page in block|page verification failed|checksum mismatch|checksum verification failed|Bad checksums:\s*[1-9]/i;

export interface Evidence {
  recoveryFailed: boolean;
  log: string;
  oracle?: OracleResult;
  amcheck?: { code: number | null; output: string };
  checksums?: { code: number | null; output: string };
  cleanShutdown?: boolean;
}

export function decideVerdict(e: Evidence): Verdict {
  const checksumSeen =
    CHECKSUM_WORDS.test(e.log) ||
    (e.oracle?.queryErrors.some((q) => CHECKSUM_WORDS.test(q)) ?? false) ||
    (e.checksums !== undefined && e.checksums.code !== 0) ||
    (e.amcheck !== undefined && CHECKSUM_WORDS.test(e.amcheck.output));
  if (e.recoveryFailed) return checksumSeen ? 'torn-page-detected' : 'recovery-failed';
  const o = e.oracle;
  if (o && o.lostCommits.length > 0) return 'lost-commit';
  if (o && (o.balanceSum !== o.expectedSum || o.inconsistentAccounts > 0)) return 'atomicity-violation';
  const amcheckBad = e.amcheck !== undefined && e.amcheck.code !== 0;
  if (amcheckBad && !checksumSeen) return 'silent-corruption';
  if (checksumSeen) return 'torn-page-detected';
  if (o && (o.queryErrors.length > 0 || o.accountRows === 0)) return 'recovery-failed';
  if (e.cleanShutdown === false) return 'recovery-failed';
  return 'ok';
}
