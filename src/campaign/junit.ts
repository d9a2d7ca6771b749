/** JUnit XML for CI: one test case per matrix cell; a bug (claims-safe cell with findings) is a failure. */
import type { CellResult, Report } from '../report/schema';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function caseXml(c: CellResult): string {
  const name = esc(c.id);
  const counts = Object.entries(c.verdicts).filter(([, n]) => n > 0).map(([v, n]) => `${v}=${n}`).join(' ');
  const head = `  <testcase classname="tornlab.${esc(c.engine)}" name="${name}">`;
  const out = `    <system-out>${esc(`${c.crashStatesTried} crash states: ${counts}; expectation ${c.expectation.kind}: ${c.expectation.reason}`)}</system-out>`;
  if (c.status === 'not-covered') {
    const why = c.control
      ? `positive control ${c.control.sabotage} was not caught (${c.control.statesInWindow} states in window ${c.control.window})`
      : `windows never hit: ${(c.coverage ?? []).filter((w) => w.states === 0).map((w) => w.window).join(', ')}`;
    return `${head}\n    <failure type="not-covered" message="${esc(`not covered: ${why}; raise the budget, use a bigger workload or the targeted strategy`)}"/>\n${out}\n  </testcase>`;
  }
  if (c.status !== 'finding-bug') return `${head}\n${out}\n  </testcase>`;
  const first = c.findings.slice(0, 5).map((f) => `${f.verdict}: ${f.detail} (tornlab replay ${f.replayId})`).join('\n');
  return `${head}\n    <failure message="${esc(`mode ${c.mode} claims safety on ${c.profile} but ${c.crashStatesTried - c.verdicts.ok} crash states were not ok`)}">${esc(first)}</failure>\n${out}\n  </testcase>`;
}

export function renderJunit(report: Report): string {
  const failures = report.cells.filter((c) => c.status === 'finding-bug' || c.status === 'not-covered').length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuite name="${esc(report.title)}" tests="${report.cells.length}" failures="${failures}" errors="0">`,
    ...report.cells.map(caseXml),
    '</testsuite>',
    '',
  ].join('\n');
}
