/**
 * Run a list of cells one after another (each cell uses the worker threads)
 * and build the report. I/O (writing the report directory) is left to the
 * caller.
 */
import { buildCellResult, buildReport } from '../report/build';
import { CellResult as PgCellResult, runPgCell } from '../../engines/postgres/cycle';
import { CycleResult as PgCycleResult } from '../../engines/postgres/result';
import { DEFAULT_CELL, PgCellConfig, pgReplayId } from '../../engines/postgres/config';
import { pgCycleSummary } from '../../engines/postgres/campaign';
import { CellResult as MariadbCellResult, CycleResult as MariadbCycleResult, MariadbCellConfig, containerMariadbVersion, replayIdOf as mariadbReplayId, runMariadbCell, runtimeTag as mariadbRuntimeTag } from '../../engines/mariadb/cycle';
import { mariadbImageName } from '../../engines/mariadb/container-server';
import { mariadbCycleSummary } from '../../engines/mariadb/campaign';
import { missingForMariadb } from '../../engines/mariadb/runtime';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { missingForExport, requireExport } from '../export/preconditions';
import { runLedger } from '../export';
import { runSqliteCampaign, SqliteCampaignResult, sqliteCycleId } from '../../engines/sqlite/campaign';
import type { SqliteCell } from '../../engines/sqlite/cell';
import { sqliteCellSummary, sqliteCycleSummary } from '../../engines/sqlite/report';
import { fingerprint, owns, Shard } from '../crash/shard';
import { partMeasurements, ShardPart } from './shard-parts';
import { openDeviceStorage } from '../../engines/exec/device-storage';
import { SqliteCampaignCell } from './campaign-file';
import type { Report } from '../report/schema';
import { CellSpec } from '../crash/cell';
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

/** The plan fields of a part (src/campaign/shard-parts.ts P1): all ids of the cell, and the owned ones. */
export function cover(id: string, planned: readonly string[], mine: readonly string[]) {
  return { id, planned: planned.length, plannedPrint: fingerprint(planned), owned: mine.length, ownedPrint: fingerprint(mine) };
}

/** The cycle ids of a SQLite cell, and the ones the shard owns. */
export function sqliteShare(cell: SqliteCell, crashes: number, seed: number, shard: Shard | undefined): { ids: string[]; mine: string[] } {
  const ids = Array.from({ length: crashes }, (_, k) => sqliteCycleId(cell, seed, k));
  return { ids, mine: ids.filter((id) => owns(shard, id)) };
}

/** A SQLite cell's part: the cycles it ran (the owned ones). */
export function sqlitePart(r: SqliteCampaignResult, profile: string, faults: readonly string[], ids: readonly string[], mine: readonly string[], runtime?: 'local' | 'container'): ShardPart {
  return { kind: 'sqlite', ...cover('', ids, mine), cell: sqliteCellSummary(r, profile, faults, runtime), cycles: r.cycles.map((c) => sqliteCycleSummary(r, c)) };
}

/** A cell's outcome from its part (src/campaign/shard-parts.ts): the report cell of what this shard judged. */
export function outcomeOf(part: ShardPart, t0: bigint): CellOutcome {
  const result = buildCellResult(partMeasurements(part));
  part.id = result.id;
  return { result, states: [], truncated: false, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, part };
}

/**
 * One PostgreSQL cell, or the cycles of it a shard owns (by replay id; the
 * cycles are independent). A shard that owns none builds no base image.
 */
export async function runPgShard(cfg: PgCellConfig, shard: Shard | undefined, o: { onCycle?: (c: PgCycleResult, owned: number) => void } = {}): Promise<{ outcome: CellOutcome; cell?: PgCellResult }> {
  const t0 = process.hrtime.bigint();
  const ids = Array.from({ length: cfg.crashes }, (_, k) => pgReplayId(cfg, k));
  const mine = ids.filter((id) => owns(shard, id));
  const cell = mine.length === 0 ? undefined : await runPgCell(cfg, { owns: (id) => owns(shard, id), onCycle: (c) => o.onCycle?.(c, mine.length) });
  const part: ShardPart = { kind: 'pg', ...cover('', ids, mine), config: cfg, cycles: (cell?.cycles ?? []).map(pgCycleSummary) };
  return { outcome: outcomeOf(part, t0), cell };
}

/** One MariaDB cell, or the cycles of it a shard owns (as runPgShard). */
export async function runMariadbShard(cfg: MariadbCellConfig, shard: Shard | undefined, o: { onCycle?: (c: MariadbCycleResult, owned: number) => void } = {}): Promise<{ outcome: CellOutcome; cell?: MariadbCellResult }> {
  const t0 = process.hrtime.bigint();
  const ids = Array.from({ length: cfg.crashes }, (_, k) => mariadbReplayId(cfg, k));
  const mine = ids.filter((id) => owns(shard, id));
  const cell = mine.length === 0 ? undefined : await runMariadbCell(cfg, { owns: (id) => owns(shard, id), onCycle: (c) => o.onCycle?.(c, mine.length) });
  const part: ShardPart = { kind: 'mariadb', ...cover('', ids, mine), config: cfg, cycles: (cell?.cycles ?? []).map(mariadbCycleSummary) };
  return { outcome: outcomeOf(part, t0), cell };
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
    /** Real MariaDB cells, run after the PostgreSQL ones. */
    mariadbCells?: MariadbCellConfig[];
    /** Real SQLite cells, run last. */
    sqliteCells?: SqliteCampaignCell[];
    /** A cell that cannot run here (a container cell without engine or image): one line, and the rest runs. */
    onSkip?: (cell: string, why: string) => void;
    /** Run one shard: every cell is planned, only the items this shard owns are judged (src/crash/shard.ts). */
    shard?: Shard;
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
  const mariadbCells: MariadbCellConfig[] = [];
  for (const c of opts.mariadbCells ?? []) {
    const why = c.runtime === 'container' ? await containerUnavailable(mariadbImageName(containerMariadbVersion(c))) : undefined;
    if (why) opts.onSkip?.(`mariadb${mariadbRuntimeTag(c)} doublewrite=${c.doublewrite ? 'on' : 'off'} on ${c.profile}`, why);
    else mariadbCells.push(c);
  }
  // Check the machine before anything runs: a campaign must not fail half way for a missing package.
  if (pgCells.some((c) => c.runtime !== 'container')) requireExport('ext4', missingForPostgres());
  if (mariadbCells.some((c) => c.runtime !== 'container')) requireExport('ext4', missingForMariadb());
  if (pgCells.length > 0 || sqliteCells.length > 0 || mariadbCells.length > 0) requireExport('ext4');
  if (sqliteCells.some((c) => c.runtime === 'container')) await resolveSqliteRuntime('container');
  const outcomes: CellOutcome[] = [];
  for (let i = 0; i < cells.length; i++) {
    const o = await runCell(cells[i], { workers: opts.workers, shard: opts.shard, onProgress: (p) => opts.onProgress?.(p, i) });
    outcomes.push(o);
    opts.onCell?.(o, i);
  }
  for (let i = 0; i < pgCells.length; i++) {
    const verdicts: Record<string, number> = {};
    let done = 0;
    const { outcome: o } = await runPgShard(pgCells[i], opts.shard, {
      onCycle: (c, total) => {
        verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
        opts.onProgress?.({ done: ++done, total, verdicts }, cells.length + i);
      },
    });
    outcomes.push(o);
    opts.onCell?.(o, cells.length + i);
  }
  for (let i = 0; i < mariadbCells.length; i++) {
    const verdicts: Record<string, number> = {};
    let done = 0;
    const index = cells.length + pgCells.length + i;
    const { outcome: o } = await runMariadbShard(mariadbCells[i], opts.shard, {
      onCycle: (c, total) => {
        verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
        opts.onProgress?.({ done: ++done, total, verdicts }, index);
      },
    });
    outcomes.push(o);
    opts.onCell?.(o, index);
  }
  try {
    for (let i = 0; i < sqliteCells.length; i++) {
      const sc = sqliteCells[i];
      const t0 = process.hrtime.bigint();
      const { ids, mine } = sqliteShare(sc.cell, sc.crashes, sc.seed, opts.shard);
      const r = await runSqliteCampaign({
        cell: sc.cell,
        crashes: sc.crashes,
        seed: sc.seed,
        openStorage: (k) => openDeviceStorage({ profile: sc.profile, faults: sc.faults, seed: sc.seed + k, sample: k }),
        shard: { owns: (id) => owns(opts.shard, id), deviceCuts: true },
        cycle: sc.runtime === 'container' ? { runtime: 'container' } : undefined,
      });
      if (sc.runtime === 'container') await settleContainers(runLedger().runId);
      const o = outcomeOf(sqlitePart(r, sc.profile, sc.faults, ids, mine, sc.runtime), t0);
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
