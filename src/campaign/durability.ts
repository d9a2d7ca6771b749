/**
 * The asynchronous-durability experiment (ARCHITECTURE 2.5): the same cell
 * (the in-process engine, one mode, workload, profile, seed) run with each way of
 * making a commit durable -- Flush, FUA, the CRITICAL intent, waiting for
 * persistence tokens, an advertised power window -- and once more with the
 * window fault; each run's commit latency, throughput, Flush/FUA per commit
 * and crash verdicts side by side. Two cost-only runs follow (no crash
 * states): the same methods with a noisy neighbour writing to the same
 * device, and at several group-commit sizes. `tornlab durability`
 * (src/cli/commands/durability.ts) formats what this returns.
 */
import { CellSpec, COMMIT_METHODS, CommitMethod, Strategy, commitSuffix } from '../crash/cell';
import { engineNames, getAdapter } from './engines';
import { runCell, validateCell } from './run-cell';
import { faultNames, getProfile, parseFaults } from '../device/profiles';
import { BadInputError } from '../util/errors';
import type { CellStatus, ExpectationKind } from '../report/schema';

export interface DurabilityOptions {
  profile: string;
  mode: string;
  workload: string;
  pageSize: number;
  txns: number;
  crashes: number;
  seed: number;
  windowMs: number;
  strategy: Strategy;
  workers?: number;
  /** Neighbour bytes per group commit for the cost-only table (0: no table). */
  neighbourBytes: number;
  neighbourIntent: 'standard' | 'ephemeral';
  /** Group-commit sizes for the cost-only table (empty: no table). */
  groupSizes: number[];
}

/** One crash-verified run: a commit method (and faults) on the cell. */
export interface DurabilityRow {
  label: string;
  commit: CommitMethod;
  windowMs?: number;
  faults: string[];
  commitLatencyUs: { p50: number; p99: number };
  throughputTxnPerSec: number | null;
  flushesPerCommit: number | null;
  fuaWritesPerCommit: number | null;
  criticalWritesPerCommit: number | null;
  crashStatesTried: number;
  verdicts: Record<string, number>;
  expectation: ExpectationKind;
  status: CellStatus;
  /** A replay id of the first non-ok state, if any. */
  firstFinding?: string;
}

/** A cost-only run (no crash states). */
export interface CostRow {
  label: string;
  commit: CommitMethod;
  groupSize: number;
  neighbour?: string;
  commitLatencyUs: { p50: number; p99: number };
  throughputTxnPerSec: number;
  flushesPerCommit: number;
}

export interface DurabilityResult {
  options: DurabilityOptions;
  rows: DurabilityRow[];
  neighbour: CostRow[];
  groups: CostRow[];
}

const WINDOW_FAULT = 'power-window-not-honoured';

function label(commit: CommitMethod, windowMs: number | undefined, faults: string[]): string {
  const base = commit === 'flush' ? 'flush' : commitSuffix({ commit, windowMs }).slice(1);
  return faults.length > 0 ? `${base} +${faults.join('+')}` : base;
}

function perCommit(n: number, commits: number): number | null {
  return commits > 0 ? n / commits : null;
}

/** Run the experiment; pure in its options (every random choice is seeded). */
export async function runDurabilityExperiment(o: DurabilityOptions): Promise<DurabilityResult> {
  checkOptions(o);
  // The in-process engine that implements the experiment's cost runs (engines/registry.ts).
  const engine = engineNames().find((n) => getAdapter(n).groupCommitRun);
  if (!engine) throw new Error('internal: no in-process engine implements groupCommitRun');
  const adapter = getAdapter(engine);
  const base: CellSpec = { engine, mode: o.mode, force: false, profile: o.profile, faults: [], pageSize: o.pageSize, workload: o.workload, txns: o.txns, seed: o.seed, crashes: o.crashes, strategy: o.strategy, crashDuringRecovery: false };
  const variants: { commit: CommitMethod; windowMs?: number; faults: string[] }[] = [
    ...COMMIT_METHODS.map((commit) => ({ commit, windowMs: commit === 'window' ? o.windowMs : undefined, faults: [] as string[] })),
    // Where the window fails: the host relied on power the device did not have.
    { commit: 'window', windowMs: o.windowMs, faults: [WINDOW_FAULT] },
  ];
  const rows: DurabilityRow[] = [];
  for (const v of variants) {
    const spec: CellSpec = { ...base, faults: v.faults, commit: v.commit, windowMs: v.windowMs };
    const cell = validateCell(spec, adapter);
    const { result } = await runCell(cell, { workers: o.workers });
    const counters = adapter.runWorkload(cell).metrics.counters;
    rows.push({
      label: label(v.commit, v.windowMs, v.faults),
      commit: v.commit,
      windowMs: v.windowMs,
      faults: v.faults,
      commitLatencyUs: result.commitLatencyUs,
      throughputTxnPerSec: result.throughputTxnPerSec,
      flushesPerCommit: result.flushesPerCommit,
      fuaWritesPerCommit: result.fuaWritesPerCommit,
      criticalWritesPerCommit: perCommit(counters.criticalWrites, result.commits),
      crashStatesTried: result.crashStatesTried,
      verdicts: Object.fromEntries(Object.entries(result.verdicts).filter(([, n]) => n > 0)),
      expectation: result.expectation.kind,
      status: result.status,
      firstFinding: result.findings[0]?.replayId,
    });
  }
  const cost = (commit: CommitMethod, groupSize: number, neighbour?: { bytesPerGroup: number; intent: 'standard' | 'ephemeral' }): CostRow => {
    const spec: CellSpec = { ...base, faults: [], commit, ...(commit === 'window' ? { windowMs: o.windowMs } : {}) };
    const b = adapter.groupCommitRun!(spec, { groupSize, neighbour });
    return {
      label: label(commit, commit === 'window' ? o.windowMs : undefined, []),
      commit,
      groupSize,
      neighbour: neighbour ? `${neighbour.bytesPerGroup / 1024} KiB ${neighbour.intent}/group` : undefined,
      commitLatencyUs: { p50: b.commitLatencyUs.p50, p99: b.commitLatencyUs.p99 },
      throughputTxnPerSec: b.simTimeUs > 0 ? b.commits / (b.simTimeUs / 1e6) : 0,
      flushesPerCommit: b.commits > 0 ? b.flushes / b.commits : 0,
    };
  };
  const neighbour: CostRow[] = [];
  if (o.neighbourBytes > 0) {
    for (const commit of COMMIT_METHODS) {
      neighbour.push(cost(commit, 4));
      neighbour.push(cost(commit, 4, { bytesPerGroup: o.neighbourBytes, intent: o.neighbourIntent }));
    }
  }
  const groups: CostRow[] = [];
  for (const g of o.groupSizes) for (const commit of COMMIT_METHODS) groups.push(cost(commit, g));
  return { options: o, rows, neighbour, groups };
}

function checkOptions(o: DurabilityOptions): void {
  const p = getProfile(o.profile);
  if (!(o.windowMs > 0 && o.windowMs <= 60_000)) throw new BadInputError(`--window-ms must be > 0 and <= 60000, got ${o.windowMs}`);
  const bs = p.identify.namespace.lbaDataSize;
  if (o.neighbourBytes % bs !== 0) throw new BadInputError(`--neighbour-kib must be a whole number of ${bs}-byte blocks on ${p.name}`);
  for (const g of o.groupSizes) if (!(Number.isInteger(g) && g >= 1 && g <= 1000)) throw new BadInputError(`--groups takes group sizes from 1 to 1000, got ${g}`);
  faultNames(parseFaults([WINDOW_FAULT]));
}
