/**
 * The exec runner without a device (SIGKILL only, in the mount directory
 * itself): command handling, verdicts from exit codes, the ack file, and that
 * every process is released whatever fails.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OUTPUT_LIMIT, liveCount, processesUsing } from '../../engines/common/processes';
import { ExecCampaignOptions, runExecCampaign } from '../../engines/exec/runner';
import { openPlainDirectoryAt } from '../../engines/common/storage';

const EXAMPLE = path.resolve(__dirname, '../../engines/exec/examples/sqlite-cli');
let dir: string;
/** Outside DIR: where the commands leave the pids of what they started, for the tests to check. */
let side: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exec-'));
  side = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exec-side-'));
});
afterEach(async () => {
  expect(liveCount()).toBe(0);
  expect(await processesUsing(dir)).toEqual([]);
  expect(fs.readdirSync(dir)).toEqual([]); // teardown emptied it
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(side, { recursive: true, force: true });
});

/** Is `pid` a running process (a zombie, killed and not reaped yet, is not)? */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function pidIn(name: string): number {
  const pid = Number(fs.readFileSync(path.join(side, name), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no pid in ${name}`);
  return pid;
}

function opts(commands: ExecCampaignOptions['commands'], over: Partial<ExecCampaignOptions> = {}): ExecCampaignOptions {
  return {
    dir,
    commands,
    crashes: 1,
    seed: 3,
    cutWithinMs: 200,
    timeouts: { startMs: 10_000, loadMs: 10_000, verifyMs: 10_000 },
    openStorage: (d) => openPlainDirectoryAt(d),
    ...over,
  };
}

const example = { start: `${EXAMPLE}/start.sh`, load: `${EXAMPLE}/load.sh`, verify: `${EXAMPLE}/verify.sh` };

describe('tornlab exec runner (plain directory)', () => {
  test('the worked example: acknowledged rows survive a SIGKILL, verify says ok', async () => {
    const r = await runExecCampaign(opts(example, { crashes: 2, cutAfterAcks: 8 }));
    expect(r.cycles.map((c) => c.verdict)).toEqual(['ok', 'ok']);
    for (const c of r.cycles) {
      expect(c.ackedAtCut).toBeGreaterThanOrEqual(1);
      expect(c.output).toMatch(/acknowledged before the cut: \d+/);
      expect(c.runs.map((x) => x.phase)).toEqual(['start', 'load', 'recover', 'verify']);
    }
  });

  test('verify exit status is the verdict, and it sees what was acknowledged', async () => {
    const r = await runExecCampaign(
      opts({
        start: 'true',
        load: 'i=0; while true; do i=$((i+1)); echo op$i >> "$TORNLAB_ACK_FILE"; sleep 0.01; done',
        verify: 'echo "acked $TORNLAB_ACKED_COUNT, last $(tail -n1 "$TORNLAB_ACKED_FILE")"; exit 12',
      }, { cutAfterAcks: 5 }),
    );
    const c = r.cycles[0];
    expect(c.verdict).toBe('lost-commit');
    expect(c.finding).toBe(true);
    expect(c.ackedAtCut).toBeGreaterThanOrEqual(1);
    expect(c.output).toMatch(new RegExp(`acked ${c.ackedAtCut}, last op${c.ackedAtCut}`));
    expect(r.findings).toBe(1);
  });

  test('an unnamed verify failure is "failed"; a start failing after the crash is recovery-failed', async () => {
    const failed = await runExecCampaign(opts({ start: 'true', load: 'sleep 5', verify: 'echo broken; exit 3' }));
    expect(failed.cycles[0].verdict).toBe('failed');
    const rec = await runExecCampaign(opts({ start: '[ "$TORNLAB_PHASE" = start ] || { echo cannot recover; exit 1; }', load: 'sleep 5', verify: 'true' }));
    expect(rec.cycles[0]).toMatchObject({ verdict: 'recovery-failed', finding: true });
    expect(rec.cycles[0].output).toMatch(/cannot recover/);
  });

  test('processes the load left behind (a daemon holding a file in the directory) are killed at the cut', async () => {
    const r = await runExecCampaign(
      opts({
        start: 'true',
        load: '(sleep 300 > "$TORNLAB_MOUNT/held") & setsid sh -c "exec sleep 300 < $TORNLAB_MOUNT/held" & echo 1 >> "$TORNLAB_ACK_FILE"; sleep 300',
        verify: 'test ! -e "$TORNLAB_MOUNT/never"',
      }, { cutAfterAcks: 1 }),
    );
    expect(r.cycles[0].verdict).toBe('ok');
  });

  test('a command that is not found at run time is bad input', async () => {
    await expect(runExecCampaign(opts({ start: 'true', load: 'no-such-program-tornlab', verify: 'true' }))).rejects.toThrow(/--load .* failed before the power cut \(command not found\)/);
  });

  test('a start before the cut that fails is bad input, with its output', async () => {
    await expect(runExecCampaign(opts({ start: 'echo no disk; exit 4', load: 'true', verify: 'true' }))).rejects.toThrow(/--start .* failed before any power cut \(exit 4\)[\s\S]*no disk/);
  });

  test.each([
    ['start', 'start', '--start-timeout', { start: 'sleep 1000 & echo $! > "$SIDE/bg"; sleep 30', load: 'true', verify: 'true' }],
    ['load', 'load', '--load-timeout', { start: 'true', load: 'sleep 1000 & echo $! > "$SIDE/bg"; sleep 30', verify: 'true' }],
    ['verify', 'verify', '--verify-timeout', { start: 'true', load: 'sleep 30', verify: 'sleep 1000 & echo $! > "$SIDE/bg"; sleep 30' }],
  ])('a %s phase past its deadline ends the cycle as harness-error and its whole group is killed', async (_which, phase, option, commands) => {
    const sub = (c: string) => c.replace(/\$SIDE/g, side);
    const t0 = Date.now();
    const r = await runExecCampaign(
      opts({ start: sub(commands.start), load: sub(commands.load), verify: sub(commands.verify) }, { timeouts: { startMs: 400, loadMs: 400, verifyMs: 400 }, cutWithinMs: 50, cutAfterAcks: phase === 'load' ? 3 : undefined }),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    const c = r.cycles[0];
    expect(c).toMatchObject({ verdict: 'harness-error', finding: false, harness: { phase, option, deadlineMs: 400 } });
    expect(c.output).toMatch(new RegExp(`${phase}.*did not .*within 0.4 s \\(${option}`));
    expect(r.findings).toBe(0);
    expect(r.counts).toEqual({ 'harness-error': 1 });
    expect(running(pidIn('bg'))).toBe(false); // the background process of the timed-out command, too
  });

  test('a START that puts a daemon in the background without redirecting its stdio is over when it exits; the daemon serves the load and dies at the cut', async () => {
    // Each daemon speaks after its command has exited, then leaves a mark; the next phase waits
    // for the mark (a loaded machine may take its time), so "said hi" is certain before the cut.
    const daemon = (name: string) =>
      `(sleep 0.2; echo "$TORNLAB_PHASE daemon says hi"; : > "${side}/said-$TORNLAB_PHASE"; exec sleep 1000) & echo $! > "${side}/${name}-$TORNLAB_PHASE"`;
    const waitFor = (phase: string) => `for i in $(seq 200); do [ -e "${side}/said-${phase}" ] && break; sleep 0.1; done`;
    const r = await runExecCampaign(
      opts(
        {
          start: `${daemon('d')}; env -u TORNLAB_RUN sleep 1000 & echo $! > "${side}/s-$TORNLAB_PHASE"; echo started`,
          load: `${waitFor('start')}; kill -0 $(cat "${side}/d-start") && kill -0 $(cat "${side}/s-start") && echo alive > "${side}/during-load"; echo 1 >> "$TORNLAB_ACK_FILE"; sleep 1000`,
          verify: `${waitFor('recover')}; kill -0 $(cat "${side}/d-recover") && echo alive > "${side}/during-verify"; true`,
        },
        { cutAfterAcks: 1 },
      ),
    );
    const c = r.cycles[0];
    expect(c.verdict).toBe('ok');
    const [st, , rec] = c.runs;
    expect(st).toMatchObject({ phase: 'start', code: 0, output: 'started\n' });
    expect(st.ms).toBeLessThan(2000);
    expect(rec).toMatchObject({ phase: 'recover', code: 0 });
    expect(rec.ms).toBeLessThan(2000);
    // The daemons' output after their command exited was still read, and attached.
    expect(st.afterExit).toMatch(/start daemon says hi/);
    expect(rec.afterExit).toMatch(/recover daemon says hi/);
    expect(fs.readFileSync(path.join(side, 'during-load'), 'utf8')).toBe('alive\n');
    expect(fs.readFileSync(path.join(side, 'during-verify'), 'utf8')).toBe('alive\n');
    for (const f of ['d-start', 's-start', 'd-recover', 's-recover']) expect(running(pidIn(f))).toBe(false);
  });

  test('a daemon that writes more than a pipe holds to the inherited stdout is not blocked, and what is kept is bounded', async () => {
    const r = await runExecCampaign(
      opts(
        {
          start: `(sleep 0.3; head -c 2000000 /dev/zero | tr '\\0' x; echo; echo flood-done > "${side}/flooded"; exec sleep 1000) & echo $! > "${side}/flood"`,
          load: `while [ ! -e "${side}/flooded" ]; do sleep 0.05; done; echo 1 >> "$TORNLAB_ACK_FILE"; sleep 1000`,
          verify: 'true',
        },
        { cutAfterAcks: 1, timeouts: { startMs: 10_000, loadMs: 20_000, verifyMs: 10_000 } },
      ),
    );
    expect(r.cycles[0].verdict).toBe('ok');
    expect(fs.existsSync(path.join(side, 'flooded'))).toBe(true);
    const st = r.cycles[0].runs[0];
    expect(st.afterExit).toMatch(/^\.\.\.x{1000,}\n$/); // the tail of it (the process group's buffer is bounded too: test/exec/processes)
    expect(st.afterExit!.length).toBeLessThan(OUTPUT_LIMIT);
    expect(running(pidIn('flood'))).toBe(false);
  });

  test('a process that left the group (setsid) but carries the run marker is killed at the end of the cycle', async () => {
    const r = await runExecCampaign(
      opts({ start: 'true', load: 'sleep 30', verify: `setsid sleep 1000 & echo $! > "${side}/escaped"; true` }, { runId: undefined }),
    );
    expect(r.cycles[0].verdict).toBe('ok');
    expect(running(pidIn('escaped'))).toBe(false);
  });
});
