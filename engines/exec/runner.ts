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
 *   TORNLAB_RUN         marks the processes of this run (tornlab doctor)
 * The acknowledged lines are read by tornlab in the same synchronous step that
 * cuts the power, from a file outside the emulated device, so "acknowledged"
 * means: reported before the cut.
 *
 * Invariant: whatever happens (bad exit, timeout, exception), every process
 * started for a cycle and every process using DIR is SIGKILLed and the storage
 * torn down before the cycle returns or throws.
 */
import { runLedger } from '../../src/export';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';
import { Started, killAll, killProcessesUsing, signalKillAll, sleep, start } from './processes';
import { CrashableStorage, CutSummary, RemountSummary } from './storage';
import { ExecVerdict, verdictOfExitCode } from './verdict';
import { ExecCommands } from './options';

export interface ExecTimeouts {
  startMs: number;
  loadMs: number;
  verifyMs: number;
}

export const DEFAULT_TIMEOUTS: ExecTimeouts = { startMs: 60_000, loadMs: 120_000, verifyMs: 120_000 };

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
  /** Value of TORNLAB_RUN for the commands. */
  runId?: string;
  onCycle?: (i: number, r: ExecCycleResult) => void;
}

export interface CommandRun {
  command: string;
  phase: string;
  code: number | null;
  signal: string | null;
  ms: number;
  output: string;
}

export interface ExecCycleResult {
  cycle: number;
  verdict: ExecVerdict;
  finding: boolean;
  ackedAtCut: number;
  cut: CutSummary & RemountSummary & { trigger: string; loadFinishedBeforeCut: boolean };
  runs: CommandRun[];
  /** Output of the verify command (or of the failing recovery start). */
  output: string;
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
  cycles: ExecCycleResult[];
  cyclesPerMinute: number;
}

function envFor(o: ExecCampaignOptions, cycle: number, phase: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TORNLAB_MOUNT: o.dir,
    TORNLAB_PHASE: phase,
    TORNLAB_CYCLE: String(cycle),
    TORNLAB_SEED: String(o.seed + cycle),
    ...(o.runId ? { TORNLAB_RUN: o.runId } : {}),
    ...extra,
  };
}

/** Run a shell command to its end, bounded; 126/127 (not executable / not found) and timeouts are bad input. */
async function runToEnd(option: 'start' | 'verify', command: string, phase: string, env: NodeJS.ProcessEnv, timeoutMs: number, runs: CommandRun[]): Promise<CommandRun> {
  const t0 = Date.now();
  const p = start('/bin/sh', ['-c', command], { env }); // cwd stays the user's: relative command paths work
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.kill();
  }, timeoutMs);
  const r = await p.exited;
  clearTimeout(timer);
  const run: CommandRun = { command, phase, code: r.code, signal: r.signal, ms: Date.now() - t0, output: p.output() };
  runs.push(run);
  if (timedOut) throw new BadInputError(`--${option} "${command}" (${phase}) timed out after ${timeoutMs} ms; make it finish or raise --timeout. Output:\n${tail(run.output)}`);
  if (r.code === 127 || r.code === 126) throw new BadInputError(`--${option} "${command}" (${phase}): ${r.code === 127 ? 'command not found' : 'not executable'} (exit ${r.code}). Output:\n${tail(run.output)}`);
  return run;
}

function tail(s: string, n = 2000): string {
  return s.length > n ? '...' + s.slice(-n) : s;
}

/** Complete lines of the ack file (a partial last line is not yet an acknowledgement). */
export function readAcks(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n');
}

export async function runExecCycle(o: ExecCampaignOptions, cycle: number, prng: Prng): Promise<ExecCycleResult> {
  // On a device run the ack folder lives in the run's folder, so that doctor removes it after a SIGKILL.
  const ackDir = o.runId ? runLedger().newPath('acks') : await fs.promises.mkdtemp(path.join(os.tmpdir(), 'tornlab-exec-acks-'));
  await fs.promises.mkdir(ackDir, { recursive: true });
  const ackFile = path.join(ackDir, 'acks');
  const ackedFile = path.join(ackDir, 'acked-at-cut');
  await fs.promises.writeFile(ackFile, '');
  const runs: CommandRun[] = [];
  const storage = await o.openStorage(o.dir, cycle, prng.fork('storage'));
  let load: Started | undefined;
  try {
    const firstStart = await runToEnd('start', o.commands.start, 'start', envFor(o, cycle, 'start'), o.timeouts.startMs, runs);
    if (firstStart.code !== 0) throw new BadInputError(`--start "${o.commands.start}" failed before any power cut (exit ${firstStart.code}); it must succeed on a fresh empty file system. Output:\n${tail(firstStart.output)}`);

    const tLoad = Date.now();
    load = start('/bin/sh', ['-c', o.commands.load], { env: envFor(o, cycle, 'load', { TORNLAB_ACK_FILE: ackFile }) });
    let loadDone = false;
    const loadExit = load.exited.then((r) => {
      loadDone = true;
      return r;
    });
    let trigger: string;
    if (o.cutAfterAcks) {
      const target = prng.int(1, o.cutAfterAcks);
      trigger = `after ${target} acknowledged operations`;
      const deadline = tLoad + o.timeouts.loadMs;
      while (!loadDone && readAcks(ackFile).length < target) {
        if (Date.now() > deadline) throw new BadInputError(`--load "${o.commands.load}" did not report ${target} acknowledged operations in ${o.timeouts.loadMs} ms (append one line per operation to $TORNLAB_ACK_FILE, or lower --cut-after-acks / raise --timeout)`);
        await Promise.race([sleep(5), loadExit]);
      }
    } else {
      const delay = prng.int(0, o.cutWithinMs);
      trigger = `${delay} ms into load`;
      await Promise.race([sleep(delay), loadExit]);
    }
    if (loadDone) {
      const r = await loadExit;
      if (r.code !== 0) {
        const why = r.code === 127 ? 'command not found' : r.code === 126 ? 'not executable' : `exit ${r.code}${r.signal ? `, signal ${r.signal}` : ''}`;
        throw new BadInputError(`--load "${o.commands.load}" failed before the power cut (${why}). Output:\n${tail(load.output())}`);
      }
    }
    // The cut: read what was acknowledged and stop the device in one synchronous step.
    const acked = readAcks(ackFile);
    const finishedBeforeCut = loadDone;
    const l = load;
    // Signal only (see Started.signalKill); the exits are awaited after the release.
    const summary = await storage.powerCut(async () => {
      l.signalKill();
      signalKillAll();
      await killProcessesUsing(o.dir, 0);
    });
    await killAll();
    await killProcessesUsing(o.dir).catch(() => []);
    const loadExitStatus = await loadExit;
    runs.push({ command: o.commands.load, phase: 'load', code: loadExitStatus.code, signal: loadExitStatus.signal, ms: Date.now() - tLoad, output: load.output() });
    await fs.promises.writeFile(ackedFile, acked.length ? acked.join('\n') + '\n' : '');
    let remount: RemountSummary;
    try {
      remount = await storage.remountCrashImage();
    } catch (e) {
      // The file system did not come back from the crash image: the user's database never got a chance.
      const cut = { ...summary, trigger, loadFinishedBeforeCut: finishedBeforeCut };
      return { cycle, verdict: 'recovery-failed', finding: true, ackedAtCut: acked.length, cut, runs, output: `file system: the crash image could not be checked and mounted: ${(e as Error).message}` };
    }

    const cut = { ...summary, ...remount, trigger, loadFinishedBeforeCut: finishedBeforeCut };
    const recover = await runToEnd('start', o.commands.start, 'recover', envFor(o, cycle, 'recover'), o.timeouts.startMs, runs);
    if (recover.code !== 0) {
      return { cycle, verdict: 'recovery-failed', finding: true, ackedAtCut: acked.length, cut, runs, output: recover.output };
    }
    const verify = await runToEnd('verify', o.commands.verify, 'verify', envFor(o, cycle, 'verify', { TORNLAB_ACKED_FILE: ackedFile, TORNLAB_ACKED_COUNT: String(acked.length) }), o.timeouts.verifyMs, runs);
    const verdict = verify.signal ? 'failed' : verdictOfExitCode(verify.code ?? 1);
    return { cycle, verdict, finding: verdict !== 'ok', ackedAtCut: acked.length, cut, runs, output: verify.output };
  } finally {
    await load?.kill();
    await killAll();
    await killProcessesUsing(o.dir).catch(() => []);
    await storage.teardown();
    await fs.promises.rm(ackDir, { recursive: true, force: true });
  }
}

export async function runExecCampaign(o: ExecCampaignOptions): Promise<ExecCampaignResult> {
  const root = new Prng(o.seed).fork('exec');
  const cycles: ExecCycleResult[] = [];
  const counts: Record<string, number> = {};
  let storageKind = '';
  let profile: string | undefined;
  const t0 = Date.now();
  // One sequential stream for the cut points: the first draws of sibling forks are correlated.
  const cuts = root.fork('cuts');
  for (let i = 0; i < o.crashes; i++) {
    const r = await runExecCycle(
      {
        ...o,
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
    cyclesPerMinute: ms > 0 ? (o.crashes * 60000) / ms : 0,
  };
}

export function formatExecCampaign(r: ExecCampaignResult): string {
  const lines = [`exec on ${r.storage}${r.profile ? ` (${r.profile})` : ''} at ${r.dir}: ${r.crashes} crash cycles, seed ${r.seed}`];
  for (const c of r.cycles) {
    lines.push(`  #${c.cycle} ${c.verdict.padEnd(20)} cut ${c.cut.trigger}${c.cut.loadFinishedBeforeCut ? ' (load had finished)' : ''}, ${c.ackedAtCut} acknowledged${c.cut.crashStateId ? `, crash state ${c.cut.crashStateId}` : ''}`);
    if (c.verdict !== 'ok') for (const l of c.output.trim().split('\n').slice(-6)) lines.push(`      | ${l}`);
  }
  lines.push(`  verdicts: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}; findings ${r.findings}; ${r.cyclesPerMinute.toFixed(1)} cycles/min`);
  return lines.join('\n');
}
