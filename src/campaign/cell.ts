/**
 * A cell of a campaign matrix, and the contract an engine fulfils so the
 * campaign can run it: run the workload once on a fresh device, and recover
 * plus verify a powered-on crash image. The campaign knows nothing of pages,
 * WAL or B+trees; the engine knows nothing of how crash points are chosen.
 */
import { NvmeDevice } from '../device/device';
import { DeviceCounters, DeviceEvent } from '../device/types';
import type { Expectation, Verdict } from '../report/schema';

export const STRATEGIES = ['exhaustive', 'random', 'targeted', 'mixed'] as const;
export type Strategy = (typeof STRATEGIES)[number];

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
}
