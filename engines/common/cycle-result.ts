/**
 * What every real-database crash cycle records the same way, whichever the
 * database (engines/postgres, engines/mariadb): the device's byte counters
 * of a phase, the harness-error note, the cut point as the FUSE export saw
 * it, and the wall-clock summaries of a cell.
 *
 * Invariants:
 *  1. deviceBytes(c, from) is the difference of two readings of one device,
 *     so every field is >= 0 when `from` was read first.
 *  2. noteHarnessError keeps the first error's phase: a cycle names the
 *     phase that failed first, later ones only add findings.
 */
import type { DeviceCounters } from '../../src/device/types';
import type { CutInfo } from '../../src/export/device-host/protocol';
import { HarnessError } from '../../src/util/errors';
import { PhaseDeadlineError } from '../../src/export/watchdog';
import type { Verdict } from '../../src/crash/verdict';
import { p50p99 } from '../../src/util/percentile';

export interface DeviceBytes {
  hostWriteBytes: number;
  writes: number;
  flushes: number;
  nandBytesProgrammed: number;
}

/** No bytes: a cycle that never reached its device. */
export const ZERO_BYTES: DeviceBytes = { hostWriteBytes: 0, writes: 0, flushes: 0, nandBytesProgrammed: 0 };

export function deviceBytes(c: DeviceCounters, from?: DeviceBytes): DeviceBytes {
  const now = { hostWriteBytes: c.hostWriteBytes, writes: c.writes, flushes: c.flushes, nandBytesProgrammed: c.nandBytesProgrammed };
  if (!from) return now;
  return {
    hostWriteBytes: now.hostWriteBytes - from.hostWriteBytes,
    writes: now.writes - from.writes,
    flushes: now.flushes - from.flushes,
    nandBytesProgrammed: now.nandBytesProgrammed - from.nandBytesProgrammed,
  };
}

/** Set when a cycle's verdict is harness-error: the phase that passed its deadline and what was stuck. */
export interface HarnessNote {
  phase: string;
  deadlineMs: number;
  stuck: { pid: number; comm: string; state: string; stack: string[] }[];
}

/** Mark a cycle harness-error (first error wins), naming the phase and what was stuck. */
export function noteHarnessError(res: { verdict: Verdict; harness?: HarnessNote; findings: string[] }, e: HarnessError): void {
  const late = e instanceof PhaseDeadlineError ? e : undefined;
  if (res.verdict !== 'harness-error') {
    res.verdict = 'harness-error';
    res.harness = { phase: e.phase, deadlineMs: late?.deadlineMs ?? 0, stuck: late?.stuck ?? [] };
  }
  // The first finding names the phase and what went wrong (the detail of the verdict).
  res.findings.push(...e.describe());
}

/** Deadline (ms) of each phase of a real-database cycle, before the deadline factor (see src/export/watchdog.ts). */
export interface CycleDeadlines {
  /** Build of the base image: initialise, load, clean shutdown. */
  base: number;
  /** Device, FUSE export, loop device, mount. */
  export: number;
  start: number;
  /** The load and the targeted flush, up to the cut. */
  load: number;
  /** Kill the server, fail pending requests, release the stack. */
  cut: number;
  /** Crash image -> fsck -> mount. */
  fsck: number;
  /** Crash recovery until the server accepts connections. */
  recoveryStart: number;
  /** Oracle and the engine's checks. */
  verify: number;
  /** Teardown after an error or at the end. */
  release: number;
}

/**
 * Phase deadlines scaled with the work: the device's size in GiB (export,
 * fsck and base image grow with it) and the data set in "units" an engine
 * defines (its load, checks and base build grow with them). Generous on
 * purpose — they catch hangs, not slowness — and sized for a loaded 2-core
 * machine. An engine gives its own fixed parts: a slower server gets a
 * longer start, recovery and base build.
 */
export function scaledDeadlines(w: { deviceGiB: number; dataUnits: number; loadMs: number }, fixed: { base: number; start: number; recoveryStart: number; verify: number }): CycleDeadlines {
  return {
    base: Math.round(fixed.base + 60_000 * w.dataUnits + 30_000 * w.deviceGiB),
    export: Math.round(60_000 + 30_000 * w.deviceGiB),
    start: fixed.start,
    load: w.loadMs + 120_000,
    cut: 60_000,
    fsck: Math.round(60_000 + 60_000 * w.deviceGiB),
    recoveryStart: fixed.recoveryStart,
    verify: Math.round(fixed.verify + 60_000 * w.dataUnits),
    release: 60_000,
  };
}

/** The cut point's fields a cycle keeps (the FUSE export's view at the instant of the cut). */
export interface CutPointFields {
  seq: number;
  pendingWrites: number;
  /** Blocks at risk at the cut, and the writes they belong to (lba+nlb). */
  pendingBlocks: number;
  pendingLbas: string[];
  /** The write that made an armed cut strike, as `lba+nlb` (absent when the cut came otherwise). */
  triggerWrite?: string;
  /** The crash state tears that write on purpose (src/device/power-loss.ts tearWrite): `--crash-at unprotected`. */
  tornOnPurpose?: boolean;
}

/** A cycle's cut record: what triggered it and the device's state at that instant; `T` names the engine's triggers. */
export interface CutRecord<T extends string> extends CutPointFields {
  trigger: T;
  afterWrites: number;
  dirtyBytesAtLeast: number;
  /** Largest device-cache fill seen during the targeted flush (bytes). */
  maxDirtyBytes: number;
  heldRequests: number;
  changedBlocks: number;
}

/** Copy the cut point into a cycle's cut record. */
export function recordCutPoint(cut: CutPointFields, point: CutInfo): void {
  cut.seq = point.seq;
  cut.pendingWrites = point.pendingWrites;
  cut.pendingBlocks = point.pendingBlocks;
  cut.pendingLbas = point.pendingLbas;
  if (point.trigger) cut.triggerWrite = `${point.trigger.lba}+${point.trigger.nlb}`;
}

/** p50/p99 of wall-clock commit latencies (whole microseconds), by the one percentile rule. */
export function commitLatencySummaryUs(us: readonly number[]): { p50: number; p99: number } {
  return p50p99(us, Math.round);
}

/** Bytes as whole KiB for a cycle's line ("21244 KiB"). */
export function kib(n: number): string {
  return `${(n / 1024).toFixed(0)} KiB`;
}

/** How many cycles ended in each verdict. */
export function countVerdicts(cycles: readonly { verdict: Verdict }[]): Partial<Record<Verdict, number>> {
  const out: Partial<Record<Verdict, number>> = {};
  for (const c of cycles) out[c.verdict] = (out[c.verdict] ?? 0) + 1;
  return out;
}
