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
 *
 * Rule when a run has both a finding and a harness error: 3 wins. The run did
 * not judge every crash state it was asked to, so its result is not one to
 * act on (a CI gate must not read "1" as "the findings are all there are");
 * the findings it did see are still in its output and report. Exit 1 thus
 * always means "a protection failed, and the testbed judged everything".
 */
export const EXIT_OK = 0;
export const EXIT_FINDING = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_HARNESS = 3;

/** The exit status of a finished run: EXIT_HARNESS over EXIT_FINDING over EXIT_OK. */
export function runExitStatus(o: { findings: boolean; harnessErrors: boolean }): number {
  if (o.harnessErrors) return EXIT_HARNESS;
  return o.findings ? EXIT_FINDING : EXIT_OK;
}
