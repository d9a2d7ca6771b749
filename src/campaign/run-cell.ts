/**
 * Run one campaign cell: measure the workload's cost, plan crash states by
 * the cell's strategy, judge them over worker threads, and turn it all into
 * a report CellResult.
 *
 * Determinism: the plan is a function of the cell (seed included); states
 * are split across workers by index and merged back in index order, so the
 * result is the same with 1 or N workers.
 */
import os from 'os';
import path from 'path';
import { Worker } from 'worker_threads';
import { faultNames, getProfile, parseFaults } from '../device/profiles';
import { BadInputError } from '../util/errors';
import { Prng } from '../util/prng';
import { planChoices, planPoints, PlannedState, TraceEvent } from '../crash/strategies';
import { buildCellResult, measurementsFromCounters } from '../report/build';
import type { CellResult, Finding } from '../report/schema';
import { CellSpec, EngineAdapter, STRATEGIES } from './cell';
import { getAdapter } from './engines';
import { captureRun, evaluateStates, StateResult } from './evaluate';

export interface Progress {
  cell: CellSpec;
  done: number;
  total: number;
  verdicts: Record<string, number>;
}

export interface RunCellOptions {
  /** Worker threads (default: one per core, at most 2 on this machine kind). 1 = judge in this thread. */
  workers?: number;
  onProgress?: (p: Progress) => void;
  /** Findings kept in the CellResult. */
  findingsCap?: number;
}

export interface CellOutcome {
  result: CellResult;
  states: StateResult[];
  /** Crash states planned but cut by the budget (exhaustive strategy). */
  truncated: boolean;
  wallSeconds: number;
}

/** Check a cell before any work: names the bad key and the allowed values. */
export function validateCell(cell: CellSpec, adapter: EngineAdapter = getAdapter(cell.engine)): CellSpec {
  const one = <T>(key: string, v: T, allowed: readonly T[]) => {
    if (!allowed.includes(v)) throw new BadInputError(`${key} "${v}" is not valid for engine ${adapter.name}; use one of: ${allowed.join(', ')}`);
  };
  one('mode', cell.mode, adapter.modes);
  one('workload', cell.workload, adapter.workloads);
  one('page size', cell.pageSize, adapter.pageSizes);
  one('strategy', cell.strategy, STRATEGIES);
  getProfile(cell.profile);
  const faults = faultNames(parseFaults(cell.faults));
  for (const [k, v, min, max] of [['txns', cell.txns, 1, 1_000_000], ['crashes', cell.crashes, 0, 10_000_000], ['seed', cell.seed, 0, Number.MAX_SAFE_INTEGER]] as const) {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new BadInputError(`${k} must be an integer from ${min} to ${max}, got ${v}`);
  }
  return { ...cell, faults };
}

function workerScript(): string {
  // Under ts-jest this module is TypeScript; workers always run the compiled JS in dist/.
  if (__filename.endsWith('.ts')) return path.resolve(__dirname, '../../dist/src/campaign/worker.js');
  return path.join(__dirname, 'worker.js');
}

function runWorker(cell: CellSpec, states: PlannedState[], onProgress: (done: number, verdicts: Record<string, number>) => void): Promise<StateResult[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerScript(), { workerData: { cell, states } });
    w.on('message', (m: { type: string; done?: number; verdicts?: Record<string, number>; results?: StateResult[]; message?: string }) => {
      if (m.type === 'progress') onProgress(m.done!, m.verdicts!);
      else if (m.type === 'done') resolve(m.results!);
      else reject(new Error(`crash-state worker failed: ${m.message}`));
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (code !== 0) reject(new Error(`crash-state worker exited with ${code}`));
    });
  });
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
}

/** Plan the crash states of a cell (pure in the cell): a trace run, then a capture run for space sizes. */
export function planCell(adapter: EngineAdapter, cell: CellSpec): { states: PlannedState[]; truncated: boolean; metrics: ReturnType<EngineAdapter['runWorkload']>['metrics'] } {
  const trace: TraceEvent[] = [];
  const traced = adapter.runWorkload(cell, (e) => trace.push({ seq: e.seq, phase: e.phase, kind: e.kind, tag: e.tag }));
  const points = planPoints(cell.strategy, trace, cell.crashes, new Prng(cell.seed, 'crash-plan'));
  const { spaces } = captureRun(adapter, cell, points);
  const { states, truncated } = planChoices(cell.strategy, points, (p) => spaces.get(p)!.count, cell.crashes);
  return { states, truncated, metrics: traced.metrics };
}

export async function runCell(input: CellSpec, opts: RunCellOptions = {}): Promise<CellOutcome> {
  const t0 = process.hrtime.bigint();
  const adapter = getAdapter(input.engine);
  const cell = validateCell(input, adapter);
  const expectation = adapter.expectation(cell);
  const { states, truncated, metrics } = planCell(adapter, cell);
  const workers = Math.max(1, Math.min(opts.workers ?? defaultWorkers(), Math.ceil(states.length / 50) || 1));
  const progress = (doneByWorker: number[], verdictsByWorker: Record<string, number>[]) => {
    if (!opts.onProgress) return;
    const verdicts: Record<string, number> = {};
    for (const v of verdictsByWorker) for (const [k, n] of Object.entries(v)) verdicts[k] = (verdicts[k] ?? 0) + n;
    opts.onProgress({ cell, done: doneByWorker.reduce((a, b) => a + b, 0), total: states.length, verdicts });
  };
  let results: StateResult[];
  if (workers === 1) {
    results = evaluateStates(adapter, cell, states, (done, v) => progress([done], [v]));
  } else {
    // Contiguous shares keep each worker's captured points together.
    const shares: PlannedState[][] = Array.from({ length: workers }, (_, i) => states.slice(Math.floor((i * states.length) / workers), Math.floor(((i + 1) * states.length) / workers)));
    const done = shares.map(() => 0);
    const verdicts: Record<string, number>[] = shares.map(() => ({}));
    const parts = await Promise.all(
      shares.map((share, i) =>
        runWorker(cell, share, (d, v) => {
          done[i] = d;
          verdicts[i] = v;
          progress(done, verdicts);
        }),
      ),
    );
    results = parts.flat();
  }
  const verdictCounts: Record<string, number> = {};
  const findings: Finding[] = [];
  for (const r of results) {
    verdictCounts[r.verdict] = (verdictCounts[r.verdict] ?? 0) + 1;
    if (r.verdict !== 'ok') findings.push({ replayId: r.replayId, verdict: r.verdict, detail: r.detail });
  }
  const result = buildCellResult(
    {
      engine: cell.engine,
      mode: cell.mode + (cell.force ? '!' : ''),
      profile: cell.profile,
      faults: cell.faults,
      pageSize: cell.pageSize,
      workload: cell.workload,
      txns: cell.txns,
      seed: cell.seed,
      ...measurementsFromCounters(metrics.counters),
      logicalBytesCommitted: metrics.logicalBytesCommitted,
      commits: metrics.commits,
      commitLatenciesUs: metrics.commitLatenciesUs,
      crashStatesTried: results.length,
      verdicts: verdictCounts,
      findings,
      expectation,
    },
    opts.findingsCap,
  );
  return { result, states: results, truncated, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}
