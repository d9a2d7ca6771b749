/**
 * Run a list of cells one after another (each cell uses the worker threads)
 * and build the report. I/O (writing the report directory) is left to the
 * caller.
 */
import { buildCellResult, buildReport } from '../report/build';
import { DEFAULT_CELL, PgCellConfig } from '../../engines/postgres/config';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { MariadbCellConfig } from '../../engines/mariadb/cycle';
import { REAL_DATABASES } from '../../engines/real-databases';
import type { RealDatabaseAdapter, RealDatabaseCycle } from '../crash/adapter';
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
 * The one real-database lane: a cell of any real-database adapter, or the
 * cycles of it a shard owns (by replay id; the cycles are independent). A
 * shard that owns none builds no base image. Names no engine: the adapter
 * comes from the caller (engines/real-databases.ts is the registry).
 */
export async function runRealDatabaseShard<Cfg, Cycle extends RealDatabaseCycle, Cell extends { cycles: Cycle[] }>(
  adapter: RealDatabaseAdapter<Cfg, Cycle, Cell>,
  cfg: Cfg,
  shard: Shard | undefined,
  o: { onCycle?: (c: Cycle, owned: number) => void } = {},
): Promise<{ outcome: CellOutcome; cell?: Cell }> {
  const t0 = process.hrtime.bigint();
  const ids = Array.from({ length: adapter.crashes(cfg) }, (_, k) => adapter.replayId(cfg, k));
  const mine = ids.filter((id) => owns(shard, id));
  const cell = mine.length === 0 ? undefined : await adapter.runCell(cfg, { owns: (id) => owns(shard, id), onCycle: (c) => o.onCycle?.(c, mine.length) });
  const part = { kind: adapter.kind, ...cover('', ids, mine), config: cfg, cycles: (cell?.cycles ?? []).map((c) => adapter.summary(c)) } as ShardPart;
  return { outcome: outcomeOf(part, t0), cell };
}

/** The cells of one adapter that can run here; the others are skipped with one line each (never pretended, issue 12). */
async function runnable<Cfg>(adapter: RealDatabaseAdapter<Cfg>, cells: readonly Cfg[], onSkip?: (cell: string, why: string) => void): Promise<{ adapter: RealDatabaseAdapter<Cfg>; cfg: Cfg }[]> {
  const out: { adapter: RealDatabaseAdapter<Cfg>; cfg: Cfg }[] = [];
  for (const cfg of cells) {
    const why = await adapter.unavailable(cfg);
    if (why) onSkip?.(adapter.describe(cfg), why);
    else out.push({ adapter, cfg });
  }
  return out;
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
  const realCells: { adapter: RealDatabaseAdapter; cfg: unknown }[] = await runnable(REAL_DATABASES.pg, opts.pgCells ?? [], opts.onSkip);
  const sqliteCells: SqliteCampaignCell[] = [];
  for (const c of opts.sqliteCells ?? []) {
    const why = c.runtime === 'container' ? await containerUnavailable('sqlite') : undefined;
    if (why) opts.onSkip?.(`sqlite@container ${c.cell.journalMode}+${c.cell.synchronous} on ${c.profile}`, why);
    else sqliteCells.push(c);
  }
  realCells.push(...(await runnable(REAL_DATABASES.mariadb, opts.mariadbCells ?? [], opts.onSkip)));
  // Check the machine before anything runs: a campaign must not fail half way for a missing package.
  for (const adapter of new Set(realCells.map((c) => c.adapter))) {
    const local = realCells.find((c) => c.adapter === adapter && adapter.missing(c.cfg).length > 0);
    if (local) requireExport('ext4', adapter.missing(local.cfg));
  }
  if (realCells.length > 0 || sqliteCells.length > 0) requireExport('ext4');
  if (sqliteCells.some((c) => c.runtime === 'container')) await resolveSqliteRuntime('container');
  const outcomes: CellOutcome[] = [];
  for (let i = 0; i < cells.length; i++) {
    const o = await runCell(cells[i], { workers: opts.workers, shard: opts.shard, onProgress: (p) => opts.onProgress?.(p, i) });
    outcomes.push(o);
    opts.onCell?.(o, i);
  }
  for (let i = 0; i < realCells.length; i++) {
    const verdicts: Record<string, number> = {};
    let done = 0;
    const index = cells.length + i;
    const { outcome: o } = await runRealDatabaseShard(realCells[i].adapter, realCells[i].cfg, opts.shard, {
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
      opts.onCell?.(o, cells.length + realCells.length + i);
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
