/**
 * PostgreSQL cells inside campaigns and reports: what full_page_writes
 * promises, and a crash-cycle result as report data. Replay ids of
 * PostgreSQL cycles (`pg:<profile>[+fault]:fpw=on|off:<cut>:seed=S:cycle=N`)
 * parse back into the cell and the cycle.
 */
import { BadInputError } from '../../src/util/errors';
import type { CellMeasurements } from '../../src/report/build';
import type { Expectation, NonOkState } from '../../src/report/schema';
import { NON_OK } from '../../src/crash/verdict';
import type { Verdict } from '../../src/crash/verdict';
import { CellResult, CrashAt, CycleResult, DEFAULT_CELL, PgCellConfig, median } from './cycle';
import { detailLine } from './verdict';

/**
 * full_page_writes=on claims that no torn page survives recovery, on any
 * device that keeps its Flush promise. off makes no such claim: the kernel
 * hands an 8 KiB page to the device in 4 KiB pieces, so even a device with
 * 16 KiB atomics can see it torn.
 */
export function pgExpectation(cfg: Pick<PgCellConfig, 'fpw' | 'faults'>): Expectation {
  const clock = 'real PostgreSQL: latency and throughput are wall-clock, bytes are the device\'s during the load, logical bytes are not counted';
  if (cfg.faults.length > 0) return { kind: 'demonstration', tolerated: NON_OK, reason: `device faults ${cfg.faults.join(', ')} break promises PostgreSQL relies on (${clock})` };
  if (cfg.fpw) return { kind: 'claims-safe', tolerated: [], reason: `full_page_writes=on restores torn pages from WAL page images (${clock})` };
  return { kind: 'demonstration', tolerated: ['torn-page-detected', 'recovery-failed', 'silent-corruption'], reason: `full_page_writes=off leaves a page torn by the cut for recovery to trip over (${clock})` };
}

/**
 * What the cell's measurements read of one cycle: a shard keeps these for the
 * cycles it owns, and the merge measures their union (src/campaign/shard-parts.ts).
 */
export interface PgCycleSummary {
  cycle: number;
  replayId: string;
  verdict: CycleResult['verdict'];
  /** A harness error's detail is why the testbed failed; a finding's is PostgreSQL's own words first. */
  detail: string;
  acked: number;
  hostWriteBytes: number;
  nandBytesProgrammed: number;
  flushes: number;
  loadMs: number;
  commitLatencyUs: { p50: number; p99: number };
}

export function pgCycleSummary(c: CycleResult): PgCycleSummary {
  return {
    cycle: c.cycle,
    replayId: c.replayId,
    verdict: c.verdict,
    detail: c.verdict === 'ok' ? '' : (c.verdict === 'harness-error' ? (c.findings[0] ?? c.messages[0] ?? '') : (detailLine(c.messages) ?? c.findings[0] ?? '')).slice(0, 300),
    acked: c.workload.acked,
    hostWriteBytes: c.device.load.hostWriteBytes,
    nandBytesProgrammed: c.device.load.nandBytesProgrammed,
    flushes: c.device.load.flushes,
    loadMs: c.ms.load,
    commitLatencyUs: { p50: c.workload.commitLatencyUs.p50, p99: c.workload.commitLatencyUs.p99 },
  };
}

/** A PostgreSQL cell's result as report measurements. */
export function pgMeasurements(r: CellResult): CellMeasurements {
  return pgMeasurementsOf(r.config, r.cycles.map(pgCycleSummary));
}

/** Report measurements of a cell's cycles (in cycle order). */
export function pgMeasurementsOf(cfg: PgCellConfig, cycles: readonly PgCycleSummary[]): CellMeasurements {
  const sum = (f: (c: PgCycleSummary) => number) => cycles.reduce((a, c) => a + f(c), 0);
  const findings: NonOkState[] = cycles
    .filter((c): c is PgCycleSummary & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({ replayId: c.replayId, verdict: c.verdict, detail: c.detail }));
  const verdicts: Partial<Record<Verdict, number>> = {};
  for (const c of cycles) verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
  return {
    // The runtime and major version name themselves, as in the replay id: postgres@container17.
    engine: cfg.runtime === 'container' ? `postgres@container${cfg.pgVersion ?? '15'}` : 'postgres',
    mode: cfg.fpw ? 'fpw-on' : 'fpw-off',
    profile: cfg.profile,
    faults: cfg.faults,
    pageSize: 8192,
    workload: 'bank',
    txns: sum((c) => c.acked),
    seed: cfg.seed,
    bytesByTag: { other: sum((c) => c.hostWriteBytes) },
    logicalBytesCommitted: 0,
    commits: sum((c) => c.acked),
    nandBytesProgrammed: sum((c) => c.nandBytesProgrammed),
    flushes: sum((c) => c.flushes),
    fuaWrites: 0,
    simTimeUs: Math.round(sum((c) => c.loadMs) * 1000),
    commitLatencyUs: {
      // Median of the cycles' p50, worst of their p99.
      p50: Math.round(median(cycles.map((c) => c.commitLatencyUs.p50))),
      p99: Math.max(0, ...cycles.map((c) => c.commitLatencyUs.p99)),
    },
    crashStatesTried: cycles.length,
    verdicts,
    findings,
    expectation: pgExpectation(cfg),
  };
}

/** Parse a PostgreSQL cycle's replay id into its cell (with enough crashes to reach the cycle) and the cycle. */
export function parsePgReplayId(id: string): { cfg: PgCellConfig; cycle: number } {
  // The container runtime names itself and its major version: pg@container17:...
  const rt = /^pg@container(\d+):/.exec(id.trim());
  const m = /^pg(?:@container\d+)?:([a-z0-9-]+)((?:\+[a-z0-9:-]+)*):fpw=(on|off):(checkpoint|seeded):seed=(\d+):cycle=(\d+)$/.exec(id.trim());
  if (!m) throw new BadInputError(`"${id}" is not a PostgreSQL replay id (pg[@containerV]:<profile>[+fault]:fpw=on|off:checkpoint|seeded:seed=S:cycle=N)`);
  const cycle = Number(m[6]);
  const cfg: PgCellConfig = {
    ...DEFAULT_CELL,
    profile: m[1],
    faults: m[2] ? m[2].slice(1).split('+') : [],
    fpw: m[3] === 'on',
    crashAt: m[4] as CrashAt,
    seed: Number(m[5]),
    crashes: cycle + 1,
    ...(rt ? { runtime: 'container' as const, pgVersion: rt[1] } : {}),
  };
  return { cfg, cycle };
}
