/**
 * `tornlab exec --no-device` through the built CLI, as a user runs it: daemons
 * a command leaves in the background without redirecting their stdio neither
 * hang it nor outlive it; a phase past its deadline is harness-error (exit 3)
 * with its whole process group killed; SIGTERM leaves no process of the run and
 * no directory behind. Every check is on real pids (/proc).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RUNTIME_ROOT } from '../../src/export/ledger';
import { running, until } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

let tmp: string;
let side: string;
let dir: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exec-cli-'));
  side = path.join(tmp, 'side');
  fs.mkdirSync(side);
  dir = path.join(tmp, 'db'); // absent: tornlab creates it and must remove it again
});
afterEach(() => {
  // Whatever a failing test left: kill what carries our DIR in its environment, then remove.
  for (const pid of processesOf(dir)) process.kill(pid, 'SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

function tornlab(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 })),
  );
  return { child, done };
}

/** Running processes whose environment says TORNLAB_MOUNT=dir: everything the run's commands started. */
function processesOf(mountDir: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(`TORNLAB_MOUNT=${mountDir}`) && running(Number(e))) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

function pids(file: string): number[] {
  const ps = fs.readFileSync(path.join(side, file), 'utf8').trim().split(/\s+/).map(Number);
  for (const p of ps) if (!Number.isInteger(p) || p <= 1) throw new Error(`bad pid in ${file}: ${ps}`);
  return ps;
}

/** The run folders of the CLI process `pid` (its ledger: RUNTIME_ROOT/r<pid>-...). */
function runFolders(pid: number): string[] {
  try {
    return fs.readdirSync(RUNTIME_ROOT).filter((d) => d.startsWith(`r${pid}-`));
  } catch {
    return [];
  }
}

describe('tornlab exec --no-device (CLI)', () => {
  test('START = "sleep 1000 &" without redirecting its stdio completes promptly, and the sleep is gone after the run', async () => {
    const { child, done } = tornlab([
      'exec', '--no-device', '--mount', dir, '--json', '--crashes', '2', '--cut-within-ms', '100',
      '--start', `sleep 1000 & echo $! >> ${side}/sleeps`,
      '--load', 'sleep 30',
      '--verify', 'true',
    ]);
    const r = await done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(15_000);
    const out = JSON.parse(r.stdout);
    expect(out.cycles.map((c: { verdict: string }) => c.verdict)).toEqual(['ok', 'ok']);
    for (const c of out.cycles) for (const run of c.runs.filter((x: { phase: string }) => x.phase === 'start' || x.phase === 'recover')) expect(run.ms).toBeLessThan(3000);
    const sleeps = pids('sleeps');
    expect(sleeps).toHaveLength(4); // start and recover, two cycles
    for (const p of sleeps) expect(running(p)).toBe(false);
    expect(processesOf(dir)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(runFolders(child.pid!)).toEqual([]);
  });

  test('--start-timeout 1 with a START that hangs: harness-error in about 1 s (exit 3), its whole group killed', async () => {
    const { child, done } = tornlab([
      'exec', '--no-device', '--mount', dir, '--json', '--start-timeout', '1',
      '--start', `sleep 1000 & echo $! >> ${side}/group; setsid sleep 1000 & echo $! >> ${side}/escaped; echo $$ >> ${side}/group; echo starting; sleep 1000`,
      '--load', 'true',
      '--verify', 'true',
    ]);
    const r = await done;
    expect(r.code).toBe(3);
    const c = JSON.parse(r.stdout).cycles[0];
    expect(c).toMatchObject({ verdict: 'harness-error', finding: false, harness: { phase: 'start', option: '--start-timeout', deadlineMs: 1000 } });
    expect(c.output).toMatch(/did not exit within 1 s \(--start-timeout\); its process group was killed[\s\S]*starting/);
    expect(c.runs[0].ms).toBeGreaterThanOrEqual(1000);
    expect(c.runs[0].ms).toBeLessThan(3000);
    expect(r.ms).toBeLessThan(10_000);
    for (const p of [...pids('group'), ...pids('escaped')]) expect(running(p)).toBe(false);
    expect(processesOf(dir)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(runFolders(child.pid!)).toEqual([]);
  });

  test('--timeout (deprecated, ms) still sets the deadlines, with a warning; bad deadlines are bad input', async () => {
    const r = await tornlab(['exec', '--no-device', '--mount', dir, '--timeout', '700', '--start', 'true', '--load', 'true', '--verify', 'sleep 30']).done;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--timeout is deprecated/);
    expect(r.stdout).toMatch(/harness-error .*verify passed its deadline of 0\.7 s \(--verify-timeout\)/);
    const bad = await tornlab(['exec', '--no-device', '--mount', dir, '--load-timeout', '0', '--start', 'true', '--load', 'true', '--verify', 'true']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--load-timeout must be a number of seconds above 0/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('SIGTERM to a running tornlab exec leaves no process of the run and no directory behind', async () => {
    const { child, done } = tornlab([
      'exec', '--no-device', '--mount', dir, '--cut-after-acks', '5', '--load-timeout', '600',
      '--start', `sleep 1000 & echo $! >> ${side}/pids; echo data > "$TORNLAB_MOUNT/db"`,
      '--load', `setsid sleep 1000 & echo $! >> ${side}/pids; sleep 1000 & echo $! >> ${side}/pids; echo $$ >> ${side}/pids; touch ${side}/loading; wait`,
      '--verify', 'true',
    ]);
    expect(await until(() => fs.existsSync(path.join(side, 'loading')), 20_000, 50)).toBe(true);
    const started = pids('pids');
    expect(started).toHaveLength(4);
    for (const p of started) expect(running(p)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['db']);
    expect(runFolders(child.pid!)).toHaveLength(1);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM: releasing/);
    for (const p of started) expect(running(p)).toBe(false);
    expect(processesOf(dir)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(runFolders(child.pid!)).toEqual([]);
  });
});
