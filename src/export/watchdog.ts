/**
 * Phase deadlines for real-database cycles, held by a watchdog that lives
 * outside the orchestrating thread (a worker thread: watchdog-worker.ts).
 *
 *   const r = await guard('recovery-start', deadlines.recoveryStart, server.start());
 *
 * If the phase has not settled by its deadline, the watchdog aborts the
 * run's FUSE connections, kills the run's processes and rejects the phase
 * with a `PhaseDeadlineError` (a HarnessError) naming the phase, the deadline and the kernel stack
 * of whatever was stuck. Callers turn that into the `harness-error`
 * verdict (not a finding about the database; CLI exit 3) and tear down.
 *
 * Invariants:
 *  1. The deadline is kept by a thread that the orchestrating thread cannot
 *     block: a JS timer here would not fire while this thread waits in the
 *     kernel, the worker's does.
 *  2. A guard settles exactly once: with the work's result, or with the
 *     PhaseDeadlineError; a late result of the abandoned work is swallowed.
 *  3. The watchdog touches only this run's resources: its FUSE connections
 *     from the run ledger, its descendants and processes with its marker —
 *     never the device host (it is needed for the release that follows).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { HarnessError } from '../util/errors';
import { deviceHostPid } from './device-host/client';
import { currentLedger } from './ledger';
import type { ExpiredMessage, StuckProcess, ToWatchdog } from './watchdog-worker';

export type { StuckProcess } from './watchdog-worker';

const WORKER_JS = fs.existsSync(path.join(__dirname, 'watchdog-worker.js')) ? path.join(__dirname, 'watchdog-worker.js') : path.resolve(__dirname, '../../dist/src/export/watchdog-worker.js');

/** A phase passed its deadline: the testbed itself failed (verdict `harness-error`, not a finding). */
export class PhaseDeadlineError extends HarnessError {
  constructor(
    phase: string,
    readonly deadlineMs: number,
    readonly stuck: StuckProcess[] = [],
    readonly notes: string[] = [],
  ) {
    super(phase, `phase "${phase}" passed its deadline of ${deadlineMs} ms${stuck.length ? `; stuck: ${stuck.map((s) => `${s.comm}[${s.pid}] in ${s.stack[0] ?? '?'}`).join(', ')}` : ''}`);
  }

  /** Lines for a report: the phase, then each stuck process with its kernel stack. */
  override describe(): string[] {
    const out = [this.message];
    for (const s of this.stuck) out.push(`  ${s.comm}[${s.pid}] state ${s.state}: ${s.stack.slice(0, 8).join(' <- ') || '(no kernel stack)'}`);
    out.push(...this.notes.map((d) => `  ${d}`));
    return out;
  }
}

let worker: Worker | undefined;
let nextToken = 1;
const waiting = new Map<number, (m: ExpiredMessage) => void>();

function theWorker(): Worker {
  if (worker) return worker;
  if (!fs.existsSync(WORKER_JS)) throw new Error(`watchdog worker ${WORKER_JS} is missing: run \`npm run build\` first`);
  const w = new Worker(WORKER_JS);
  w.on('message', (m: ExpiredMessage) => waiting.get(m.token)?.(m));
  w.on('error', (e) => process.stderr.write(`tornlab: watchdog: ${e.message}\n`));
  w.on('exit', () => {
    if (worker === w) worker = undefined;
  });
  w.unref();
  worker = w;
  return w;
}

function post(m: ToWatchdog): void {
  theWorker().postMessage(m);
}

/** A multiplier for every deadline: TORNLAB_DEADLINE_FACTOR, or set by the CLI's --deadline-factor. */
let factor = Number(process.env.TORNLAB_DEADLINE_FACTOR ?? '1') || 1;

export function setDeadlineFactor(f: number): void {
  if (!(f > 0) || !Number.isFinite(f)) throw new RangeError(`deadline factor must be > 0, got ${f}`);
  factor = f;
}

export function deadlineFactor(): number {
  return factor;
}

/** The deadline a guard of `ms` really keeps: `ms` times the deadline factor. */
export function phaseDeadlineMs(ms: number): number {
  return Math.max(1, Math.round(ms * factor));
}

/**
 * The timeout for a wait inside a guarded phase (a server's start: "until it
 * accepts connections or exits"). It outlasts the guard, so a wait that
 * never ends is the guard's to end: a harness-error naming the phase and what
 * was stuck, never a verdict about the database. (A server start that gave up
 * on its own, at 120 s inside a 150 s phase, made a slow crash recovery on a
 * loaded machine look like `recovery-failed`.)
 */
export function outlastingGuard(ms: number): number {
  return phaseDeadlineMs(ms) + 10_000;
}

/**
 * Run `work` as phase `phase` with a deadline of `ms` (times the deadline
 * factor). Resolves with its result, or rejects with a HarnessError after
 * the watchdog ended whatever kept it from finishing (PhaseDeadlineError).
 */
export function guard<T>(phase: string, ms: number, work: Promise<T> | (() => Promise<T>)): Promise<T> {
  const deadline = phaseDeadlineMs(ms);
  const token = nextToken++;
  const started = Date.now();
  const p = typeof work === 'function' ? work() : work;
  // The run's ledger if it has one; a guard never creates one (it would leave a run folder behind).
  const ledger = currentLedger();
  let settled = false;
  const expiry = new Promise<ExpiredMessage>((r) => waiting.set(token, r));
  // The worker is unref'd; while a phase runs, this keeps the process alive for its expiry.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const finish = () => {
    settled = true;
    waiting.delete(token);
    clearInterval(keepAlive);
    try {
      post({ kind: 'disarm', token });
    } catch {
      // no worker: nothing armed
    }
  };
  const harness = (m: ExpiredMessage, cause?: unknown) =>
    new PhaseDeadlineError(m.phase, m.ms, m.stuck, [
      ...(m.abortedConnections.length ? [`aborted FUSE connection(s) ${m.abortedConnections.join(', ')}`] : []),
      ...(m.killed.length ? [`killed ${m.killed.length} process(es) of the run`] : []),
      ...m.notes,
      ...(cause ? [`then: ${(cause as Error)?.message ?? String(cause)}`] : []),
    ]);
  post({ kind: 'arm', token, phase, ms: deadline, mainPid: process.pid, hostPid: deviceHostPid(), runId: ledger?.runId, runDir: ledger?.dir });
  return new Promise<T>((resolve, reject) => {
    void expiry.then((m) => {
      if (settled) return;
      finish();
      reject(harness(m));
    });

    // Past the deadline, an outcome is most likely the watchdog's own doing (an aborted
    // connection fails the I/O the work waited for, and the work may even swallow that
    // failure): wait briefly for its report, which wins (invariant 2).
    const outcome = (ok: boolean, v: unknown) => {
      if (settled) return;
      if (Date.now() - started < deadline) {
        finish();
        return ok ? resolve(v as T) : reject(v);
      }
      settled = true;
      const late = setTimeout(() => {
        finish();
        if (ok) resolve(v as T);
        else reject(v);
      }, 3000);
      void expiry.then((m) => {
        clearTimeout(late);
        finish();
        reject(harness(m, ok ? undefined : v));
      });
    };
    p.then(
      (v) => outcome(true, v),
      (e) => outcome(false, e),
    );
  });
}

/** Stop the watchdog thread (tests). */
export async function stopWatchdog(): Promise<void> {
  const w = worker;
  worker = undefined;
  if (w) await w.terminate();
}
