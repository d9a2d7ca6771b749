/**
 * The workload driver: one run of a workload on a fresh emulated device,
 * recording the oracle (per transaction its writes, when its commit was
 * requested and when it was acknowledged, as device command-stream positions)
 * and capturing crash points as it goes (dev.onEvent -> dev.capture()), so a
 * campaign verifies many crash states of ONE run without re-running it.
 *
 * Transactions commit in groups of 1..groupSize (one WAL write + Flush per
 * group). Every `checkpointEvery` transactions a fuzzy checkpoint begins; it
 * writes `checkpointBatch` pages after each following group until done, so
 * crash points fall inside checkpoints with page writes in flight.
 */
import { CrashPoint, NvmeDevice, createDevice } from '../../src/device/device';
import { getProfile, parseFaults } from '../../src/device/profiles';
import { DeviceCounters, DeviceEvent, Tag, TAGS } from '../../src/device/types';
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';
import { EngineOptions, EngineStats, MiniPageEngine } from './engine';
import { ProtectionMode, requiredBlocks } from './layout';
import { WorkloadConfig, createWorkload, normalizeWorkload } from './workloads';
import { WindowInterval } from './sabotage';
import { latencySummary } from '../../src/report/build';

export interface EngineConfig extends EngineOptions {
  mode: ProtectionMode;
  pageSize: number;
}

export interface RunConfig {
  /** Device profile name (src/device/profiles.ts). */
  profile: string;
  faults?: string[];
  /** Seed of the device (jitter) and of the driver's group sizes. */
  seed: number;
  /** Namespace size in blocks; default: what the database layout needs. */
  nsze?: number;
  engine: EngineConfig;
  workload: WorkloadConfig;
  /** Max transactions per group commit (default 4). */
  groupSize?: number;
  /** Transactions between checkpoint begins (default 40). */
  checkpointEvery?: number;
  /**
   * Which device events to capture a crash point at: 'all' (default), 'none',
   * every n-th event, or a predicate. Capture starts after the database is created.
   */
  capture?: 'all' | 'none' | { every: number } | ((e: DeviceEvent, phase: Phase) => boolean);
  /** Sees every device event after the database is created (a campaign captures its own crash points here). */
  onEvent?: (e: DeviceEvent, dev: NvmeDevice) => void;
  /**
   * A noisy neighbour on the same device (the durability experiment): before
   * each group commit another writer puts `bytesPerGroup` bytes (whole blocks)
   * into its own region past the database, with the given write intent, and
   * waits for completion only. Its data is nobody's commit: a Flush must still
   * destage it, a persistence token need not wait for what is younger or EPHEMERAL.
   */
  neighbour?: { bytesPerGroup: number; intent: 'standard' | 'ephemeral' };
  /** Record the crash windows the engine marks (sabotage.ts) into RunResult.windows. */
  windows?: boolean;
  /** Cost runs: measure from this transaction index on (after a warm-up) into RunResult.steady. */
  measureFrom?: number;
}

/** What the run cost from `measureFrom` to its end (the steady state after a warm-up). */
export interface SteadyCosts {
  txns: number;
  warmupTxns: number;
  commits: number;
  logicalBytes: number;
  byTag: Record<Tag, number>;
  hostWriteBytes: number;
  flushes: number;
  fuaWrites: number;
  nandBytes: number;
  simTimeUs: number;
  commitLatencyUs: { p50: number; p99: number };
  evictions: number;
  checkpoints: number;
}

/** Transactions between checkpoints when a run names none. */
export const DEFAULT_CHECKPOINT_EVERY = 40;

/** Blocks of the neighbour's region (cycled through). */
const NEIGHBOUR_BLOCKS = 4096;

export type Phase = 'commit' | 'checkpoint';

export interface TxnRecord {
  index: number;
  /** [key, value | null (deleted)], in the order written; latin1 strings. */
  writes: [string, string | null][];
  /** dev.seq when commit was requested: the txn cannot be in a crash state captured before it. */
  commitSeq: number;
  /** dev.seq when the commit was acknowledged (-1: never). Acknowledged at crash seq k iff 0 <= ackSeq <= k. */
  ackSeq: number;
}

/** What the verifier needs to judge a crash state of the run. Plain data (structured-clone / JSON safe). */
export interface Oracle {
  engine: EngineConfig;
  workload: Required<WorkloadConfig>;
  txns: TxnRecord[];
  /** dev.seq once the database existed (crash points before it have no database). */
  createdSeq: number;
}

export interface CapturedPoint {
  point: CrashPoint;
  seq: number;
  phase: Phase;
}

export interface ByteAccounting {
  byTag: Record<Tag, { commands: number; bytes: number }>;
  /** page + doublewrite bytes. */
  pageBytes: number;
  /** wal + fpi bytes. */
  walBytes: number;
  hostWriteBytes: number;
  logicalBytes: number;
  /** hostWriteBytes / logicalBytes. */
  writeAmplification: number;
  flushes: number;
  fuaWrites: number;
  commits: number;
  commitLatencyUs: { p50: number; p99: number; mean: number };
  simTimeUs: number;
}

export interface RunResult {
  oracle: Oracle;
  points: CapturedPoint[];
  counters: DeviceCounters;
  stats: EngineStats;
  bytes: ByteAccounting;
  /** The device at the end of the run (still powered). */
  device: NvmeDevice;
  engine: MiniPageEngine;
  /** Crash windows marked during the run (with `windows: true`), in close order. */
  windows: WindowInterval[];
  /** With `measureFrom`: the costs from there to the end. */
  steady?: SteadyCosts;
}


/** Blocks a device needs for this engine configuration. */
export function deviceBlocksFor(engine: EngineConfig, blockSize: number): number {
  return requiredBlocks({ pageSize: engine.pageSize, walBytes: engine.walBytes, dwPages: engine.dwPages, maxPages: engine.maxPages }, blockSize);
}

/** Run a workload once, capturing crash points; see the module comment. */
export function runWorkload(config: RunConfig): RunResult {
  const profile = getProfile(config.profile);
  const blockSize = profile.identify.namespace.lbaDataSize;
  const dbBlocks = config.nsze ?? deviceBlocksFor(config.engine, blockSize);
  const nb = config.neighbour;
  if (nb && !(Number.isInteger(nb.bytesPerGroup) && nb.bytesPerGroup > 0 && nb.bytesPerGroup % blockSize === 0 && nb.bytesPerGroup <= NEIGHBOUR_BLOCKS * blockSize)) {
    throw new BadInputError(`neighbour bytesPerGroup must be a positive multiple of the ${blockSize}-byte block, at most ${NEIGHBOUR_BLOCKS * blockSize}`);
  }
  const nsze = nb ? dbBlocks + NEIGHBOUR_BLOCKS : dbBlocks;
  let neighbourAt = 0;
  const groupSize = config.groupSize ?? 4;
  const checkpointEvery = config.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!(Number.isInteger(groupSize) && groupSize >= 1)) throw new BadInputError(`groupSize must be an integer >= 1`);
  if (!(Number.isInteger(checkpointEvery) && checkpointEvery >= 1)) throw new BadInputError(`checkpointEvery must be an integer >= 1`);
  const wl = createWorkload(config.workload);
  const dev = createDevice({ profile: config.profile, faults: parseFaults(config.faults ?? []), seed: config.seed, nsze });
  const engine = MiniPageEngine.create(dev, config.engine);
  if (config.windows) engine.steps.record = true;
  const oracle: Oracle = { engine: { ...config.engine }, workload: normalizeWorkload(config.workload), txns: [], createdSeq: dev.seq };

  const points: CapturedPoint[] = [];
  const cap = config.capture ?? 'all';
  let eventNo = 0;
  const phase = (): Phase => (engine.checkpointInProgress ? 'checkpoint' : 'commit');
  if (config.onEvent) {
    const user = config.onEvent;
    dev.onEvent((e) => user(e, dev));
  }
  if (cap !== 'none') {
    dev.onEvent((e) => {
      eventNo++;
      const ph = phase();
      const take = cap === 'all' ? true : typeof cap === 'function' ? cap(e, ph) : eventNo % cap.every === 0;
      if (take) points.push({ point: dev.capture(), seq: e.seq, phase: ph });
    });
  }

  const groups = new Prng(config.seed, 'driver/groups');
  let i = 0;
  let sinceCkpt = 0;
  type Snap = { i: number; counters: DeviceCounters; commits: number; logical: number; lat: number; evictions: number; checkpoints: number };
  let base: Snap | undefined;
  const snap = (): Snap => ({ i, counters: JSON.parse(JSON.stringify(dev.counters)), commits: engine.stats.commits, logical: engine.stats.logicalBytes, lat: engine.stats.commitLatencyUs.length, evictions: engine.pool.evictions, checkpoints: engine.stats.checkpoints });
  if (config.measureFrom !== undefined && !(Number.isInteger(config.measureFrom) && config.measureFrom >= 0 && config.measureFrom < wl.config.txns)) {
    throw new BadInputError(`measureFrom must be an integer in 0..${wl.config.txns - 1}`);
  }
  while (i < wl.config.txns) {
    if (config.measureFrom !== undefined && !base && i >= config.measureFrom) base = snap();
    const n = Math.min(groups.int(1, groupSize), wl.config.txns - i);
    if (nb) {
      const blocks = nb.bytesPerGroup / blockSize;
      if (neighbourAt + blocks > NEIGHBOUR_BLOCKS) neighbourAt = 0;
      dev.write(dbBlocks + neighbourAt, new Uint8Array(nb.bytesPerGroup).fill(0xa5), { tag: 'other', intent: nb.intent });
      neighbourAt += blocks;
    }
    const tickets: { rec: TxnRecord; ticket: ReturnType<MiniPageEngine['commit']> }[] = [];
    for (let g = 0; g < n; g++, i++) {
      const tx = engine.begin();
      const ops = wl.next(i, (k) => engine.get(k, tx)?.toString('latin1'));
      const writes: [string, string | null][] = [];
      for (const op of ops) {
        if (op.kind === 'put') engine.put(tx, op.key, op.value);
        else engine.delete(tx, op.key);
      }
      for (const w of tx.writes.values()) writes.push([w.key.toString('latin1'), w.val === null ? null : w.val.toString('latin1')]);
      const rec: TxnRecord = { index: i, writes, commitSeq: dev.seq, ackSeq: -1 };
      oracle.txns.push(rec);
      tickets.push({ rec, ticket: engine.commit(tx) });
      sinceCkpt++;
    }
    engine.sync();
    // A transaction without writes is acknowledged at once by the engine; the oracle dates it with
    // its group, so acknowledgements stay in transaction order (judgeContent relies on that).
    const groupAck = Math.max(...tickets.map((t) => t.ticket.ackSeq));
    for (const t of tickets) t.rec.ackSeq = t.rec.writes.length === 0 ? groupAck : t.ticket.ackSeq;
    if (engine.checkpointInProgress) {
      if (engine.checkpointStep()) engine.checkpointFinish();
    } else if (sinceCkpt >= checkpointEvery) {
      engine.checkpointBegin();
      sinceCkpt = 0;
    }
  }
  engine.steps.closeAll();
  const stats = engine.engineStats();
  const c = dev.counters;
  const lat = stats.commitLatencyUs.slice().sort((a, b) => a - b);
  const byTag = {} as ByteAccounting['byTag'];
  for (const t of TAGS) byTag[t] = { ...c.byTag[t] };
  let steady: SteadyCosts | undefined;
  if (base) {
    const b = base.counters;
    const byTagSteady = {} as Record<Tag, number>;
    for (const t of TAGS) byTagSteady[t] = c.byTag[t].bytes - b.byTag[t].bytes;
    const l = latencySummary(stats.commitLatencyUs.slice(base.lat));
    steady = {
      txns: wl.config.txns - base.i,
      warmupTxns: base.i,
      commits: stats.commits - base.commits,
      logicalBytes: stats.logicalBytes - base.logical,
      byTag: byTagSteady,
      hostWriteBytes: c.hostWriteBytes - b.hostWriteBytes,
      flushes: c.flushes - b.flushes,
      fuaWrites: c.fuaWrites - b.fuaWrites,
      nandBytes: c.nandBytesProgrammed - b.nandBytesProgrammed,
      simTimeUs: dev.timeUs - b.simTimeUs,
      commitLatencyUs: { p50: l.p50, p99: l.p99 },
      evictions: engine.pool.evictions - base.evictions,
      checkpoints: stats.checkpoints - base.checkpoints,
    };
  }
  const bytes: ByteAccounting = {
    byTag,
    pageBytes: c.byTag.page.bytes + c.byTag.doublewrite.bytes,
    walBytes: c.byTag.wal.bytes + c.byTag.fpi.bytes,
    hostWriteBytes: c.hostWriteBytes,
    logicalBytes: stats.logicalBytes,
    writeAmplification: stats.logicalBytes > 0 ? c.hostWriteBytes / stats.logicalBytes : 0,
    flushes: c.flushes,
    fuaWrites: c.fuaWrites,
    commits: stats.commits,
    // One percentile implementation for every report (src/report/build.ts, nearest rank).
    commitLatencyUs: { ...latencySummary(lat), mean: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : 0 },
    simTimeUs: dev.timeUs,
  };
  return { oracle, points, counters: JSON.parse(JSON.stringify(c)), stats, bytes, device: dev, engine, windows: engine.steps.intervals.slice(), ...(steady ? { steady } : {}) };
}
