/**
 * MariaDB cells inside campaigns and reports: what innodb_doublewrite
 * promises, and a cell's result as report measurements. Replay ids are
 * cycle.ts's (`mariadb:…`).
 */
import type { CellMeasurements } from '../../src/report/build';
import type { Expectation, NonOkState } from '../../src/report/schema';
import { NON_OK, Verdict } from '../../src/crash/verdict';
import type { PgCycleSummary } from '../postgres/campaign';
import { median } from '../postgres/cycle';
import { CellResult, CycleResult, MariadbCellConfig } from './cycle';

/**
 * innodb_doublewrite=1 claims that no torn page survives recovery on any
 * device that keeps its Flush promise. 0 claims nothing: only a device whose
 * power-fail atomicity covers every page write as the file system places it
 * keeps pages whole (the write shape shows whether it did).
 */
export function mariadbExpectation(cfg: Pick<MariadbCellConfig, 'doublewrite' | 'faults'>): Expectation {
  const clock = "real MariaDB: latency and throughput are wall-clock, bytes are the device's during the load, logical bytes are not counted";
  if (cfg.faults.length > 0) return { kind: 'demonstration', tolerated: NON_OK, reason: `device faults ${cfg.faults.join(', ')} break promises InnoDB relies on (${clock})` };
  if (cfg.doublewrite) return { kind: 'claims-safe', tolerated: [], reason: `innodb_doublewrite=1 restores torn pages from the doublewrite buffer (${clock})` };
  return { kind: 'demonstration', tolerated: ['torn-page-detected', 'recovery-failed', 'silent-corruption'], reason: `innodb_doublewrite=0 leaves a page torn by the cut for recovery to trip over unless the device writes every page atomically where the file system put it (${clock})` };
}

/** What the cell's measurements read of one cycle (the PostgreSQL summary's fields; a shard keeps these). */
export function mariadbCycleSummary(c: CycleResult): PgCycleSummary {
  return {
    cycle: c.cycle,
    replayId: c.replayId,
    verdict: c.verdict,
    detail: c.verdict === 'ok' ? '' : (c.verdict === 'harness-error' ? (c.findings[0] ?? '') : (c.messages.find((m) => /\[ERROR\]/.test(m)) ?? c.findings[0] ?? '')).slice(0, 300),
    acked: c.workload.acked,
    hostWriteBytes: c.device.load.hostWriteBytes,
    nandBytesProgrammed: c.device.load.nandBytesProgrammed,
    flushes: c.device.load.flushes,
    loadMs: c.ms.load,
    commitLatencyUs: { p50: c.workload.commitLatencyUs.p50, p99: c.workload.commitLatencyUs.p99 },
  };
}

/** A MariaDB cell's result as report measurements. */
export function mariadbMeasurements(r: CellResult): CellMeasurements {
  return mariadbMeasurementsOf(r.config, r.cycles.map(mariadbCycleSummary));
}

/** Report measurements of a cell's cycles (in cycle order). */
export function mariadbMeasurementsOf(cfg: MariadbCellConfig, cycles: readonly PgCycleSummary[]): CellMeasurements {
  const sum = (f: (c: PgCycleSummary) => number) => cycles.reduce((a, c) => a + f(c), 0);
  const findings: NonOkState[] = cycles
    .filter((c): c is PgCycleSummary & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({ replayId: c.replayId, verdict: c.verdict, detail: c.detail }));
  const verdicts: Partial<Record<Verdict, number>> = {};
  for (const c of cycles) verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
  return {
    engine: 'mariadb',
    mode: cfg.doublewrite ? 'doublewrite-on' : 'doublewrite-off',
    profile: cfg.profile,
    faults: cfg.faults,
    pageSize: cfg.pageSize,
    workload: 'bank+oltp',
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
      p50: Math.round(median(cycles.map((c) => c.commitLatencyUs.p50))),
      p99: Math.max(0, ...cycles.map((c) => c.commitLatencyUs.p99)),
    },
    crashStatesTried: cycles.length,
    verdicts,
    findings,
    expectation: mariadbExpectation(cfg),
  };
}
