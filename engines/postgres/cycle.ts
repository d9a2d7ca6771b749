/**
 * Crash cycles of real PostgreSQL on the emulated device.
 *
 * A cycle: power a device on from the base image (copy-on-write, no initdb),
 * mount it, start PostgreSQL, run the bank workload (and pgbench if asked),
 * cut the power — during a CHECKPOINT (targeted) or at a seeded point of the
 * write stream — kill the server, mount the crash image a seeded survivor
 * choice gives (e2fsck -p first), start PostgreSQL (crash recovery), check
 * the oracle, run pg_amcheck (heap + btree), shut down cleanly and run
 * pg_checksums --check. The verdict follows ARCHITECTURE 4, with
 * PostgreSQL's own messages attached.
 *
 * Every phase runs under a watchdog deadline (src/export/watchdog.ts, scaled
 * by `pgDeadlines`); a phase that passes it ends the cycle as
 * `harness-error`, naming the phase and what was stuck. The device and its
 * FUSE server live in the device host process, so nothing this module does
 * (spawning, killing, unmounting) can starve them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from './pg-client';
import { getProfile, parseFaults } from '../../src/device/profiles';
import { DeviceCounters } from '../../src/device/types';
import { BlockStack, FsType } from '../../src/export/block-stack';
import { HostImage, HostedDevice } from '../../src/export/device-host/client';
import { PhaseDeadlineError, guard } from '../../src/export/watchdog';
import { HarnessError, DeviceFullError, PreconditionError } from '../../src/util/errors';
import { run, sleep } from '../../src/export/exec';
import { RunLedger, runLedger } from '../../src/export/ledger';
import { requireExport } from '../../src/export/preconditions';
import { haltIfInterrupted } from '../../src/export/teardown';
import { remountCrashImage, survivorsFrom } from '../../src/export/power-cut';
import { markedProcesses } from '../../src/export/processes';
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';
import { BankWorkload, OracleResult, checkOracle, schemaSql } from './bank';
import { checkPgSettings, missingForPostgres } from './runtime';
import { PgInstance, PgServer, notableLogLines } from './server';
import { PgContainerImage, PgContainerServer, resolvePgImage } from './container-server';
import { PG_VERSIONS, ImageName } from '../../src/export/containers/images';
import { containerUnavailable } from '../../src/export/containers/availability';
import { settle as settleContainers } from '../../src/export/containers/containers';
import { Verdict, decideVerdict, logChecksumEvidence } from './verdict';

export type CrashAt = 'checkpoint' | 'seeded';
/** Where PostgreSQL runs: Debian's local binaries, or a tornlab container image of `pgVersion`. */
export type PgRuntime = 'local' | 'container';

/** Range of the device-cache fill (KiB) at which a targeted cut strikes during a CHECKPOINT. */
const CUT_MIN_DIRTY_KIB = 32;
const CUT_MAX_DIRTY_KIB = 256;
/** Only a data-writeback-sized request triggers the targeted cut (WAL and journal writes are smaller). */
const CUT_MIN_WRITE_BYTES = 64 * 1024;

export interface PgCellConfig {
  fpw: boolean;
  profile: string;
  faults: string[];
  seed: number;
  crashes: number;
  crashAt: CrashAt;
  fs: FsType;
  /** Extra server settings (name -> value), passed through with -c. */
  settings: Record<string, string>;
  accounts: number;
  clients: number;
  /** Load before the cut (ms). */
  loadMs: number;
  /** pgbench clients running alongside the bank workload (0: no pgbench). */
  pgbenchClients: number;
  pgbenchScale: number;
  /** Namespace size in blocks of the profile (default: 1 GiB worth). */
  nsze?: number;
  /** Default local; container: PostgreSQL `pgVersion` in a container (engines/postgres/container-server.ts). */
  runtime?: PgRuntime;
  /** PostgreSQL major version of the container runtime (15, 17, 18); the local runtime runs what TORNLAB_PG_BIN names. */
  pgVersion?: string;
}

export const DEFAULT_CELL: Omit<PgCellConfig, 'fpw' | 'seed' | 'crashes'> = {
  profile: 'consumer-tlc',
  faults: [],
  crashAt: 'checkpoint',
  fs: 'ext4',
  settings: {},
  accounts: 20000,
  clients: 4,
  loadMs: 1500,
  pgbenchClients: 0,
  pgbenchScale: 1,
};

/** Server settings of a cell; the user's settings win over ours. */
export function serverSettings(cfg: PgCellConfig): Record<string, string> {
  return {
    shared_buffers: '16MB',
    checkpoint_timeout: '30s',
    max_wal_size: '1GB',
    autovacuum: 'off',
    fsync: 'on',
    synchronous_commit: 'on',
    log_checkpoints: 'on',
    full_page_writes: cfg.fpw ? 'on' : 'off',
    ...cfg.settings,
  };
}

export function validateCell(cfg: PgCellConfig): void {
  getProfile(cfg.profile);
  parseFaults(cfg.faults);
  if (!Number.isSafeInteger(cfg.seed)) throw new BadInputError(`--seed must be an integer, got ${cfg.seed}`);
  if (!Number.isInteger(cfg.crashes) || cfg.crashes < 1 || cfg.crashes > 10000) throw new BadInputError(`--crashes must be an integer from 1 to 10000, got ${cfg.crashes}`);
  if (cfg.fs !== 'ext4' && cfg.fs !== 'xfs') throw new BadInputError(`--fs must be ext4 or xfs, got ${cfg.fs}`);
  if (cfg.crashAt !== 'checkpoint' && cfg.crashAt !== 'seeded') throw new BadInputError(`--crash-at must be checkpoint or seeded, got ${cfg.crashAt}`);
  if (cfg.nsze !== undefined && !(Number.isSafeInteger(cfg.nsze) && cfg.nsze > 0)) throw new BadInputError(`--device-mib must give a whole number of blocks, got ${cfg.nsze} blocks`);
  if (!Number.isInteger(cfg.accounts) || cfg.accounts < 2) throw new BadInputError(`--accounts must be an integer >= 2, got ${cfg.accounts}`);
  if (!Number.isInteger(cfg.clients) || cfg.clients < 1 || cfg.clients > 64) throw new BadInputError(`--clients must be an integer from 1 to 64, got ${cfg.clients}`);
  if (!(cfg.loadMs >= 0)) throw new BadInputError(`--load-ms must be >= 0, got ${cfg.loadMs}`);
  for (const [k, v] of Object.entries(cfg.settings)) {
    if (!/^[a-z_][a-z0-9_.]*$/i.test(k) || /[\0\n]/.test(v)) throw new BadInputError(`setting "${k}=${v}" is not NAME=VALUE`);
  }
  if ('full_page_writes' in cfg.settings) throw new BadInputError('set full_page_writes with --fpw on|off, not as a setting');
  const rt = cfg.runtime ?? 'local';
  if (rt !== 'local' && rt !== 'container') throw new BadInputError(`--runtime must be local or container, got ${String(rt)}`);
  if (cfg.pgVersion !== undefined) {
    if (rt !== 'container') throw new BadInputError('--pg-version needs --runtime container (the local runtime runs the binaries TORNLAB_PG_BIN names)');
    if (!(PG_VERSIONS as readonly string[]).includes(cfg.pgVersion)) throw new BadInputError(`--pg-version must be one of ${PG_VERSIONS.join(', ')}, got ${cfg.pgVersion}`);
  }
}

/** The PostgreSQL major version a container cell runs. */
export function containerPgVersion(cfg: PgCellConfig): string {
  return cfg.pgVersion ?? '15';
}

/**
 * About how much device the base image needs (MiB): initdb (~40 MiB with its
 * first WAL segment), WAL up to max_wal_size (64 MB), ~250 B per bank account
 * with its index, ~16 MiB per pgbench scale unit, and a fifth more for the
 * file system. An estimate for the "device is full" message, not a limit.
 */
export function dataSetMib(cfg: Pick<PgCellConfig, 'accounts' | 'pgbenchClients' | 'pgbenchScale'>): number {
  const mib = 40 + 64 + (cfg.accounts * 250) / 2 ** 20 + (cfg.pgbenchClients > 0 ? cfg.pgbenchScale * 16 : 0);
  return Math.ceil(mib * 1.2);
}

/** The device in MiB a cell gets. */
export function deviceMib(cfg: PgCellConfig): number {
  return Math.round((nszeOf(cfg) * getProfile(cfg.profile).identify.namespace.lbaDataSize) / 2 ** 20);
}

/** A base image that ran out of space is the user's sizing (exit 2): say how much the data set needs. */
function refuseFullDevice(cfg: PgCellConfig, e: unknown): never {
  const text = e instanceof Error ? e.message : String(e);
  if (!/No space left on device|ENOSPC|could not extend file/.test(text)) throw e;
  const need = dataSetMib(cfg);
  throw new DeviceFullError(`the device is full: the base image (initdb and ${cfg.accounts} accounts${cfg.pgbenchClients > 0 ? `, pgbench scale ${cfg.pgbenchScale}` : ''}) does not fit in ${deviceMib(cfg)} MiB; give it more with --device-mib ${Math.max(need, deviceMib(cfg) * 2)} (the data set needs about ${need} MiB) or lower --accounts`, 0);
}

/** Parse ["name=value", ...] into settings. */
export function parseSettings(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const at = it.indexOf('=');
    if (at <= 0) throw new BadInputError(`--set "${it}": expected NAME=VALUE, e.g. --set shared_buffers=32MB`);
    out[it.slice(0, at).trim()] = it.slice(at + 1).trim();
  }
  return out;
}

// -------------------------------------------------------------- deadlines

/** Deadline (ms) of each phase of a cycle, before the deadline factor (see watchdog.ts). */
export interface PgDeadlines {
  /** initdb + schema + load + clean shutdown of the base image. */
  base: number;
  /** Device, FUSE export, loop device, mount. */
  export: number;
  start: number;
  /** The load and the targeted checkpoint, up to the cut. */
  load: number;
  /** Kill the server, fail pending requests, release the stack. */
  cut: number;
  /** Crash image -> e2fsck -p -> mount. */
  fsck: number;
  /** PostgreSQL crash recovery until it accepts connections. */
  recoveryStart: number;
  /** Oracle, pg_amcheck, clean shutdown, pg_checksums. */
  verify: number;
  /** Teardown after an error or at the end. */
  release: number;
}

/**
 * Deadlines scaled with the work: the namespace size (mkfs, e2fsck), the
 * data set (accounts, pgbench scale: load, amcheck, checksums) and the load
 * time. Generous on purpose — they catch hangs, not slowness — and sized for a
 * loaded 2-core machine.
 */
export function pgDeadlines(cfg: PgCellConfig): PgDeadlines {
  const gib = (nszeOf(cfg) * getProfile(cfg.profile).identify.namespace.lbaDataSize) / 1024 ** 3;
  const data = cfg.accounts / 20000 + (cfg.pgbenchClients > 0 ? cfg.pgbenchScale : 0);
  return {
    base: Math.round(180_000 + 60_000 * data + 30_000 * gib),
    export: Math.round(60_000 + 30_000 * gib),
    start: 90_000,
    load: cfg.loadMs + 120_000,
    cut: 60_000,
    fsck: Math.round(60_000 + 60_000 * gib),
    recoveryStart: 150_000,
    verify: Math.round(150_000 + 60_000 * data),
    release: 60_000,
  };
}

/** Test hooks (never set by the CLI). */
export interface PgTestHooks {
  /** Make the FUSE handler stop answering right after the server started (a hung device server). */
  hangAfterStart?: boolean;
}

// ------------------------------------------------------------- base image

export interface BaseImage {
  key: string;
  /** The image, held by the device host. */
  image: HostImage;
  blocks: number;
  buildMs: number;
  nsze: number;
}

const bases = new Map<string, BaseImage>();

function nszeOf(cfg: PgCellConfig): number {
  return cfg.nsze ?? Math.floor(1024 ** 3 / getProfile(cfg.profile).identify.namespace.lbaDataSize);
}

function baseKey(cfg: PgCellConfig): string {
  const runtime = cfg.runtime === 'container' ? `container-${containerPgVersion(cfg)}` : 'local';
  return JSON.stringify({ profile: cfg.profile, fs: cfg.fs, accounts: cfg.accounts, pgbench: cfg.pgbenchClients > 0 ? cfg.pgbenchScale : 0, nsze: nszeOf(cfg), runtime });
}

/** Container images resolved for this process, by major version (resolveRuntime fills it). */
const containerImages = new Map<string, PgContainerImage>();

/** Check what the cell's runtime needs; for containers, find the image (throws PreconditionError naming the fix). */
export async function resolveRuntime(cfg: PgCellConfig): Promise<void> {
  if (cfg.runtime !== 'container') {
    requireExport(cfg.fs, missingForPostgres());
    return;
  }
  requireExport(cfg.fs);
  const v = containerPgVersion(cfg);
  if (containerImages.has(v)) return;
  const why = await containerUnavailable(`pg${v}` as ImageName);
  if (why) throw new PreconditionError(`PostgreSQL ${v} in a container: ${why}`);
  containerImages.set(v, await resolvePgImage(v));
}

let portCounter = 0;
function newServer(cfg: PgCellConfig, ledger: RunLedger, mountPoint: string, settings: Record<string, string>): PgInstance {
  portCounter++;
  const sock = ledger.newPath('sock');
  ledger.add('dir', sock);
  const opts = {
    dataDir: path.join(mountPoint, 'pgdata'),
    socketDir: sock,
    port: 20000 + ((process.pid * 7 + portCounter) % 20000),
    logFile: sock + '.log',
    settings,
    ledger,
  };
  if (cfg.runtime !== 'container') return new PgServer(opts);
  const image = containerImages.get(containerPgVersion(cfg));
  if (!image) throw new Error(`PostgreSQL ${containerPgVersion(cfg)} image not resolved (call resolveRuntime first)`);
  return new PgContainerServer(opts, image);
}

/**
 * The base image of a configuration: initdb --data-checksums plus the initial
 * load, shut down cleanly, built once per process and configuration, on a
 * device without faults (faults apply to the cycles, not to setup).
 */
export async function baseImage(cfg: PgCellConfig, ledger = runLedger(), d = pgDeadlines(cfg)): Promise<BaseImage> {
  const key = baseKey(cfg);
  const cached = bases.get(key);
  // A base image lives in the device host; a host that ended took it along.
  if (cached && cached.image.alive) return cached;
  const t0 = Date.now();
  const nsze = nszeOf(cfg);
  const dev = await HostedDevice.create({ profile: cfg.profile, seed: cfg.seed, nsze });
  let stack: BlockStack;
  try {
    stack = await guard('base-export', d.export, BlockStack.mountDevice(dev, { format: true, fs: cfg.fs, ledger }));
  } catch (e) {
    await dev.dispose();
    throw e;
  }
  let server: PgInstance | undefined;
  try {
    await guard('base-image', d.base, buildBase());
  } finally {
    server?.kill();
    await guard('base-release', d.release, stack.release());
  }
  // Everything the file system wrote reaches media in the snapshot (no faults on the base device).
  const image = await dev.snapshot();
  await dev.dispose();
  const base: BaseImage = { key, image, blocks: image.blocks, buildMs: Date.now() - t0, nsze };
  bases.set(key, base);
  return base;

  async function buildBase(): Promise<void> {
    server = newServer(cfg, ledger, stack.mountPoint!, { ...serverSettings({ ...cfg, fpw: true }), max_wal_size: '64MB' });
    await server.initdb();
    const st = await server.start();
    if (!st.ready) throw new Error(`postgres did not start on the base image:\n${server.logSinceStart()}`);
    const c = await server.connect();
    try {
      await c.query(schemaSql(cfg.accounts));
      await c.query('VACUUM ANALYZE'); // set hint bits and the visibility map now, not in every cycle
    } finally {
      await c.end();
    }
    if (cfg.pgbenchClients > 0) {
      const r = await server.runTool('pgbench', ['-i', '-q', '-s', String(cfg.pgbenchScale), '-h', server.opts.socketDir, '-p', String(server.opts.port), '-U', 'postgres', 'postgres']);
      if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr}`);
    }
    const stop = await server.stop();
    if (!stop.clean) throw new Error(`postgres did not shut down cleanly on the base image:\n${server.logSinceStart()}`);
  }
}

// ------------------------------------------------------------------ cycle

export interface DeviceBytes {
  hostWriteBytes: number;
  writes: number;
  flushes: number;
  nandBytesProgrammed: number;
}

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
  harness?: { phase: string; deadlineMs: number; stuck: { pid: number; comm: string; state: string; stack: string[] }[] };
  /** Why the verdict is what it is (one line each). */
  findings: string[];
  /** PostgreSQL's own words: log lines, tool output. */
  messages: string[];
  replayId: string;
  cut: {
    trigger: 'checkpoint' | 'seeded' | 'after-checkpoint' | 'end-of-load';
    afterWrites: number;
    dirtyBytesAtLeast: number;
    /** Largest device-cache fill seen during the checkpoint (bytes). */
    maxDirtyBytes: number;
    dirtyBuffers: number;
    seq: number;
    pendingWrites: number;
    /** Blocks at risk at the cut, and the writes they belong to (lba+nlb). */
    pendingBlocks: number;
    pendingLbas: string[];
    heldRequests: number;
    changedBlocks: number;
  };
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

async function safeQuery(c: Client, sql: string): Promise<Record<string, unknown>[] | undefined> {
  try {
    return (await c.query(sql)).rows;
  } catch {
    return undefined;
  }
}

async function walSnapshot(c: Client): Promise<{ lsn: string; bytes: number; fpi: number; records: number } | undefined> {
  const rows = await safeQuery(c, 'SELECT pg_current_wal_lsn()::text AS lsn, wal_bytes::text AS b, wal_fpi::text AS f, wal_records::text AS r FROM pg_stat_wal');
  if (!rows) return undefined;
  return { lsn: rows[0].lsn as string, bytes: Number(rows[0].b), fpi: Number(rows[0].f), records: Number(rows[0].r) };
}

/** WAL segment file holding `lsn` (timeline 1, 16 MiB segments: what initdb made and crash recovery keeps). */
export function walSegmentName(lsn: string, timeline = 1, segBytes = 16 * 1024 * 1024): string {
  const segno = Math.floor(lsnToNumber(lsn) / segBytes);
  const perId = 2 ** 32 / segBytes;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return hex(timeline) + hex(Math.floor(segno / perId)) + hex(segno % perId);
}

function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
}

/** Run one crash cycle. */
export async function runCycle(cfg: PgCellConfig, base: BaseImage, cycle: number, ledger = runLedger(), d = pgDeadlines(cfg), hooks: PgTestHooks = {}): Promise<CycleResult> {
  const t0 = Date.now();
  const cyclePrng = new Prng(cfg.seed, `pg/cycle${cycle}`);
  const devSeed = cyclePrng.fork('device').int(1, 2 ** 31 - 1);
  const settings = serverSettings(cfg);
  const dev = await HostedDevice.create({ profile: cfg.profile, faults: cfg.faults, seed: devSeed, nsze: base.nsze, image: base.image.id });
  let stack: BlockStack;
  try {
    stack = await guard('export', d.export, BlockStack.mountDevice(dev, { fs: cfg.fs, fsck: false, ledger }));
  } catch (e) {
    await dev.dispose();
    if (e instanceof HarnessError) return harnessResult(cfg, cycle, e, t0);
    throw e;
  }
  const c0 = deviceBytes(await dev.counters());
  const res = emptyCycleResult(cfg, cycle, c0);

  const dev0 = res.device.load;
  const server = newServer(cfg, ledger, stack.mountPoint!, settings);
  const bank = new BankWorkload(cfg.accounts, cyclePrng.fork('bank'));
  stack.fuse!.onCut(() => bank.markCut());
  // Every query awaited while a cut is armed races the cut: a backend blocked on a held
  // request never answers, and the kill that would free it comes only after the await.
  const cutSeen = new Promise<'cut'>((resolve) => stack.fuse!.onCut(() => resolve('cut')));
  const untilCut = <T>(p: Promise<T>): Promise<T | undefined> => Promise.race([p, cutSeen.then(() => undefined)]);
  const clients: Client[] = [];
  let pgbench: ReturnType<PgInstance['runTool']> | undefined;
  let released = false;
  try {
    const st = await guard('start', d.start, server.start());
    res.ms.start = Date.now() - t0;
    if (!st.ready) throw new Error(`postgres did not start from the base image:\n${server.logSinceStart()}`);
    const ctl = await guard('start', d.start, server.connect());
    if (hooks.hangAfterStart) await stack.fuse!.hang();
    const wal0 = await guard('load', d.load, walSnapshot(ctl));
    for (let i = 0; i < cfg.clients; i++) clients.push(await guard('load', d.load, server.connect()));
    const tLoad = Date.now();
    let walCut: Awaited<ReturnType<typeof walSnapshot>>;
    await guard('load', d.load, loadUntilCut());
    res.ms.load = Date.now() - tLoad;
    if (!stack.fuse!.isCut) await guard('cut', d.cut, stack.cut());
    // --- the cut: kill everything that used the file system, then release it
    const tCut = Date.now();
    const point = stack.fuse!.point!;
    res.cut.seq = point.seq;
    res.cut.pendingWrites = point.pendingWrites;
    res.cut.pendingBlocks = point.pendingBlocks;
    res.cut.pendingLbas = point.pendingLbas;
    res.device.load = deviceBytes(await dev.counters(), dev0);
    const victims = server.kill();
    for (const p of killMarkedPgbench(ledger)) victims.push(p);
    const exportStats = await stack.fuse!.stats();
    res.cut.heldRequests = exportStats.heldCount;
    res.cut.maxDirtyBytes = exportStats.maxDirtyBytes;
    keepNote(cfg, cycle, 'load.log', server.logSinceStart());
    await guard('cut', d.cut, stack.release());
    released = true;
    await guard('cut', d.cut, server.waitGone(victims));
    for (const c of [ctl, ...clients]) void c.end().catch(() => undefined);
    await guard('cut', d.cut, bank.settled());
    res.workload.acked = bank.acked.length;
    res.workload.commitLatencyUs = latencySummary(bank.latenciesUs);
    res.workload.attempted = bank.attempted;
    if (wal0 && !walCut!) res.wal.startLsn = wal0.lsn; // cut before the snapshot: pg_waldump finds the end
    if (wal0 && walCut!) {
      res.wal = {
        startLsn: wal0.lsn,
        endLsn: walCut.lsn,
        lsnBytes: lsnToNumber(walCut.lsn) - lsnToNumber(wal0.lsn),
        records: -1,
        fpi: -1,
        walBytes: walCut.bytes - wal0.bytes,
        walFpi: walCut.fpi - wal0.fpi,
        walRecords: walCut.records - wal0.records,
      };
    }
    res.ms.cut = Date.now() - tCut;
    // --- recovery on the crash image
    await recoverAndVerify(cfg, dev, cyclePrng, bank.acked, res, ledger, d);

    /** The load, and the targeted cut inside a CHECKPOINT; returns once the power is cut or the load ended. */
    async function loadUntilCut(): Promise<void> {
    const cutPrng = cyclePrng.fork('cut');
    let cutPromise: Promise<unknown> | undefined;
    if (cfg.crashAt === 'seeded') {
      res.cut.afterWrites = cutPrng.int(1, 400);
      cutPromise = stack.armCut({ afterWrites: res.cut.afterWrites });
    }
    bank.start(clients);
    if (cfg.pgbenchClients > 0) {
      pgbench = server.runTool('pgbench', ['-n', '-c', String(cfg.pgbenchClients), '-T', '600', '-h', server.opts.socketDir, '-p', String(server.opts.port), '-U', 'postgres', 'postgres'], 700_000);
      void pgbench.catch(() => undefined);
    }
    if (cutPromise) {
      const first = await Promise.race([cutPromise.then(() => 'cut'), sleep(cfg.loadMs).then(() => 'time')]);
      if (first !== 'cut') res.cut.trigger = 'end-of-load';
    } else {
      await sleep(cfg.loadMs);
    }
    if (!stack.fuse!.isCut) {
      walCut = await untilCut(walSnapshot(ctl));
      if (stack.fuse!.isCut) walCut = undefined;
      if (cfg.crashAt === 'checkpoint' && !stack.fuse!.isCut) {
        const dirty = await safeQuery(ctl, 'SELECT count(*)::int AS n FROM pg_buffercache WHERE isdirty');
        res.cut.dirtyBuffers = dirty ? Number(dirty[0].n) : 0;
        // Cut inside the checkpoint's data writeback: once the device cache holds a seeded
        // amount of not-yet-flushed data (commits' WAL flushes keep it near empty otherwise).
        res.cut.dirtyBytesAtLeast = cutPrng.int(CUT_MIN_DIRTY_KIB, CUT_MAX_DIRTY_KIB) * 1024;
        await stack.fuse!.resetMaxDirty();
        const armed = stack.armCut({ dirtyBytesAtLeast: res.cut.dirtyBytesAtLeast, minWriteBytes: CUT_MIN_WRITE_BYTES });
        const ckpt = ctl.query('CHECKPOINT').then(
          () => 'done',
          () => 'error',
        );
        const first = await Promise.race([armed.then(() => 'cut'), ckpt]);
        if (first !== 'cut') res.cut.trigger = 'after-checkpoint';
      }
    }
    }
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    noteHarnessError(res, e);
  } finally {
    server.kill();
    if (!released) {
      await guard('release', d.release, async () => {
        if (!stack.fuse!.isCut) await stack.cut();
        await stack.release();
      }).catch((e) => {
        if (!(e instanceof HarnessError)) throw e;
        noteHarnessError(res, e);
      });
    }
    await dev.dispose();
  }
  res.ms.total = Date.now() - t0;
  return res;
}

// ------------------------------------------------------------ diagnostics

/**
 * TORNLAB_KEEP_CRASH=DIR keeps what explains a cycle that did not end `ok`
 * (docs/postgres.md): the crash image's data folder before recovery
 * touched it (pgdata-crash/, for pg_waldump and pg_controldata), the
 * server logs of the load and of recovery, the cut (pending writes, the
 * survivor choice), the result, and on ext4 which file owns each pending
 * block (debugfs icheck + ncheck). An `ok` cycle's folder is removed. A
 * diagnostic never changes a verdict: its failures are ignored.
 */
function keepDir(cfg: PgCellConfig, cycle: number): string | undefined {
  const root = process.env.TORNLAB_KEEP_CRASH;
  if (!root) return undefined;
  const dir = path.join(root, `fpw-${cfg.fpw ? 'on' : 'off'}-seed${cfg.seed}-cycle${cycle}-pid${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    return undefined;
  }
  return dir;
}

function keepNote(cfg: PgCellConfig, cycle: number, name: string, text: string): void {
  const dir = keepDir(cfg, cycle);
  try {
    if (dir) fs.writeFileSync(path.join(dir, name), text);
  } catch {
    // diagnostics only
  }
}

async function keepCrashImage(dir: string, mountPoint: string): Promise<void> {
  await run('cp', ['-a', path.join(mountPoint, 'pgdata'), path.join(dir, 'pgdata-crash')], { timeoutMs: 120_000 }).catch(() => undefined);
}

/** Which file owns each pending LBA (ext4 blocks of 4 KiB = device blocks on the 4 KiB profiles). */
async function keepBlockMap(dir: string, loop: string, pendingLbas: string[]): Promise<void> {
  const lbas: number[] = [];
  for (const r of pendingLbas) {
    const [a, n] = r.split('+').map(Number);
    for (let i = 0; i < n; i++) lbas.push(a + i);
  }
  try {
    const ic = await run('debugfs', ['-c', '-R', `icheck ${lbas.join(' ')}`, loop], { timeoutMs: 120_000 });
    const inodes = [...new Set(ic.stdout.split('\n').map((l) => l.trim().split(/\s+/)[1]).filter((x) => x && /^\d+$/.test(x)))];
    const nc = inodes.length ? await run('debugfs', ['-c', '-R', `ncheck ${inodes.join(' ')}`, loop], { timeoutMs: 120_000 }) : { stdout: '' };
    fs.writeFileSync(path.join(dir, 'blockmap.txt'), ic.stdout + '\n----\n' + nc.stdout);
  } catch {
    // diagnostics only
  }
}

/** Mark a cycle harness-error (first error wins), naming the phase and what was stuck; engines/mariadb shares it. */
export function noteHarnessError(res: Pick<CycleResult, 'verdict' | 'harness' | 'findings'>, e: HarnessError): void {
  const late = e instanceof PhaseDeadlineError ? e : undefined;
  if (res.verdict !== 'harness-error') {
    res.verdict = 'harness-error';
    res.harness = { phase: e.phase, deadlineMs: late?.deadlineMs ?? 0, stuck: late?.stuck ?? [] };
  }
  // The first finding names the phase and what went wrong (the detail of the verdict).
  res.findings.push(...e.describe());
}

/** A cycle's result before anything happened: ok, nothing measured; `device` is where its counters start. */
function emptyCycleResult(cfg: PgCellConfig, cycle: number, device: DeviceBytes): CycleResult {
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
function harnessResult(cfg: PgCellConfig, cycle: number, e: HarnessError, t0: number): CycleResult {
  const res = emptyCycleResult(cfg, cycle, { hostWriteBytes: 0, writes: 0, flushes: 0, nandBytesProgrammed: 0 });
  res.ms.total = Date.now() - t0;
  noteHarnessError(res, e);
  return res;
}

/** The replay id of a cycle (engines/postgres/campaign.ts parsePgReplayId reads it back); shards own cycles by it. */
export function pgReplayId(cfg: PgCellConfig, cycle: number): string {
  const rt = cfg.runtime === 'container' ? `@container${containerPgVersion(cfg)}` : '';
  return `pg${rt}:${cfg.profile}${cfg.faults.length ? '+' + cfg.faults.join('+') : ''}:fpw=${cfg.fpw ? 'on' : 'off'}:${cfg.crashAt}:seed=${cfg.seed}:cycle=${cycle}`;
}

/** pgbench runs as a client tool with our marker; find and kill it at the cut. */
function killMarkedPgbench(ledger: RunLedger): number[] {
  const out: number[] = [];
  for (const p of markedProcesses(ledger.runId)) {
    try {
      const comm = fs.readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim();
      if (comm === 'pgbench') {
        process.kill(p.pid, 'SIGKILL');
        out.push(p.pid);
      }
    } catch {
      // gone
    }
  }
  return out;
}

async function recoverAndVerify(cfg: PgCellConfig, cut: HostedDevice, cyclePrng: Prng, acked: number[], res: CycleResult, ledger: RunLedger, d: PgDeadlines): Promise<void> {
  const tRec = Date.now();
  const rec = await guard('fsck', d.fsck, remountCrashImage(cut, survivorsFrom(cyclePrng.fork('survivors')), { fs: cfg.fs, ledger }));
  res.cut.changedBlocks = rec.changedBlocks;
  res.recovery.fsckCode = rec.fsck?.code ?? 0;
  res.recovery.fsckOutput = rec.fsck?.output ?? '';
  const rdev0 = deviceBytes(await rec.device.counters());
  let tVer = 0;
  const server = newServer(cfg, ledger, rec.stack.mountPoint!, serverSettings(cfg));
  const keep = keepDir(cfg, res.cycle);
  if (keep) {
    await keepCrashImage(keep, rec.stack.mountPoint!);
    keepNote(cfg, res.cycle, 'cut.json', JSON.stringify({ cut: res.cut, wal: res.wal, choices: rec.choices.toString(), choice: rec.choice, loop: rec.stack.loopDevice }, null, 1));
  }
  try {
    if (res.wal.startLsn && (rec.fsck?.code ?? 0) < 4) await guard('verify', d.verify, countWal(server, res.wal));
    if ((rec.fsck?.code ?? 0) >= 4) {
      res.findings.push(`e2fsck -p could not repair the file system (exit ${rec.fsck?.code})`);
      res.messages.push(...(rec.fsck?.output ?? '').split('\n').slice(0, 20));
      res.verdict = 'recovery-failed';
      return;
    }
    const st = await guard('recovery-start', d.recoveryStart, server.start());
    res.recovery.ready = st.ready;
    res.recovery.ms = st.ms;
    res.ms.recovery = Date.now() - tRec;
    tVer = Date.now();
    if (!st.ready) {
      const log = server.logSinceStart();
      res.messages.push(...notableLogLines(log));
      res.recovery.zeroedMapPages = logChecksumEvidence(log).zeroedMapPages;
      res.verdict = decideVerdict({ recoveryFailed: true, log });
      res.findings.push(`PostgreSQL did not finish crash recovery (${st.exitCode === undefined ? 'postmaster exit timeout' : st.exitCode === null ? 'the postmaster exited' : `postmaster exit ${st.exitCode}`})`);
      return;
    }
    await guard('verify', d.verify, verify());
  } finally {
    server.kill();
    if (keep) {
      keepNote(cfg, res.cycle, 'recovery.log', server.logSinceStart());
      keepNote(cfg, res.cycle, 'result.json', JSON.stringify(res, null, 1));
      if (res.verdict === 'ok') fs.rmSync(keep, { recursive: true, force: true, maxRetries: 2 });
      else if (cfg.fs === 'ext4') await keepBlockMap(keep, rec.stack.loopDevice!, res.cut.pendingLbas);
    }
    res.device.recovery = deviceBytes(await rec.device.counters(), rdev0);
    await guard('release', d.release, rec.stack.release()).finally(() => rec.device.dispose());
  }

  async function verify(): Promise<void> {
    const c = await server.connect();
    let oracle: OracleResult;
    try {
      oracle = await checkOracle(c, cfg.accounts, acked);
    } finally {
      await c.end().catch(() => undefined);
    }
    res.workload.presentTransfers = oracle.presentTransfers;
    res.checks.oracle = { ...oracle, balanceSum: String(oracle.balanceSum), expectedSum: String(oracle.expectedSum) };
    const conn = ['-h', server.opts.socketDir, '-p', String(server.opts.port), '-U', 'postgres'];
    const am = await server.runTool('pg_amcheck', [...conn, '--all', '--heapallindexed', '--install-missing']);
    res.checks.amcheck = { code: am.code, output: (am.stdout + am.stderr).trim().slice(0, 4000) };
    const stop = await server.stop();
    res.checks.cleanShutdown = stop.clean;
    const log = server.logSinceStart();
    if (stop.clean) {
      const ck = await server.runTool('pg_checksums', ['--check', '-D', server.opts.dataDir]);
      res.checks.checksums = { code: ck.code, output: (ck.stdout + ck.stderr).trim().slice(0, 4000) };
    }
    res.ms.verify = Date.now() - tVer;
    res.messages.push(...notableLogLines(log));
    res.recovery.zeroedMapPages = logChecksumEvidence(log).zeroedMapPages;
    const v = decideVerdict({ recoveryFailed: false, log, oracle, amcheck: res.checks.amcheck, checksums: res.checks.checksums, cleanShutdown: stop.clean });
    res.verdict = v;
    res.findings.push(...describeFindings(res));
  }
}

/**
 * Count records and full-page images of the cycle's WAL with pg_waldump on the
 * crash image, before recovery touches pg_wal: from the start LSN to the last
 * snapshot before the cut, or — when the cut came before any snapshot (seeded
 * cuts) — to the end of the WAL that survived the cut.
 */
async function countWal(server: PgInstance, wal: WalStats): Promise<void> {
  if (wal.endLsn && wal.startLsn === wal.endLsn) {
    wal.records = 0;
    wal.fpi = 0;
    return;
  }
  // Name the start segment: without it pg_waldump learns the segment size from whichever file
  // readdir returns first, and a pre-allocated, still zero-filled segment makes it give up.
  // The end segment must be named too (pg_waldump stops at it): the one holding the end LSN, or
  // the highest-numbered file in pg_wal when reading to the end of what survived.
  const walDir = path.join(server.opts.dataDir, 'pg_wal');
  let endSeg = wal.endLsn ? walSegmentName(wal.endLsn) : '';
  if (!endSeg) {
    const names = (await fs.promises.readdir(walDir)).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    endSeg = names[names.length - 1] ?? walSegmentName(wal.startLsn);
  }
  const args = ['-p', walDir, '-s', wal.startLsn, ...(wal.endLsn ? ['-e', wal.endLsn] : []), walSegmentName(wal.startLsn), endSeg];
  const r = await server.runTool('pg_waldump', args, 60_000);
  let records = 0;
  let fpi = 0;
  let lastLsn = '';
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('rmgr:')) continue;
    records++;
    fpi += (line.match(/ FPW/g) ?? []).length;
    lastLsn = /lsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line)?.[1] ?? lastLsn;
  }
  // Reading to the end of the WAL ends with an error at the first invalid record: expected then.
  if ((r.code !== 0 && wal.endLsn) || records === 0) {
    wal.waldumpError = r.stderr.trim().split('\n').filter((l) => !/hint:/.test(l)).slice(-1)[0];
    return;
  }
  wal.records = records;
  wal.fpi = fpi;
  if (!wal.endLsn && lastLsn) {
    wal.endLsn = lastLsn;
    wal.lsnBytes = lsnToNumber(lastLsn) - lsnToNumber(wal.startLsn);
  }
}

function describeFindings(res: CycleResult): string[] {
  const f: string[] = [];
  const o = res.checks.oracle;
  if (o) {
    if (o.lostCommits.length) f.push(`${o.lostCommits.length} acknowledged transfer(s) missing, e.g. id ${o.lostCommits.slice(0, 5).join(', ')}`);
    if (o.balanceSum !== o.expectedSum) f.push(`balances sum to ${o.balanceSum}, expected ${o.expectedSum}`);
    if (o.inconsistentAccounts) f.push(`${o.inconsistentAccounts} account(s) disagree with the transfers present`);
    for (const e of o.queryErrors) f.push(`query error: ${e}`);
  }
  if (res.checks.amcheck && res.checks.amcheck.code !== 0) f.push(`pg_amcheck exit ${res.checks.amcheck.code}`);
  if (res.checks.checksums && res.checks.checksums.code !== 0) f.push(`pg_checksums --check exit ${res.checks.checksums.code}`);
  if (res.checks.cleanShutdown === false) f.push('no clean shutdown after recovery');
  return f;
}

// ------------------------------------------------------------------- cell

export interface CellResult {
  config: PgCellConfig;
  settings: Record<string, string>;
  base: { blocks: number; buildMs: number };
  cycles: CycleResult[];
  verdicts: Partial<Record<Verdict, number>>;
  /** Any cycle not ok. */
  finding: boolean;
  medianCycleMs: number;
}

export function latencySummary(us: readonly number[]): { p50: number; p99: number } {
  if (us.length === 0) return { p50: 0, p99: 0 };
  const s = [...us].sort((a, b) => a - b);
  const at = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]);
  return { p50: at(0.5), p99: at(0.99) };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run a cell: preconditions, base image, `crashes` cycles. */
export async function runPgCell(
  cfg: PgCellConfig,
  opts: {
    onCycle?: (r: CycleResult) => void;
    ledger?: RunLedger;
    /** Run only cycles from this one on (replay of one cycle). */
    fromCycle?: number;
    /** A shard (src/crash/shard.ts): run only the cycles whose replay id it owns (cycles are independent: each has its own seeded stream). */
    owns?: (replayId: string) => boolean;
    /** Override phase deadlines (ms, before the deadline factor). */
    deadlines?: Partial<PgDeadlines>;
    hooks?: PgTestHooks;
  } = {},
): Promise<CellResult> {
  validateCell(cfg);
  await resolveRuntime(cfg);
  // A setting the server refuses is bad input, found before any work (the local binaries judge it).
  if (cfg.runtime !== 'container') await checkPgSettings(cfg.settings);
  const ledger = opts.ledger ?? runLedger();
  const d = { ...pgDeadlines(cfg), ...opts.deadlines };
  const cycles: CycleResult[] = [];
  const mine = Array.from({ length: cfg.crashes }, (_, i) => i).filter((i) => i >= (opts.fromCycle ?? 0) && (!opts.owns || opts.owns(pgReplayId(cfg, i))));
  try {
    const base = await baseImage(cfg, ledger, d).catch((e: unknown) => refuseFullDevice(cfg, e));
    for (const i of mine) {
      const r = await runCycle(cfg, base, i, ledger, d, opts.hooks);
      cycles.push(r);
      opts.onCycle?.(r);
    }
    if (cfg.runtime === 'container') await guard('release', d.release, settleContainers(ledger.runId));
  } catch (e) {
    // Interrupted by SIGINT/SIGTERM: the teardown owns the exit (status 128+signal).
    await haltIfInterrupted();
    throw e;
  }
  const base = await baseImage(cfg, ledger, d);
  const verdicts: Partial<Record<Verdict, number>> = {};
  for (const c of cycles) verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
  return {
    config: cfg,
    settings: serverSettings(cfg),
    base: { blocks: base.blocks, buildMs: base.buildMs },
    cycles,
    verdicts,
    finding: cycles.some((c) => c.verdict !== 'ok' && c.verdict !== 'harness-error'),
    medianCycleMs: median(cycles.map((c) => c.ms.total)),
  };
}
