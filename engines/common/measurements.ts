/**
 * A real-database cell as report data (engines/postgres, engines/mariadb):
 * what the measurements read of one crash cycle, and the cell's measurements
 * built from its cycles. A shard keeps the cycle summaries of the cycles it
 * owns, and the merge measures their union (src/campaign/shard-parts.ts).
 *
 * Invariants:
 *  1. measurementsOf depends only on the summaries, in cycle order: the union
 *     of the shards' summaries measures what one run of every cycle does.
 *  2. A non-ok cycle's detail is at most 300 characters: the database's own
 *     words first for a finding, the testbed's reason for a harness error.
 */
import type { CellMeasurements } from '../../src/report/build';
import type { Expectation, NonOkState } from '../../src/report/schema';
import type { Verdict } from '../../src/crash/verdict';
import { DeviceBytes, countVerdicts } from './cycle-result';
import { median } from '../../src/util/percentile';

/** What the cell's measurements read of one cycle. */
export interface CycleSummary {
  cycle: number;
  replayId: string;
  verdict: Verdict;
  /** A harness error's detail is why the testbed failed; a finding's is the database's own words first. */
  detail: string;
  acked: number;
  hostWriteBytes: number;
  nandBytesProgrammed: number;
  flushes: number;
  loadMs: number;
  commitLatencyUs: { p50: number; p99: number };
}

/** The fields of a cycle result a summary reads (every real-database cycle result has them). */
export interface SummarizedCycle {
  cycle: number;
  replayId: string;
  verdict: Verdict;
  findings: string[];
  messages: string[];
  workload: { acked: number; commitLatencyUs: { p50: number; p99: number } };
  device: { load: DeviceBytes };
  ms: { load: number };
}

/** A cycle's summary; `databaseWords` picks the database's own line for a finding's detail. */
export function cycleSummary(c: SummarizedCycle, databaseWords: (messages: string[]) => string | undefined): CycleSummary {
  return {
    cycle: c.cycle,
    replayId: c.replayId,
    verdict: c.verdict,
    detail: c.verdict === 'ok' ? '' : (c.verdict === 'harness-error' ? (c.findings[0] ?? c.messages[0] ?? '') : (databaseWords(c.messages) ?? c.findings[0] ?? '')).slice(0, 300),
    acked: c.workload.acked,
    hostWriteBytes: c.device.load.hostWriteBytes,
    nandBytesProgrammed: c.device.load.nandBytesProgrammed,
    flushes: c.device.load.flushes,
    loadMs: c.ms.load,
    commitLatencyUs: { p50: c.workload.commitLatencyUs.p50, p99: c.workload.commitLatencyUs.p99 },
  };
}

/** Who the cell is in a report (the identity fields of CellMeasurements). */
export interface CellIdentity {
  engine: string;
  mode: string;
  profile: string;
  faults: string[];
  pageSize: number;
  workload: string;
  seed: number;
  expectation: Expectation;
}

/** Report measurements of a cell's cycles (in cycle order). */
export function measurementsOf(id: CellIdentity, cycles: readonly CycleSummary[]): CellMeasurements {
  const sum = (f: (c: CycleSummary) => number) => cycles.reduce((a, c) => a + f(c), 0);
  const findings: NonOkState[] = cycles
    .filter((c): c is CycleSummary & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({ replayId: c.replayId, verdict: c.verdict, detail: c.detail }));
  return {
    engine: id.engine,
    mode: id.mode,
    profile: id.profile,
    faults: id.faults,
    pageSize: id.pageSize,
    workload: id.workload,
    txns: sum((c) => c.acked),
    seed: id.seed,
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
    verdicts: countVerdicts(cycles),
    findings,
    expectation: id.expectation,
  };
}
