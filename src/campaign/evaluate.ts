/**
 * Judging crash states: rebuild each planned state from the deterministic run
 * of its cell, power on its crash image, recover, and ask the oracle.
 *
 * This runs in worker threads and in the main thread alike. Each caller
 * re-runs the cell's workload once (deterministic in the seed) and captures
 * only the crash points its states need; all its crash images share that
 * run's media copy-on-write. So a state's verdict depends only on the cell
 * and the state, never on which worker judged it or in what order.
 */
import { DeviceEvent } from '../device/types';
import { buildCrashImage, choiceSpace, ChoiceSpace, CrashImage, powerOn, resolveChoice, formatChoiceRef, ChoiceRef } from '../device/power-loss';
import { NvmeDevice } from '../device/device';
import { formatReplayId } from '../crash/replay-id';
import { PlannedState } from '../crash/strategies';
import { Prng } from '../util/prng';
import { HarnessError, isHarnessError } from '../crash/verdict';
import { CellSpec } from '../crash/cell';
import { EngineAdapter, VerdictResult, WorkloadRun } from '../crash/adapter';

export interface StateResult extends VerdictResult {
  replayId: string;
}

export function replayIdOf(cell: CellSpec, state: PlannedState, recovery?: { point: number; choice: ChoiceRef }): string {
  return formatReplayId({ ...cell, point: state.point, choice: state.choice, recovery });
}

/** Run the cell's workload, capturing the choice spaces of the given points. */
export function captureRun(adapter: EngineAdapter, cell: CellSpec, points: Iterable<number>): { run: WorkloadRun; spaces: Map<number, ChoiceSpace> } {
  const need = new Set(points);
  const spaces = new Map<number, ChoiceSpace>();
  const run = adapter.runWorkload(cell, (e: DeviceEvent, dev: NvmeDevice) => {
    if (need.has(e.seq)) spaces.set(e.seq, choiceSpace(dev.capture()));
  });
  for (const p of need) if (!spaces.has(p)) throw new HarnessError('capture', `crash point ${p} was not reached by the run of ${cell.workload} (${cell.txns} txns, seed ${cell.seed})`);
  return { run, spaces };
}

/** What an exception while judging means: the harness failing (HarnessError) is not judged; anything else is recovery failing. */
function failed(e: unknown): VerdictResult {
  if (isHarnessError(e)) return { verdict: 'harness-error', detail: e.detail };
  const msg = e instanceof Error ? e.message : String(e);
  return { verdict: 'recovery-failed', detail: `recovery threw: ${msg.split('\n')[0]}` };
}

/**
 * Judge one state. With `recoveryCut`, a second power cut strikes during
 * recovery (at a seeded position of recovery's own command stream, or at the
 * given one when replaying), and recovery runs again from that image.
 */
export function judgeState(
  cell: CellSpec,
  run: WorkloadRun,
  space: ChoiceSpace,
  state: PlannedState,
  recoveryCut?: { point: number; choice: ChoiceRef } | 'seeded',
): StateResult & { image: CrashImage; recovered: NvmeDevice } {
  const choice = resolveChoice(space, state.choice, cell.seed);
  const image = buildCrashImage(space, choice);
  let dev = powerOn(space.point, image);
  let recovery: { point: number; choice: ChoiceRef } | undefined;
  if (recoveryCut) {
    if (recoveryCut === 'seeded') {
      // First pass: how long is recovery here? Then cut at a seeded position of it.
      const seqs: number[] = [];
      try {
        run.recover(powerOn(space.point, image), { onEvent: (e) => seqs.push(e.seq) });
      } catch (e) {
        return { ...failed(e), replayId: replayIdOf(cell, state), image, recovered: dev };
      }
      if (seqs.length > 0) {
        const prng = new Prng(cell.seed, `recovery-cut/p${state.point}/${formatChoiceRef(state.choice)}`);
        recovery = { point: prng.pick(seqs), choice: { kind: 'sample', n: 0 } };
      }
    } else {
      recovery = recoveryCut;
    }
    if (recovery) {
      let inner: ChoiceSpace | undefined;
      const cutAt = recovery.point;
      try {
        run.recover(dev, { onEvent: (e, d) => {
          if (e.seq === cutAt) inner = choiceSpace(d.capture());
        } });
      } catch (e) {
        // The first recovery may fail or not; what counts is the recovery after the second cut.
        if (isHarnessError(e)) return { ...failed(e), replayId: replayIdOf(cell, state, recovery), image, recovered: dev };
      }
      if (!inner) throw new HarnessError('recovery-cut', `recovery crash point r${cutAt} was not reached`);
      dev = powerOn(inner.point, buildCrashImage(inner, resolveChoice(inner, recovery.choice, cell.seed)));
    }
  }
  const replayId = replayIdOf(cell, state, recovery);
  let result: VerdictResult;
  try {
    result = run.recoverAndVerify(state.point, dev);
  } catch (e) {
    result = failed(e);
  }
  return { ...result, replayId, image, recovered: dev };
}

/** Judge a list of states (one worker's share). `onProgress` is called every `every` states. */
export function evaluateStates(
  adapter: EngineAdapter,
  cell: CellSpec,
  states: readonly PlannedState[],
  onProgress?: (done: number, verdicts: Record<string, number>) => void,
  every = 25,
): StateResult[] {
  const { run, spaces } = captureRun(adapter, cell, states.map((s) => s.point));
  return judgeStates(cell, run, spaces, states, onProgress, every);
}

/** Judge states whose crash points were captured already (by `captureRun`). */
export function judgeStates(
  cell: CellSpec,
  run: WorkloadRun,
  spaces: ReadonlyMap<number, ChoiceSpace>,
  states: readonly PlannedState[],
  onProgress?: (done: number, verdicts: Record<string, number>) => void,
  every = 25,
): StateResult[] {
  // In crash-point order: neighbouring states share the most (the engine's delta judging
  // verifies what changed since the state before); results stay in the plan's order.
  const order = states.map((_, i) => i).sort((a, b) => states[a].point - states[b].point || a - b);
  const out: StateResult[] = new Array(states.length);
  const counts: Record<string, number> = {};
  let done = 0;
  for (const i of order) {
    const s = states[i];
    const r = judgeState(cell, run, spaces.get(s.point)!, s, cell.crashDuringRecovery ? 'seeded' : undefined);
    out[i] = { verdict: r.verdict, detail: r.detail, replayId: r.replayId };
    counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
    if (onProgress && ++done % every === 0) onProgress(done, counts);
  }
  if (onProgress && done % every !== 0) onProgress(done, counts);
  return out;
}
