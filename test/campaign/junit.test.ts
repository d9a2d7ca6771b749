import { renderJunit } from '../../src/campaign/junit';
import { buildCellResult, buildReport } from '../../src/report/build';
import { syntheticCells, syntheticReport } from '../report/fixture';

/** The test case of one cell, from `<testcase ... name="ID">` to its `</testcase>`. */
function caseOf(xml: string, id: string): string {
  const start = xml.indexOf(`name="${id}"`);
  expect(start).toBeGreaterThan(0);
  return xml.slice(start, xml.indexOf('</testcase>', start));
}

describe('JUnit XML', () => {
  const xml = renderJunit(syntheticReport());

  test('a bug is a <failure>, harness errors are an <error> with the phase and message, the rest pass', () => {
    expect(xml).toMatch(/<testsuite name="[^"]*" tests="24" failures="1" errors="1">/);
    const bug = caseOf(xml, 'minipage/fpw/consumer-tlc/8192/kv-zipf');
    expect(bug).toContain('<failure message="mode fpw claims safety on consumer-tlc but 2 crash states were not ok">');
    expect(bug).not.toContain('<error');
    const harness = caseOf(xml, 'minipage/doublewrite/enterprise-plp/8192/kv-zipf');
    expect(harness).toContain('<error type="harness-error" message="harness-error: 2 of 200 crash states were not judged; first: verify: passed its deadline of 120000 ms">');
    expect(harness).toMatch(/harness-error: verify: passed its deadline of 120000 ms \(tornlab replay tl1\.[^)]+\)/);
    expect(harness).not.toContain('<failure');
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(xml.match(/<error /g)).toHaveLength(1);
  });

  test('a cell with a bug and harness errors is one <error> that also lists the findings (harness errors win, as in the exit status)', () => {
    const cells = syntheticCells(20);
    const i = cells.findIndex((c) => c.id === 'minipage/fpw/consumer-tlc/8192/kv-zipf');
    const c = cells[i];
    cells[i] = buildCellResult({
      ...c,
      bytesByTag: c.bytesByTag,
      commitLatencyUs: c.commitLatencyUs,
      verdicts: { ...c.verdicts, ok: c.verdicts.ok - 1, 'harness-error': 1 },
      findings: [...c.findings, { replayId: 'tl1.x.p1', verdict: 'harness-error', detail: 'recovery: passed its deadline of 60000 ms' }],
      tbwTerabytes: c.lifetime.tbwTerabytes,
    });
    expect(cells[i].status).toBe('finding-bug');
    const x = renderJunit(buildReport({ toolVersion: 't', campaign: {}, cells }));
    expect(x).toMatch(/tests="24" failures="0" errors="2"/);
    const both = caseOf(x, c.id);
    expect(both).toContain('<error type="harness-error" message="harness-error: 1 of 20 crash states were not judged; first: recovery: passed its deadline of 60000 ms">');
    expect(both).toContain('and a bug: mode fpw claims safety on consumer-tlc, findings:');
    expect(both).toContain('lost-commit: txn');
    expect(both).not.toContain('<failure');
  });
});
