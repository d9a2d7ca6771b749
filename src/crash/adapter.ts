/**
 * The engine adapter: the other half of the crash contract (the cell spec is
 * src/crash/cell.ts). An engine runs a cell's workload once on a fresh device,
 * and recovers plus verifies a powered-on crash image; the campaign knows
 * nothing of pages, WAL or B+trees, and the engine knows nothing of how crash
 * points are chosen.
 *
 * Invariants:
 *  1. runWorkload's onEvent sees only the events after the engine's initial
 *     load (the load is not a crash target).
 *  2. recoverAndVerify judges exactly one crash image and returns one verdict
 *     from src/crash/verdict.ts; recover() alone lets errors propagate (a
 *     crash during recovery).
 *  3. expectation(cell) says which findings the cell's mode tolerates
 *     (src/crash/expectation.ts); the campaign, not the engine, turns
 *     verdicts into a cell status.
 */
import { NvmeDevice } from '../device/device';
import { DeviceCounters, DeviceEvent } from '../device/types';
import type { CellSpec, CommitMethod } from './cell';
import type { Expectation } from './expectation';
import type { Verdict } from './verdict';

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
