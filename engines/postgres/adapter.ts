/**
 * PostgreSQL as a real-database adapter (src/crash/adapter.ts
 * RealDatabaseAdapter): what the campaign's one real-database lane needs of
 * a PostgreSQL cell, and nothing more.
 */
import type { RealDatabaseAdapter } from '../../src/crash/adapter';
import { containerUnavailable } from '../../src/export/containers/availability';
import type { ImageName } from '../../src/export/containers/images';
import { PgCycleSummary, pgCycleSummary, pgExpectation } from './campaign';
import { PgCellConfig, pgReplayId } from './config';
import { CellResult, runPgCell } from './cycle';
import type { CycleResult } from './result';
import { missingForPostgres } from './runtime';

export const pgAdapter: RealDatabaseAdapter<PgCellConfig, CycleResult, CellResult, PgCycleSummary> = {
  kind: 'pg',
  crashes: (cfg) => cfg.crashes,
  replayId: pgReplayId,
  expectation: pgExpectation,
  describe: (cfg) => `postgres${cfg.runtime === 'container' ? `@container${cfg.pgVersion ?? '15'}` : ''} fpw=${cfg.fpw ? 'on' : 'off'} on ${cfg.profile}`,
  unavailable: async (cfg) => (cfg.runtime === 'container' ? containerUnavailable(`pg${cfg.pgVersion ?? '15'}` as ImageName) : undefined),
  missing: (cfg) => (cfg.runtime === 'container' ? [] : missingForPostgres()),
  runCell: (cfg, o) => runPgCell(cfg, { owns: o.owns, onCycle: o.onCycle }),
  summary: pgCycleSummary,
};
