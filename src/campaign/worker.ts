/**
 * Worker-thread entry: judge one share of a cell's crash states and post the
 * results back. Input and output are plain data (structured clone).
 */
import { parentPort, workerData } from 'worker_threads';
import { CellSpec } from './cell';
import { getAdapter } from './engines';
import { evaluateStates } from './evaluate';
import { PlannedState } from '../crash/strategies';

interface Job {
  cell: CellSpec;
  states: PlannedState[];
}

const job = workerData as Job;
try {
  const results = evaluateStates(getAdapter(job.cell.engine), job.cell, job.states, (done, verdicts) => parentPort!.postMessage({ type: 'progress', done, verdicts }));
  parentPort!.postMessage({ type: 'done', results });
} catch (e) {
  parentPort!.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) });
}
