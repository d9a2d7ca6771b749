/**
 * A cell of a crash matrix: which engine, mode, device profile, faults,
 * workload and crash budget, and the labels a cell carries in reports and
 * replay ids. This is half of the crash contract (the other half is the
 * engine adapter, src/crash/adapter.ts): every engine is driven by a CellSpec
 * and names nothing of how crash points are chosen.
 *
 * Invariants:
 *  1. modeLabel(cell) is the one spelling of a cell's mode in reports and
 *     replay ids; a default ('flush') commit adds no suffix, so cells that
 *     name no commit method keep their ids.
 *  2. SCALE_KEYS and SCALE_LETTER list the same keys (the record is
 *     exhaustive over ScaleKey), and the letters are distinct.
 *  3. This module imports nothing: it is plain data.
 */
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
