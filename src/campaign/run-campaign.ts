/**
 * Run a list of cells one after another (each cell uses the worker threads)
 * and build the report. I/O (writing the report directory) is left to the
 * caller.
 */
import { buildReport } from '../report/build';
import type { Report } from '../report/schema';
import { CellSpec } from '../crash/cell';
import type { Shard } from '../crash/shard';
import { TOOL_VERSION } from '../util/version';
import { CellOutcome, Progress, defaultWorkers, runCell, startCostRuns } from './run-cell';
import { RealCell, prepareRealDatabaseCells, runRealDatabaseCells } from './real-database-lane';
import { DEFAULT_ENGINE } from './engines';

export interface CampaignRun {
  report: Report;
  outcomes: CellOutcome[];
}

export { TOOL_VERSION };

/**
 * The default campaign (`npm start`): the question the tool exists to answer,
 * in a few minutes, at a scale where every protection's windows open (the
 * data set exceeds the 24-frame pool, a checkpoint step writes 24 pages
 * through an 8-page doublewrite area), with every positive control beside it,
 * and each cell's costs from a long crash-free run.
 */
export const DEFAULT_CAMPAIGN = {
  name: 'default',
  engine: DEFAULT_ENGINE,
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
  // Costs at scale: a crash-free run per cell of 100,000 transactions after a warm-up (`--no-costs` skips them).
  costTxns: 100_000,
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
    /** Real-database cells (src/campaign/real-database-lane.ts), run after the in-process ones, in this order. */
    realCells?: RealCell[];
    /** A cell that cannot run here (a container cell without engine or image): one line, and the rest runs. */
    onSkip?: (cell: string, why: string) => void;
    /** Run one shard: every cell is planned, only the items this shard owns are judged (src/crash/shard.ts). */
    shard?: Shard;
  } = {},
): Promise<CampaignRun> {
  // Checked before anything runs: a campaign must not fail half way for a missing package.
  const realCells = await prepareRealDatabaseCells(opts.realCells ?? [], opts.onSkip);
  const outcomes: CellOutcome[] = [];
  // Cost runs (long crash-free workloads) all start now, on a pool of their own, so they overlap
  // every cell's judging; with one worker everything stays in this thread, one cell after another.
  const workers = opts.workers ?? defaultWorkers();
  const costs = workers > 1 ? startCostRuns(cells, { shard: opts.shard, concurrency: workers }) : new Map();
  for (let i = 0; i < cells.length; i++) {
    const o = await runCell(cells[i], { workers: opts.workers, shard: opts.shard, costs: costs.get(i), onProgress: (p) => opts.onProgress?.(p, i) });
    outcomes.push(o);
    opts.onCell?.(o, i);
  }
  outcomes.push(
    ...(await runRealDatabaseCells(realCells, {
      shard: opts.shard,
      onProgress: (p, i) => opts.onProgress?.(p, cells.length + i),
      onCell: (o, i) => opts.onCell?.(o, cells.length + i),
    })),
  );
  const report = buildReport({
    toolVersion: TOOL_VERSION,
    generatedAt: opts.generatedAt,
    title: opts.title ?? `tornlab campaign ${String(config.name ?? '')}`.trim(),
    campaign: config,
    cells: outcomes.map((o) => o.result),
  });
  return { report, outcomes };
}

/** The real-database lane's entry for one cell (src/campaign/real-database-lane.ts), for the engine commands. */
export { runRealDatabaseShard } from './real-database-lane';
