/**
 * A cell of a campaign matrix, and the contract an engine fulfils so the
 * campaign can run it: run the workload once on a fresh device, and recover
 * plus verify a powered-on crash image. The campaign knows nothing of pages,
 * WAL or B+trees; the engine knows nothing of how crash points are chosen.
 */
import { NvmeDevice } from '../device/device';
import { DeviceCounters, DeviceEvent } from '../device/types';
import type { Expectation } from '../report/schema';
import type { Verdict } from '../crash/verdict';

export const STRATEGIES = ['exhaustive', 'random', 'targeted', 'mixed'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/**
 * How an engine acknowledges a commit (the asynchronous-durability experiment,
 * ARCHITECTURE 2.5): Flush after the log writes (the default), FUA log writes,
 * CRITICAL-intent log writes, waiting for the device's persistence-token
 * confirmations, or relying on an advertised power window.
 */
export const COMMIT_METHODS = ['flush', 'fua', 'token', 'critical', 'window'] as const;
export type CommitMethod = (typeof COMMIT_METHODS)[number];
/** Power window (ms) a 'window' cell advertises when it names none. */
export const DEFAULT_WINDOW_MS = 50;

/** A cell's commit method as a suffix of its mode: '' for flush (so default cells keep their ids), else '@token', '@window50ms', '@window500us'. */
export function commitSuffix(cell: Pick<CellSpec, 'commit' | 'windowMs'>): string {
  const c = cell.commit ?? 'flush';
  if (c === 'flush') return '';
  if (c !== 'window') return `@${c}`;
  const ms = cell.windowMs ?? DEFAULT_WINDOW_MS;
  return Number.isInteger(ms) ? `@window${ms}ms` : `@window${Math.round(ms * 1000)}us`;
}

/** The mode as reports and replay ids show it: mode, '!' if forced, '%<sabotage>' for a positive control, then the commit suffix. */
export function modeLabel(cell: Pick<CellSpec, 'mode' | 'force' | 'commit' | 'windowMs' | 'sabotage'>): string {
  return cell.mode + (cell.force ? '!' : '') + (cell.sabotage ? `%${cell.sabotage}` : '') + commitSuffix(cell);
}

/** Scale keys of a cell (engine and workload sizes); absent = the engine's defaults. */
export const SCALE_KEYS = ['keys', 'frames', 'checkpointEvery', 'checkpointBatch'] as const;
export type ScaleKey = (typeof SCALE_KEYS)[number];
/** One letter per scale key in replay ids: k(eys) f(rames) e(very) b(atch). */
export const SCALE_LETTER: Record<ScaleKey, string> = { keys: 'k', frames: 'f', checkpointEvery: 'e', checkpointBatch: 'b' };

/** A crash window's coverage in one cell: crash states that landed inside it and their verdicts. */
export interface WindowCoverage {
  window: string;
  states: number;
  /** Non-ok verdicts among them. */
  nonOk: Record<string, number>;
}

export interface CellSpec {
  engine: string;
  mode: string;
  /** Start a protection the device does not support (atomic), to show what goes wrong. */
  force: boolean;
  profile: string;
  /** Fault switches, canonical names (device/profiles faultNames). */
  faults: string[];
  pageSize: number;
  workload: string;
  txns: number;
  seed: number;
  /** Crash-state budget. */
  crashes: number;
  strategy: Strategy;
  /** Also cut the power once during recovery (double fault). */
  crashDuringRecovery: boolean;
  /** How commits are made durable (default flush); engines that support others list them in `commits`. */
  commit?: CommitMethod;
  /** commit 'window': the advertised power window, ms (default DEFAULT_WINDOW_MS; a whole number of us). */
  windowMs?: number;
  /** Workload key count (records, accounts, customers); engine default if absent. */
  keys?: number;
  /** Buffer pool frames. */
  frames?: number;
  /** Transactions between checkpoint begins. */
  checkpointEvery?: number;
  /** Pages per checkpoint step. */
  checkpointBatch?: number;
  /** A positive control: the engine's sabotage switch (EngineAdapter.sabotages) this cell runs with. */
  sabotage?: string;
  /** Costs from a separate crash-free run of this many transactions after a warm-up (absent: from the crash run). */
  costTxns?: number;
}

/** Per-transaction costs of a long crash-free run (EngineAdapter.costRun). */
export interface CostFigures {
  txns: number;
  warmupTxns: number;
  commits: number;
  /** Per committed transaction. */
  perTxn: { hostBytes: number; byTag: Record<string, number>; flushes: number; fuaWrites: number; nandBytes: number; logicalBytes: number };
  commitLatencyUs: { p50: number; p99: number };
  evictions: number;
  checkpoints: number;
  /** Wall-clock seconds of the run and transactions per second (the simulator's speed). */
  wallSeconds: number;
}

/** Warm-up of a cost run: a tenth of it, at least 1000 transactions (past any load phase at default scale). */
export function warmupTxnsFor(costTxns: number): number {
  return Math.max(1000, Math.ceil(costTxns / 10));
}

/** What one run of the workload (without a crash) cost. */
export interface RunMetrics {
  counters: DeviceCounters;
  commits: number;
  logicalBytesCommitted: number;
  /** Simulated microseconds from commit start to acknowledgement, one per commit. */
  commitLatenciesUs: number[];
  simTimeUs: number;
}

export interface VerdictResult {
  verdict: Verdict;
  /** One line: which page, key or transaction, and what the engine or database said. */
  detail: string;
}

/** A run of the workload, kept so that crash states at its points can be judged. */
export interface WorkloadRun {
  metrics: RunMetrics;
  /** Recover the engine on `dev` (a powered-on crash image of point `seq`) and judge it against the oracle. */
  recoverAndVerify(seq: number, dev: NvmeDevice, hooks?: RecoveryHooks): VerdictResult;
  /** Recover only (for a crash during recovery); errors propagate. */
  recover(dev: NvmeDevice, hooks?: RecoveryHooks): void;
  /** The crash windows the engine marked in the run's event stream: [from, to) in device seq. */
  windows?: { name: string; from: number; to: number }[];
}

export interface RecoveryHooks {
  /** Called at every device event during recovery (to capture a crash point inside it). */
  onEvent?: (e: DeviceEvent, dev: NvmeDevice) => void;
}

export interface EngineAdapter {
  name: string;
  modes: readonly string[];
  workloads: readonly string[];
  pageSizes: readonly number[];
  /** Commit methods the engine implements besides the default 'flush' (absent: flush only). */
  commits?: readonly CommitMethod[];
  /**
   * Run the cell's workload on a fresh device. `onEvent` sees every device
   * event of the run (after the engine's initial load, which is not a crash
   * target); the campaign captures crash points there. Throws BadInputError if
   * the engine refuses the configuration (e.g. atomic on a device that does not
   * cover the page size, without force).
   */
  runWorkload(cell: CellSpec, onEvent?: (e: DeviceEvent, dev: NvmeDevice) => void): WorkloadRun;
  /** What the mode promises on this profile (which verdicts would be a bug). */
  expectation(cell: CellSpec): Expectation;
  /** The crash windows the cell's mode declares (each must be hit by some crash state, else not-covered). */
  windowsFor?(cell: CellSpec): string[];
  /** A crash-free run of cell.costTxns transactions after warmupTxnsFor(cell.costTxns): costs per transaction. */
  costRun?(cell: CellSpec): CostFigures;
  /** The engine's fault set: sabotage switch -> what it breaks, the modes it applies to, its window. */
  sabotages?: Readonly<Record<string, { what: string; modes: readonly string[]; window: string }>>;
}
