/**
 * Worker-thread entry: a long-lived worker of the campaign's pool. Each
 * message is one job (a share of a cell's crash states); the reply carries
 * the job id. Input and output are plain data (structured clone).
 */
import { parentPort } from 'worker_threads';
import { CellSpec } from '../crash/cell';
import { getAdapter } from './engines';
import { evaluateStates } from './evaluate';
import { PlannedState } from '../crash/strategies';

interface Job {
  jobId: number;
  cell: CellSpec;
  states: PlannedState[];
}

parentPort!.on('message', (job: Job) => {
  try {
    const results = evaluateStates(getAdapter(job.cell.engine), job.cell, job.states, (done, verdicts) =>
      parentPort!.postMessage({ jobId: job.jobId, type: 'progress', done, verdicts }),
    );
    parentPort!.postMessage({ jobId: job.jobId, type: 'done', results });
  } catch (e) {
    parentPort!.postMessage({ jobId: job.jobId, type: 'error', message: (e as Error).stack ?? String(e) });
  }
});
