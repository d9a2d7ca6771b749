/**
 * From PostgreSQL's evidence to a verdict (ARCHITECTURE 4). When several
 * things are wrong the worst one names the cycle: silent damage and lost
 * data outrank damage the engine noticed by itself.
 *
 * A free-space-map or visibility-map page that fails its checksum while it
 * is read with RBM_ZERO_ON_ERROR (fsm_readbuf, vm_readbuf: "zeroing out
 * page") is PostgreSQL's designed repair of a fork it does not protect
 * against torn writes, not damage: redo of a heap record reads the FSM page
 * before the record that restores it (FPI_FOR_HINT) is replayed, and a map
 * page may always be cleared (docs/postgres-fsm-torn-page.md). Such log
 * lines are not checksum evidence; a map page still bad on disk after
 * recovery is, through pg_checksums --check.
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

/** One line of the server log: the backend's pid (from the default log_line_prefix "... UTC [pid] "), if any. */
const LOG_PID = /\[(\d+)\]\s+(?:WARNING|ERROR|LOG|FATAL|PANIC|CONTEXT|DETAIL|HINT):/;
/**
 * The buffer manager's words for pages it zeroed instead of failing (RBM_ZERO_ON_ERROR or
 * zero_damaged_pages): one page (PostgreSQL 15-17, and 18 with a quoted path), or a range of a
 * vectored read (18: "zeroing out N invalid pages among blocks A..B of relation ...").
 */
const ZEROED_ONE = /invalid page in block (\d+) of relation "?([^";\s]+)"?; zeroing out page/;
const ZEROED_RANGE = /zeroing out (?:\d+) invalid pages among blocks (\d+\.\.\d+) of relation "?([^";\s]+)"?/;
/** The forks whose pages PostgreSQL reads with RBM_ZERO_ON_ERROR by design. */
const MAP_FORK = /_(fsm|vm)$/;

export interface LogChecksumEvidence {
  /** Log lines that show a damaged page (checksum words), the designed map-page repairs left out. */
  damage: string[];
  /** Free-space-map / visibility-map pages PostgreSQL zeroed as designed ("base/5/16384_fsm block 2"). */
  zeroedMapPages: string[];
  /** The log lines of those repairs (the verification warning and the zeroing line of each). */
  repairLines: string[];
}

/**
 * Split the checksum lines of a server log into damage and PostgreSQL's
 * designed repair of map-fork pages: a "page verification failed" warning
 * is followed, from the same backend, by the "invalid page ... zeroing out
 * page" line of the same read; when that names an _fsm or _vm fork, both
 * lines are the repair.
 */
export function logChecksumEvidence(log: string): LogChecksumEvidence {
  const lines = log.split('\n');
  const damage: string[] = [];
  const zeroedMapPages: string[] = [];
  const repaired = new Set<number>();
  lines.forEach((line, i) => {
    const z = ZEROED_ONE.exec(line) ?? ZEROED_RANGE.exec(line);
    if (!z || !MAP_FORK.test(z[2])) return;
    zeroedMapPages.push(`${z[2]} block${z[1].includes('..') ? 's' : ''} ${z[1]}`);
    repaired.add(i);
    // The verification warnings of the same read (one per zeroed page): this backend's checksum lines just before.
    const pid = LOG_PID.exec(line)?.[1];
    let pages = Number(/zeroing out (\d+) invalid pages/.exec(line)?.[1] ?? 1);
    for (let j = i - 1; j >= 0 && pages > 0; j--) {
      if (pid !== undefined && LOG_PID.exec(lines[j])?.[1] !== pid) continue;
      if (/invalid page in block|invalid pages among blocks/.test(lines[j])) break;
      if (/page verification failed/.test(lines[j]) && !repaired.has(j)) {
        repaired.add(j);
        pages--;
      }
    }
  });
  lines.forEach((line, i) => {
    if (!repaired.has(i) && CHECKSUM_WORDS.test(line)) damage.push(line);
  });
  return { damage, zeroedMapPages, repairLines: [...repaired].sort((a, b) => a - b).map((i) => lines[i]) };
}

/** The line that names a cycle's verdict: PostgreSQL's first FATAL/PANIC/ERROR/WARNING that is not a designed map-page repair. */
export function detailLine(messages: readonly string[]): string | undefined {
  const repair = new Set(logChecksumEvidence(messages.join('\n')).repairLines);
  return messages.find((m) => /FATAL|PANIC|ERROR|WARNING/.test(m) && !repair.has(m));
}

export function decideVerdict(e: Evidence): Verdict {
  const checksumSeen =
    logChecksumEvidence(e.log).damage.length > 0 ||
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
