/**
 * One SQLite crash cycle on a CrashableStorage:
 *   start the load child -> wait for "ready" -> let it commit until the chosen
 *   cut point -> record the acknowledged txid and cut the power in the same
 *   synchronous step -> SIGKILL -> remount the crash image -> verify child ->
 *   oracle verdict.
 *
 * The cut point is drawn from the cycle's Prng: a number of acknowledged
 * commits, then a short delay (so the cut lands inside a later commit), or,
 * when the storage exposes the device command stream, a number of device
 * commands after that (a targeted cut inside a commit's writes and flushes).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Prng } from '../../src/util/prng';
import { DeviceFullError, isHarnessError } from '../../src/util/errors';
import { CrashableStorage, CutSummary, RemountSummary } from '../common/storage';
import { Started, TimeoutError, killProcessesUsing, sleep, start, withTimeout } from '../common/processes';
import { SqliteCell, cellPromise } from './cell';
import { LoadArgs, VerifyFacts } from './child';
import { OracleResult, judge } from './oracle';
import { DEFAULT_SHAPE, WorkloadShape } from './workload';
import { guard } from '../../src/export/watchdog';
import { SqliteRuntime, childCommand, releaseChild } from './runtime';

/** Deadlines of the storage steps inside a cycle (before the deadline factor). */
const CUT_DEADLINE_MS = 60_000;
const REMOUNT_DEADLINE_MS = 120_000;

/**
 * The child runs compiled JS: next to this file when it runs from dist/, else
 * (ts-jest runs the sources) from dist/ at the repository root.
 */
export const CHILD_JS = fs.existsSync(path.join(__dirname, 'child.js')) ? path.join(__dirname, 'child.js') : path.resolve(__dirname, '../../dist/engines/sqlite/child.js');

export interface CycleOptions {
  cell: SqliteCell;
  /** Workload seed (the same for every cycle is fine: the cut differs). */
  seed: number;
  prng: Prng;
  shape?: WorkloadShape;
  /** Range of acknowledged commits before the cut. */
  minAcks?: number;
  maxAcks?: number;
  /** After the ack target: a delay (ms), or, on a device, a number of write requests. */
  maxDelayMs?: number;
  maxDeviceWrites?: number;
  /** How long an armed cut may wait for its write request before the power is cut anyway (ms). */
  armedCutWaitMs?: number;
  /** Time limits (ms). */
  readyTimeoutMs?: number;
  loadTimeoutMs?: number;
  verifyTimeoutMs?: number;
  /** Where the children run (default local; container: resolveSqliteRuntime first). */
  runtime?: SqliteRuntime;
}

export interface CycleResult extends OracleResult {
  cut: CutSummary & RemountSummary & { afterAcks: number; delayMs?: number; afterWrites?: number; armedCutFired?: boolean };
  /** Load child's stderr/stdout tail when it failed by itself before the cut. */
  loadError?: string;
  journalModeAfter?: string;
  files?: Record<string, number>;
  ms: { load: number; cutAndRemount: number; verify: number };
}

/**
 * The cycle's cut, drawn from the campaign's one sequential stream: a shard
 * draws it for the cycles it skips too, so that the cycles it owns get the
 * cuts an unsharded run gives them.
 */
export function drawCut(prng: Prng, o: Pick<CycleOptions, 'minAcks' | 'maxAcks' | 'maxDeviceWrites' | 'maxDelayMs'>, useDevice: boolean): { afterAcks: number; afterWrites?: number; delayMs?: number } {
  const afterAcks = prng.int(o.minAcks ?? 3, o.maxAcks ?? 40);
  const afterWrites = useDevice ? prng.int(0, o.maxDeviceWrites ?? 60) : undefined;
  const delayMs = useDevice ? undefined : prng.int(0, o.maxDelayMs ?? 10);
  return { afterAcks, afterWrites, delayMs };
}

/** The database file of a cycle, in the storage's directory. */
export const SQLITE_DB_FILE = 'bank.db';

export async function runCycle(storage: CrashableStorage, o: CycleOptions): Promise<CycleResult> {
  const shape = o.shape ?? DEFAULT_SHAPE;
  const dbPath = path.join(storage.dir, SQLITE_DB_FILE);
  const useDevice = !!storage.armCut;
  const { afterAcks, afterWrites, delayMs } = drawCut(o.prng, o, useDevice);

  const t0 = Date.now();
  let ready = false;
  let acked = 0;
  let childError: string | undefined;
  let wake: () => void = () => undefined;
  const args: LoadArgs = { dbPath, cell: o.cell, seed: o.seed, shape };
  const rt = o.runtime ?? 'local';
  const loadCmd = childCommand(rt, CHILD_JS, 'load', JSON.stringify(args), storage.dir);
  const load = start(loadCmd.file, loadCmd.args, {
    onLine: (line) => {
      if (line.startsWith('ack ')) acked = Number(line.slice(4));
      else if (line === 'ready') ready = true;
      else if (line.startsWith('error ')) childError = line.slice(6);
      wake();
    },
  });
  const progressed = () => new Promise<void>((r) => (wake = r));
  // A full device is the user's sizing, not a finding or a harness failure (exit 2).
  const refuseFull = () => {
    if (childError !== undefined && /SQLITE_FULL|ENOSPC/.test(childError)) throw new DeviceFullError(`the device is full: SQLite stopped with SQLITE_FULL after ${acked} acknowledged commits`, acked);
  };
  let cut: CycleResult['cut'];
  try {
    const exitedEarly = load.exited.then(() => 'exited' as const);
    const waitFor = async (cond: () => boolean, ms: number, what: string) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        const left = deadline - Date.now();
        if (left <= 0) throw new TimeoutError(`${what} did not happen within ${ms} ms`);
        const r = await Promise.race([progressed(), exitedEarly, sleep(Math.min(left, 250))]);
        if (r === 'exited' && !cond()) refuseFull();
        if (r === 'exited' && !cond()) throw new Error(`SQLite load child exited before ${what}: ${childError ?? load.output().slice(-2000)}`);
      }
    };
    await waitFor(() => ready, o.readyTimeoutMs ?? 30000, 'the database setup');
    await waitFor(() => acked >= afterAcks || childError !== undefined, o.loadTimeoutMs ?? 60000, `${afterAcks} acknowledged commits`);
    refuseFull();
    if (childError !== undefined) throw new Error(`SQLite load child failed: ${childError}`);
    // The cut itself: the acknowledged txid is read and the device stopped in one
    // synchronous step, so no later commit can be acknowledged and then lost unseen.
    let ackedAtCut = -1;
    let summary: Promise<CutSummary>;
    // Signal only: the child may sit in an fsync the dead device will answer (EIO)
    // only after this returns; its exit is awaited after the release.
    const killLoad = async () => {
      load.signalKill();
      await killProcessesUsing(storage.dir, 0);
    };
    let armedCutFired: boolean | undefined;
    if (useDevice) {
      // Targeted: the device cuts right before the (afterWrites+1)-th write request,
      // and the acknowledged txid is taken in that same synchronous step.
      const fired = new Promise<void>((resolve) =>
        storage.armCut!(afterWrites!, () => {
          ackedAtCut = acked;
          resolve();
        }),
      );
      armedCutFired = await Promise.race([fired.then(() => true), sleep(o.armedCutWaitMs ?? 1000).then(() => false)]);
      if (!armedCutFired) {
        storage.disarm?.(); // the workload stalled or wrote nothing: cut now
        ackedAtCut = acked;
      }
      summary = storage.powerCut(killLoad);
    } else {
      if (delayMs) await sleep(delayMs);
      ackedAtCut = acked;
      summary = storage.powerCut(killLoad);
    }
    const tCut = Date.now();
    const cutSummary = await guard('cut', CUT_DEADLINE_MS, summary);
    await withTimeout(load.exited, 10000, 'the SQLite load child to die after SIGKILL');
    let remount: RemountSummary;
    try {
      remount = await guard('fsck', REMOUNT_DEADLINE_MS, storage.remountCrashImage());
    } catch (e) {
      if (isHarnessError(e)) throw e;
      // The file system under SQLite did not come back (e2fsck or mount refused the crash
      // image): nothing SQLite could recover. Reported, and attributed to the file system.
      cut = { ...cutSummary, afterAcks, delayMs, afterWrites, armedCutFired };
      return {
        verdict: 'recovery-failed',
        ackedTxid: ackedAtCut,
        balanceExpected: shape.accounts * shape.initialBalance,
        messages: [`file system: the crash image could not be checked and mounted: ${(e as Error).message}`],
        finding: true,
        cut,
        ms: { load: tCut - t0, cutAndRemount: Date.now() - tCut, verify: 0 },
      };
    }
    cut = { ...cutSummary, ...remount, afterAcks, delayMs, afterWrites, armedCutFired };
    const tRemount = Date.now();
    // The crash image may be mounted elsewhere than the pre-crash file system: ask again.
    const verify = await verifyDatabase(path.join(storage.dir, SQLITE_DB_FILE), o.verifyTimeoutMs ?? 30000, rt, storage.dir);
    const tEnd = Date.now();
    const ms = { load: tCut - t0, cutAndRemount: tRemount - tCut, verify: tEnd - tRemount };
    if ('failure' in verify) {
      return {
        verdict: 'recovery-failed',
        ackedTxid: ackedAtCut,
        balanceExpected: shape.accounts * shape.initialBalance,
        messages: [verify.failure],
        finding: true,
        cut,
        ms,
      };
    }
    const r = judge(verify.facts, ackedAtCut, o.seed, shape, cellPromise(o.cell));
    return { ...r, cut, journalModeAfter: verify.facts.journalMode, files: verify.facts.files, ms };
  } finally {
    storage.disarm?.();
    await load.kill();
    releaseChild(loadCmd, false);
  }
}

/** Run the verify child against a recovered database; a crash or timeout of SQLite itself is recovery-failed. */
export async function verifyDatabase(dbPath: string, timeoutMs: number, rt: SqliteRuntime = 'local', dir = path.dirname(dbPath)): Promise<{ facts: VerifyFacts } | { failure: string }> {
  let factsLine: string | undefined;
  let errorLine: string | undefined;
  let byItself = false;
  const cmd = childCommand(rt, CHILD_JS, 'verify', JSON.stringify({ dbPath }), dir);
  const v: Started = start(cmd.file, cmd.args, {
    onLine: (line) => {
      if (line.startsWith('facts ')) factsLine = line.slice(6);
      else if (line.startsWith('error ')) errorLine = line.slice(6);
    },
  });
  try {
    const r = await withTimeout(v.exited, timeoutMs, 'SQLite recovery and verification');
    byItself = r.signal === null;
    if (factsLine) return { facts: JSON.parse(factsLine) as VerifyFacts };
    return { failure: `verifier ended (code ${r.code}, signal ${r.signal}) without a result: ${errorLine ?? v.output().slice(-2000)}` };
  } catch (e) {
    if (e instanceof TimeoutError) return { failure: e.message };
    throw e;
  } finally {
    await v.kill();
    releaseChild(cmd, byItself);
  }
}
