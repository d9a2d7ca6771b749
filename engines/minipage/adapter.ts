/**
 * The campaign's view of the mini page engine (src/crash/adapter.ts
 * EngineAdapter): run a cell's workload once, recover + judge crash images,
 * and say what each mode promises on each device profile.
 */
import { DEFAULT_WINDOW_MS, type CellSpec } from '../../src/crash/cell';
import { checkpointSweepOf, warmupTxnsFor, type CheckpointSweepPoint, type CostFigures, type EngineAdapter, type WorkloadRun } from '../../src/crash/adapter';
import type { Expectation } from '../../src/report/schema';
import { NON_OK } from '../../src/crash/verdict';
import { NvmeDevice } from '../../src/device/device';
import { isPowerFailAtomic, powerFailAtomicity } from '../../src/device/identify';
import { getProfile, parseFaults } from '../../src/device/profiles';
import { DEFAULT_CHECKPOINT_EVERY, EngineConfig, RunConfig, SteadyCosts, runWorkload } from './driver';
import { COMMIT_METHODS } from './commit-durability';
import { MiniPageEngine } from './engine';
import { DEFAULT_WAL_BYTES, PROTECTION_MODES, ProtectionMode, computeLayout } from './layout';
import { VALID_PAGE_SIZES } from './page';
import { pageLba } from './protections';
import { verifyCrashState } from './verify';
import { WORKLOAD_NAMES, WorkloadName } from './workloads';
import { SABOTAGES, windowsFor } from './sabotage';

/** Data pages to reserve for a cell: room for the workload's rows at half-full leaves, and at least 256. */
export function maxPagesFor(cell: Pick<CellSpec, 'workload' | 'pageSize' | 'txns' | 'keys'>): number {
  const keys = cell.keys ?? 400;
  const rows = cell.workload === 'tpcc-like' ? 2 * keys + 12 * cell.txns : cell.workload === 'insert-seq' ? 4 * cell.txns : cell.workload === 'bank' ? Math.min(keys, 10000) : keys;
  const bytes = rows * (cell.workload.startsWith('ycsb') ? 300 : 160);
  return Math.max(256, Math.ceil((3 * bytes) / cell.pageSize) + 64);
}

/** Does the profile guarantee that every page write of this page size lands all-or-nothing? */
export function deviceCoversPages(profileName: string, pageSize: number): boolean {
  const p = getProfile(profileName);
  const bs = p.identify.namespace.lbaDataSize;
  const layout = computeLayout({ pageSize }, bs, Number.MAX_SAFE_INTEGER);
  const a = powerFailAtomicity(p.identify);
  for (let n = 0; n < layout.maxPages; n++) if (!isPowerFailAtomic(a, pageLba(layout, n), layout.pageBlocks)) return false;
  return true;
}

/**
 * What the cell promises. The commit method changes nothing (fua, critical and
 * token make the WAL as durable as a Flush does) except 'window': acknowledging
 * at write completion is only as good as the device's promise to destage for
 * the advertised window after a cut. When the device does not honour it the
 * acknowledged WAL, and with it the write-ahead order on media, is gone: any
 * verdict can follow (lost commits first).
 */
export function minipageExpectation(cell: Pick<CellSpec, 'mode' | 'force' | 'profile' | 'faults' | 'pageSize' | 'commit'>): Expectation {
  const f = parseFaults(cell.faults);
  const base = baseExpectation(cell, f);
  if (cell.commit === 'window' && f.powerWindowNotHonoured && getProfile(cell.profile).identify.controller.vwc.present) {
    return {
      kind: 'demonstration',
      tolerated: NON_OK,
      reason: 'commits are acknowledged at write completion on the strength of an advertised power window that the device does not honour: acknowledged WAL still in the volatile cache is lost',
    };
  }
  return base;
}

function baseExpectation(cell: Pick<CellSpec, 'mode' | 'force' | 'profile' | 'faults' | 'pageSize'>, f: ReturnType<typeof parseFaults>): Expectation {
  const covers = deviceCoversPages(cell.profile, cell.pageSize);
  const mode = cell.mode as ProtectionMode;
  if (f.lyingFlush) return { kind: 'demonstration', tolerated: NON_OK, reason: 'the device acknowledges Flush without destaging: no engine can keep acknowledged commits' };
  if (f.misdirectedWrite || f.latentSectorError) {
    return { kind: 'demonstration', tolerated: NON_OK, reason: 'misdirected writes and latent sector errors damage data no torn-write protection covers; checksums can only detect them' };
  }
  if (f.inflightReadError) {
    return {
      kind: 'demonstration',
      tolerated: NON_OK,
      reason: 'the engine rewrites its partial last WAL block and its one control block in place; an in-flight rewrite that reads back unreadable loses them',
    };
  }
  const pagesAtomic = covers && !f.tornAtomic && !f.subBlockTear;
  if (mode === 'doublewrite' || mode === 'fpw') return { kind: 'claims-safe', tolerated: [], reason: `${mode} repairs torn page writes from its own copy` };
  if (pagesAtomic) return { kind: 'claims-safe', tolerated: [], reason: `${cell.profile} writes each ${cell.pageSize}-byte page all-or-nothing` };
  const why = f.tornAtomic ? 'the device fails its advertised atomic writes' : f.subBlockTear ? 'the device tears inside blocks' : `${cell.profile} does not write a ${cell.pageSize}-byte page atomically`;
  return { kind: 'demonstration', tolerated: ['torn-page-detected'], reason: `${mode}${cell.force ? ' (forced)' : ''} has no copy to repair a torn page from, and ${why}` };
}

/** The driver configuration of a cell (scale: what the cell names, the engine's defaults otherwise). */
function runConfigOf(cell: CellSpec): RunConfig {
    const engine: EngineConfig = {
      mode: cell.mode as ProtectionMode,
      pageSize: cell.pageSize,
      force: cell.force,
      maxPages: maxPagesFor(cell),
    };
    // Scale: what the cell names; the engine's and workload's defaults otherwise (so that replay ids
    // without scale parts keep naming the states they named before scale existed).
    if (cell.frames !== undefined) engine.frames = cell.frames;
    if (cell.checkpointBatch !== undefined) engine.checkpointBatch = cell.checkpointBatch;
    if (cell.sabotage) engine.sabotage = [cell.sabotage];
    // Only non-default commit methods add keys: a default cell runs exactly as before.
    if (cell.commit && cell.commit !== 'flush') engine.walDurability = cell.commit;
    if (cell.commit === 'window') engine.powerWindowMs = cell.windowMs ?? DEFAULT_WINDOW_MS;
    return {
      profile: cell.profile,
      faults: cell.faults,
      seed: cell.seed,
      engine,
      // With keys given, bank rows are padded to 120..200 bytes like real account rows, so that the accounts span many pages.
      workload: { name: cell.workload as WorkloadName, seed: cell.seed, txns: cell.txns, ...(cell.keys !== undefined ? { keys: cell.keys, accounts: Math.min(10000, cell.keys), ...(cell.workload === 'bank' ? { valueBytes: [120, 200] as [number, number] } : {}) } : {}) },
      checkpointEvery: cell.checkpointEvery,
    };
}

export const minipageAdapter: EngineAdapter = {
  name: 'minipage',
  modes: PROTECTION_MODES,
  workloads: WORKLOAD_NAMES,
  pageSizes: VALID_PAGE_SIZES,
  commits: COMMIT_METHODS,
  coversPages: deviceCoversPages,
  costRun(cell): CostFigures {
    const t0 = process.hrtime.bigint();
    const warm = warmupTxnsFor(cell.costTxns!);
    const run = runWorkload({ ...runConfigOf({ ...cell, txns: warm + cell.costTxns! }), capture: 'none', measureFrom: warm });
    const s = run.steady!;
    const per = (v: number) => (s.commits > 0 ? v / s.commits : 0);
    const byTag: Record<string, number> = {};
    for (const [t, v] of Object.entries(s.byTag)) byTag[t] = per(v);
    // fpw: how the images' share of the WAL falls as checkpoints get rarer (PostgreSQL's documented trade-off).
    // The first point is this run, at the cell's own interval.
    const sweepPoint = (every: number, r: SteadyCosts): CheckpointSweepPoint => {
      const wal = r.byTag.wal + r.byTag.fpi;
      return { checkpointEvery: every, txns: r.txns, checkpoints: r.checkpoints, fpiShare: wal > 0 ? r.byTag.fpi / wal : 0, walBytesPerTxn: r.commits > 0 ? wal / r.commits : 0 };
    };
    const sweepRun = (p: ReturnType<typeof checkpointSweepOf>[number]): SteadyCosts => {
      const config = runConfigOf({ ...cell, txns: p.warmupTxns + p.txns });
      config.engine.walBytes = (config.engine.walBytes ?? DEFAULT_WAL_BYTES) * p.walScale;
      return runWorkload({ ...config, checkpointEvery: p.checkpointEvery, capture: 'none', measureFrom: p.warmupTxns }).steady!;
    };
    const every = cell.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    const checkpointSweep: CheckpointSweepPoint[] | undefined =
      cell.mode === 'fpw'
        ? [
            sweepPoint(every, s),
            ...checkpointSweepOf(cell.costTxns!, every).map((p) => sweepPoint(p.checkpointEvery, sweepRun(p))),
          ]
        : undefined;
    return {
      txns: s.txns,
      warmupTxns: s.warmupTxns,
      commits: s.commits,
      perTxn: { hostBytes: per(s.hostWriteBytes), byTag, flushes: per(s.flushes), fuaWrites: per(s.fuaWrites), nandBytes: per(s.nandBytes), logicalBytes: per(s.logicalBytes) },
      commitLatencyUs: s.commitLatencyUs,
      evictions: s.evictions,
      checkpoints: s.checkpoints,
      ...(checkpointSweep ? { checkpointSweep } : {}),
      wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9,
    };
  },
  runWorkload(cell, onEvent): WorkloadRun {
    const run = runWorkload({ ...runConfigOf(cell), capture: 'none', windows: true, onEvent });
    const oracle = run.oracle;
    const hook = (dev: NvmeDevice, h?: { onEvent?: (e: Parameters<NonNullable<typeof onEvent>>[0], dev: NvmeDevice) => void }) => {
      if (h?.onEvent) {
        const f = h.onEvent;
        dev.onEvent((e) => f(e, dev));
      }
    };
    return {
      windows: run.windows,
      metrics: {
        counters: run.counters,
        commits: run.stats.commits,
        logicalBytesCommitted: run.stats.logicalBytes,
        commitLatenciesUs: run.stats.commitLatencyUs,
        simTimeUs: run.bytes.simTimeUs,
      },
      recoverAndVerify(seq, dev, hooks) {
        hook(dev, hooks);
        const r = verifyCrashState(dev, oracle, seq);
        return { verdict: r.verdict, detail: r.detail };
      },
      recover(dev, hooks) {
        hook(dev, hooks);
        MiniPageEngine.open(dev, { ...oracle.engine });
      },
    };
  },
  groupCommitRun(cell, o) {
    // The engine's defaults but for mode, page size and commit method (not the crash cells' scale).
    const r = runWorkload({
      profile: cell.profile,
      seed: cell.seed,
      engine: {
        mode: cell.mode as ProtectionMode,
        pageSize: cell.pageSize,
        ...(cell.commit && cell.commit !== 'flush' ? { walDurability: cell.commit } : {}),
        ...(cell.commit === 'window' ? { powerWindowMs: cell.windowMs } : {}),
      },
      workload: { name: cell.workload as WorkloadName, seed: cell.seed, txns: cell.txns },
      groupSize: o.groupSize,
      capture: 'none',
      neighbour: o.neighbour,
    });
    const b = r.bytes;
    return { commitLatencyUs: { p50: b.commitLatencyUs.p50, p99: b.commitLatencyUs.p99 }, simTimeUs: b.simTimeUs, commits: b.commits, flushes: b.flushes };
  },
  expectation: minipageExpectation,
  windowsFor: (cell) => windowsFor(cell.mode as ProtectionMode),
  sabotages: SABOTAGES,
};
