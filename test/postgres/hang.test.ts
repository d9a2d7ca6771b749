/**
 * The forced-hang test (issue 9): the device host's FUSE handler stops
 * answering while PostgreSQL runs on it — the kernel's writeback, the
 * server's fsyncs and the orchestrator's own queries all wait. The watchdog
 * must turn that into `harness-error` within the phase's deadline, name the
 * phase, abort the run's FUSE connection and leave nothing behind; no
 * process of the run may stay in state D.
 *
 * Needs what test/postgres/pg.test.ts needs; skipped otherwise.
 */
import * as fs from 'node:fs';
import { DEFAULT_CELL } from '../../engines/postgres/config';
import { runPgCell } from '../../engines/postgres/cycle';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { missingForExport, runLedger } from '../../src/export';
import { currentMounts, loopDevices } from '../../src/export/doctor';
import { markedProcesses } from '../../src/export/processes';

const missing = [...missingForExport('ext4'), ...missingForPostgres()];
const describePg = missing.length === 0 ? describe : describe.skip;

function stateOf(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describePg('a hung FUSE handler under real PostgreSQL', () => {
  jest.setTimeout(180_000);

  test('the watchdog ends the cycle as harness-error within the load deadline, naming the phase, and nothing is left', async () => {
    const loadDeadline = 6000;
    const t0 = Date.now();
    const r = await runPgCell({ ...DEFAULT_CELL, fpw: true, crashes: 1, seed: 9, loadMs: 500 }, { deadlines: { load: loadDeadline, cut: 20_000, release: 20_000 }, hooks: { hangAfterStart: true } });
    const c = r.cycles[0];
    // eslint-disable-next-line no-console
    console.log(`forced hang: ${c.verdict} after ${c.ms.total} ms:\n${c.findings.join('\n')}`);
    expect(c.verdict).toBe('harness-error');
    expect(c.harness?.phase).toBe('load');
    expect(c.harness?.deadlineMs).toBe(loadDeadline);
    expect(c.findings.join('\n')).toMatch(/phase "load" passed its deadline of 6000 ms/);
    expect(c.findings.join('\n')).toMatch(/aborted FUSE connection/);
    // Not a finding about the database.
    expect(r.finding).toBe(false);
    // The cycle ended within its deadline plus teardown, not after a CI time limit.
    expect(c.ms.total).toBeLessThan(loadDeadline + 60_000);
    expect(Date.now() - t0).toBeLessThan(150_000);
    const l = runLedger();
    expect(currentMounts().filter((m) => m.mountPoint.startsWith(l.dir + '/'))).toEqual([]);
    expect(loopDevices().filter((lo) => lo.backingFile.startsWith(l.dir + '/'))).toEqual([]);
    const ours = markedProcesses(l.runId);
    expect(ours).toEqual([]);
    expect(l.resources.filter((x) => x.kind !== 'dir')).toEqual([]);
    for (const p of ours) expect(stateOf(p.pid)).not.toBe('D');
  });
});
