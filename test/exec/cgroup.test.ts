/**
 * exec's cgroup per run (src/export/cgroup.ts): a command that escapes both
 * its process group and the run marker (`env -i setsid ...`) is still killed at
 * the cut, at the end of the run and at a SIGTERM; a SIGKILLed run's cgroup is
 * emptied and removed by `tornlab doctor --cleanup`; where no cgroup can be
 * made the run says so in one line and falls back to the marker. Every check
 * is on real pids (/proc) and real cgroup folders.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CGROUP_ROOT_ENV, createRunCgroup, isOurCgroup, joinCgroupArgs, ourCgroups, removeCgroup } from '../../src/export/cgroup';
import { cleanupLeftovers, listLeftovers } from '../../src/export/doctor';
import { RUNTIME_ROOT } from '../../src/export/ledger';
import { missingForExport } from '../../src/export';
import { ExecCampaignOptions, runExecCampaign } from '../../engines/exec/runner';
import { liveCount } from '../../engines/common/processes';
import { openPlainDirectoryAt } from '../../engines/common/storage';
import { running, until } from './helpers';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');

/** A cgroup can be made here (root, a writable cgroup v1 freezer or pids hierarchy)? Probed with a name of a dead pid. */
function cgroupsWork(): boolean {
  const probe = createRunCgroup(`exec-999999999-probe${process.pid}`);
  if ('unavailable' in probe) return false;
  removeCgroup(probe);
  return true;
}
const withCgroups = cgroupsWork() ? test : test.skip;
const withDevice = cgroupsWork() && missingForExport('ext4').length === 0 ? test : test.skip;

let tmp: string;
let side: string;
let dir: string;
/** Every pid a command wrote to a side file: killed after each test, whatever it left. */
const recorded = (): number[] =>
  fs.existsSync(side)
    ? fs
        .readdirSync(side)
        .flatMap((f) => fs.readFileSync(path.join(side, f), 'utf8').trim().split(/\s+/))
        .map(Number)
        .filter((p) => Number.isInteger(p) && p > 1)
    : [];
const pids = (file: string): number[] => fs.readFileSync(path.join(side, file), 'utf8').trim().split(/\s+/).map(Number);

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-cgroup-'));
  side = path.join(tmp, 'side');
  fs.mkdirSync(side);
  dir = path.join(tmp, 'db');
  fs.mkdirSync(dir);
});
afterEach(() => {
  for (const p of recorded()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone, as it should be */
    }
  }
  delete process.env[CGROUP_ROOT_ENV];
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** What escapes a process group and the TORNLAB_RUN marker at once; its pid goes to side/`name`. */
const escape = (name: string) => `env -i setsid sleep 1000 & echo $! >> ${side}/${name}`;
/** A shell test that pid file `name` names no running process (a zombie counts as gone). */
const goneIn = (name: string) => `for p in $(cat ${side}/${name}); do s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ] || exit 1; done`;

function opts(commands: ExecCampaignOptions['commands']): ExecCampaignOptions {
  return {
    dir,
    commands,
    crashes: 2,
    seed: 5,
    cutWithinMs: 100,
    timeouts: { startMs: 20_000, loadMs: 20_000, verifyMs: 20_000 },
    openStorage: (d) => openPlainDirectoryAt(d),
  };
}

describe('exec: a cgroup per run', () => {
  withCgroups('START and LOAD escaping with env -i setsid are killed at the cut (VERIFY sees them gone); VERIFY\'s at the end; the cgroup goes', async () => {
    const before = ourCgroups().length;
    const r = await runExecCampaign(
      opts({
        start: `[ "$TORNLAB_PHASE" = recover ] || { ${escape('start')}; }`,
        load: `${escape('load')}; sleep 1000`,
        // Exit 1 (a finding) if anything from before the cut still runs.
        verify: `${goneIn('start')} && ${goneIn('load')} && { ${escape('verify')}; }`,
      }),
    );
    expect(r.cycles.map((c) => [c.verdict, c.output])).toEqual([
      ['ok', ''],
      ['ok', ''],
    ]);
    expect(pids('start')).toHaveLength(2);
    expect(pids('verify')).toHaveLength(2);
    for (const p of recorded()) expect(running(p)).toBe(false);
    expect(liveCount()).toBe(0);
    expect(ourCgroups().length).toBe(before); // removed again
  });

  withCgroups('SIGTERM to tornlab exec kills what escaped with env -i setsid, and removes the run\'s cgroup', async () => {
    const { child, done } = cli([
      'exec', '--no-device', '--mount', dir, '--cut-after-acks', '5', '--load-timeout', '600',
      '--start', escape('start'),
      '--load', `${escape('load')}; touch ${side}/../loading; sleep 1000`,
      '--verify', 'true',
    ]);
    expect(await until(() => fs.existsSync(path.join(tmp, 'loading')), 30_000, 50)).toBe(true);
    const mine = () => ourCgroups().filter((c) => c.owner === child.pid);
    expect(mine()).toHaveLength(1);
    for (const p of [...pids('start'), ...pids('load')]) expect(running(p)).toBe(true);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    for (const p of recorded()) expect(running(p)).toBe(false);
    expect(mine()).toEqual([]);
  });

  withCgroups('a SIGKILLed run leaves its cgroup with its processes; doctor --cleanup kills them and removes it', async () => {
    const { child, done } = cli([
      'exec', '--no-device', '--mount', dir, '--cut-after-acks', '5', '--load-timeout', '600',
      '--start', escape('start'),
      '--load', `touch ${side}/../loading; sleep 1000`,
      '--verify', 'true',
    ]);
    expect(await until(() => fs.existsSync(path.join(tmp, 'loading')), 30_000, 50)).toBe(true);
    child.kill('SIGKILL');
    await done;
    const [cg] = ourCgroups().filter((c) => c.owner === child.pid);
    expect(cg).toBeDefined();
    const [escaped] = pids('start');
    expect(running(escaped)).toBe(true);
    const runId = path.basename(cg.dir);
    expect(JSON.parse(fs.readFileSync(path.join(RUNTIME_ROOT, runId, 'state.json'), 'utf8')).resources).toContainEqual(expect.objectContaining({ kind: 'cgroup', id: cg.dir }));
    const doctor = await cli(['doctor']).done;
    expect(doctor.stdout).toContain(`cgroup     ${cg.dir}  run ${runId}  (cgroup of the run, `);
    const cleanup = await cli(['doctor', '--cleanup', '--run', runId]).done;
    expect(cleanup.stdout).not.toMatch(/could not release/);
    expect(cleanup.code).toBe(0);
    expect(running(escaped)).toBe(false);
    expect(fs.existsSync(cg.dir)).toBe(false);
    expect(fs.existsSync(path.join(RUNTIME_ROOT, runId))).toBe(false);
    // Only cgroups tornlab made: the run's own process is gone, the processes of the sleep too; nothing else was listed.
    expect(listLeftovers({ runId }).filter((l) => l.kind === 'cgroup')).toEqual([]);
  }, 120_000);

  withDevice('on the emulated device: a START daemon escaping with env -i setsid, and a LOAD one holding a file on the device, are killed at the cut', async () => {
    const mount = path.join(tmp, 'dev'); // absent: created and removed by tornlab
    const r = await cli([
      'exec', '--mount', mount, '--json', '--crashes', '1', '--cut-within-ms', '300',
      '--start', `[ "$TORNLAB_PHASE" = recover ] || { ${escape('start')}; }`,
      '--load', `env -i M="$TORNLAB_MOUNT" setsid sh -c 'exec sleep 1000 >> "$M/held"' & echo $! >> ${side}/load; sleep 1000`,
      '--verify', `${goneIn('start')} && ${goneIn('load')}`,
    ]).done;
    expect(r.stderr).not.toMatch(/cgroup/);
    expect(JSON.parse(r.stdout).cycles.map((c: { verdict: string; output: string }) => [c.verdict, c.output])).toEqual([['ok', '']]);
    expect(r.code).toBe(0);
    for (const p of recorded()) expect(running(p)).toBe(false);
    expect(fs.existsSync(mount)).toBe(false);
  }, 120_000);

  withCgroups('doctor releases a dead owner\'s cgroup found in the hierarchy alone (no ledger), and only cgroups named as tornlab names them', async () => {
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    const made = createRunCgroup(`exec-${dead.pid}-t${Date.now().toString(36)}`);
    if ('unavailable' in made) throw new Error(made.unavailable);
    const { file, args } = joinCgroupArgs(made.dir, '/bin/sh', ['-c', `env -i setsid sleep 1000 & echo $! > ${side}/member`]);
    const sh = spawn(file, args, { stdio: 'ignore' });
    await new Promise((r) => sh.on('exit', r));
    const [member] = pids('member');
    expect(running(member)).toBe(true);
    const found = listLeftovers().filter((l) => l.kind === 'cgroup' && l.id === made.dir);
    expect(found).toHaveLength(1);
    expect(await cleanupLeftovers(found)).toEqual([]);
    expect(running(member)).toBe(false);
    expect(fs.existsSync(made.dir)).toBe(false);
    expect(isOurCgroup('/sys/fs/cgroup/freezer/tornlab/../user.slice')).toBe(false);
    expect(isOurCgroup('/sys/fs/cgroup/freezer/other/r1-abc')).toBe(false);
    expect(() => joinCgroupArgs('/sys/fs/cgroup/freezer', '/bin/true', [])).toThrow(/not a cgroup tornlab made/);
  });

  test('a command whose shell cannot join the cgroup is not run: harness error naming the cgroup', async () => {
    const gone = path.join(tmp, 'tornlab', 'exec-999999999-gone'); // named as ours, but no such cgroup
    await expect(runExecCampaign({ ...opts({ start: `touch ${side}/ran`, load: 'true', verify: 'true' }), crashes: 1, cgroup: { dir: gone, freezer: false } })).rejects.toThrow(
      `tornlab: could not join cgroup ${gone}/cgroup.procs: the command was not run`,
    );
    expect(fs.existsSync(path.join(side, 'ran'))).toBe(false);
  });

  test('without a usable cgroup hierarchy: one line says so, the run falls back to the marker (which env -i escapes), the folder is left as it was', async () => {
    const notCgroup = path.join(tmp, 'not-a-cgroup');
    fs.mkdirSync(notCgroup);
    process.env[CGROUP_ROOT_ENV] = notCgroup;
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stderr.write;
    let r;
    try {
      r = await runExecCampaign({ ...opts({ start: 'true', load: `${escape('load')}; setsid sleep 1000 & echo $! >> ${side}/marked; sleep 1000`, verify: 'true' }), crashes: 1 });
    } finally {
      process.stderr.write = orig;
    }
    expect(r.cycles[0].verdict).toBe('ok');
    expect(writes.filter((w) => /cgroup/.test(w))).toEqual([
      `tornlab: no writable cgroup hierarchy (${notCgroup}: not a cgroup hierarchy (no cgroup.procs)): processes that leave their process group are found by the TORNLAB_RUN marker only (env -i escapes it)\n`,
    ]);
    expect(fs.readdirSync(notCgroup)).toEqual([]);
    for (const p of pids('marked')) expect(running(p)).toBe(false); // setsid alone: found by the marker
    for (const p of pids('load')) expect(running(p)).toBe(true); // the limit the line names
  });
});

function cli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}
