/**
 * The loop of a real-database cell that runs a server per cycle
 * (engines/postgres, engines/mariadb): build or reuse the base image, run the
 * cycles this run owns in order, wait for killed containers to be gone, and
 * sum the cycles up. Each engine passes its own base image and cycle; what a
 * cycle does is the engine's, how cycles are chosen and counted is here.
 *
 * Invariants:
 *  1. Cycle i runs only if i >= fromCycle and the shard owns its replay id;
 *     cycles run in increasing i (each has its own seeded stream, so a shard
 *     or a replay of one cycle gets the same bytes as the whole cell).
 *  2. An interrupt (SIGINT/SIGTERM) during the cell hands the exit to the
 *     teardown (status 128+signal) instead of reporting a partial cell.
 *  3. `finding` is true iff a cycle ended in a verdict that is neither `ok`
 *     nor `harness-error` (a harness error is not a finding about the database).
 */
import { settle as settleContainers } from '../../src/export/containers/containers';
import { haltIfInterrupted } from '../../src/export/teardown';
import { guard } from '../../src/export/watchdog';
import type { Verdict } from '../../src/crash/verdict';
import { median } from '../../src/util/percentile';
import { countVerdicts } from './cycle-result';

export interface CellCyclesSpec<B, R> {
  crashes: number;
  /** Run only cycles from this one on (replay of one cycle). */
  fromCycle?: number;
  /** A shard (src/crash/shard.ts): run only the cycles whose replay id it owns. */
  owns?: (replayId: string) => boolean;
  replayId: (cycle: number) => string;
  baseImage: () => Promise<B>;
  cycle: (base: B, cycle: number) => Promise<R>;
  onCycle?: (r: R) => void;
  /** Set for containerized runs: killed containers finish their removal in the background; the cell ends when they are gone. */
  containers?: { runId: string; releaseMs: number };
}

export interface CellCycles<B, R> {
  base: B;
  cycles: R[];
  verdicts: Partial<Record<Verdict, number>>;
  finding: boolean;
  medianCycleMs: number;
}

export async function runCellCycles<B, R extends { verdict: Verdict; ms: { total: number } }>(spec: CellCyclesSpec<B, R>): Promise<CellCycles<B, R>> {
  const cycles: R[] = [];
  let base: B;
  try {
    base = await spec.baseImage();
    for (let i = spec.fromCycle ?? 0; i < spec.crashes; i++) {
      if (spec.owns && !spec.owns(spec.replayId(i))) continue;
      const r = await spec.cycle(base, i);
      cycles.push(r);
      spec.onCycle?.(r);
    }
    if (spec.containers) await guard('release', spec.containers.releaseMs, settleContainers(spec.containers.runId));
  } catch (e) {
    await haltIfInterrupted();
    throw e;
  }
  return {
    base,
    cycles,
    verdicts: countVerdicts(cycles),
    finding: cycles.some((c) => c.verdict !== 'ok' && c.verdict !== 'harness-error'),
    medianCycleMs: median(cycles.map((c) => c.ms.total)),
  };
}
