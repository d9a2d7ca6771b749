/**
 * MariaDB cells inside campaigns and reports: what innodb_doublewrite
 * promises, and a cell's result as report measurements. Replay ids are
 * cycle.ts's (`mariadb:…`).
 */
import type { CellMeasurements } from '../../src/report/build';
import type { Expectation, NonOkState } from '../../src/report/schema';
import { NON_OK } from '../../src/crash/verdict';
import { median } from '../postgres/cycle';
import { CellResult, MariadbCellConfig } from './cycle';

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

/** A MariaDB cell's result as report measurements. */
export function mariadbMeasurements(r: CellResult): CellMeasurements {
  const cycles = r.cycles;
  const sum = (f: (c: (typeof cycles)[number]) => number) => cycles.reduce((a, c) => a + f(c), 0);
  const findings: NonOkState[] = cycles
    .filter((c): c is typeof c & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({
      replayId: c.replayId,
      verdict: c.verdict,
      detail: (c.verdict === 'harness-error' ? (c.findings[0] ?? '') : (c.messages.find((m) => /\[ERROR\]/.test(m)) ?? c.findings[0] ?? '')).slice(0, 300),
    }));
  return {
    engine: 'mariadb',
    mode: r.config.doublewrite ? 'doublewrite-on' : 'doublewrite-off',
    profile: r.config.profile,
    faults: r.config.faults,
    pageSize: r.config.pageSize,
    workload: 'bank+oltp',
    txns: sum((c) => c.workload.acked),
    seed: r.config.seed,
    bytesByTag: { other: sum((c) => c.device.load.hostWriteBytes) },
    logicalBytesCommitted: 0,
    commits: sum((c) => c.workload.acked),
    nandBytesProgrammed: sum((c) => c.device.load.nandBytesProgrammed),
    flushes: sum((c) => c.device.load.flushes),
    fuaWrites: 0,
    simTimeUs: Math.round(sum((c) => c.ms.load) * 1000),
    commitLatencyUs: {
      p50: Math.round(median(cycles.map((c) => c.workload.commitLatencyUs.p50))),
      p99: Math.max(0, ...cycles.map((c) => c.workload.commitLatencyUs.p99)),
    },
    crashStatesTried: cycles.length,
    verdicts: r.verdicts,
    findings,
    expectation: mariadbExpectation(r.config),
  };
}
