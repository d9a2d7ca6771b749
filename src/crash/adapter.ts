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
import type { CampaignSection } from './campaign-section';
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
  /**
   * Engines with full-page images (fpw): this run's point, then the same
   * workload again at longer checkpoint intervals in shorter runs
   * (checkpointSweepOf), to measure how the images' share of WAL bytes falls
   * as checkpoints get rarer.
   */
  checkpointSweep?: CheckpointSweepPoint[];
  /** Wall-clock seconds of the run and transactions per second (the simulator's speed). */
  wallSeconds: number;
}

/** One point of CostFigures.checkpointSweep. */
export interface CheckpointSweepPoint {
  checkpointEvery: number;
  txns: number;
  /** Checkpoints the run took: a full WAL starts one before the interval ends. */
  checkpoints: number;
  /** Full-page-image bytes / (full-page-image + other WAL bytes). */
  fpiShare: number;
  /** WAL bytes (records and images) per committed transaction. */
  walBytesPerTxn: number;
}

/**
 * The sweep of a cell's cost run: 4x and 16x its checkpoint interval, a tenth
 * of its length (at least 5,000 transactions). The WAL grows by the same
 * factor (`walScale`), as PostgreSQL's max_wal_size is raised with
 * checkpoint_timeout: otherwise a full WAL, not the interval, would set when
 * checkpoints happen.
 */
export function checkpointSweepOf(costTxns: number, checkpointEvery: number): { checkpointEvery: number; walScale: number; txns: number; warmupTxns: number }[] {
  const txns = Math.max(5000, Math.ceil(costTxns / 10));
  return [4, 16].map((f) => ({ checkpointEvery: checkpointEvery * f, walScale: f, txns, warmupTxns: Math.max(warmupTxnsFor(txns), 2 * checkpointEvery * f) }));
}

/** Warm-up of a cost run: a tenth of it, at least 1000 transactions (past any load phase at default scale). */
export function warmupTxnsFor(costTxns: number): number {
  return Math.max(1000, Math.ceil(costTxns / 10));
}

/** EngineAdapter.groupCommitRun's figures. */
export interface GroupCommitFigures {
  commitLatencyUs: { p50: number; p99: number };
  simTimeUs: number;
  commits: number;
  flushes: number;
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
  /**
   * A crash-free run of the cell at a group-commit size, optionally with a
   * noisy neighbour writing to the same device: what `tornlab durability`'s
   * cost rows show (commit latency, simulated time, commits, Flushes).
   */
  groupCommitRun?(cell: CellSpec, o: { groupSize: number; neighbour?: { bytesPerGroup: number; intent: 'standard' | 'ephemeral' } }): GroupCommitFigures;
  /**
   * Does the profile write every page of this size all-or-nothing where the
   * engine puts its pages? The one answer to that question: a campaign skips
   * (or forces) atomic cells by it, and the engine's atomic mode refuses to
   * start by it. Absent: the engine has no atomic mode.
   */
  coversPages?(profile: string, pageSize: number): boolean;
  /** The engine's fault set: sabotage switch -> what it breaks, the modes it applies to, its window. */
  sabotages?: Readonly<Record<string, { what: string; modes: readonly string[]; window: string }>>;
}

/** What the campaign reads of a real-database cycle: its replay id and verdict (the rest is the engine's record). */
export interface RealDatabaseCycle {
  replayId: string;
  /** The engine's verdict for the cycle (exec's `failed` included); measure() maps it onto src/crash/verdict.ts. */
  verdict: string;
}

/** What a real-database cell's run may tell its caller besides its cycles (a line to print: the file system in force). */
export interface RunCellOptions<Cycle> {
  owns: (replayId: string) => boolean;
  onCycle?: (c: Cycle) => void;
  onNote?: (line: string) => void;
}

/**
 * The async half of the contract: a real database under test (servers on an
 * exported device, wall-clock time). One cycle prepares (the cell's base
 * image), runs the load until the cut trigger, cuts the power, recovers and
 * verifies, and ends in one verdict; the campaign runs any such adapter in
 * one lane (src/campaign/real-database-lane.ts) and names no engine. The
 * adapters are listed in engines/registry.ts.
 *
 * Invariants:
 *  4. replayId(cfg, k) is a pure function of the configuration and the cycle
 *     number, and the engine parses it back to the same cycle: a shard owns a
 *     cycle by it, and `tornlab replay` reruns it.
 *  5. runCell runs exactly the cycles `owns` accepts, in cycle order; each
 *     cycle has its own seeded stream, so a cycle's result does not depend on
 *     which others ran.
 *  6. summary(c) is plain JSON data (a shard keeps it), and so is the
 *     configuration; the cell's report measurements are measure(cfg, the
 *     summaries in cycle order), so a merge of shards measures what the
 *     unsharded run measures.
 *
 * `Measured` is the report's CellMeasurements (src/report sits above this
 * layer, so the contract names it by a parameter).
 */
export interface RealDatabaseAdapter<Cfg = any, Cycle extends RealDatabaseCycle = any, Cell extends { cycles: Cycle[] } = any, Summary = any, Measured = any> {
  /** The part kind of the cell in shard files ('pg', 'mariadb', 'sqlite', 'exec'): stable, written to disk. */
  kind: string;
  /** Its CLI command (`tornlab <command>`). */
  command: string;
  /** The number of crash cycles of the cell. */
  crashes(cfg: Cfg): number;
  replayId(cfg: Cfg, cycle: number): string;
  /** The cell in one line (a skip message names it). */
  describe(cfg: Cfg): string;
  /**
   * Rerunning one cycle from its replay id (`tornlab replay`), present when
   * the id names the whole cell: `cell` parses the id into the cell (with
   * crashes = cycle + 1; BadInputError when it does not parse), `lines`
   * prints the rerun cycle.
   */
  replay?: { cell(id: string): Cfg; lines(c: Cycle): string[] };
  /** Without `replay`: what to do instead (the id names a cycle of a run, not all of its configuration). */
  replayHint?: string;
  /** Why the cell cannot run on this machine at all (a container cell without engine or image), else undefined. */
  unavailable(cfg: Cfg): Promise<string | undefined>;
  /** What the machine lacks for the cell's local runtime (empty for a container cell). */
  missing(cfg: Cfg): { what: string; fix: string }[];
  /** Before the first of these cells runs: what must hold for all of them (a container runtime resolved); throws BadInputError. */
  prepare?(cells: readonly Cfg[]): Promise<void>;
  /** Run the cell's owned cycles: base image, then load → cut → recover → verify per cycle. */
  runCell(cfg: Cfg, o: RunCellOptions<Cycle>): Promise<Cell>;
  /** After the last of these cells ran, or failed: release what the engine kept across cells. */
  finish?(cells: readonly Cfg[]): Promise<void>;
  /** What a report measures of one cycle. */
  summary(c: Cycle): Summary;
  /** The cell's report measurements from the summaries of its cycles, in cycle order (invariant 6). */
  measure(cfg: Cfg, cycles: readonly Summary[]): Measured;
  /** The engine's section of campaign files, if campaigns can run it. */
  campaignSection?: CampaignSection<Cfg>;
  /** The cells `tornlab campaign --databases` adds (what `npm start` shows of this engine), with a line per cell it cannot run here. */
  defaultCells?(seed: number): Promise<{ cells: Cfg[]; skipped: string[] }>;
}
