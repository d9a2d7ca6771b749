/**
 * What a PostgreSQL crash cycle records: the cut, the load, the WAL between
 * the load's start and the cut, the device's bytes, recovery and the checks,
 * and the verdict with PostgreSQL's own words.
 *
 * Invariants:
 *  1. A cycle's result starts as emptyCycleResult: ok, nothing measured, its
 *     replay id set (so even a harness error names the cycle to replay).
 *  2. wal.lsnBytes and (when pg_waldump could read the range) records/fpi are
 *     exact; the pg_stat_wal deltas lag (backends report at most once a second).
 */
import { FsInForce } from '../../src/export/fs-options';
import { HarnessError } from '../../src/util/errors';
import { CutRecord, DeviceBytes, HarnessNote, ZERO_BYTES, noteHarnessError } from '../common/cycle-result';
import type { OracleResult } from './bank';
import { PgCellConfig, pgReplayId } from './config';
import type { Verdict } from './verdict';
import type { PgWriteShape } from './write-shape';

/**
 * WAL of the cycle's load, from the server's start to the last snapshot
 * before the cut. lsnBytes and (when pg_waldump could read the range on the
 * crash image) records/fpi are exact; the pg_stat_wal deltas lag, because
 * backends report their WAL counters at most once a second.
 */
export interface WalStats {
  startLsn: string;
  endLsn: string;
  /** WAL bytes between the two LSNs (pg_current_wal_lsn). */
  lsnBytes: number;
  /** Records and full-page images in the range, counted by pg_waldump (-1: not readable). */
  records: number;
  fpi: number;
  /** pg_stat_wal deltas over the same time (lagging). */
  walBytes: number;
  walFpi: number;
  walRecords: number;
  /** Why pg_waldump could not count the range, if it could not. */
  waldumpError?: string;
}

export interface CycleResult {
  cycle: number;
  seed: number;
  verdict: Verdict;
  /** Set when the verdict is harness-error: the phase that passed its deadline and what was stuck. */
  harness?: HarnessNote;
  /** Why the verdict is what it is (one line each). */
  findings: string[];
  /** PostgreSQL's own words: log lines, tool output. */
  messages: string[];
  replayId: string;
  /** The file system's options in force during the load (src/export/fs-options.ts). */
  fsInForce?: FsInForce;
  /** With writeShape: the load's and the checkpoint's page writes against the profile's atomicity. */
  writeShape?: PgWriteShape;
  cut: CutRecord<'checkpoint' | 'seeded' | 'after-checkpoint' | 'end-of-load'> & { dirtyBuffers: number };
  /** commitLatencyUs: wall-clock latency of the acknowledged transfers (p50/p99, microseconds). */
  workload: { acked: number; attempted: number; presentTransfers: number; pgbench: boolean; commitLatencyUs: { p50: number; p99: number } };
  wal: WalStats;
  /** Device bytes of the cycle up to the cut, and of recovery + verification. */
  device: { load: DeviceBytes; recovery: DeviceBytes };
  /**
   * zeroedMapPages: free-space-map / visibility-map pages PostgreSQL found torn and zeroed as designed
   * (RBM_ZERO_ON_ERROR; not damage, see verdict.ts), e.g. "base/5/16384_fsm block 2".
   */
  recovery: { ready: boolean; ms: number; fsckCode: number | null; fsckOutput: string; zeroedMapPages: string[] };
  checks: {
    oracle?: Omit<OracleResult, 'balanceSum' | 'expectedSum'> & { balanceSum: string; expectedSum: string };
    amcheck?: { code: number | null; output: string };
    checksums?: { code: number | null; output: string };
    cleanShutdown?: boolean;
  };
  ms: { total: number; start: number; load: number; cut: number; recovery: number; verify: number };
}

/** WAL segment file holding `lsn` (timeline 1, 16 MiB segments: what initdb made and crash recovery keeps). */
export function walSegmentName(lsn: string, timeline = 1, segBytes = 16 * 1024 * 1024): string {
  const segno = Math.floor(lsnToNumber(lsn) / segBytes);
  const perId = 2 ** 32 / segBytes;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return hex(timeline) + hex(Math.floor(segno / perId)) + hex(segno % perId);
}

export function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
}

/** A cycle's result before anything happened: ok, nothing measured; `device` is where its counters start. */
export function emptyCycleResult(cfg: PgCellConfig, cycle: number, device: DeviceBytes): CycleResult {
  return {
    cycle,
    seed: cfg.seed,
    verdict: 'ok',
    findings: [],
    messages: [],
    replayId: pgReplayId(cfg, cycle),
    cut: { trigger: cfg.crashAt, afterWrites: 0, dirtyBytesAtLeast: 0, maxDirtyBytes: 0, dirtyBuffers: 0, seq: 0, pendingWrites: 0, pendingBlocks: 0, pendingLbas: [], heldRequests: 0, changedBlocks: 0 },
    workload: { acked: 0, attempted: 0, presentTransfers: 0, pgbench: cfg.pgbenchClients > 0, commitLatencyUs: { p50: 0, p99: 0 } },
    wal: { startLsn: '', endLsn: '', lsnBytes: 0, records: -1, fpi: -1, walBytes: 0, walFpi: 0, walRecords: 0 },
    device: { load: device, recovery: device },
    recovery: { ready: false, ms: 0, fsckCode: null, fsckOutput: '', zeroedMapPages: [] },
    checks: {},
    ms: { total: 0, start: 0, load: 0, cut: 0, recovery: 0, verify: 0 },
  };
}

/** A cycle that could not even export its device in time. */
export function harnessResult(cfg: PgCellConfig, cycle: number, e: HarnessError, t0: number): CycleResult {
  const res = emptyCycleResult(cfg, cycle, ZERO_BYTES);
  res.ms.total = Date.now() - t0;
  noteHarnessError(res, e);
  return res;
}

