/**
 * Exit status of every `tornlab` command (re-exported by main.ts):
 *
 *   0  EXIT_OK         nothing to report
 *   1  EXIT_FINDING    a protection failed: a finding (src/crash/verdict.ts NON_OK)
 *                      the command counts as one (a bug cell, a non-ok crash state)
 *   2  EXIT_BAD_INPUT  bad input or a missing precondition, found before the run
 *   3  EXIT_HARNESS    the testbed itself failed: a crash state ended
 *                      `harness-error`, a harness phase failed, or an internal
 *                      error (an unexpected exception) ended the run
 *   4  EXIT_NOT_COVERED no finding and no harness error, but a pass that
 *                      proves nothing: a `not-covered` cell (a declared crash
 *                      window never hit) or a positive control not caught
 *
 * Precedence (runExitStatus, the one rule every command uses):
 *   harness error (3) > finding (1) > not covered (4) > ok (0).
 *
 * Rule when a run has both a finding and a harness error: 3 wins. The run did
 * not judge every crash state it was asked to, so its result is not one to
 * act on (a CI gate must not read "1" as "the findings are all there are");
 * the findings it did see are still in its output and report. Exit 1 thus
 * always means "a protection failed, and the testbed judged everything".
 * 3 wins over 4 for the same reason (an unjudged state may be the one that
 * would have hit the window), and 1 wins over 4: a finding is a result to act
 * on whatever else was missed. Exit 4 thus always means "everything was
 * judged, nothing failed, but the run could not have seen a failure where it
 * says so"; 2 stays the bad-input code, found before any run.
 */
export const EXIT_OK = 0;
export const EXIT_FINDING = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_HARNESS = 3;
export const EXIT_NOT_COVERED = 4;

/** The exit status of a finished run: EXIT_HARNESS over EXIT_FINDING over EXIT_NOT_COVERED over EXIT_OK. */
export function runExitStatus(o: { findings: boolean; harnessErrors: boolean; notCovered?: boolean }): number {
  if (o.harnessErrors) return EXIT_HARNESS;
  if (o.findings) return EXIT_FINDING;
  return o.notCovered ? EXIT_NOT_COVERED : EXIT_OK;
}
