/**
 * Worker-thread entry: a long-lived worker of one of the campaign's pools
 * (src/campaign/run-cell.ts). Each message is one job: a share of a cell's
 * crash states to judge, or a cell's cost run; the reply carries the job id.
 * Input and output are plain data (structured clone).
 */
import { parentPort } from 'worker_threads';
import { getAdapter } from './engines';
import { evaluateStates } from './evaluate';
import type { PoolJob } from './run-cell';

parentPort!.on('message', ({ jobId, job }: { jobId: number; job: PoolJob }) => {
  try {
    const adapter = getAdapter(job.cell.engine);
    const result =
      job.kind === 'costs'
        ? adapter.costRun!(job.cell)
        : evaluateStates(adapter, job.cell, job.states, (done, verdicts) => parentPort!.postMessage({ jobId, type: 'progress', done, verdicts }));
    parentPort!.postMessage({ jobId, type: 'done', result });
  } catch (e) {
    parentPort!.postMessage({ jobId, type: 'error', message: (e as Error).stack ?? String(e) });
  }
});
