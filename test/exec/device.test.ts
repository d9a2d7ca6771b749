/**
 * `tornlab exec` on the emulated device, through the CLI as a user runs it:
 * the worked example survives power cuts with synchronous=FULL, is caught
 * with synchronous=OFF, bad input exits 2 and a phase past its deadline exits 3,
 * with nothing left mounted.
 * Skips (with a line naming what is missing) without root, /dev/fuse, loop.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { missingForExport } from '../../src/export';
import { isMountPoint } from '../../engines/exec/options';
import { RUNTIME_ROOT } from '../../src/export/ledger';
import { running, until } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const EXAMPLE = path.join(ROOT, 'engines/exec/examples/sqlite-cli');
const missing = missingForExport('ext4');
const describeDevice = missing.length === 0 ? describe : describe.skip;
if (missing.length) process.stdout.write(`skipping exec device tests: missing ${missing.map((m) => m.what).join(', ')}\n`);

function tornlab(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const exampleArgs = (dir: string) => ['exec', '--mount', dir, '--start', `${EXAMPLE}/start.sh`, '--load', `${EXAMPLE}/load.sh`, '--verify', `${EXAMPLE}/verify.sh`];
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exec-dev-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describeDevice('tornlab exec on the emulated device', () => {
  test('worked example, WAL + FULL: every acknowledged row survives the power cuts (exit 0)', async () => {
    const dir = path.join(tmp, 'ok');
    const r = await tornlab([...exampleArgs(dir), '--crashes', '3', '--cut-after-acks', '12', '--json'], { JOURNAL_MODE: 'WAL', SYNCHRONOUS: 'FULL' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.storage).toBe('emulated-device');
    expect(out.cycles.map((c: { verdict: string }) => c.verdict)).toEqual(['ok', 'ok', 'ok']);
    expect(fs.existsSync(dir)).toBe(false); // created by tornlab, removed again
  });

  test('worked example, synchronous=OFF: acknowledged rows are lost (exit 1)', async () => {
    const dir = path.join(tmp, 'off');
    fs.mkdirSync(dir);
    const r = await tornlab([...exampleArgs(dir), '--crashes', '2', '--cut-within-ms', '400'], { JOURNAL_MODE: 'DELETE', SYNCHRONOUS: 'OFF' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/lost-commit/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await isMountPoint(dir)).toBe(false);
  });

  test('bad input exits 2 naming it, before anything is mounted', async () => {
    const full = path.join(tmp, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'data'), 'x');
    const notEmpty = await tornlab(exampleArgs(full));
    expect(notEmpty.code).toBe(2);
    expect(notEmpty.stderr).toMatch(/--mount .* is not empty/);
    const notFound = await tornlab(['exec', '--mount', path.join(tmp, 'nf'), '--start', 'true', '--load', 'no-such-loader', '--verify', 'true']);
    expect(notFound.code).toBe(2);
    expect(notFound.stderr).toMatch(/--load: command not found: "no-such-loader"/);
    const mounted = await tornlab(['exec', '--mount', '/proc', '--start', 'true', '--load', 'true', '--verify', 'true']);
    expect(mounted.code).toBe(2);
    expect(mounted.stderr).toMatch(/already a mount point/);
  });

  test('a verify past its deadline after the crash is harness-error (exit 3), and the device is released', async () => {
    const dir = path.join(tmp, 'timeout');
    fs.mkdirSync(dir);
    const r = await tornlab(['exec', '--mount', dir, '--start', 'true', '--load', 'sleep 30', '--verify', 'sleep 30', '--cut-within-ms', '100', '--verify-timeout', '1.5']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/harness-error .*verify passed its deadline of 1\.5 s \(--verify-timeout\)/);
    expect(await isMountPoint(dir)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('SIGTERM while a START daemon holds DIR (stdio not redirected): no process, mount or directory of the run is left', async () => {
    const dir = path.join(tmp, 'sigterm'); // absent: created by tornlab, removed again
    const side = fs.mkdtempSync(path.join(tmp, 'side-'));
    const p = spawn(process.execPath, [CLI, 'exec', '--mount', dir, '--cut-after-acks', '3', '--load-timeout', '600',
      '--start', `cd "$TORNLAB_MOUNT" && sleep 1000 & echo $! >> ${side}/pids`,
      '--load', `setsid sleep 1000 & echo $! >> ${side}/pids; echo $$ >> ${side}/pids; touch ${side}/loading; sleep 1000`,
      '--verify', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    expect(await until(() => fs.existsSync(path.join(side, 'loading')), 60_000, 100)).toBe(true);
    const pids = fs.readFileSync(path.join(side, 'pids'), 'utf8').trim().split('\n').map(Number);
    expect(pids).toHaveLength(3);
    expect(await isMountPoint(dir)).toBe(true);
    p.kill('SIGTERM');
    expect(await closed).toBe(143);
    expect(stderr).toMatch(/SIGTERM: releasing/);
    for (const pid of pids) expect(running(pid)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    // The run folder: removed at exit, or by the doctor the teardown starts for what it still listed.
    expect(await until(() => !fs.readdirSync(RUNTIME_ROOT).some((d) => d.startsWith(`r${p.pid}-`)), 30_000, 100)).toBe(true);
  });
});
