/**
 * JUnit XML for CI: one test case per matrix cell.
 * - A bug (a finding the cell's expectation does not tolerate) is a `<failure>`.
 * - Crash states that ended `harness-error` (the testbed failed: a phase passed
 *   its deadline, a tool was missing) are an `<error>`, never a failure: the
 *   database was not judged there. Its message names the phase and the message
 *   of the first one; the body lists the kept ones with their replay ids.
 * - A cell with both gets one `<error>` (the rule of the exit status: harness
 *   errors win, src/cli/exit-codes.ts) whose body lists the bug's findings too,
 *   so every test case has at most one of the two and the suite's `failures`
 *   and `errors` counts stay disjoint.
 * - A cell that is `not-covered` (every crash state ok, but a declared crash
 *   window was never hit, or a positive control was not caught) is a
 *   `<failure type="not-covered">` whose message says what was missed and how
 *   to get coverage: its pass proves nothing. Harness errors win over it too.
 * - `failures` counts finding-bug and not-covered cells without harness
 *   errors; `errors` counts cells with harness errors.
 */
import type { CellResult, Report } from '../report/schema';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function firstFindings(c: CellResult): string {
  return c.findings
    .slice(0, 5)
    .map((f) => `${f.verdict}: ${f.detail} (tornlab replay ${f.replayId})`)
    .join('\n');
}

function errorXml(c: CellResult): string {
  const n = c.verdicts['harness-error'];
  const first = c.harnessErrors[0];
  const message = `harness-error: ${n} of ${c.crashStatesTried} crash states were not judged${first ? `; first: ${first.detail}` : ''}`;
  const body = [
    ...c.harnessErrors.slice(0, 5).map((h) => `harness-error: ${h.detail} (tornlab replay ${h.replayId})`),
    ...(c.status === 'finding-bug' ? [`and a bug: mode ${c.mode} claims safety on ${c.profile}, findings:`, firstFindings(c)] : []),
  ].join('\n');
  return `    <error type="harness-error" message="${esc(message)}">${esc(body)}</error>`;
}

function failureXml(c: CellResult): string {
  const found = c.crashStatesTried - c.verdicts.ok - c.verdicts['harness-error'];
  return `    <failure message="${esc(`mode ${c.mode} claims safety on ${c.profile} but ${found} crash states were not ok`)}">${esc(firstFindings(c))}</failure>`;
}

function notCoveredXml(c: CellResult): string {
  const why = c.control
    ? `positive control ${c.control.sabotage} was not caught (${c.control.statesInWindow} states in window ${c.control.window})`
    : `windows never hit: ${(c.coverage ?? []).filter((w) => w.states === 0).map((w) => w.window).join(', ')}`;
  return `    <failure type="not-covered" message="${esc(`not covered: ${why}; raise the budget, use a bigger workload or the targeted strategy`)}"/>`;
}

function caseXml(c: CellResult): string {
  const name = esc(c.id);
  const counts = Object.entries(c.verdicts).filter(([, n]) => n > 0).map(([v, n]) => `${v}=${n}`).join(' ');
  const head = `  <testcase classname="tornlab.${esc(c.engine)}" name="${name}">`;
  const out = `    <system-out>${esc(`${c.crashStatesTried} crash states: ${counts}; expectation ${c.expectation.kind}: ${c.expectation.reason}`)}</system-out>`;
  const verdict = c.verdicts['harness-error'] > 0 ? errorXml(c) : c.status === 'not-covered' ? notCoveredXml(c) : c.status === 'finding-bug' ? failureXml(c) : undefined;
  return [head, ...(verdict ? [verdict] : []), out, '  </testcase>'].join('\n');
}

export function renderJunit(report: Report): string {
  const errors = report.cells.filter((c) => c.verdicts['harness-error'] > 0).length;
  const failures = report.cells.filter((c) => (c.status === 'finding-bug' || c.status === 'not-covered') && c.verdicts['harness-error'] === 0).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuite name="${esc(report.title)}" tests="${report.cells.length}" failures="${failures}" errors="${errors}">`,
    ...report.cells.map(caseXml),
    '</testsuite>',
    '',
  ].join('\n');
}
