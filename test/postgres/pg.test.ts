/**
 * Known answers of real PostgreSQL 15 on the emulated consumer-tlc device
 * (ARCHITECTURE 6): with full_page_writes=off a cut inside a CHECKPOINT's
 * writeback tears pages and PostgreSQL's checksums catch it within a few
 * cycles; with full_page_writes=on every cycle recovers clean (oracle,
 * pg_amcheck, pg_checksums). Both leave no mount, loop device or process.
 *
 * Needs root, /dev/fuse, a free loop device, libfuse2, mkfs.ext4 and the
 * PostgreSQL 15 binaries; without them the tests are skipped with a line
 * naming what is missing.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CELL, PgCellConfig } from '../../engines/postgres/config';
import { runPgCell } from '../../engines/postgres/cycle';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { missingForExport, runLedger } from '../../src/export';
import { currentMounts, listLeftovers, loopDevices } from '../../src/export/doctor';
import { RUNTIME_ROOT } from '../../src/export/ledger';
import { markedProcesses, waitGone } from '../../src/export/processes';

const missing = [...missingForExport('ext4'), ...missingForPostgres()];
const describePg = missing.length === 0 ? describe : describe.skip;
if (missing.length > 0) {
  // eslint-disable-next-line no-console
  console.log(`SKIP test/postgres (real PostgreSQL): missing ${missing.map((m) => m.what).join(', ')}`);
}

function leftovers(): string[] {
  const l = runLedger();
  const out: string[] = [];
  for (const m of currentMounts()) if (m.mountPoint.startsWith(l.dir + '/')) out.push(`mount ${m.mountPoint}`);
  for (const lo of loopDevices()) if (lo.backingFile.startsWith(l.dir + '/')) out.push(`loop ${lo.dev}`);
  for (const p of markedProcesses(l.runId)) out.push(`process ${p.pid}`);
  for (const r of l.resources) if (r.kind !== 'dir') out.push(`ledger ${r.kind} ${r.id}`);
  return out;
}

/** Run the CLI as a user would (asynchronously: this process must keep serving nothing while it waits). */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, '../../dist/src/cli/main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const cell = (fpw: boolean, crashes: number, seed: number): PgCellConfig => ({ ...DEFAULT_CELL, fpw, crashes, seed, loadMs: 1000 });

describePg('PostgreSQL on consumer-tlc, cut during a CHECKPOINT', () => {
  jest.setTimeout(300_000);

  test('full_page_writes=off is caught (checksum failure, amcheck error or failed recovery) within 4 cycles', async () => {
    const r = await runPgCell(cell(false, 4, 1));
    const caught = r.cycles.filter((c) => ['torn-page-detected', 'recovery-failed', 'silent-corruption'].includes(c.verdict));
    expect(caught.length).toBeGreaterThanOrEqual(1);
    // PostgreSQL's own words come with the verdict.
    expect(caught[0].messages.join('\n')).toMatch(/invalid page|page verification failed|checksum|FATAL|PANIC/);
    // Without full-page images the WAL holds no FPI.
    for (const c of r.cycles) expect(c.wal.fpi).toBeLessThanOrEqual(0);
    expect(leftovers()).toEqual([]);
    // The finding's id reruns that cycle of that cell (its non-default load of 1 s included) through
    // `tornlab replay`: the same seeded cut and survivor choice (the kernel's timing is not under the seed,
    // so the verdict may differ), one cycle, nothing left behind.
    expect(caught[0].replayId).toMatch(/:w~[A-Za-z0-9_-]+:seed=1:cycle=\d+$/);
    const rep = await runCli(['replay', caught[0].replayId, '--json']);
    expect([0, 1]).toContain(rep.code);
    const again = JSON.parse(rep.stdout) as { cycle: number; replayId: string; verdict: string };
    expect({ cycle: again.cycle, replayId: again.replayId }).toEqual({ cycle: caught[0].cycle, replayId: caught[0].replayId });
    expect(leftovers()).toEqual([]);
  });

  test('full_page_writes=on recovers clean in every cycle', async () => {
    const r = await runPgCell(cell(true, 4, 1));
    for (const c of r.cycles) {
      expect({ cycle: c.cycle, verdict: c.verdict, findings: c.findings }).toEqual({ cycle: c.cycle, verdict: 'ok', findings: [] });
      expect(c.recovery.ready).toBe(true);
      expect(c.checks.checksums?.code).toBe(0);
      expect(c.checks.amcheck?.code).toBe(0);
      expect(c.checks.oracle?.lostCommits).toEqual([]);
      expect(c.workload.acked).toBeGreaterThan(0);
      expect({ fpi: c.wal.fpi > 0, waldumpError: c.wal.waldumpError }).toEqual({ fpi: true, waldumpError: undefined });
      expect(c.device.load.hostWriteBytes).toBeGreaterThan(0);
    }
    expect(r.finding).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});

describePg('teardown when the run is interrupted', () => {
  jest.setTimeout(120_000);

  // The run's mounts are numbered: fuse-1/fs-2 build the base image, fuse-4/fs-5 are the first crash cycle.
  test.each([
    ['SIGINT', 130, 'while the base image is built', 1],
    ['SIGTERM', 143, 'in the middle of a crash cycle', 4],
  ] as const)('%s (exit %i) %s releases every mount, loop device and process of the run', async (sig, code, _when, fuseIndex) => {
    const cli = path.resolve(__dirname, '../../dist/src/cli/main.js');
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    const child = spawn(process.execPath, [cli, 'pg', '--fpw', 'on', '--crashes', '5', '--load-ms', '3000'], { stdio: 'ignore' });
    const runPrefix = `${RUNTIME_ROOT}/r${child.pid}-`;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    // Wait until the run has a PostgreSQL server up on an exported device (a cycle is under way).
    const deadline = Date.now() + 60_000;
    let runId: string | undefined;
    while (Date.now() < deadline) {
      const pg = markedProcesses().find((p) => `${RUNTIME_ROOT}/${p.runId}-`.startsWith(runPrefix) || p.runId.startsWith(`r${child.pid}-`));
      const inPhase = currentMounts().some((m) => m.mountPoint.startsWith(runPrefix) && Number(/\/fuse-(\d+)$/.exec(m.mountPoint)?.[1] ?? -1) >= fuseIndex);
      if (pg && inPhase) {
        runId = pg.runId;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(runId).toBeDefined();
    await new Promise((r) => setTimeout(r, 700));
    child.kill(sig);
    expect(await exited).toBe(code);
    const pids = markedProcesses(runId).map((p) => p.pid);
    expect(await waitGone(pids, 10_000)).toEqual([]);
    expect(currentMounts().filter((m) => m.mountPoint.startsWith(runPrefix))).toEqual([]);
    expect(loopDevices().filter((l) => l.backingFile.startsWith(runPrefix))).toEqual([]);
    expect(listLeftovers({ runId }).filter((l) => l.kind !== 'dir')).toEqual([]);
  });
});
