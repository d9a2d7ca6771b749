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

/** What the campaign reads of a real-database cycle: its replay id and verdict (the rest is the engine's record). */
export interface RealDatabaseCycle {
  replayId: string;
  verdict: Verdict;
}

/**
 * The async half of the contract: a real database under test (servers on an
 * exported device, wall-clock time). One cycle prepares (the cell's base
 * image), runs the load until the cut trigger, cuts the power, recovers and
 * verifies, and ends in one verdict of src/crash/verdict.ts; the campaign
 * runs any such adapter in one lane (src/campaign/run-campaign.ts
 * runRealDatabaseShard) and names no engine.
 *
 * Invariants:
 *  4. replayId(cfg, k) is a pure function of the configuration and the cycle
 *     number, and the engine parses it back to the same cycle: a shard owns a
 *     cycle by it, and `tornlab replay` reruns it.
 *  5. runCell runs exactly the cycles `owns` accepts, in cycle order; each
 *     cycle has its own seeded stream, so a cycle's result does not depend on
 *     which others ran.
 *  6. summary(c) is plain JSON data (a shard keeps it); the engine's report
 *     measurements of a cell are a function of its summaries (measure).
 */
export interface RealDatabaseAdapter<Cfg = any, Cycle extends RealDatabaseCycle = any, Cell extends { cycles: Cycle[] } = any, Summary = any> {
  /** The part kind of the cell in shard files ('pg', 'mariadb'): stable, written to disk. */
  kind: string;
  /** The number of crash cycles of the cell. */
  crashes(cfg: Cfg): number;
  replayId(cfg: Cfg, cycle: number): string;
  /** What the cell's protection promises (which verdicts would be a bug). */
  expectation(cfg: Cfg): Expectation;
  /** The cell in one line (a skip message names it). */
  describe(cfg: Cfg): string;
  /** Why the cell cannot run on this machine at all (a container cell without engine or image), else undefined. */
  unavailable(cfg: Cfg): Promise<string | undefined>;
  /** What the machine lacks for the cell's local runtime (empty for a container cell). */
  missing(cfg: Cfg): { what: string; fix: string }[];
  /** Run the cell's owned cycles: base image, then load → cut → recover → verify per cycle. */
  runCell(cfg: Cfg, o: { owns: (replayId: string) => boolean; onCycle?: (c: Cycle) => void }): Promise<Cell>;
  /** What a report measures of one cycle. */
  summary(c: Cycle): Summary;
}
