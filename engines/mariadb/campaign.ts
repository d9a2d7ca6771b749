/**
 * MariaDB cells inside campaigns and reports: what innodb_doublewrite
 * promises, and a cell's result as report measurements. Replay ids are
 * cycle.ts's (`mariadb:…`).
 */
import type { CellMeasurements } from '../../src/report/build';
import { Expectation, realDatabaseExpectation } from '../../src/crash/expectation';
import { CycleSummary, cycleSummary, measurementsOf } from '../common/measurements';
import { CellResult, CycleResult, MariadbCellConfig, runtimeTag } from './cycle';

/**
 * innodb_doublewrite=1 claims that no torn page survives recovery on any
 * device that keeps its Flush promise. 0 claims nothing: only a device whose
 * power-fail atomicity covers every page write as the file system places it
 * keeps pages whole (the write shape shows whether it did).
 */
export function mariadbExpectation(cfg: Pick<MariadbCellConfig, 'doublewrite' | 'faults'>): Expectation {
  return realDatabaseExpectation(cfg.faults, cfg.doublewrite, {
    relies: 'InnoDB',
    engine: 'real MariaDB',
    on: 'innodb_doublewrite=1 restores torn pages from the doublewrite buffer',
    off: 'innodb_doublewrite=0 leaves a page torn by the cut for recovery to trip over unless the device writes every page atomically where the file system put it',
  });
}

/** What the cell's measurements read of one cycle (a shard keeps these); a finding's detail is the first [ERROR] line. */
export function mariadbCycleSummary(c: CycleResult): CycleSummary {
  return cycleSummary(c, (messages) => messages.find((m) => /\[ERROR\]/.test(m)));
}

/** A MariaDB cell's result as report measurements. */
export function mariadbMeasurements(r: CellResult): CellMeasurements {
  return mariadbMeasurementsOf(r.config, r.cycles.map(mariadbCycleSummary));
}

/** Report measurements of a cell's cycles (in cycle order). */
export function mariadbMeasurementsOf(cfg: MariadbCellConfig, cycles: readonly CycleSummary[]): CellMeasurements {
  return measurementsOf(
    {
      // The runtime and version name themselves, as in the replay id: mariadb@container11.8.
      engine: `mariadb${runtimeTag(cfg)}`,
      mode: cfg.doublewrite ? 'doublewrite-on' : 'doublewrite-off',
      profile: cfg.profile,
      faults: cfg.faults,
      pageSize: cfg.pageSize,
      workload: 'bank+oltp',
      seed: cfg.seed,
      expectation: mariadbExpectation(cfg),
    },
    cycles,
  );
}
