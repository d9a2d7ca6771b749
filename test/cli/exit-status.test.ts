import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CommanderError } from 'commander';
import { CellSpec } from '../../src/crash/cell';
import { getAdapter } from '../../src/campaign/engines';
import { captureRun, judgeStates } from '../../src/campaign/evaluate';
import { planCell } from '../../src/campaign/run-cell';
import { summaryLine } from '../../src/cli/commands/campaign';
import { EXIT_BAD_INPUT, EXIT_FINDING, EXIT_HARNESS, EXIT_OK, runExitStatus } from '../../src/cli/exit-codes';
import { describeFailure, takeDebugFlag } from '../../src/cli/main';
import { progressCount } from '../../src/cli/progress';
import { HarnessError, NON_OK, VERDICTS, isFinding } from '../../src/crash/verdict';
import { buildCellResult, measurementsFromCounters } from '../../src/report/build';
import { BadInputError } from '../../src/util/errors';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');

describe('the verdict vocabulary', () => {
  test('one ordered list; harness-error is last and never a finding', () => {
    expect(VERDICTS).toEqual(['ok', 'torn-page-detected', 'silent-corruption', 'lost-commit', 'atomicity-violation', 'recovery-failed', 'harness-error']);
    expect(NON_OK).toEqual(VERDICTS.slice(1, -1));
    expect(VERDICTS.filter(isFinding)).toEqual(NON_OK);
    expect(isFinding('harness-error')).toBe(false);
    expect(isFinding('ok')).toBe(false);
  });

  test('the engines re-export the same list', () => {
    for (const m of ['../../engines/minipage/verify', '../../engines/postgres/verdict', '../../engines/exec/verdict', '../../engines/sqlite/oracle']) {
      expect(require(m).VERDICTS).toBe(VERDICTS);
    }
  });
});

describe('exit status', () => {
  test('3 wins over 1; 1 only for findings', () => {
    expect(runExitStatus({ findings: false, harnessErrors: false })).toBe(EXIT_OK);
    expect(runExitStatus({ findings: true, harnessErrors: false })).toBe(EXIT_FINDING);
    expect(runExitStatus({ findings: false, harnessErrors: true })).toBe(EXIT_HARNESS);
    expect(runExitStatus({ findings: true, harnessErrors: true })).toBe(EXIT_HARNESS);
    expect([EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT, EXIT_HARNESS]).toEqual([0, 1, 2, 3]);
  });

  test('errors that end a command: user errors 2, harness and internal errors 3 as "tornlab: harness-error: ..."', () => {
    expect(describeFailure(new BadInputError('bad'))).toEqual({ status: 2, message: 'tornlab: bad\n' });
    expect(describeFailure(new HarnessError('verify', 'passed its deadline of 5 ms'))).toEqual({ status: 3, message: 'tornlab: harness-error: verify: passed its deadline of 5 ms\n' });
    const internal = describeFailure(new TypeError('x is undefined'));
    expect(internal.status).toBe(3);
    // One line without --debug (issue 16: no stack traces for the user); the stack with it.
    expect(internal.message).toBe('tornlab: harness-error: internal error: TypeError: x is undefined (run again with --debug for the stack)\n');
    expect(takeDebugFlag(['run', '--debug', '--mode', 'fpw', '--', '--debug'])).toEqual(['run', '--mode', 'fpw', '--', '--debug']);
    expect(describeFailure(new TypeError('x is undefined')).message).toMatch(/^tornlab: harness-error: internal error: TypeError: x is undefined\n {4}at /);
    expect(describeFailure(new CommanderError(1, 'commander.unknownOption', 'unknown option'))).toEqual({ status: 2 });
  });

  test('the built CLI: an --out it cannot write is bad input before the run (exit 2), never 1', () => {
    if (!fs.existsSync(CLI)) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exit-'));
    try {
      const file = path.join(dir, 'a-file');
      fs.writeFileSync(file, '');
      // --out under a regular file: found before any work (it used to fail after the run, exit 3).
      const r = spawnSync(process.execPath, [CLI, 'run', '--mode', 'fpw', '--txns', '20', '--crashes', '5', '--out', path.join(file, 'rep')], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^tornlab: --out .*: .*a-file is a file, not a folder; give a folder path$/m);
      expect(r.stdout).toBe(''); // nothing ran
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a crash state the harness fails to judge', () => {
  test('is harness-error: in a claims-safe cell neither a pass nor a bug, counted on its own', () => {
    const cell: CellSpec = { engine: 'minipage', mode: 'fpw', force: false, profile: 'consumer-tlc', faults: [], pageSize: 8192, workload: 'bank', txns: 40, seed: 5, crashes: 30, strategy: 'random', crashDuringRecovery: false };
    const adapter = getAdapter('minipage');
    const { states, metrics } = planCell(adapter, cell);
    const { run, spaces } = captureRun(adapter, cell, states.map((s) => s.point));
    let calls = 0;
    const flaky = {
      ...run,
      recoverAndVerify: (seq: number, dev: Parameters<typeof run.recoverAndVerify>[1]) => {
        if (calls++ % 10 === 3) throw new HarnessError('verify', 'passed its deadline of 50 ms');
        return run.recoverAndVerify(seq, dev);
      },
    };
    const results = judgeStates(cell, flaky, spaces, states);
    const harness = results.filter((r) => r.verdict === 'harness-error');
    expect(harness.length).toBe(3);
    expect(harness[0].detail).toBe('verify: passed its deadline of 50 ms');
    expect(results.filter((r) => r.verdict === 'ok').length).toBe(results.length - 3);
    const counts: Record<string, number> = {};
    for (const r of results) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
    const c = buildCellResult({
      engine: cell.engine, mode: cell.mode, profile: cell.profile, faults: [], pageSize: cell.pageSize, workload: cell.workload, txns: cell.txns, seed: cell.seed,
      ...measurementsFromCounters(metrics.counters),
      logicalBytesCommitted: metrics.logicalBytesCommitted, commits: metrics.commits, commitLatenciesUs: metrics.commitLatenciesUs,
      crashStatesTried: results.length, verdicts: counts,
      findings: results.filter((r) => r.verdict !== 'ok').map((r) => ({ replayId: r.replayId, verdict: r.verdict as Exclude<typeof r.verdict, 'ok'>, detail: r.detail })),
      expectation: adapter.expectation(cell),
    });
    expect(c.expectation.kind).toBe('claims-safe');
    expect(c.status).toBe('harness-error');
    expect(c.findings).toEqual([]);
    expect(c.harnessErrors).toHaveLength(3);
    expect(summaryLine(c)).toMatch(/ok=\d+ harness-error=3 -> HARNESS ERROR: 3 crash state\(s\) not judged; first: verify: passed its deadline of 50 ms \(tornlab replay tl1\./);
    expect(progressCount('harness-error', 3)).toBe('HARNESS=3');
    expect(progressCount('torn-page-detected', 2)).toBe('torn=2');
  });
});
