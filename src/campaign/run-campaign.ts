/**
 * Run a list of cells one after another (each cell uses the worker threads)
 * and build the report. I/O (writing the report directory) is left to the
 * caller.
 */
import { buildCellResult, buildReport } from '../report/build';
import { DEFAULT_CELL, PgCellConfig, runPgCell } from '../../engines/postgres/cycle';
import { pgMeasurements } from '../../engines/postgres/campaign';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { missingForExport, requireExport } from '../export/preconditions';
import { runLedger } from '../export';
import { runSqliteCampaign } from '../../engines/sqlite/campaign';
import { sqliteMeasurements } from '../../engines/sqlite/report';
import { openDeviceStorage } from '../../engines/exec/device-storage';
import { SqliteCampaignCell } from './campaign-file';
import type { Report } from '../report/schema';
import { CellSpec } from './cell';
import { TOOL_VERSION } from '../util/version';
import { CellOutcome, Progress, runCell } from './run-cell';
import { containerUnavailable } from '../export/containers/availability';
import { ImageName } from '../export/containers/images';
import { settle as settleContainers } from '../export/containers/containers';
import { resolveSqliteRuntime } from '../../engines/sqlite/runtime';

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

/**
 * The real-database cells `npm start` adds to the default campaign
 * (`campaign --default --databases`): one PostgreSQL cell (full_page_writes=off
 * on consumer-tlc: the torn page the default campaign is about, in a real
 * database) and one SQLite cell (WAL + synchronous=FULL), each local when the
 * machine has the binaries, else in a container when tornlab's engine and
 * image are there, else skipped with the reason.
 */
export async function defaultDatabaseCells(seed: number): Promise<{ pgCells: PgCellConfig[]; sqliteCells: SqliteCampaignCell[]; skipped: string[] }> {
  const skipped: string[] = [];
  const exportMissing = missingForExport('ext4');
  if (exportMissing.length > 0) {
    const why = `no block export here (${exportMissing.map((m) => m.what).join(', ')})`;
    return { pgCells: [], sqliteCells: [], skipped: [`postgres fpw=off on consumer-tlc: ${why}`, `sqlite WAL+FULL on consumer-tlc: ${why}`] };
  }
  const pg: PgCellConfig = { ...DEFAULT_CELL, fpw: false, seed, crashes: 2 };
  const pgCells: PgCellConfig[] = [];
  if (missingForPostgres().length === 0) pgCells.push(pg);
  else {
    const why = await containerUnavailable('pg15');
    if (why) skipped.push(`postgres fpw=off on consumer-tlc: no local PostgreSQL (${missingForPostgres()[0].what}) and ${why}`);
    else pgCells.push({ ...pg, runtime: 'container', pgVersion: '15' });
  }
  const sqliteCells: SqliteCampaignCell[] = [{ cell: { journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 }, profile: 'consumer-tlc', faults: [], crashes: 6, seed }];
  return { pgCells, sqliteCells, skipped };
}

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
    /** Real SQLite cells, run last. */
    sqliteCells?: SqliteCampaignCell[];
    /** A cell that cannot run here (a container cell without engine or image): one line, and the rest runs. */
    onSkip?: (cell: string, why: string) => void;
  } = {},
): Promise<CampaignRun> {
  // Container cells without an engine or image are skipped, never pretended (issue 12).
  const pgCells: PgCellConfig[] = [];
  for (const c of opts.pgCells ?? []) {
    const why = c.runtime === 'container' ? await containerUnavailable(`pg${c.pgVersion ?? '15'}` as ImageName) : undefined;
    if (why) opts.onSkip?.(`postgres@container${c.pgVersion ?? '15'} fpw=${c.fpw ? 'on' : 'off'} on ${c.profile}`, why);
    else pgCells.push(c);
  }
  const sqliteCells: SqliteCampaignCell[] = [];
  for (const c of opts.sqliteCells ?? []) {
    const why = c.runtime === 'container' ? await containerUnavailable('sqlite') : undefined;
    if (why) opts.onSkip?.(`sqlite@container ${c.cell.journalMode}+${c.cell.synchronous} on ${c.profile}`, why);
    else sqliteCells.push(c);
  }
  // Check the machine before anything runs: a campaign must not fail half way for a missing package.
  if (pgCells.some((c) => c.runtime !== 'container')) requireExport('ext4', missingForPostgres());
  if (pgCells.length > 0 || sqliteCells.length > 0) requireExport('ext4');
  if (sqliteCells.some((c) => c.runtime === 'container')) await resolveSqliteRuntime('container');
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
  try {
    for (let i = 0; i < sqliteCells.length; i++) {
      const sc = sqliteCells[i];
      const t0 = process.hrtime.bigint();
      const r = await runSqliteCampaign({
        cell: sc.cell,
        crashes: sc.crashes,
        seed: sc.seed,
        openStorage: (k) => openDeviceStorage({ profile: sc.profile, faults: sc.faults, seed: sc.seed + k, sample: k }),
        cycle: sc.runtime === 'container' ? { runtime: 'container' } : undefined,
      });
      if (sc.runtime === 'container') await settleContainers(runLedger().runId);
      const m = sqliteMeasurements(r, sc.profile, sc.faults);
      if (sc.runtime === 'container') m.engine = 'sqlite@container';
      const o: CellOutcome = { result: buildCellResult(m), states: [], truncated: false, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
      outcomes.push(o);
      opts.onCell?.(o, cells.length + pgCells.length + i);
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
