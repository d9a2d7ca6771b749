/**
 * MariaDB as a real-database adapter (src/crash/adapter.ts
 * RealDatabaseAdapter): what the campaign's one real-database lane needs of
 * a MariaDB cell, and nothing more.
 */
import type { RealDatabaseAdapter } from '../../src/crash/adapter';
import { containerUnavailable } from '../../src/export/containers/availability';
import type { CycleSummary } from '../common/measurements';
import { mariadbCycleSummary, mariadbExpectation } from './campaign';
import { mariadbImageName } from './container-server';
import { CellResult, CycleResult, MariadbCellConfig, containerMariadbVersion, replayIdOf, runMariadbCell, runtimeTag } from './cycle';
import { missingForMariadb } from './runtime';

export const mariadbAdapter: RealDatabaseAdapter<MariadbCellConfig, CycleResult, CellResult, CycleSummary> = {
  kind: 'mariadb',
  crashes: (cfg) => cfg.crashes,
  replayId: replayIdOf,
  expectation: mariadbExpectation,
  describe: (cfg) => `mariadb${runtimeTag(cfg)} doublewrite=${cfg.doublewrite ? 'on' : 'off'} on ${cfg.profile}`,
  unavailable: async (cfg) => (cfg.runtime === 'container' ? containerUnavailable(mariadbImageName(containerMariadbVersion(cfg))) : undefined),
  missing: (cfg) => (cfg.runtime === 'container' ? [] : missingForMariadb()),
  runCell: (cfg, o) => runMariadbCell(cfg, { owns: o.owns, onCycle: o.onCycle }),
  summary: mariadbCycleSummary,
};
