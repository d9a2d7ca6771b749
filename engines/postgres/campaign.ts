/**
 * PostgreSQL cells inside campaigns and reports: what full_page_writes
 * promises, and a crash-cycle result as report data. Replay ids of
 * PostgreSQL cycles (`pg:<profile>[+fault]:fpw=on|off:<cut>:seed=S:cycle=N`)
 * parse back into the cell and the cycle.
 */
import { BadInputError } from '../../src/util/errors';
import type { CellMeasurements } from '../../src/report/build';
import { Expectation, realDatabaseExpectation } from '../../src/crash/expectation';
import { CycleSummary, cycleSummary, measurementsOf } from '../common/measurements';
import { CellResult } from './cycle';
import { CrashAt, DEFAULT_CELL, PgCellConfig } from './config';
import { CycleResult } from './result';
import { detailLine } from './verdict';

/**
 * full_page_writes=on claims that no torn page survives recovery, on any
 * device that keeps its Flush promise. off makes no such claim: the kernel
 * hands an 8 KiB page to the device in 4 KiB pieces, so even a device with
 * 16 KiB atomics can see it torn.
 */
export function pgExpectation(cfg: Pick<PgCellConfig, 'fpw' | 'faults'>): Expectation {
  return realDatabaseExpectation(cfg.faults, cfg.fpw, {
    relies: 'PostgreSQL',
    engine: 'real PostgreSQL',
    on: 'full_page_writes=on restores torn pages from WAL page images',
    off: 'full_page_writes=off leaves a page torn by the cut for recovery to trip over',
  });
}

/** What the cell's measurements read of one cycle (engines/common/measurements.ts). */
export type PgCycleSummary = CycleSummary;

export function pgCycleSummary(c: CycleResult): PgCycleSummary {
  return cycleSummary(c, detailLine);
}

/** A PostgreSQL cell's result as report measurements. */
export function pgMeasurements(r: CellResult): CellMeasurements {
  return pgMeasurementsOf(r.config, r.cycles.map(pgCycleSummary));
}

/** Report measurements of a cell's cycles (in cycle order). */
export function pgMeasurementsOf(cfg: PgCellConfig, cycles: readonly PgCycleSummary[]): CellMeasurements {
  return measurementsOf(
    {
      // The runtime and major version name themselves, as in the replay id: postgres@container17.
      engine: cfg.runtime === 'container' ? `postgres@container${cfg.pgVersion ?? '15'}` : 'postgres',
      mode: cfg.fpw ? 'fpw-on' : 'fpw-off',
      profile: cfg.profile,
      faults: cfg.faults,
      pageSize: 8192,
      workload: 'bank',
      seed: cfg.seed,
      expectation: pgExpectation(cfg),
    },
    cycles,
  );
}
