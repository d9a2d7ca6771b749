/**
 * Run a list of cells one after another (each cell uses the worker threads)
 * and build the report. I/O (writing the report directory) is left to the
 * caller.
 */
import { buildReport } from '../report/build';
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
export const DEFAULT_CAMPAIGN = {
  name: 'default',
  engine: 'minipage',
  modes: ['none', 'doublewrite', 'fpw', 'atomic'],
  profiles: ['consumer-tlc', 'atomic-16k', 'enterprise-plp'],
  pageSizes: [8192],
  workloads: [
    { name: 'bank', txns: 300 },
    { name: 'kv-zipf', txns: 300 },
  ],
  crashes: 2000,
  seed: 42,
  strategy: 'mixed',
  crashDuringRecovery: false,
  forceAtomic: true,
} as const;

export async function runCampaign(
  cells: CellSpec[],
  config: Record<string, unknown>,
  opts: { workers?: number; onProgress?: (p: Progress, index: number) => void; onCell?: (o: CellOutcome, index: number) => void; generatedAt?: string; title?: string } = {},
): Promise<CampaignRun> {
  const outcomes: CellOutcome[] = [];
  for (let i = 0; i < cells.length; i++) {
    const o = await runCell(cells[i], { workers: opts.workers, onProgress: (p) => opts.onProgress?.(p, i) });
    outcomes.push(o);
    opts.onCell?.(o, i);
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
