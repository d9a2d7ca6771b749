/**
 * SQLite as a real-database adapter (src/crash/adapter.ts
 * RealDatabaseAdapter): what the campaign's one real-database lane needs of
 * a SQLite cell, its `sqlite:` section of campaign files, and the cell
 * `npm start` adds — and nothing more. `tornlab sqlite` runs its cells
 * through the same lane.
 */
import type { RealDatabaseAdapter } from '../../src/crash/adapter';
import { CampaignSection, PROFILE_LIST_SCHEMA, ProfileEntry, profileKey, profileOf, refuseDuplicates } from '../../src/crash/campaign-section';
import { BadInputError } from '../../src/util/errors';
import type { CellMeasurements } from '../../src/report/build';
import { getProfile } from '../../src/device/profiles';
import { runLedger } from '../../src/export/ledger';
import { missingForExport } from '../../src/export/preconditions';
import { containerUnavailable } from '../../src/export/containers/availability';
import { settle as settleContainers } from '../../src/export/containers/containers';
import type { FsChoice } from '../../src/export/fs-options';
import { openDeviceStorage } from '../common/device-storage';
import { openPlainDirectory } from '../common/storage';
import { SqliteCell, cellName, cellPromise, gridCells, parseCell } from './cell';
import { SqliteCampaignResult, runSqliteCampaign, sqliteCycleId } from './campaign';
import { SQLITE_DB_FILE } from './cycle';
import { SqliteCellSummary, SqliteCycleSummary, sqliteCycleSummary, sqliteMeasurementsOf } from './report';
import { resolveSqliteRuntime } from './runtime';

/**
 * One SQLite cell: a journal_mode x synchronous x page-size setting on a
 * device profile, `crashes` cycles from `seed`. The optional fields are
 * `tornlab sqlite`'s; a campaign cell leaves them at their defaults.
 */
export interface SqliteCellConfig {
  cell: SqliteCell;
  profile: string;
  faults: string[];
  crashes: number;
  seed: number;
  /** Set when the children run in containers (the report names it: sqlite@container). */
  runtime?: 'local' | 'container';
  /** Cut after 3..maxAcks acknowledged commits (default 40). */
  maxAcks?: number;
  /** false: no emulated device, SIGKILL only on a temp folder (default true). */
  device?: boolean;
  /** Namespace size (default: engines/common/device-storage.ts DEFAULT_DEVICE_BYTES). */
  sizeBytes?: number;
  fsChoice?: FsChoice;
  /** Trace the write shape of each cycle (RemountSummary.writeShape). */
  writeShape?: boolean;
}

/** A campaign file's `sqlite:` section: cells (or the whole grid) x profiles. */
export interface SqliteSection {
  cells?: { journalMode: string; synchronous: string; pageSize?: number }[];
  grid?: boolean;
  profiles?: ProfileEntry[];
  crashes?: number;
  seed?: number;
  runtime?: 'local' | 'container';
}

const section: CampaignSection<SqliteCellConfig> = {
  key: 'sqlite',
  title: 'SQLite',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      cells: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['journalMode', 'synchronous'],
          properties: { journalMode: { type: 'string' }, synchronous: { type: 'string' }, pageSize: { type: 'integer' } },
        },
      },
      grid: { type: 'boolean' },
      profiles: PROFILE_LIST_SCHEMA,
      crashes: { type: 'integer', minimum: 1, maximum: 10000 },
      seed: { type: 'integer', minimum: 0 },
      runtime: { type: 'string', enum: ['local', 'container'] },
    },
  },
  expand(sq: SqliteSection, top, source) {
    refuseDuplicates(source, 'sqlite.profiles', sq.profiles, profileKey);
    refuseDuplicates(source, 'sqlite.cells', sq.cells, (x) => `${x.journalMode.toUpperCase()}/${x.synchronous.toUpperCase()}/${x.pageSize ?? 4096}`);
    if (sq.grid && sq.cells) throw new BadInputError(`${source}: sqlite.grid runs every cell, so sqlite.cells would be ignored; give one of them`);
    if (!sq.grid && !sq.cells) throw new BadInputError('sqlite: give cells: [{journalMode, synchronous, pageSize}] or grid: true');
    const cells: SqliteCell[] = sq.grid ? gridCells() : sq.cells!.map((x) => parseCell({ journalMode: x.journalMode, synchronous: x.synchronous, pageSize: x.pageSize ?? 4096 }));
    const out: SqliteCellConfig[] = [];
    for (const pEntry of sq.profiles ?? top.profiles) {
      const { profile, faults } = profileOf(pEntry);
      getProfile(profile);
      for (const cell of cells) out.push({ cell, profile, faults, crashes: sq.crashes ?? 10, seed: sq.seed ?? top.seed ?? 1, ...(sq.runtime === 'container' ? { runtime: 'container' as const } : {}) });
    }
    return out;
  },
};

const container = (cfg: SqliteCellConfig) => cfg.runtime === 'container';
const describe = (cfg: SqliteCellConfig) => `sqlite${container(cfg) ? '@container' : ''} ${cfg.cell.journalMode}+${cfg.cell.synchronous} on ${cfg.profile}`;

/** What the cell's report measurements read of the cell itself. */
export function sqliteCellSummary(cfg: SqliteCellConfig): SqliteCellSummary {
  return { cell: cfg.cell, cellName: cellName(cfg.cell), seed: cfg.seed, promise: cellPromise(cfg.cell), profile: cfg.profile, faults: cfg.faults, ...(container(cfg) ? { runtime: 'container' as const } : {}) };
}

type Cycle = SqliteCampaignResult['cycles'][number];

export const sqliteAdapter: RealDatabaseAdapter<SqliteCellConfig, Cycle, SqliteCampaignResult, SqliteCycleSummary, CellMeasurements> = {
  kind: 'sqlite',
  command: 'sqlite',
  crashes: (cfg) => cfg.crashes,
  replayId: (cfg, k) => sqliteCycleId(cfg.cell, cfg.seed, k),
  replayHint: 'rerun its cell with tornlab sqlite and the same --journal-mode, --synchronous, --page-size, --profile, --fault, --max-acks and --seed (a cycle\'s cut and survivor choice follow from the seed and its number)',
  describe,
  unavailable: async (cfg) => (container(cfg) ? containerUnavailable('sqlite') : undefined),
  // SQLite runs in-process in a child of this node (better-sqlite3): only the export is needed.
  missing: () => [],
  async prepare(cells) {
    if (cells.some(container)) await resolveSqliteRuntime('container');
  },
  runCell: (cfg, o) => {
    const device = cfg.device !== false;
    const maxAcks = cfg.maxAcks ?? 40;
    return runSqliteCampaign({
      cell: cfg.cell,
      crashes: cfg.crashes,
      seed: cfg.seed,
      shard: { owns: o.owns, deviceCuts: device },
      cycle: { minAcks: Math.min(3, maxAcks), maxAcks, runtime: container(cfg) ? 'container' : 'local' },
      openStorage: (k) =>
        device
          ? openDeviceStorage({
              profile: cfg.profile,
              faults: cfg.faults,
              seed: cfg.seed + k,
              sample: k,
              sizeBytes: cfg.sizeBytes,
              fsChoice: cfg.fsChoice,
              writeShape: cfg.writeShape ? { pageSizeOf: (f) => (f === SQLITE_DB_FILE ? cfg.cell.pageSize : undefined) } : undefined,
              onFsInForce: k === 0 && o.onNote ? (f) => o.onNote!(`file system in force: ${f.fs}, mount ${f.mount}; ${f.format}`) : undefined,
            })
          : openPlainDirectory(),
      onCycle: (_i, c) => o.onCycle?.(c as Cycle),
    });
  },
  async finish(cells) {
    // The containers this run started are gone before the run folder is; the folder goes when nothing is held any more.
    if (cells.some(container)) await settleContainers(runLedger().runId);
    if (cells.some((c) => c.device !== false || container(c))) runLedger().close();
  },
  summary: sqliteCycleSummary,
  measure: (cfg, cycles) => sqliteMeasurementsOf(sqliteCellSummary(cfg), cycles),
  campaignSection: section,
  /** journal_mode=WAL with synchronous=FULL on consumer-tlc, six cycles: SQLite's safe setting, which must pass. */
  async defaultCells(seed) {
    const cfg: SqliteCellConfig = { cell: { journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 }, profile: 'consumer-tlc', faults: [], crashes: 6, seed };
    const exportMissing = missingForExport('ext4');
    if (exportMissing.length > 0) return { cells: [], skipped: [`${describe(cfg)}: no block export here (${exportMissing.map((m) => m.what).join(', ')})`] };
    return { cells: [cfg], skipped: [] };
  },
};
