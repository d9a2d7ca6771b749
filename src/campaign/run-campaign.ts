/**
 * Run a list of cells one after another (each cell uses the worker threads)
 * and build the report. I/O (writing the report directory) is left to the
 * caller.
 */
import { buildCellResult, buildReport } from '../report/build';
import { PgCellConfig, runPgCell } from '../../engines/postgres/cycle';
import { pgMeasurements } from '../../engines/postgres/campaign';
import { MariadbCellConfig, runMariadbCell } from '../../engines/mariadb/cycle';
import { mariadbMeasurements } from '../../engines/mariadb/campaign';
import { missingForMariadb } from '../../engines/mariadb/runtime';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { requireExport } from '../export/preconditions';
import { runLedger } from '../export';
import { runSqliteCampaign } from '../../engines/sqlite/campaign';
import { sqliteMeasurements } from '../../engines/sqlite/report';
import { openDeviceStorage } from '../../engines/exec/device-storage';
import { SqliteCampaignCell } from './campaign-file';
import type { Report } from '../report/schema';
import { CellSpec } from './cell';
import { TOOL_VERSION } from '../util/version';
import { CellOutcome, Progress, runCell } from './run-cell';

export interface CampaignRun {
  report: Report;
  outcomes: CellOutcome[];
}

export { TOOL_VERSION };

/** The default campaign (`npm start`): the question the tool exists to answer, in a few minutes. */
/**
 * The default campaign (`npm start`): the question the tool exists to answer,
 * in a few minutes, at a scale where every protection's windows open (the
 * data set exceeds the 24-frame pool, a checkpoint step writes 24 pages
 * through an 8-page doublewrite area), with every positive control beside it.
 */
export const DEFAULT_CAMPAIGN = {
  name: 'default',
  engine: 'minipage',
  modes: ['none', 'doublewrite', 'fpw', 'atomic'],
  profiles: ['consumer-tlc', 'atomic-16k', 'enterprise-plp'],
  pageSizes: [8192],
  workloads: [
    { name: 'bank', txns: 300 },
    { name: 'ycsb-a', txns: 400 },
    { name: 'tpcc-like', txns: 300 },
  ],
  keys: 2000,
  frames: 24,
  checkpointEvery: 40,
  checkpointBatch: 24,
  crashes: 500,
  seed: 42,
  strategy: 'mixed',
  crashDuringRecovery: false,
  forceAtomic: true,
  controls: true,
} as const;

export async function runCampaign(
  cells: CellSpec[],
  config: Record<string, unknown>,
  opts: {
    workers?: number;
    onProgress?: (p: Progress, index: number) => void;
    onCell?: (o: CellOutcome, index: number) => void;
    generatedAt?: string;
    title?: string;
    /** Real PostgreSQL cells, run after the in-process ones (each cycle mounts a real file system). */
    pgCells?: PgCellConfig[];
    /** Real MariaDB cells, run after the PostgreSQL ones. */
    mariadbCells?: MariadbCellConfig[];
    /** Real SQLite cells, run last. */
    sqliteCells?: SqliteCampaignCell[];
  } = {},
): Promise<CampaignRun> {
  const pgCells = opts.pgCells ?? [];
  // Check the machine before anything runs: a campaign must not fail half way for a missing package.
  const sqliteCells = opts.sqliteCells ?? [];
  const mariadbCells = opts.mariadbCells ?? [];
  if (pgCells.length > 0) requireExport('ext4', missingForPostgres());
  if (mariadbCells.length > 0) requireExport('ext4', missingForMariadb());
  if (sqliteCells.length > 0) requireExport('ext4');
  const outcomes: CellOutcome[] = [];
  for (let i = 0; i < cells.length; i++) {
    const o = await runCell(cells[i], { workers: opts.workers, onProgress: (p) => opts.onProgress?.(p, i) });
    outcomes.push(o);
    opts.onCell?.(o, i);
  }
  for (let i = 0; i < pgCells.length; i++) {
    const t0 = process.hrtime.bigint();
    const verdicts: Record<string, number> = {};
    const r = await runPgCell(pgCells[i], {
      onCycle: (c) => {
        verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
        opts.onProgress?.({ done: c.cycle + 1, total: pgCells[i].crashes, verdicts }, cells.length + i);
      },
    });
    const o: CellOutcome = { result: buildCellResult(pgMeasurements(r)), states: [], truncated: false, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
    outcomes.push(o);
    opts.onCell?.(o, cells.length + i);
  }
  for (let i = 0; i < mariadbCells.length; i++) {
    const t0 = process.hrtime.bigint();
    const verdicts: Record<string, number> = {};
    const index = cells.length + pgCells.length + i;
    const r = await runMariadbCell(mariadbCells[i], {
      onCycle: (c) => {
        verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
        opts.onProgress?.({ done: c.cycle + 1, total: mariadbCells[i].crashes, verdicts }, index);
      },
    });
    const o: CellOutcome = { result: buildCellResult(mariadbMeasurements(r)), states: [], truncated: false, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
    outcomes.push(o);
    opts.onCell?.(o, index);
  }
  try {
    for (let i = 0; i < sqliteCells.length; i++) {
      const sc = sqliteCells[i];
      const t0 = process.hrtime.bigint();
      const r = await runSqliteCampaign({
        cell: sc.cell,
        crashes: sc.crashes,
        seed: sc.seed,
        openStorage: (k) => openDeviceStorage({ profile: sc.profile, faults: sc.faults, seed: sc.seed + k, sample: k }),
      });
      const o: CellOutcome = { result: buildCellResult(sqliteMeasurements(r, sc.profile, sc.faults)), states: [], truncated: false, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
      outcomes.push(o);
      opts.onCell?.(o, cells.length + pgCells.length + mariadbCells.length + i);
    }
  } finally {
    if (sqliteCells.length > 0) runLedger().close();
  }
  const report = buildReport({
    toolVersion: TOOL_VERSION,
    generatedAt: opts.generatedAt,
    title: opts.title ?? `tornlab campaign ${String(config.name ?? '')}`.trim(),
    campaign: config,
    cells: outcomes.map((o) => o.result),
  });
  return { report, outcomes };
}
