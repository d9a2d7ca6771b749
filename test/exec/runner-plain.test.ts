/**
 * The exec runner without a device (SIGKILL only, in the mount directory
 * itself): command handling, verdicts from exit codes, the ack file, and that
 * every process is released whatever fails.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BadInputError } from '../../src/util/errors';
import { liveCount, processesUsing } from '../../engines/exec/processes';
import { ExecCampaignOptions, runExecCampaign } from '../../engines/exec/runner';
import { openPlainDirectoryAt } from '../../engines/exec/storage';

const EXAMPLE = path.resolve(__dirname, '../../engines/exec/examples/sqlite-cli');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exec-'));
});
afterEach(async () => {
  expect(liveCount()).toBe(0);
  expect(await processesUsing(dir)).toEqual([]);
  expect(fs.readdirSync(dir)).toEqual([]); // teardown emptied it
  fs.rmSync(dir, { recursive: true, force: true });
});

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
    ['start', { start: 'sleep 30', load: 'true', verify: 'true' }],
    ['verify', { start: 'true', load: 'sleep 30', verify: 'sleep 30' }],
  ])('a %s command that times out is bad input and is killed', async (which, commands) => {
    const t0 = Date.now();
    const err = await runExecCampaign(opts(commands, { timeouts: { startMs: 400, loadMs: 400, verifyMs: 400 }, cutWithinMs: 50 })).catch((e) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect(String(err.message)).toMatch(new RegExp(`--${which} .*timed out after 400 ms`));
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
