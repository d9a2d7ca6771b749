/**
 * Run one campaign cell: measure the workload's cost, plan crash states by
 * the cell's strategy, judge them over worker threads, and turn it all into
 * a report CellResult.
 *
 * Determinism: the plan is a function of the cell (seed included); states
 * are split across workers by index and merged back in index order, so the
 * result is the same with 1 or N workers.
 *
 * Shards (src/crash/shard.ts): a shard plans the whole cell and judges only
 * the crash states whose replay id it owns (the id before any crash during
 * recovery, which judging draws); the cost run is owned as the item
 * `costs:<cell id>`. The outcome's ShardPart keeps what the merge needs.
 */
import os from 'os';
import path from 'path';
import { Worker } from 'worker_threads';
import { faultNames, getProfile, parseFaults } from '../device/profiles';
import { BadInputError } from '../util/errors';
import { Prng } from '../util/prng';
import { planChoices, planPoints, PlannedState, TraceEvent } from '../crash/strategies';
import { buildCellResult, CellMeasurements, cellId, latencySummary, measurementsFromCounters } from '../report/build';
import { fingerprint, owns, Shard } from '../crash/shard';
import type { ShardPart } from './shard-parts';
import type { CellResult, Expectation, NonOkState } from '../report/schema';
import { CellSpec, COMMIT_METHODS, SCALE_KEYS, STRATEGIES, modeLabel } from '../crash/cell';
import { CostFigures, EngineAdapter, RunMetrics, WorkloadRun } from '../crash/adapter';
import { isFinding, isHarnessVerdict, NON_OK } from '../crash/verdict';
import { getAdapter } from './engines';
import { captureRun, judgeStates, replayIdOf, StateResult } from './evaluate';
import { ChoiceSpace } from '../device/power-loss';

export interface Progress {
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
  /** Judge only the crash states (and cost run) this shard owns. */
  shard?: Shard;
  /** The cell's cost run, already started (startCostRuns); without it runCell runs its own. */
  costs?: Promise<CostFigures>;
}

export interface CellOutcome {
  result: CellResult;
  states: StateResult[];
  /** Crash states planned but cut by the budget (exhaustive strategy). */
  truncated: boolean;
  wallSeconds: number;
  /** What `tornlab report merge` needs of this cell (src/campaign/shard-parts.ts). */
  part: ShardPart;
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
  // Commit method: 'flush' is the default and is dropped, so a default cell stays the same cell.
  const { commit, windowMs, ...rest } = cell;
  const out: CellSpec = { ...rest, faults };
  if (commit !== undefined && commit !== 'flush') {
    one('commit', commit, COMMIT_METHODS);
    if (!adapter.commits?.includes(commit)) {
      throw new BadInputError(`commit "${commit}" is not supported by engine ${adapter.name}; use one of: flush${(adapter.commits ?? []).filter((c) => c !== 'flush').map((c) => `, ${c}`).join('')}`);
    }
    out.commit = commit;
  }
  for (const k of SCALE_KEYS) {
    const v = cell[k];
    if (v === undefined) continue;
    const min = k === 'frames' ? 16 : k === 'keys' ? 2 : 1;
    if (!Number.isSafeInteger(v) || v < min || v > 1_000_000) throw new BadInputError(`${k} must be an integer from ${min} to 1000000, got ${v}`);
  }
  if (cell.costTxns !== undefined && !(Number.isSafeInteger(cell.costTxns) && cell.costTxns >= 1 && cell.costTxns <= 10_000_000)) {
    throw new BadInputError(`costTxns must be an integer from 1 to 10000000, got ${cell.costTxns}`);
  }
  if (cell.sabotage !== undefined) {
    const spec = adapter.sabotages?.[cell.sabotage];
    if (!spec) throw new BadInputError(`sabotage "${cell.sabotage}" is not a switch of engine ${adapter.name}; use one of: ${Object.keys(adapter.sabotages ?? {}).join(', ') || '(none)'}`);
    if (!spec.modes.includes(cell.mode)) throw new BadInputError(`sabotage "${cell.sabotage}" applies to mode(s) ${spec.modes.join(', ')}, not ${cell.mode}`);
  }
  if (windowMs !== undefined) {
    if (commit !== 'window') throw new BadInputError(`windowMs applies to commit "window" only (got commit "${commit ?? 'flush'}")`);
    if (!(typeof windowMs === 'number' && windowMs > 0 && windowMs <= 60_000 && Number.isInteger(Math.round(windowMs * 1e6) / 1000))) {
      throw new BadInputError(`windowMs must be a number of milliseconds > 0 and <= 60000, in whole microseconds, got ${windowMs}`);
    }
    out.windowMs = windowMs;
  }
  return out;
}

function workerScript(): string {
  // Under ts-jest this module is TypeScript; workers always run the compiled JS in dist/.
  if (__filename.endsWith('.ts')) return path.resolve(__dirname, '../../dist/src/campaign/worker.js');
  return path.join(__dirname, 'worker.js');
}

/**
 * Long-lived worker threads, shared by every cell of a process (starting a
 * worker costs ~100 ms of module loading). Workers are unref'd: an idle pool
 * never keeps the process alive. Two pools: `judgePool` judges shares of a
 * cell's crash states; `costPool` runs cost runs (long crash-free workloads),
 * so that a campaign's cost runs overlap every cell's judging instead of
 * waiting behind it.
 */
interface PoolWorker {
  worker: Worker;
  /** Jobs posted and not answered yet (a worker takes them one after another); the worker is ref'd while > 0. */
  pending: number;
}
type Pool = PoolWorker[];
const judgePool: Pool = [];
const costPool: Pool = [];
let nextJob = 1;

/** A job for a pool worker (src/campaign/worker.ts): judge a share of states, or run a cell's cost run. */
export type PoolJob = { kind: 'states'; cell: CellSpec; states: PlannedState[] } | { kind: 'costs'; cell: CellSpec };

function poolWorker(pool: Pool, i: number): PoolWorker {
  while (pool.length <= i) {
    const worker = new Worker(workerScript());
    worker.unref();
    pool.push({ worker, pending: 0 });
  }
  return pool[i];
}

/** Stop the pools' threads (tests call this; the CLI just exits). */
export async function closeWorkerPool(): Promise<void> {
  const all = [...judgePool.splice(0), ...costPool.splice(0)];
  await Promise.all(all.map((p) => p.worker.terminate()));
}

/** Post one job to worker `i` of `pool`; resolves with the job's result (progress messages go to onProgress). */
function postJob<T>(pool: Pool, i: number, job: PoolJob, onProgress?: (done: number, verdicts: Record<string, number>) => void): Promise<T> {
  const pw = poolWorker(pool, i);
  const jobId = nextJob++;
  if (pw.pending++ === 0) pw.worker.ref();
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      pw.worker.off('message', onMessage);
      pw.worker.off('error', onError);
      pw.worker.off('exit', onExit);
      if (--pw.pending === 0) pw.worker.unref();
    };
    const onMessage = (m: { jobId: number; type: string; done?: number; verdicts?: Record<string, number>; result?: T; message?: string }) => {
      if (m.jobId !== jobId) return;
      if (m.type === 'progress') onProgress?.(m.done!, m.verdicts!);
      else if (m.type === 'done') {
        cleanup();
        resolve(m.result!);
      } else {
        cleanup();
        reject(new Error(`${job.kind === 'costs' ? 'cost-run' : 'crash-state'} worker failed: ${m.message}`));
      }
    };
    const drop = () => {
      const at = pool.indexOf(pw);
      if (at >= 0) pool.splice(at, 1);
    };
    const onError = (e: Error) => {
      cleanup();
      drop();
      reject(e);
    };
    const onExit = (code: number) => {
      cleanup();
      drop();
      reject(new Error(`${job.kind === 'costs' ? 'cost-run' : 'crash-state'} worker exited with ${code}`));
    };
    pw.worker.on('message', onMessage);
    pw.worker.on('error', onError);
    pw.worker.on('exit', onExit);
    pw.worker.postMessage({ jobId, job });
  });
}

/**
 * The shard item of a cell's cost run, `costs:<cell id>` (src/crash/shard.ts),
 * or none when the cell has no cost run.
 */
function costItemOf(cell: CellSpec, adapter: EngineAdapter): string[] {
  return cell.costTxns && adapter.costRun ? [`costs:${cellId({ ...cell, mode: modeLabel(cell) })}`] : [];
}

/** Does this shard (or an unsharded run) run the cell's cost run? */
export function ownsCostRun(cell: CellSpec, shard?: Shard): boolean {
  const item = costItemOf(cell, getAdapter(cell.engine));
  return item.length > 0 && owns(shard, item[0]);
}

/**
 * Start the cost runs of `cells` (those this shard owns) on the cost pool,
 * `concurrency` at a time, in cell order; the result maps a cell's index to
 * its cost run, for RunCellOptions.costs. The figures do not depend on the
 * thread (a cost run is a function of its cell alone).
 */
export function startCostRuns(cells: readonly CellSpec[], opts: { shard?: Shard; concurrency: number }): Map<number, Promise<CostFigures>> {
  const queue = cells.map((cell, index) => ({ cell: validateCell(cell), index })).filter((c) => ownsCostRun(c.cell, opts.shard));
  const out = new Map<number, Promise<CostFigures>>();
  const settle = new Map<number, { resolve: (c: CostFigures) => void; reject: (e: unknown) => void }>();
  for (const q of queue) {
    const p = new Promise<CostFigures>((resolve, reject) => settle.set(q.index, { resolve, reject }));
    // A campaign that fails before it awaits a cost run must not also report it as unhandled.
    p.catch(() => undefined);
    out.set(q.index, p);
  }
  let next = 0;
  const slot = async (i: number) => {
    while (next < queue.length) {
      const q = queue[next++];
      try {
        settle.get(q.index)!.resolve(await postJob<CostFigures>(costPool, i, { kind: 'costs', cell: q.cell }));
      } catch (e) {
        settle.get(q.index)!.reject(e);
      }
    }
  };
  for (let i = 0; i < Math.max(1, Math.min(opts.concurrency, queue.length)); i++) void slot(i);
  return out;
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
}

/** Plan the crash states of a cell (pure in the cell): a trace run, then a capture run for space sizes. */
export function planCell(adapter: EngineAdapter, cell: CellSpec): { states: PlannedState[]; truncated: boolean; metrics: RunMetrics; run: WorkloadRun; spaces: Map<number, ChoiceSpace>; windows: { name: string; from: number; to: number }[] } {
  const trace: TraceEvent[] = [];
  const traced = adapter.runWorkload(cell, (e) => trace.push({ seq: e.seq, phase: e.phase, kind: e.kind, tag: e.tag }));
  const names = adapter.windowsFor?.(cell) ?? [];
  const windows = traced.windows && names.length > 0 ? { spans: traced.windows, names } : undefined;
  const points = planPoints(cell.strategy, trace, cell.crashes, new Prng(cell.seed, 'crash-plan'), windows);
  const { run, spaces } = captureRun(adapter, cell, points);
  const { states, truncated } = planChoices(cell.strategy, points, (p) => spaces.get(p)!.count, cell.crashes);
  return { states, truncated, metrics: traced.metrics, run, spaces, windows: traced.windows ?? [] };
}

/** A crash window's coverage in one cell: crash states that landed inside it and their verdicts. */
export interface WindowCoverage {
  window: string;
  states: number;
  /** Non-ok verdicts among them. */
  nonOk: Record<string, number>;
}

/**
 * For every window the cell's mode declares: the crash states whose point lies
 * in one of its intervals [from, to), and their non-ok verdicts.
 */
export function windowCoverage(names: readonly string[], spans: readonly { name: string; from: number; to: number }[], states: readonly PlannedState[], results: readonly StateResult[]): WindowCoverage[] {
  return coverageOf(names, spans, states, results, (i) => i).coverage;
}

/** windowCoverage, and per window the index (`indexOf(i)` for the i-th state) of the first state of each non-ok verdict in it. */
function coverageOf(names: readonly string[], spans: readonly { name: string; from: number; to: number }[], states: readonly PlannedState[], results: readonly StateResult[], indexOf: (i: number) => number): { coverage: WindowCoverage[]; first: Record<string, number>[] } {
  // Entry checks (sabotage.ts W1, W2): states and verdicts align; every span is a declared, non-empty interval.
  if (states.length !== results.length) throw new Error(`internal: ${states.length} planned states, ${results.length} verdicts`);
  for (const w of spans) if (!(w.from < w.to) || !names.includes(w.name)) throw new Error(`internal: window span ${w.name} [${w.from}, ${w.to}) is empty or not declared (${names.join(', ')})`);
  const first: Record<string, number>[] = [];
  const coverage = names.map((name) => {
    const iv = spans.filter((w) => w.name === name).sort((a, b) => a.from - b.from);
    // Prefix max of `to`, so a binary search on `from` answers "is p inside any interval".
    const maxTo: number[] = [];
    iv.forEach((w, i) => maxTo.push(Math.max(w.to, i > 0 ? maxTo[i - 1] : -Infinity)));
    const inside = (p: number) => {
      let lo = 0;
      let hi = iv.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (iv[mid].from <= p) {
          at = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return at >= 0 && maxTo[at] > p;
    };
    const cov: WindowCoverage = { window: name, states: 0, nonOk: {} };
    const firstOf: Record<string, number> = {};
    states.forEach((s, i) => {
      const v = results[i].verdict;
      // A harness-error state was never judged: it covers nothing (the cell is harness-error anyway).
      if (!inside(s.point) || isHarnessVerdict(v)) return;
      cov.states++;
      if (isFinding(v)) {
        cov.nonOk[v] = (cov.nonOk[v] ?? 0) + 1;
        firstOf[v] ??= indexOf(i);
      }
    });
    first.push(firstOf);
    return cov;
  });
  return { coverage, first };
}

/** A positive control's expectation: the sabotage must be caught (any finding, src/crash/verdict.ts NON_OK); passing means the campaign cannot see it. */
export function controlExpectation(adapter: EngineAdapter, cell: CellSpec): Expectation {
  const spec = adapter.sabotages?.[cell.sabotage!];
  return { kind: 'demonstration', tolerated: NON_OK, reason: `positive control: ${spec?.what ?? cell.sabotage}; must be caught` };
}

export async function runCell(input: CellSpec, opts: RunCellOptions = {}): Promise<CellOutcome> {
  const t0 = process.hrtime.bigint();
  const adapter = getAdapter(input.engine);
  const cell = validateCell(input, adapter);
  const expectation = cell.sabotage ? controlExpectation(adapter, cell) : adapter.expectation(cell);
  const plan = planCell(adapter, cell);
  const { truncated, metrics, run, spaces, windows } = plan;
  // Shard ownership by the state's replay id (src/crash/shard.ts S1); an unsharded run owns all.
  const planIds = plan.states.map((s) => replayIdOf(cell, s));
  const ownedIdx = planIds.map((_, i) => i).filter((i) => owns(opts.shard, planIds[i]));
  const states = ownedIdx.length === plan.states.length ? plan.states : ownedIdx.map((i) => plan.states[i]);
  const id = cellId({ ...cell, mode: modeLabel(cell) });
  const costItem = costItemOf(cell, adapter);
  const ownedCost = costItem.filter((c) => owns(opts.shard, c));
  // The cost run: one the caller started (startCostRuns), else on the cost pool beside the judging
  // when there are workers, else in this thread after it.
  const workersOpt = opts.workers ?? defaultWorkers();
  let costs: Promise<CostFigures> | undefined = ownedCost.length > 0 ? (opts.costs ?? (workersOpt > 1 ? postJob<CostFigures>(costPool, 0, { kind: 'costs', cell }) : undefined)) : undefined;
  costs?.catch(() => undefined);
  const workers = Math.max(1, Math.min(workersOpt, Math.ceil(states.length / 50) || 1));
  // Contiguous shares keep each worker's captured points together. Share 0 is judged in this
  // thread, on the run planning already captured; the others go to pool workers.
  const shares: PlannedState[][] = Array.from({ length: workers }, (_, i) => states.slice(Math.floor((i * states.length) / workers), Math.floor(((i + 1) * states.length) / workers)));
  const done = shares.map(() => 0);
  const verdicts: Record<string, number>[] = shares.map(() => ({}));
  const progress = (i: number, d: number, v: Record<string, number>) => {
    done[i] = d;
    verdicts[i] = v;
    if (!opts.onProgress) return;
    const sum: Record<string, number> = {};
    for (const w of verdicts) for (const [k, n] of Object.entries(w)) sum[k] = (sum[k] ?? 0) + n;
    opts.onProgress({ done: done.reduce((a, b) => a + b, 0), total: states.length, verdicts: sum });
  };
  const remote = shares.slice(1).map((share, i) => postJob<StateResult[]>(judgePool, i, { kind: 'states', cell, states: share }, (d, v) => progress(i + 1, d, v)));
  // Judge share 0 here; a rejected remote share must not go unobserved meanwhile.
  remote.forEach((p) => p.catch(() => undefined));
  const local = judgeStates(cell, run, spaces, shares[0], (d, v) => progress(0, d, v));
  const results = [local, ...(await Promise.all(remote))].flat();
  const verdictCounts: Record<string, number> = {};
  const findings: NonOkState[] = [];
  for (const r of results) {
    verdictCounts[r.verdict] = (verdictCounts[r.verdict] ?? 0) + 1;
    if (r.verdict !== 'ok') findings.push({ replayId: r.replayId, verdict: r.verdict, detail: r.detail });
  }
  if (ownedCost.length > 0 && !costs) costs = Promise.resolve(adapter.costRun!(cell));
  const costFigures = costs ? await costs : undefined;
  const { coverage, first } = coverageOf(adapter.windowsFor?.(cell) ?? [], windows, states, results, (i) => ownedIdx[i]);
  const spec = cell.sabotage ? adapter.sabotages?.[cell.sabotage] : undefined;
  const control = spec
    ? { sabotage: cell.sabotage!, what: spec.what, window: spec.window, caught: results.some((r) => isFinding(r.verdict)), statesInWindow: coverage.find((c) => c.window === spec.window)?.states ?? 0 }
    : undefined;
  const m: CellMeasurements = {
    engine: cell.engine,
    mode: modeLabel(cell),
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
    coverage,
    control,
    ...(costFigures ? { costs: costFigures } : {}),
  };
  const result = buildCellResult(m, opts.findingsCap);
  // The part keeps the latency summary (what buildCellResult derives), not one number per commit.
  const { commitLatenciesUs, ...rest } = m;
  const part: ShardPart = {
    id,
    kind: 'states',
    planned: planIds.length + costItem.length,
    plannedPrint: fingerprint([...planIds, ...costItem]),
    owned: states.length + ownedCost.length,
    ownedPrint: fingerprint([...ownedIdx.map((i) => planIds[i]), ...ownedCost]),
    measurements: { ...rest, commitLatencyUs: latencySummary(commitLatenciesUs ?? []) },
    firstNonOk: first,
  };
  return { result, states: results, truncated, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, part };
}
