/**
 * PostgreSQL as a real-database adapter (src/crash/adapter.ts
 * RealDatabaseAdapter): what the campaign's one real-database lane needs of
 * a PostgreSQL cell, its `postgres:` section of campaign files, and the cell
 * `npm start` adds — and nothing more.
 */
import type { RealDatabaseAdapter } from '../../src/crash/adapter';
import { CampaignSection, PROFILE_LIST_SCHEMA, ProfileEntry, profileKey, profileOf, refuseDuplicates } from '../../src/crash/campaign-section';
import { BadInputError } from '../../src/util/errors';
import type { CellMeasurements } from '../../src/report/build';
import { missingForExport } from '../../src/export/preconditions';
import { containerUnavailable } from '../../src/export/containers/availability';
import type { ImageName } from '../../src/export/containers/images';
import { PgCycleSummary, pgCycleSummary, pgMeasurementsOf } from './campaign';
import { DEFAULT_CELL, PgCellConfig, parsePgReplayId, pgReplayId, validateCell } from './config';
import { detailLine } from './verdict';
import { kib } from '../common/cycle-result';
import { CellResult, runPgCell } from './cycle';
import type { CycleResult } from './result';
import { missingForPostgres } from './runtime';

/** A campaign file's `postgres:` section: full_page_writes on/off x profiles, `crashes` crash cycles each. */
export interface PgSection {
  fpw: ('on' | 'off')[];
  profiles?: ProfileEntry[];
  crashes?: number;
  seed?: number;
  crashAt?: 'checkpoint' | 'seeded';
  runtime?: 'local' | 'container';
  versions?: string[];
}

const section: CampaignSection<PgCellConfig> = {
  key: 'postgres',
  title: 'PostgreSQL',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['fpw'],
    properties: {
      fpw: { type: 'array', minItems: 1, items: { type: 'string', enum: ['on', 'off'] } },
      profiles: PROFILE_LIST_SCHEMA,
      crashes: { type: 'integer', minimum: 1, maximum: 1000 },
      seed: { type: 'integer', minimum: 0 },
      crashAt: { type: 'string', enum: ['checkpoint', 'seeded'] },
      runtime: { type: 'string', enum: ['local', 'container'] },
      versions: { type: 'array', minItems: 1, items: { type: 'string', enum: ['15', '17', '18'] } },
    },
  },
  expand(pg: PgSection, top, source) {
    refuseDuplicates(source, 'postgres.fpw', pg.fpw, String);
    refuseDuplicates(source, 'postgres.profiles', pg.profiles, profileKey);
    if (pg.versions && pg.runtime !== 'container') throw new BadInputError('postgres.versions needs runtime: container (the local runtime runs the binaries TORNLAB_PG_BIN names)');
    const out: PgCellConfig[] = [];
    // One cell per major version (container), versions outermost.
    const runtimes: Pick<PgCellConfig, 'runtime' | 'pgVersion'>[] = pg.runtime === 'container' ? (pg.versions ?? ['15']).map((v) => ({ runtime: 'container' as const, pgVersion: v })) : [{}];
    for (const rt of runtimes) {
      for (const pEntry of pg.profiles ?? top.profiles) {
        const { profile, faults } = profileOf(pEntry);
        for (const fpw of pg.fpw) {
          const cfg: PgCellConfig = { ...DEFAULT_CELL, profile, faults, fpw: fpw === 'on', seed: pg.seed ?? top.seed ?? 1, crashes: pg.crashes ?? 4, crashAt: pg.crashAt ?? 'checkpoint', ...rt };
          validateCell(cfg);
          out.push(cfg);
        }
      }
    }
    return out;
  },
};

/** A cycle in one line: verdict, cut, acknowledged commits, WAL and FPI, device bytes, time, and the first finding. */
export function formatPgCycleLine(c: CycleResult): string {
  const zeroed = c.recovery.zeroedMapPages.length ? `  (PostgreSQL zeroed torn map page(s) as designed: ${c.recovery.zeroedMapPages.join(', ')})` : '';
  const first = c.verdict === 'ok' ? zeroed : `  ${detailLine(c.messages) ?? c.findings[0] ?? ''}`;
  return `cycle ${c.cycle}: ${c.verdict.padEnd(19)} cut ${c.cut.trigger}, ${c.workload.acked} acked, WAL ${kib(c.wal.lsnBytes)} (${c.wal.fpi >= 0 ? c.wal.fpi : '?'} FPI), device ${kib(c.device.load.hostWriteBytes)} + ${kib(c.device.recovery.hostWriteBytes)} recovery, ${(c.ms.total / 1000).toFixed(1)} s${first}`;
}

const describe = (cfg: PgCellConfig) => `postgres${cfg.runtime === 'container' ? `@container${cfg.pgVersion ?? '15'}` : ''} fpw=${cfg.fpw ? 'on' : 'off'} on ${cfg.profile}`;

export const pgAdapter: RealDatabaseAdapter<PgCellConfig, CycleResult, CellResult, PgCycleSummary, CellMeasurements> = {
  kind: 'pg',
  command: 'pg',
  crashes: (cfg) => cfg.crashes,
  replayId: pgReplayId,
  describe,
  // The same cell, seed and cycle number: the same device, workload, cut threshold and survivor choice
  // (the kernel's writeback timing is not under the seed: it reproduces the situation, not necessarily the bytes).
  replay: { cell: (id) => parsePgReplayId(id).cfg, lines: (c) => [formatPgCycleLine(c), ...c.messages.slice(0, 8).map((m) => `  ${m}`)] },
  unavailable: async (cfg) => (cfg.runtime === 'container' ? containerUnavailable(`pg${cfg.pgVersion ?? '15'}` as ImageName) : undefined),
  missing: (cfg) => (cfg.runtime === 'container' ? [] : missingForPostgres()),
  runCell: (cfg, o) => runPgCell(cfg, { owns: o.owns, onCycle: o.onCycle }),
  summary: pgCycleSummary,
  measure: pgMeasurementsOf,
  campaignSection: section,
  /**
   * full_page_writes=off on consumer-tlc, two cycles: the torn page the
   * default campaign is about, in a real database. Local when the machine
   * has the binaries, else in a container when tornlab's engine and image
   * are there, else skipped with the reason.
   */
  async defaultCells(seed) {
    const pg: PgCellConfig = { ...DEFAULT_CELL, fpw: false, seed, crashes: 2 };
    const exportMissing = missingForExport('ext4');
    if (exportMissing.length > 0) return { cells: [], skipped: [`${describe(pg)}: no block export here (${exportMissing.map((m) => m.what).join(', ')})`] };
    if (missingForPostgres().length === 0) return { cells: [pg], skipped: [] };
    const why = await containerUnavailable('pg15');
    if (why) return { cells: [], skipped: [`${describe(pg)}: no local PostgreSQL (${missingForPostgres()[0].what}) and ${why}`] };
    return { cells: [{ ...pg, runtime: 'container', pgVersion: '15' }], skipped: [] };
  },
};
