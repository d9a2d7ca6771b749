/**
 * The exit-code convention a user's verify command uses to name a verdict
 * (ARCHITECTURE 4; the vocabulary itself is src/crash/verdict.ts).
 */
import { VERDICTS, Verdict } from '../../src/crash/verdict';

export { VERDICTS };
export type { Verdict };

/**
 * A user's verify command that fails without naming a class reports `failed`.
 * `harness-error`: the cycle could not be judged (a phase passed its deadline);
 * not a verdict on the database, not a finding.
 */
export type ExecVerdict = Verdict | 'failed' | 'harness-error';

/**
 * Exit status of a verify command -> verdict. 0 is ok; 10..14 name a class;
 * any other non-zero status is `failed` (still a finding).
 */
export const VERIFY_EXIT_CODES: Record<number, Verdict> = {
  0: 'ok',
  10: 'torn-page-detected',
  11: 'silent-corruption',
  12: 'lost-commit',
  13: 'atomicity-violation',
  14: 'recovery-failed',
};

export function verdictOfExitCode(code: number): ExecVerdict {
  return VERIFY_EXIT_CODES[code] ?? 'failed';
}
