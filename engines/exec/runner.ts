/**
 * `tornlab exec`: crash cycles over a user's own database, driven by three shell
 * commands. Per cycle:
 *   mount an emulated device at DIR -> start -> load (in the background) ->
 *   power cut at a point drawn from the seed (after a number of acknowledged
 *   operations, or a delay) -> SIGKILL everything using DIR -> remount the crash
 *   image -> start -> verify. The verify command's exit status is the verdict
 *   (verdict.ts), its output is attached.
 *
 * Environment the commands see:
 *   TORNLAB_MOUNT       the mount directory (DIR)
 *   TORNLAB_PHASE       start | load | recover | verify
 *   TORNLAB_CYCLE       cycle number (0-based)
 *   TORNLAB_SEED        the cycle's seed (for a deterministic load)
 *   TORNLAB_ACK_FILE    load: append one line per acknowledged operation
 *   TORNLAB_ACKED_FILE  verify: the lines that were acknowledged before the cut
 *   TORNLAB_ACKED_COUNT verify: their number
 *   TORNLAB_RUN         marks the processes of this run (teardown, tornlab doctor)
 * The acknowledged lines are read by tornlab in the same synchronous step that
 * cuts the power, from a file outside the emulated device, so "acknowledged"
 * means: reported before the cut.
 *
 * exec owns what it starts: each command runs as the leader of a process group
 * of its own, inside the run's cgroup (src/export/cgroup.ts; where none can be
 * made, processes that left their group are found by TORNLAB_RUN only); a
 * phase is over when the command exits (a daemon it left in the background may
 * keep its stdout/stderr: its output is still read, bounded, and attached as
 * `afterExit`). What the commands started lives on until the cut (start's
 * daemon serves the load) or the end of the cycle (recover's daemon serves
 * verify), where whole groups are SIGKILLed, and with them every process in
 * the run's cgroup (frozen first) and every one that carries TORNLAB_RUN. A
 * phase past its deadline (--start-timeout, --load-timeout, --verify-timeout)
 * has its group killed and ends the cycle as `harness-error`: not a verdict on
 * the database.
 *
 * Invariant: whatever happens (bad exit, timeout, exception), every process
 * group started for a cycle, every process in the run's cgroup or marked with
 * its TORNLAB_RUN and every process using DIR is SIGKILLed and the storage torn down before the
 * cycle returns or throws. (On SIGINT/SIGTERM the export's teardown does it
 * and owns the exit; the cycle then never returns.)
 */
import { runLedger, tempPrefix } from '../../src/export';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { haltIfInterrupted, registerCgroup } from '../../src/export/teardown';
import { JOIN_FAILED, RunCgroup, createRunCgroup, isCgroupName, killCgroup, livePids, removeCgroup, signalKillCgroup } from '../../src/export/cgroup';
import { BadInputError, HarnessError } from '../../src/util/errors';
import { PhaseDeadlineError, guard } from '../../src/export/watchdog';
import { Prng } from '../../src/util/prng';
import { Started, killAll, killMarked, killProcessesUsing, markedPids, signalKillAll, sleep, start } from '../common/processes';
import { CrashableStorage, CutSummary, RemountSummary } from '../common/storage';
import { ExecVerdict, verdictOfExitCode } from './verdict';
import { ExecCommands } from './options';
import { formatCycleReplayId } from '../../src/crash/replay-id';

export interface ExecTimeouts {
  startMs: number;
  loadMs: number;
  verifyMs: number;
}

/** Deadline of one storage step (export, cut, crash-image remount, release), before the deadline factor. */
const STORAGE_DEADLINE_MS = 120_000;
const guardCut = <T>(p: Promise<T>) => guard('cut', STORAGE_DEADLINE_MS, p);

export const DEFAULT_TIMEOUTS: ExecTimeouts = { startMs: 60_000, loadMs: 120_000, verifyMs: 120_000 };

/** A command passed its phase's deadline: the cycle ends as `harness-error` (the testbed failed, not the database). */
export class PhaseTimeoutError extends HarnessError {
  constructor(
    phase: string,
    readonly option: string,
    readonly deadlineMs: number,
    message: string,
  ) {
    super(phase, message);
  }
}

/** A deadline as the options give it (seconds). */
export function formatDeadline(ms: number): string {
  return `${ms / 1000} s`;
}

export interface ExecCampaignOptions {
  dir: string;
  commands: ExecCommands;
  crashes: number;
  seed: number;
  /** Cut after a number of acknowledged operations drawn from [1, cutAfterAcks] ... */
  cutAfterAcks?: number;
  /** ... or, without it, after a delay drawn from [0, cutWithinMs] ms of load. */
  cutWithinMs: number;
  timeouts: ExecTimeouts;
  /** Mounts a fresh emulated device at `dir` for one cycle. */
  openStorage: (dir: string, cycle: number, prng: Prng) => Promise<CrashableStorage>;
  /**
   * Value of TORNLAB_RUN for the commands: the run ledger's id, so that the
   * teardown and `tornlab doctor` find them. Without it, a marker of this
   * process is made up (the runner still kills what carries it; doctor would
   * count such processes as a dead run's).
   */
  runId?: string;
  /** Without runId: the marker of the commands' processes (default: one per cycle). */
  mark?: string;
  /** The run's cgroup (runExecCampaign makes it): the commands start in it, and what is in it is killed with them. */
  cgroup?: RunCgroup;
  onCycle?: (i: number, r: ExecCampaignResult['cycles'][number]) => void;
  /** A shard: run only the cycles whose execCycleId it owns (a skipped cycle still draws its cut). */
  owns?: (id: string) => boolean;
}

export interface CommandRun {
  command: string;
  phase: string;
  code: number | null;
  signal: string | null;
  ms: number;
  output: string;
  /** What the command's process group (a daemon it started) wrote after the command exited, until it was killed. */
  afterExit?: string;
}

export interface ExecCycleResult {
  cycle: number;
  verdict: ExecVerdict;
  finding: boolean;
  ackedAtCut: number;
  /** Absent when the cycle ended before the power cut (harness-error). */
  cut?: CutSummary & RemountSummary & { trigger: string; loadFinishedBeforeCut: boolean };
  /** harness-error: the phase that passed its deadline, the option that sets it, the deadline. */
  harness?: { phase: string; option: string; deadlineMs: number };
  runs: CommandRun[];
  /** Output of the verify command (or of the failing recovery start, or what the harness-error names). */
  output: string;
  /** Processes of the run (in its cgroup or by TORNLAB_RUN) still alive after the cycle's kills: the cycle is harness-error. */
  survivors?: number[];
}

export interface ExecCampaignResult {
  dir: string;
  commands: ExecCommands;
  storage: string;
  profile?: string;
  crashes: number;
  seed: number;
  counts: Record<string, number>;
  findings: number;
  /** The cycles run, each with the id a shard owns it by (execCycleId). */
  cycles: (ExecCycleResult & { replayId: string })[];
  cyclesPerMinute: number;
}

let marks = 0;
/** A run marker of this process, for runs without a ledger. */
function localMark(): string {
  return `exec-${process.pid}-${Date.now().toString(36)}-${++marks}`;
}

/** What a cycle knows about the commands it started. */
interface CycleCtx {
  mark: string;
  cgroup?: RunCgroup;
  runs: CommandRun[];
  /** Each command with its run record and where its output stood when it exited (for afterExit). */
  started: { p: Started; run: CommandRun; atExit: number }[];
}

function envFor(o: ExecCampaignOptions, mark: string, cycle: number, phase: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TORNLAB_MOUNT: o.dir,
    TORNLAB_PHASE: phase,
    TORNLAB_CYCLE: String(cycle),
    TORNLAB_SEED: String(o.seed + cycle),
    TORNLAB_RUN: mark,
    ...extra,
  };
}

/**
 * Run a shell command until it exits (what it left in the background lives on
 * in its process group), bounded: past `timeoutMs` the whole group is killed
 * and the cycle ends as harness-error. 126/127 (not executable / not found) are bad input.
 */
async function runToEnd(ctx: CycleCtx, option: 'start' | 'verify', command: string, phase: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandRun> {
  await haltIfInterrupted();
  const t0 = Date.now();
  const p = start('/bin/sh', ['-c', command], { env, runMark: ctx.mark, cgroup: ctx.cgroup?.dir }); // cwd stays the user's: relative command paths work
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    p.signalKill();
  }, timeoutMs);
  const r = await p.exited;
  clearTimeout(timer);
  if (timedOut) await p.kill(); // and wait until every member of its group is gone
  await haltIfInterrupted(); // killed by a SIGINT/SIGTERM teardown: it owns the exit
  const run: CommandRun = { command, phase, code: r.code, signal: r.signal, ms: Date.now() - t0, output: p.output() };
  ctx.runs.push(run);
  ctx.started.push({ p, run, atExit: p.outputLength() });
  joinedOrThrow(phase, r.code, run.output);
  if (timedOut) {
    const opt = `--${option}-timeout`;
    throw new PhaseTimeoutError(phase, opt, timeoutMs, `the ${option} command (phase ${phase}) did not exit within ${formatDeadline(timeoutMs)} (${opt}); its process group was killed`);
  }
  if (r.code === 127 || r.code === 126) throw new BadInputError(`--${option} "${command}" (${phase}): ${r.code === 127 ? 'command not found' : 'not executable'} (exit ${r.code}). Output:\n${tail(run.output)}`);
  return run;
}

/** The command never ran: its shell could not enter the run's cgroup (src/export/cgroup.ts). */
function joinedOrThrow(phase: string, code: number | null, output: string): void {
  if (code === 125 && output.includes(JOIN_FAILED)) throw new HarnessError(phase, `${output.trim().split('\n').find((l) => l.includes(JOIN_FAILED))}: the command was not run`);
}

/** SIGKILL what the cycle's commands left outside their groups: the run's cgroup, and by marker; wait at most `waitMs` (0: do not wait). */
async function killRun(ctx: CycleCtx, waitMs?: number): Promise<void> {
  if (ctx.cgroup) {
    if (waitMs === 0) signalKillCgroup(ctx.cgroup);
    else await killCgroup(ctx.cgroup, waitMs);
  }
  await killMarked(ctx.mark, waitMs);
}

function tail(s: string, n = 2000): string {
  return s.length > n ? '...' + s.slice(-n) : s;
}

/**
 * The ack file format (docs/exec.md): one acknowledged operation per line,
 * ended by a newline; a line is the operation's id, 1 to MAX_ACK_BYTES bytes
 * of UTF-8 text without control characters (no tab, no CR) and not only
 * spaces. A partial last line (no newline yet) is not yet an acknowledgement.
 */
export const MAX_ACK_BYTES = 256;

/** A line of the ack file that breaks the format: the cycle ends `harness-error`, the line is never counted. */
export class AckFileError extends HarnessError {
  constructor(message: string) {
    super('load', message);
  }
}

function ackProblem(line: string): string | undefined {
  if (line.includes('\uFFFD')) return 'it is not UTF-8 text';
  if (line.trim() === '') return 'it is empty';
  if (Buffer.byteLength(line, 'utf8') > MAX_ACK_BYTES) return `it is longer than ${MAX_ACK_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(line)) return 'it holds a control character';
  return undefined;
}

/** Complete lines of the ack file, each checked against the format (AckFileError naming the first bad line). */
export function readAcks(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const end = text.lastIndexOf('\n');
  const lines = end < 0 ? [] : text.slice(0, end).split('\n');
  lines.forEach((line, i) => {
    const why = ackProblem(line);
    if (why) {
      const shown = JSON.stringify(line.length > 60 ? line.slice(0, 60) + '...' : line);
      throw new AckFileError(`$TORNLAB_ACK_FILE line ${i + 1} ${shown} is not an acknowledgement: ${why} (the load appends one operation id per line: 1-${MAX_ACK_BYTES} bytes of text; see docs/exec.md); the line was not counted`);
    }
  });
  return lines;
}

/**
 * A cycle's cut, drawn first thing from the campaign's one sequential stream
 * (one draw per cycle, whatever the cycle does later): a shard draws it for
 * the cycles it skips too, so its own cycles get the cuts of an unsharded run.
 */
export function drawExecCut(prng: Prng, o: Pick<ExecCampaignOptions, 'cutAfterAcks' | 'cutWithinMs'>): { afterAcks?: number; delayMs?: number } {
  return o.cutAfterAcks ? { afterAcks: prng.int(1, o.cutAfterAcks) } : { delayMs: prng.int(0, o.cutWithinMs) };
}

/** The id a cycle is owned by (src/crash/shard.ts), in src/crash/replay-id.ts's cycle grammar: exec:seed=S:cycle=N. The commands are not in it, so it names the cycle of a run; it does not replay it. */
export function execCycleId(seed: number, cycle: number): string {
  return formatCycleReplayId({ kind: 'exec', body: '', seed, cycle });
}

export async function runExecCycle(o: ExecCampaignOptions, cycle: number, prng: Prng): Promise<ExecCycleResult> {
  await haltIfInterrupted();
  const cutAt = drawExecCut(prng, o);
  const ctx: CycleCtx = { mark: o.runId ?? o.mark ?? localMark(), cgroup: o.cgroup, runs: [], started: [] };
  const { runs } = ctx;
  // On a ledger run the ack folder lives in the run's folder, so that doctor removes it after a SIGKILL.
  const ackDir = o.runId ? runLedger().newPath('acks') : await fs.promises.mkdtemp(path.join(os.tmpdir(), tempPrefix('tornlab-exec-acks-')));
  await fs.promises.mkdir(ackDir, { recursive: true });
  const ackFile = path.join(ackDir, 'acks');
  const ackedFile = path.join(ackDir, 'acked-at-cut');
  await fs.promises.writeFile(ackFile, '');
  // Storage steps run under the watchdog (src/export/watchdog.ts): a mount or release that hangs ends the run as harness-error.
  const storage = await guard('export', STORAGE_DEADLINE_MS, o.openStorage(o.dir, cycle, prng.fork('storage')));
  let load: Started | undefined;
  let tLoad = 0;
  let loadRun: CommandRun | undefined;
  const recordLoad = async () => {
    if (!load || loadRun) return;
    const r = await load.exited;
    loadRun = { command: o.commands.load, phase: 'load', code: r.code, signal: r.signal, ms: Date.now() - tLoad, output: load.output() };
    runs.push(loadRun);
    ctx.started.push({ p: load, run: loadRun, atExit: load.outputLength() });
  };
  let ackedAtCut = 0;
  let cut: ExecCycleResult['cut'];
  try {
    const firstStart = await runToEnd(ctx, 'start', o.commands.start, 'start', envFor(o, ctx.mark, cycle, 'start'), o.timeouts.startMs);
    if (firstStart.code !== 0) throw new BadInputError(`--start "${o.commands.start}" failed before any power cut (exit ${firstStart.code}); it must succeed on a fresh empty file system. Output:\n${tail(firstStart.output)}`);

    tLoad = Date.now();
    load = start('/bin/sh', ['-c', o.commands.load], { env: envFor(o, ctx.mark, cycle, 'load', { TORNLAB_ACK_FILE: ackFile }), runMark: ctx.mark, cgroup: ctx.cgroup?.dir });
    let loadDone = false;
    const loadExit = load.exited.then((r) => {
      loadDone = true;
      return r;
    });
    let trigger: string;
    if (cutAt.afterAcks !== undefined) {
      const target = cutAt.afterAcks;
      trigger = `after ${target} acknowledged operations`;
      const deadline = tLoad + o.timeouts.loadMs;
      while (!loadDone && readAcks(ackFile).length < target) {
        if (Date.now() > deadline) {
          throw new PhaseTimeoutError('load', '--load-timeout', o.timeouts.loadMs, `the load command (phase load) did not report ${target} acknowledged operations within ${formatDeadline(o.timeouts.loadMs)} (--load-timeout; append one line per operation to $TORNLAB_ACK_FILE, or lower --cut-after-acks); its process group was killed`);
        }
        await Promise.race([sleep(5), loadExit]);
      }
    } else {
      const delay = cutAt.delayMs!;
      trigger = `${delay} ms into load`;
      await Promise.race([sleep(delay), loadExit]);
    }
    await haltIfInterrupted();
    if (loadDone) {
      const r = await loadExit;
      joinedOrThrow('load', r.code, load.output());
      if (r.code !== 0) {
        const why = r.code === 127 ? 'command not found' : r.code === 126 ? 'not executable' : `exit ${r.code}${r.signal ? `, signal ${r.signal}` : ''}`;
        throw new BadInputError(`--load "${o.commands.load}" failed before the power cut (${why}). Output:\n${tail(load.output())}`);
      }
    }
    // The cut: read what was acknowledged, then stop the device. An acknowledgement written
    // between the two is not counted: it came from a commit durable before the cut, so the
    // oracle only expects less than it could (never more).
    const acked = readAcks(ackFile);
    ackedAtCut = acked.length;
    const finishedBeforeCut = loadDone;
    const l = load;
    // Signal only (see Started.signalKill): every process group of the cycle (start's daemon
    // included) and whatever uses DIR; the exits are awaited after the release.
    const summary = await guardCut(storage.powerCut(async () => {
      l.signalKill();
      signalKillAll();
      // The cgroup by its member list (never their memory): frozen, killed, thawed, not waited for.
      if (ctx.cgroup) signalKillCgroup(ctx.cgroup);
      await killProcessesUsing(o.dir, 0);
      // Processes that left their groups, by marker. On a device this waits for the held requests
      // to be failed (see markedPids): they follow below, after the release.
      if (storage.kind === 'plain-directory') await killMarked(ctx.mark, 0);
    }));
    await killAll();
    await killRun(ctx);
    await killProcessesUsing(o.dir).catch(() => []);
    await recordLoad();
    await fs.promises.writeFile(ackedFile, acked.length ? acked.join('\n') + '\n' : '');
    let remount: RemountSummary;
    cut = { ...summary, trigger, loadFinishedBeforeCut: finishedBeforeCut };
    try {
      remount = await guard('fsck', STORAGE_DEADLINE_MS, storage.remountCrashImage());
    } catch (e) {
      if (e instanceof PhaseDeadlineError) throw e;
      // The file system did not come back from the crash image: the user's database never got a chance.
      return { cycle, verdict: 'recovery-failed', finding: true, ackedAtCut, cut, runs, output: `file system: the crash image could not be checked and mounted: ${(e as Error).message}` };
    }

    cut = { ...summary, ...remount, trigger, loadFinishedBeforeCut: finishedBeforeCut };
    const recover = await runToEnd(ctx, 'start', o.commands.start, 'recover', envFor(o, ctx.mark, cycle, 'recover'), o.timeouts.startMs);
    if (recover.code !== 0) {
      return { cycle, verdict: 'recovery-failed', finding: true, ackedAtCut, cut, runs, output: recover.output };
    }
    const verify = await runToEnd(ctx, 'verify', o.commands.verify, 'verify', envFor(o, ctx.mark, cycle, 'verify', { TORNLAB_ACKED_FILE: ackedFile, TORNLAB_ACKED_COUNT: String(acked.length) }), o.timeouts.verifyMs);
    const verdict = verify.signal ? 'failed' : verdictOfExitCode(verify.code ?? 1);
    return { cycle, verdict, finding: verdict !== 'ok', ackedAtCut, cut, runs, output: verify.output };
  } catch (e) {
    await haltIfInterrupted(); // a SIGINT/SIGTERM teardown owns the exit
    if (!(e instanceof PhaseTimeoutError) && !(e instanceof PhaseDeadlineError) && !(e instanceof AckFileError)) throw e;
    // Killed here already so that the output below is all there will be.
    await killAll();
    await killRun(ctx);
    await recordLoad();
    const last = runs[runs.length - 1];
    const what = e instanceof PhaseDeadlineError ? e.describe().join('\n') : e.message;
    const output = `harness-error: ${what}${last?.output ? `. Output:\n${tail(last.output)}` : ''}`;
    if (e instanceof AckFileError) return { cycle, verdict: 'harness-error', finding: false, ackedAtCut, cut, runs, output };
    const harness = e instanceof PhaseTimeoutError ? { phase: e.phase, option: e.option, deadlineMs: e.deadlineMs } : { phase: e.phase, option: '--deadline-factor', deadlineMs: e.deadlineMs };
    return { cycle, verdict: 'harness-error', finding: false, ackedAtCut, cut, harness, runs, output };
  } finally {
    await load?.kill();
    await killAll();
    await killRun(ctx).catch(() => undefined);
    await killProcessesUsing(o.dir).catch(() => []);
    await recordLoad();
    for (const { p, run, atExit } of ctx.started) {
      const later = p.outputSince(atExit);
      if (later) run.afterExit = tail(later);
    }
    await guard('release', STORAGE_DEADLINE_MS, storage.teardown());
    await fs.promises.rm(ackDir, { recursive: true, force: true });
  }
}

export async function runExecCampaign(o: ExecCampaignOptions): Promise<ExecCampaignResult> {
  const mark = o.runId ?? o.mark ?? localMark();
  const cg = o.cgroup ? { cg: o.cgroup, release: () => undefined } : openRunCgroup(isCgroupName(mark) ? mark : localMark(), o.runId);
  try {
    return await runCycles({ ...o, mark, cgroup: cg.cg });
  } finally {
    await cg.release();
  }
}

/**
 * The run's cgroup, registered with the teardown (and, on a ledger run, in the
 * ledger), or none, with one line saying why and what that means. release()
 * kills what is left in it and removes it.
 */
function openRunCgroup(name: string, runId: string | undefined): { cg?: RunCgroup; release: () => Promise<void> | void } {
  const made = createRunCgroup(name);
  if ('unavailable' in made) {
    process.stderr.write(`tornlab: ${made.unavailable}: processes that leave their process group are found by the TORNLAB_RUN marker only (env -i escapes it)\n`);
    return { release: () => undefined };
  }
  if (runId) runLedger().add('cgroup', made.dir, 'cgroup of the exec commands');
  const unregister = registerCgroup(made);
  return {
    cg: made,
    release: async () => {
      await killCgroup(made, 5000);
      if (removeCgroup(made)) {
        unregister();
        if (runId && !runLedger().isClosed) runLedger().remove('cgroup', made.dir);
      }
      // Not removable (a member stuck in I/O): the teardown tries again at exit, doctor after that.
    },
  };
}

async function runCycles(o: ExecCampaignOptions & { mark: string }): Promise<ExecCampaignResult> {
  const { mark } = o;
  const root = new Prng(o.seed).fork('exec');
  const cycles: ExecCampaignResult['cycles'] = [];
  const counts: Record<string, number> = {};
  let storageKind = '';
  let profile: string | undefined;
  const t0 = Date.now();
  // One sequential stream for the cut points: the first draws of sibling forks are correlated.
  const cuts = root.fork('cuts');
  for (let i = 0; i < o.crashes; i++) {
    await haltIfInterrupted();
    if (o.owns && !o.owns(execCycleId(o.seed, i))) {
      drawExecCut(cuts, o);
      continue;
    }
    const ran = await runExecCycle(
      {
        ...o,
        mark,
        openStorage: async (dir, c, p) => {
          const s = await o.openStorage(dir, c, p);
          storageKind = s.kind;
          profile = s.profile;
          return s;
        },
      },
      i,
      cuts,
    );
    const r = { ...ran, replayId: execCycleId(o.seed, i) };
    // The cycle killed every marked process and released the storage; one still alive escaped the kill.
    // One /proc scan when nothing is left (the usual case); what is found gets one more SIGKILL first.
    const inRun = async () => [...new Set([...(o.cgroup ? livePids(o.cgroup.dir) : []), ...(await markedPids(mark))])].sort((a, b) => a - b);
    const found = await inRun();
    const left = found.length ? await killRun({ mark, cgroup: o.cgroup, runs: [], started: [] }, 2000).then(inRun) : [];
    if (left.length > 0) {
      r.survivors = left;
      r.output = `harness-error: ${left.length} process(es) of this run (pid ${left.join(', ')}) survived SIGKILL at the end of the cycle (stuck in I/O?); tornlab doctor lists them.\n${r.output}`;
      if (r.verdict === 'ok') {
        r.verdict = 'harness-error';
        r.finding = false;
      }
    }
    counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
    cycles.push(r);
    o.onCycle?.(i, r);
  }
  const ms = Date.now() - t0;
  return {
    dir: o.dir,
    commands: o.commands,
    storage: storageKind,
    profile,
    crashes: o.crashes,
    seed: o.seed,
    counts,
    findings: cycles.filter((c) => c.finding).length,
    cycles,
    cyclesPerMinute: ms > 0 ? (cycles.length * 60000) / ms : 0,
  };
}

export function formatExecCampaign(r: ExecCampaignResult): string {
  const lines = [`exec on ${r.storage}${r.profile ? ` (${r.profile})` : ''} at ${r.dir}: ${r.crashes} crash cycles, seed ${r.seed}`];
  for (const c of r.cycles) {
    const what = c.cut
      ? `cut ${c.cut.trigger}${c.cut.loadFinishedBeforeCut ? ' (load had finished)' : ''}, ${c.ackedAtCut} acknowledged${c.cut.crashStateId ? `, crash state ${c.cut.crashStateId}` : ''}`
      : 'no power cut';
    const harness = c.harness ? `; ${c.harness.phase} passed its deadline of ${formatDeadline(c.harness.deadlineMs)} (${c.harness.option})` : '';
    lines.push(`  #${c.cycle} ${c.verdict.padEnd(20)} ${what}${harness}`);
    if (c.verdict !== 'ok') for (const l of c.output.trim().split('\n').slice(-6)) lines.push(`      | ${l}`);
  }
  lines.push(`  verdicts: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}; findings ${r.findings}; ${r.cyclesPerMinute.toFixed(1)} cycles/min`);
  return lines.join('\n');
}
