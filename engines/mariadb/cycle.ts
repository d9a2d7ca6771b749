/**
 * Crash cycles of real MariaDB (InnoDB) on the emulated device.
 *
 * A cycle: power a device on from the base image (copy-on-write: no
 * mariadb-install-db per cycle), mount it, start mariadbd, run the bank ledger
 * and the OLTP write mix, cut the power — during the page cleaner's flush
 * batch (targeted) or at a seeded point of the write stream — kill the
 * server, mount the crash image a seeded survivor choice gives (e2fsck -p
 * first), start mariadbd (InnoDB crash recovery, or its refusal), check the
 * oracle, CHECK TABLE … EXTENDED, shut down cleanly and run innochecksum page
 * by page. The verdict follows ARCHITECTURE 4 (verdict.ts).
 *
 * The building blocks are shared with engines/postgres through engines/common:
 * the base image, the server process, the cycle's device steps (power on from
 * the base image, the cut record, the crash-image remount with a seeded
 * survivor choice), the bank workload and the report measurements; the
 * watchdog's guard() runs around every phase.
 *
 * Invariants:
 *  1. Every phase runs under a watchdog deadline (mariadbDeadlines); a phase
 *     past it ends the cycle as harness-error naming the phase.
 *  2. Every random choice comes from Prng(seed, `mariadb/cycle<N>`): the
 *     device seed, the cut, the survivors and the load, so a replay id reruns
 *     the same cycle.
 *  3. A commit counts as acknowledged only if its acknowledgement arrived
 *     before the cut instant (BankWorkload.markCut).
 *  4. The targeted cut strikes only at a write of at least one InnoDB page,
 *     after the page cleaner was told to flush everything (with `unprotected`:
 *     only at one the device does not write atomically).
 */
import { getProfile, parseFaults } from '../../src/device/profiles';
import { FsType } from '../../src/export/block-stack';
import { HostedDevice, WriteTrace } from '../../src/export/device-host/client';
import { guard, outlastingGuard } from '../../src/export/watchdog';
import { BadInputError, HarnessError, PreconditionError } from '../../src/util/errors';
import { sleep } from '../../src/export/exec';
import { RunLedger, runLedger } from '../../src/export/ledger';
import { requireExport } from '../../src/export/preconditions';
import { Prng } from '../../src/util/prng';
import { BankWorkload } from '../common/bank-workload';
import { CutRecord, CycleDeadlines, DeviceBytes, HarnessNote, ZERO_BYTES, deviceBytes, scaledDeadlines, commitLatencySummaryUs, noteHarnessError } from '../common/cycle-result';
import { runCellCycles } from '../common/cell-cycles';
import { BaseImage, cachedBaseImage, cellNsze } from '../common/base-image';
import { cutRace, fsckFailed, mountCrashImage, powerOnCycleDevice, recordCut, recordExportStats, releaseCrashImage, releaseCycleStack } from '../common/cycle-stack';
import { powerFailAtomicity } from '../../src/device/identify';
import { fsOptionsTag, parseFsOptionsTag, validateFsChoice } from '../../src/export/fs-options';
import { formatCycleReplayId, matchCycleReplayId, overridesSegment, parseOverridesSegment } from '../../src/crash/replay-id';
import { PageLayout, TracedFile, WriteShape, analyzeWriteShape, fileMap, pageLayout } from '../../src/export/write-shape';
import { CheckTableResult, InnochecksumResult, checkTables, innodbFiles, runInnochecksum } from './checks';
import { MariadbOracle, OLTP_ROWS, OltpWriteMix, checkOracle, mariadbTransfer, schemaSql } from './load';
import { missingForMariadb } from './runtime';
import { Connection, MariadbInstance, MariadbServer, notableLogLines } from './server';
import { MARIADB_VERSIONS, MariadbContainerImage, MariadbContainerServer, mariadbImageName, resolveMariadbImage } from './container-server';
import { containerUnavailable } from '../../src/export/containers/availability';
import { IBD_FIRST_PAGE_CORRUPT, Verdict, decideVerdict, logChecksumEvidence } from './verdict';

/**
 * flush: inside the forced flush (a seeded cache fill); unprotected: there, at the first page write
 * the device does not cover atomically, torn on purpose; first-page: the same at page 0 of an InnoDB
 * file (ibdata1 or a .ibd); ibd-first-page / ibdata1-first-page: at page 0 of a file-per-table
 * tablespace (.ibd) only / of the system tablespace only; seeded: after a seeded number of writes.
 */
export const CRASH_ATS = ['flush', 'unprotected', 'first-page', 'ibd-first-page', 'ibdata1-first-page', 'seeded'] as const;
export type CrashAt = (typeof CRASH_ATS)[number];
/** The crash points aimed at page 0 of a file, with the files each aims at. */
const FIRST_PAGE_AIMS: Partial<Record<CrashAt, (file: string) => boolean>> = {
  'first-page': () => true,
  'ibd-first-page': (file) => file.endsWith('.ibd'),
  'ibdata1-first-page': (file) => /(^|\/)ibdata1$/.test(file),
};
/** The crash points aimed at one page write, which the crash state tears. */
function aimsAtPageWrite(c: string): boolean {
  return c === 'unprotected' || c in FIRST_PAGE_AIMS;
}
function aimsAtFirstPage(c: CrashAt, file: string): boolean {
  return FIRST_PAGE_AIMS[c]?.(file) ?? false;
}
export const FLUSH_METHODS = ['O_DIRECT', 'fsync', 'O_DIRECT_NO_FSYNC'] as const;
export type FlushMethod = (typeof FLUSH_METHODS)[number];
export const PAGE_SIZES = [4096, 8192, 16384, 32768, 65536] as const;

/** Range of the device-cache fill (KiB) at which a targeted cut strikes during the flush batch. */
const CUT_MIN_DIRTY_KIB = 64;
const CUT_MAX_DIRTY_KIB = 1024;

export interface MariadbCellConfig {
  doublewrite: boolean;
  flushMethod: FlushMethod;
  pageSize: number;
  flushLogAtTrxCommit: number;
  bufferPoolMiB: number;
  redoMiB: number;
  profile: string;
  faults: string[];
  seed: number;
  crashes: number;
  crashAt: CrashAt;
  fs: FsType;
  /** Extra mkfs arguments (the base image's file system), e.g. ext4 -O bigalloc -C 16384. */
  mkfsOptions: string[];
  /** Extra mount options (every mount of the cell). */
  mountOptions: string[];
  accounts: number;
  /** Bank-ledger client connections. */
  clients: number;
  /** OLTP write-mix connections (0: none). */
  oltpClients: number;
  /** Load before the flush is forced (ms). */
  loadMs: number;
  /** Namespace size in blocks of the profile (default: 1 GiB worth). */
  nsze?: number;
  /** Default local (Debian's mariadb-server here); container: MariaDB `mariadbVersion` in a container (container-server.ts). */
  runtime?: MariadbRuntime;
  /** MariaDB version of the container runtime (10.11, 11.8); the local runtime runs what the host has. */
  mariadbVersion?: string;
}

/** Where MariaDB runs: this host's binaries, or a tornlab container image of `mariadbVersion`. */
export type MariadbRuntime = 'local' | 'container';

/** The MariaDB version a container cell runs. */
export function containerMariadbVersion(cfg: Pick<MariadbCellConfig, 'mariadbVersion'>): string {
  return cfg.mariadbVersion ?? '10.11';
}

/** The cell's runtime as reports and replay ids name it: '' (local) or '@container11.8'. */
export function runtimeTag(cfg: Pick<MariadbCellConfig, 'runtime' | 'mariadbVersion'>): string {
  return cfg.runtime === 'container' ? `@container${containerMariadbVersion(cfg)}` : '';
}

export const DEFAULT_CELL: Omit<MariadbCellConfig, 'doublewrite' | 'seed' | 'crashes'> = {
  flushMethod: 'O_DIRECT',
  pageSize: 16384,
  flushLogAtTrxCommit: 1,
  bufferPoolMiB: 64,
  redoMiB: 32,
  profile: 'consumer-tlc',
  faults: [],
  crashAt: 'flush',
  fs: 'ext4',
  mkfsOptions: [],
  mountOptions: [],
  accounts: 20000,
  clients: 4,
  oltpClients: 2,
  loadMs: 1000,
};

export function validateCell(cfg: MariadbCellConfig): void {
  getProfile(cfg.profile);
  parseFaults(cfg.faults);
  const int = (v: number, lo: number, hi: number, flag: string) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new BadInputError(`${flag} must be an integer from ${lo} to ${hi}, got ${v}`);
  };
  if (!Number.isSafeInteger(cfg.seed)) throw new BadInputError(`--seed must be an integer, got ${cfg.seed}`);
  int(cfg.crashes, 1, 10000, '--crashes');
  if (!(FLUSH_METHODS as readonly string[]).includes(cfg.flushMethod)) throw new BadInputError(`--flush-method must be one of ${FLUSH_METHODS.join(', ')}, got ${cfg.flushMethod}`);
  if (!(PAGE_SIZES as readonly number[]).includes(cfg.pageSize)) throw new BadInputError(`--page-size must be one of 4k, 8k, 16k, 32k, 64k, got ${cfg.pageSize}`);
  int(cfg.flushLogAtTrxCommit, 0, 2, '--flush-log-at-trx-commit');
  int(cfg.bufferPoolMiB, 8, 4096, '--buffer-pool-mib');
  int(cfg.redoMiB, 4, 4096, '--redo-mib');
  validateFsChoice(cfg);
  if (!(CRASH_ATS as readonly string[]).includes(cfg.crashAt)) throw new BadInputError(`--crash-at must be one of ${CRASH_ATS.join(', ')}, got ${cfg.crashAt}`);
  int(cfg.accounts, 2, 10_000_000, '--accounts');
  int(cfg.clients, 1, 64, '--clients');
  int(cfg.oltpClients, 0, 64, '--oltp-clients');
  if (!(cfg.loadMs >= 0)) throw new BadInputError(`--load-ms must be >= 0, got ${cfg.loadMs}`);
  const rt = cfg.runtime ?? 'local';
  if (rt !== 'local' && rt !== 'container') throw new BadInputError(`--runtime must be local or container, got ${String(rt)}`);
  if (cfg.mariadbVersion !== undefined) {
    if (rt !== 'container') throw new BadInputError('--mariadb-version needs --runtime container (the local runtime runs the host\'s mariadb-server)');
    if (!(MARIADB_VERSIONS as readonly string[]).includes(cfg.mariadbVersion)) throw new BadInputError(`--mariadb-version must be one of ${MARIADB_VERSIONS.join(', ')}, got ${cfg.mariadbVersion}`);
  }
  const ns = getProfile(cfg.profile).identify.namespace.lbaDataSize;
  if (cfg.pageSize < ns) throw new BadInputError(`--page-size ${cfg.pageSize} is smaller than the ${cfg.profile} block size ${ns}`);
}

/** Settings fixed when the datadir is created (a base image per combination). */
function creationSettings(cfg: MariadbCellConfig): Record<string, string> {
  return {
    'innodb-page-size': String(cfg.pageSize),
    'innodb-log-file-size': `${cfg.redoMiB}M`,
    'innodb-buffer-pool-size': `${cfg.bufferPoolMiB}M`,
  };
}

/** mariadbd options of a cell. */
export function serverSettings(cfg: MariadbCellConfig): Record<string, string> {
  return {
    ...creationSettings(cfg),
    'innodb-doublewrite': cfg.doublewrite ? '1' : '0',
    'innodb-flush-method': cfg.flushMethod,
    'innodb-flush-log-at-trx-commit': String(cfg.flushLogAtTrxCommit),
    'innodb-buffer-pool-load-at-startup': '0',
    'innodb-buffer-pool-dump-at-shutdown': '0',
    'innodb-io-capacity': '1000',
    'innodb-io-capacity-max': '4000',
    'innodb-max-dirty-pages-pct': '90',
    'performance-schema': '0',
    'max-connections': '100',
  };
}

// -------------------------------------------------------------- deadlines

/** MariaDB's phase deadlines (engines/common/cycle-result.ts). */
export type MariadbDeadlines = CycleDeadlines;

/** Generous on purpose: they catch hangs, not slowness, on a loaded 2-core machine. */
export function mariadbDeadlines(cfg: MariadbCellConfig): MariadbDeadlines {
  const gib = (nszeOf(cfg) * getProfile(cfg.profile).identify.namespace.lbaDataSize) / 1024 ** 3;
  const data = cfg.accounts / 20000 + cfg.redoMiB / 32;
  return scaledDeadlines({ deviceGiB: gib, dataUnits: data, loadMs: cfg.loadMs }, { base: 240_000, start: 120_000, recoveryStart: 180_000, verify: 180_000 });
}

// ------------------------------------------------------------- base image

function nszeOf(cfg: MariadbCellConfig): number {
  return cellNsze(cfg.profile, cfg.nsze);
}

function baseKey(cfg: MariadbCellConfig): string {
  return JSON.stringify({ profile: cfg.profile, fs: cfg.fs, mkfs: cfg.mkfsOptions, mount: cfg.mountOptions, accounts: cfg.accounts, nsze: nszeOf(cfg), runtime: runtimeTag(cfg), ...creationSettings(cfg) });
}

/** Container images resolved for this process, by version (resolveRuntime fills it). */
const containerImages = new Map<string, MariadbContainerImage>();

/** Check what the cell's runtime needs; for containers, find the image (throws PreconditionError naming the fix). */
export async function resolveRuntime(cfg: MariadbCellConfig): Promise<void> {
  if (cfg.runtime !== 'container') {
    requireExport(cfg.fs, missingForMariadb());
    return;
  }
  requireExport(cfg.fs);
  const v = containerMariadbVersion(cfg);
  if (containerImages.has(v)) return;
  const why = await containerUnavailable(mariadbImageName(v));
  if (why) throw new PreconditionError(`MariaDB ${v} in a container: ${why}`);
  containerImages.set(v, await resolveMariadbImage(v));
}

function newServer(cfg: MariadbCellConfig, ledger: RunLedger, mountPoint: string, settings: Record<string, string>): MariadbInstance {
  const runDir = ledger.newPath('mariadb');
  ledger.add('dir', runDir);
  const opts = { dataDir: `${mountPoint}/mysql`, runDir, settings, ledger };
  if (cfg.runtime !== 'container') return new MariadbServer(opts);
  const image = containerImages.get(containerMariadbVersion(cfg));
  if (!image) throw new Error(`MariaDB ${containerMariadbVersion(cfg)} image not resolved (call resolveRuntime first)`);
  return new MariadbContainerServer(opts, image);
}

/**
 * The base image of a configuration: mariadb-install-db plus the schema and
 * initial load, shut down cleanly (innodb_fast_shutdown=0: purged, merged,
 * every page written), built once per process and configuration on a device
 * without faults.
 */
export function baseImage(cfg: MariadbCellConfig, ledger = runLedger(), d = mariadbDeadlines(cfg)): Promise<BaseImage> {
  const spec = { engine: 'mariadb', key: baseKey(cfg), profile: cfg.profile, seed: cfg.seed, nsze: nszeOf(cfg), fs: cfg, ledger, deadlines: d };
  return cachedBaseImage(spec, async (mountPoint, onRelease) => {
    const server = newServer(cfg, ledger, mountPoint, { ...serverSettings({ ...cfg, doublewrite: true }), 'innodb-fast-shutdown': '0' });
    // Nothing of the server (a container kept after its clean shutdown) may hold the mount at the release.
    onRelease(() => server.waitGone(server.kill()));
    await server.installDb();
    const st = await server.start();
    if (!st.ready) throw new Error(`mariadbd did not start on the base image:\n${notableLogLines(server.logSinceStart()).join('\n')}`);
    const c = await server.connect();
    try {
      for (const sql of schemaSql(cfg.accounts)) await c.query(sql);
    } finally {
      await c.end();
    }
    const stop = await server.stop();
    if (!stop.clean) throw new Error(`mariadbd did not shut down cleanly on the base image:\n${notableLogLines(server.logSinceStart()).join('\n')}`);
  });
}

// ------------------------------------------------------------------ cycle

export interface CycleResult {
  cycle: number;
  seed: number;
  verdict: Verdict;
  /** InnoDB refused to start after the cut: the database is down until restored (an outage, not lost data). */
  outage: boolean;
  harness?: HarnessNote;
  findings: string[];
  /** MariaDB's own words: error-log lines, tool output. */
  messages: string[];
  replayId: string;
  /** dirtyPages: InnoDB dirty pages when the flush was forced. */
  cut: CutRecord<CrashAt | 'after-flush' | 'end-of-load'> & { dirtyPages: number };
  workload: { acked: number; attempted: number; presentTransfers: number; oltpTransactions: number; commitLatencyUs: { p50: number; p99: number } };
  device: { load: DeviceBytes; recovery: DeviceBytes };
  recovery: { ready: boolean; ms: number; exitCode?: number | null; fsckCode: number | null; fsckOutput: string };
  checks: {
    oracle?: Omit<MariadbOracle, 'balanceSum' | 'expectedSum'> & { balanceSum: string; expectedSum: string };
    checkTable?: CheckTableResult;
    innochecksum?: InnochecksumResult;
    cleanShutdown?: boolean;
  };
  /** What the writes looked like at the device: during the load, and in the forced flush up to the cut. */
  writeShape?: { load?: WriteShape; flush?: WriteShape; layout?: PageLayout; tornPages: TornPage[] };
  ms: { total: number; start: number; load: number; cut: number; recovery: number; verify: number };
}

/** A page found torn after the cut, and what its last write before the cut looked like. */
export interface TornPage {
  /** Path relative to the mount point (mysql/…). */
  file: string;
  page: number;
  /** How innochecksum or the error log named it. */
  source: 'innochecksum' | 'error-log';
  /** Its write in the traced phases: unprotected (and why), protected, or not written (not in the trace). */
  write: 'split' | 'exceeds-unit' | 'crosses-boundary' | 'protected' | 'not-written';
  misaligned: boolean;
}

function emptyCycleResult(cfg: MariadbCellConfig, cycle: number, device: DeviceBytes): CycleResult {
  return {
    cycle,
    seed: cfg.seed,
    verdict: 'ok',
    outage: false,
    findings: [],
    messages: [],
    replayId: replayIdOf(cfg, cycle),
    cut: { trigger: cfg.crashAt, afterWrites: 0, dirtyBytesAtLeast: 0, maxDirtyBytes: 0, dirtyPages: 0, seq: 0, pendingWrites: 0, pendingBlocks: 0, pendingLbas: [], heldRequests: 0, changedBlocks: 0 },
    workload: { acked: 0, attempted: 0, presentTransfers: 0, oltpTransactions: 0, commitLatencyUs: { p50: 0, p99: 0 } },
    device: { load: device, recovery: device },
    recovery: { ready: false, ms: 0, fsckCode: null, fsckOutput: '' },
    checks: {},
    ms: { total: 0, start: 0, load: 0, cut: 0, recovery: 0, verify: 0 },
  };
}

function kib(n: number): string {
  return n % 1024 === 0 ? `${n / 1024}k` : String(n);
}

/**
 * The replay id of a cycle (src/crash/replay-id.ts's cycle grammar):
 *   mariadb[@container<version>]:<profile>[+fault]:dblwr=on|off:<flush method>:<page>k:trx=<n>:<fs>[~<fs options>]:<cut>[:w~<fields>]:seed=S:cycle=N
 * (w~: buffer pool, redo, data set, load and namespace size where they differ from DEFAULT_CELL).
 */
export function replayIdOf(cfg: MariadbCellConfig, cycle: number): string {
  const body = `${cfg.profile}${cfg.faults.length ? '+' + cfg.faults.join('+') : ''}:dblwr=${cfg.doublewrite ? 'on' : 'off'}:${cfg.flushMethod}:${kib(cfg.pageSize)}:trx=${cfg.flushLogAtTrxCommit}:${cfg.fs}${fsOptionsTag(cfg)}:${cfg.crashAt}`;
  const w = overridesSegment(cfg, DEFAULT_CELL, MARIADB_REPLAY_FIELDS);
  return formatCycleReplayId({ kind: 'mariadb', ...(cfg.runtime === 'container' ? { runtime: `container${containerMariadbVersion(cfg)}` } : {}), body: w ? `${body}:${w}` : body, seed: cfg.seed, cycle });
}

const MARIADB_BODY = new RegExp(`^([a-z0-9-]+)((?:\\+[a-z0-9:-]+)*):dblwr=(on|off):(O_DIRECT|fsync|O_DIRECT_NO_FSYNC):(\\d+)k:trx=([012]):(ext4|xfs)(~[A-Za-z0-9_-]+)?:(${CRASH_ATS.join('|')})(?::(w~[A-Za-z0-9_-]+))?$`);
/** The fields a cycle depends on besides protection, InnoDB I/O settings, device, file system and cut (written only when not the default). */
const MARIADB_REPLAY_FIELDS = ['bufferPoolMiB', 'redoMiB', 'accounts', 'clients', 'oltpClients', 'loadMs', 'nsze'] as const;

/** Parse a MariaDB replay id into its cell (with enough crashes to reach the cycle) and the cycle. */
export function parseMariadbReplayId(id: string): { cfg: MariadbCellConfig; cycle: number } {
  const bad = () => new BadInputError(`"${id.trim()}" is not a MariaDB replay id (mariadb[@containerV]:<profile>[+fault]:dblwr=on|off:<flush method>:<page>k:trx=N:ext4|xfs[~options]:${CRASH_ATS.join('|')}[:w~<fields>]:seed=S:cycle=N)`);
  // The container runtime names itself and its version: mariadb@container11.8:...
  const { env, m, containerVersion } = matchCycleReplayId(id, 'mariadb', MARIADB_BODY, /[0-9]+\.[0-9]+/, bad);
  const cycle = env.cycle;
  const fsOptions = parseFsOptionsTag(m[8], id);
  const cfg: MariadbCellConfig = {
    ...DEFAULT_CELL,
    ...parseOverridesSegment<MariadbCellConfig>(m[10], DEFAULT_CELL, MARIADB_REPLAY_FIELDS, id),
    profile: m[1],
    faults: m[2] ? m[2].slice(1).split('+') : [],
    doublewrite: m[3] === 'on',
    flushMethod: m[4] as FlushMethod,
    pageSize: Number(m[5]) * 1024,
    flushLogAtTrxCommit: Number(m[6]),
    fs: m[7] as FsType,
    ...fsOptions,
    crashAt: m[9] as CrashAt,
    seed: env.seed,
    crashes: cycle + 1,
    ...(containerVersion ? { runtime: 'container' as const, mariadbVersion: containerVersion } : {}),
  };
  validateCell(cfg);
  return { cfg, cycle };
}

async function statusValue(c: Connection, name: string): Promise<number> {
  const rows = (await c.query('SELECT VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?', [name])) as { v: string }[];
  return rows.length ? Number(rows[0].v) : -1;
}

/**
 * Hooks for an investigation of one cycle (bench/mariadb-fsync-trace.ts):
 * they observe, and change nothing unless they say so.
 */
export interface CycleProbe {
  /** Extra mariadbd options, for the load and for recovery (e.g. innodb-use-native-aio=0). */
  settings?: Record<string, string>;
  /** A crash point aimed at page 0 strikes only this file (e.g. "transfers.ibd"): which tablespaces InnoDB restores. */
  firstPageFile?: string;
  /** The server is up, before the load (pid: the host's mariadbd; undefined in a container). */
  started?(ctx: { pid: number | undefined; mountPoint: string; dataDir: string }): Promise<void> | void;
  /** The power was cut; the server still runs (its I/O waits on the cut device). */
  atCut?(ctx: { pid: number | undefined; mountPoint: string; dataDir: string; files: TracedFile[] }): Promise<void> | void;
  /** The device-level trace of the load and of the forced flush up to the cut, with the file map it is read against. */
  traced?(t: { load?: WriteTrace; flush?: WriteTrace; extents?: Awaited<ReturnType<typeof fileMap>>; files?: TracedFile[] }): Promise<void> | void;
  /** The crash image is mounted (after e2fsck -p), before InnoDB recovery starts. */
  beforeRecovery?(ctx: { mountPoint: string; dataDir: string }): Promise<void> | void;
  /** InnoDB's whole error log since the recovery start (after the clean stop, or after its refusal). */
  recovered?(ctx: { log: string; ready: boolean }): Promise<void> | void;
}

/** Run one crash cycle. */
export async function runCycle(cfg: MariadbCellConfig, base: BaseImage, cycle: number, ledger = runLedger(), d = mariadbDeadlines(cfg), probe: CycleProbe = {}): Promise<CycleResult> {
  const t0 = Date.now();
  const cyclePrng = new Prng(cfg.seed, `mariadb/cycle${cycle}`);
  const on = await powerOnCycleDevice({ profile: cfg.profile, faults: cfg.faults, base, cyclePrng, fs: cfg.fs, mountOptions: cfg.mountOptions, ledger, exportMs: d.export });
  if ('error' in on) {
    const res = emptyCycleResult(cfg, cycle, ZERO_BYTES);
    res.ms.total = Date.now() - t0;
    noteHarnessError(res, on.error);
    return res;
  }
  const { dev, stack } = on;
  const dev0 = deviceBytes(await dev.counters());
  const res = emptyCycleResult(cfg, cycle, dev0);
  const server = newServer(cfg, ledger, stack.mountPoint!, { ...serverSettings(cfg), ...probe.settings });
  const hostPid = () => (server instanceof MariadbServer ? server.pid : undefined);
  const bank = new BankWorkload<Connection>(cfg.accounts, cyclePrng.fork('bank'), mariadbTransfer);
  const oltp = new OltpWriteMix(cyclePrng.fork('oltp'));
  stack.fuse!.onCut(() => {
    bank.markCut();
    oltp.stop();
  });
  const untilCut = cutRace(stack);
  const conns: Connection[] = [];
  let released = false;
  let loadTraceKept: WriteTrace | undefined;
  let shapeCtx: { extents: Awaited<ReturnType<typeof fileMap>>; files: TracedFile[]; rule: ReturnType<typeof powerFailAtomicity>; blockSize: number; load: WriteShape } | undefined;
  try {
    const st = await guard('start', d.start, server.start(outlastingGuard(d.start)));
    res.ms.start = Date.now() - t0;
    if (!st.ready) throw new Error(`mariadbd did not start from the base image:\n${notableLogLines(server.logSinceStart()).join('\n')}`);
    const ctl = await guard('start', d.start, server.connect());
    conns.push(ctl);
    await probe.started?.({ pid: hostPid(), mountPoint: stack.mountPoint!, dataDir: server.opts.dataDir });
    await stack.fuse!.startTrace();
    const bankConns: Connection[] = [];
    const oltpConns: Connection[] = [];
    for (let i = 0; i < cfg.clients; i++) bankConns.push(await guard('load', d.load, server.connect()));
    for (let i = 0; i < cfg.oltpClients; i++) oltpConns.push(await guard('load', d.load, server.connect()));
    conns.push(...bankConns, ...oltpConns);
    const tLoad = Date.now();
    await guard('load', d.load, loadUntilCut(ctl, bankConns, oltpConns));
    res.ms.load = Date.now() - tLoad;
    if (!stack.fuse!.isCut) await guard('cut', d.cut, stack.cut());
    // --- the cut: kill the server, then release the stack
    const tCut = Date.now();
    await recordCut(res, stack, dev, dev0);
    await probe.atCut?.({ pid: hostPid(), mountPoint: stack.mountPoint!, dataDir: server.opts.dataDir, files: shapeCtx?.files ?? [] });
    const victims = server.kill();
    const flushTrace = await stack.fuse!.takeTrace();
    await recordExportStats(res, stack);
    await guard('cut', d.cut, stack.release());
    released = true;
    await guard('cut', d.cut, server.waitGone(victims));
    for (const c of conns) void c.end().catch(() => undefined);
    await guard('cut', d.cut, Promise.all([bank.settled(), oltp.settled()]));
    res.workload.acked = bank.acked.length;
    res.workload.attempted = bank.attempted;
    res.workload.oltpTransactions = oltp.transactions;
    res.workload.commitLatencyUs = commitLatencySummaryUs(bank.latenciesUs);
    res.ms.cut = Date.now() - tCut;
    await probe.traced?.({ load: loadTraceKept, flush: flushTrace, extents: shapeCtx?.extents, files: shapeCtx?.files });
    if (flushTrace && shapeCtx) {
      res.writeShape = {
        load: shapeCtx.load,
        flush: analyzeWriteShape('flush', flushTrace, shapeCtx.extents, shapeCtx.files, shapeCtx.rule, shapeCtx.blockSize),
        layout: pageLayout(shapeCtx.extents, shapeCtx.files, shapeCtx.rule, shapeCtx.blockSize),
        tornPages: [],
      };
    }
    await recoverAndVerify(cfg, dev, cyclePrng, bank.acked, res, ledger, d, probe);
    if (res.writeShape) {
      res.writeShape.tornPages = tornPagesOf(res, res.writeShape);
      // The per-page fates served the matching; the cycle keeps the counts and the sample.
      delete res.writeShape.load?.pages;
      delete res.writeShape.flush?.pages;
    }
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    noteHarnessError(res, e);
  } finally {
    server.kill();
    await releaseCycleStack(res, stack, dev, released, d.release);
  }
  res.ms.total = Date.now() - t0;
  return res;

  /** The load, then the targeted cut inside the page cleaner's flush of every dirty page. */
  async function loadUntilCut(ctl: Connection, bankConns: Connection[], oltpConns: Connection[]): Promise<void> {
    const cutPrng = cyclePrng.fork('cut');
    let cutPromise: Promise<unknown> | undefined;
    if (cfg.crashAt === 'seeded') {
      res.cut.afterWrites = cutPrng.int(1, 400);
      cutPromise = stack.armCut({ afterWrites: res.cut.afterWrites });
    }
    bank.start(bankConns);
    oltp.start(oltpConns);
    if (cutPromise) {
      const first = await Promise.race([cutPromise.then(() => 'cut'), sleep(cfg.loadMs).then(() => 'time')]);
      if (first !== 'cut') res.cut.trigger = 'end-of-load';
      return;
    }
    await sleep(cfg.loadMs);
    if (stack.fuse!.isCut) return;
    // The load's write shape, and the file map the flush's writes will be read against.
    const loadTrace = await untilCut(stack.fuse!.takeTrace());
    loadTraceKept = loadTrace;
    const mapped = await untilCut(mapFiles(stack.mountPoint!, server.opts.dataDir, cfg.pageSize));
    if (loadTrace && mapped) {
      const profile = getProfile(cfg.profile);
      const rule = powerFailAtomicity(profile.identify);
      const blockSize = profile.identify.namespace.lbaDataSize;
      shapeCtx = { ...mapped, rule, blockSize, load: analyzeWriteShape('load', loadTrace, mapped.extents, mapped.files, rule, blockSize) };
    }
    if (stack.fuse!.isCut) return;
    res.cut.dirtyPages = (await untilCut(statusValue(ctl, 'INNODB_BUFFER_POOL_PAGES_DIRTY'))) ?? 0;
    if (stack.fuse!.isCut) return;
    res.cut.dirtyBytesAtLeast = aimsAtPageWrite(cfg.crashAt) ? cfg.pageSize : cutPrng.int(CUT_MIN_DIRTY_KIB, CUT_MAX_DIRTY_KIB) * 1024;
    await stack.fuse!.resetMaxDirty();
    // unprotected: a page write the device does not cover. With O_DIRECT each page write is one request
    // of the page size, so larger requests (redo log writes, whose torn tail recovery expects) do not
    // cut; with fsync page-cache writeback merges pages, so any size does.
    // first-page: the same, at page 0 of a tablespace (the page InnoDB reads first when it opens a file);
    // ibd-first-page / ibdata1-first-page: at page 0 of a .ibd only / of ibdata1 only (which of them first-page
    // strikes depends on the flush's order; InnoDB recovers the two differently, docs/mariadb-page0-doublewrite.md).
    const unprotected = aimsAtPageWrite(cfg.crashAt);
    const onePagePerRequest = unprotected && cfg.flushMethod !== 'fsync';
    // ... and only inside InnoDB's paged files (tablespaces, ibdata1), by their extents: never a redo log write.
    const blockBytes = getProfile(cfg.profile).identify.namespace.lbaDataSize;
    const paged = new Set(mapped?.files.filter((f) => f.pageSize).map((f) => f.file) ?? []);
    const pagedExtents = mapped ? mapped.extents.filter((e) => paged.has(e.file)) : [];
    const aimed = (file: string) => aimsAtFirstPage(cfg.crashAt, file) && (!probe.firstPageFile || file.endsWith(`/${probe.firstPageFile}`));
    const firstPages = pagedExtents.filter((e) => e.logical === 0 && aimed(e.file)).map((e) => ({ ...e, length: Math.min(e.length, cfg.pageSize) }));
    const withinBlocks = unprotected && mapped ? (cfg.crashAt === 'unprotected' ? pagedExtents : firstPages).map((e): [number, number] => [Math.floor(e.physical / blockBytes), Math.ceil(e.length / blockBytes)]) : undefined;
    const armed = stack.armCut({ dirtyBytesAtLeast: res.cut.dirtyBytesAtLeast, minWriteBytes: cfg.pageSize, ...(onePagePerRequest ? { maxWriteBytes: cfg.pageSize } : {}), ...(withinBlocks ? { withinBlocks } : {}), notAtomicWrites: unprotected });
    // innodb_max_dirty_pages_pct=0: the page cleaner flushes every dirty page, in batches.
    const flushed = (async () => {
      await ctl.query('SET GLOBAL innodb_max_dirty_pages_pct = 0');
      for (let i = 0; i < 400 && !stack.fuse!.isCut; i++) {
        const left = await statusValue(ctl, 'INNODB_BUFFER_POOL_PAGES_DIRTY');
        if (left <= 0) return 'done';
        await sleep(25);
      }
      return 'done';
    })().catch(() => 'error');
    const first = await Promise.race([armed.then(() => 'cut'), flushed]);
    if (first !== 'cut') res.cut.trigger = 'after-flush';
  }
}

/** How a start that never became ready ended: an exit status, an exit without one (a signal, or a container), or the deadline. */
function exitWords(code: number | null | undefined): string {
  if (code === undefined) return 'mariadbd was not ready before the start deadline';
  return code === null ? 'mariadbd exited' : `mariadbd exit ${code}`;
}

async function recoverAndVerify(cfg: MariadbCellConfig, cut: HostedDevice, cyclePrng: Prng, acked: number[], res: CycleResult, ledger: RunLedger, d: MariadbDeadlines, probe: CycleProbe): Promise<void> {
  const tRec = Date.now();
  // A crash point aimed at a page write (unprotected, the first-page ones): the crash state tears the write
  // the cut struck at (a legal outcome of a write the device does not cover), so that what InnoDB does about
  // it is what the cycle measures.
  const trigger = aimsAtPageWrite(res.cut.trigger) ? res.cut.triggerWrite?.split('+').map(Number) : undefined;
  const tear = trigger ? { lba: trigger[0], nlb: trigger[1] } : undefined;
  if (tear) res.cut.tornOnPurpose = true;
  const mounted = await mountCrashImage(res, cut, cyclePrng, { fs: cfg.fs, mountOptions: cfg.mountOptions, ledger, fsckMs: d.fsck, tear });
  let tVer = 0;
  const server = newServer(cfg, ledger, mounted.rec.stack.mountPoint!, { ...serverSettings(cfg), ...probe.settings });
  try {
    if (fsckFailed(res, mounted)) return;
    await probe.beforeRecovery?.({ mountPoint: mounted.rec.stack.mountPoint!, dataDir: server.opts.dataDir });
    const st = await guard('recovery-start', d.recoveryStart, server.start(outlastingGuard(d.recoveryStart)));
    res.recovery.ready = st.ready;
    res.recovery.ms = st.ms;
    res.recovery.exitCode = st.exitCode;
    res.ms.recovery = Date.now() - tRec;
    tVer = Date.now();
    if (!st.ready) {
      const log = server.logSinceStart();
      await probe.recovered?.({ log, ready: false });
      res.messages.push(...notableLogLines(log), ...restoreLines(log));
      // The datadir is there even when InnoDB refuses it: which pages are torn?
      res.checks.innochecksum = await guard('verify', d.verify, runInnochecksum(server, cfg.pageSize));
      res.verdict = decideVerdict({ refused: true, log });
      res.outage = res.verdict === 'torn-page-detected';
      res.findings.push(
        res.outage
          ? `InnoDB refused to start over a corrupt page (${exitWords(st.exitCode)}): an outage until the datadir is restored or forced into recovery`
          : `InnoDB did not finish crash recovery (${exitWords(st.exitCode)})`,
      );
      return;
    }
    await guard('verify', d.verify, verify());
  } finally {
    await guard('release', d.release, server.waitGone(server.kill()));
    await releaseCrashImage(res, mounted, d.release);
  }

  async function verify(): Promise<void> {
    const c = await server.connect();
    let oracle: MariadbOracle;
    let checkTable: CheckTableResult;
    try {
      oracle = await checkOracle(c, cfg.accounts, acked);
      checkTable = await checkTables(c);
    } finally {
      await c.end().catch(() => undefined);
    }
    res.workload.presentTransfers = oracle.presentTransfers;
    res.checks.oracle = { ...oracle, balanceSum: String(oracle.balanceSum), expectedSum: String(oracle.expectedSum) };
    res.checks.checkTable = checkTable;
    const stop = await server.stop();
    res.checks.cleanShutdown = stop.clean;
    const log = server.logSinceStart();
    await probe.recovered?.({ log, ready: true });
    const innochecksum = await runInnochecksum(server, cfg.pageSize);
    res.checks.innochecksum = innochecksum;
    res.ms.verify = Date.now() - tVer;
    res.messages.push(...notableLogLines(log), ...restoreLines(log));
    for (const b of checkTable.benign ?? []) res.messages.push(`not a finding: CHECK TABLE ${b.table} EXTENDED: ${b.msgType} ${b.msgText} (${b.why})`);
    res.verdict = decideVerdict({ refused: false, log, oracle, oltpRowsExpected: OLTP_ROWS, checkTable, innochecksum, cleanShutdown: stop.clean });
    res.findings.push(...describeFindings(res, cfg));
  }
}

/** What InnoDB's doublewrite recovery restored, in one line, and which checksum lines that answered. */
function restoreLines(log: string): string[] {
  const ev = logChecksumEvidence(log);
  if (!ev.restored.length) return [];
  const shown = ev.restored.slice(0, 8).join(', ') + (ev.restored.length > 8 ? ', …' : '');
  const answered = ev.repairLines.length ? `; it answers ${ev.repairLines.length} checksum line(s) above, which are not a finding` : '';
  return [`not a finding: InnoDB restored ${ev.restored.length} page(s) from the doublewrite buffer (${shown})${answered}`];
}

/** InnoDB files (with their page size) and the redo log of the datadir, relative to the mount point, and their extents. */
async function mapFiles(mountPoint: string, dataDir: string, pageSize: number): Promise<{ extents: Awaited<ReturnType<typeof fileMap>>; files: TracedFile[] }> {
  const rel = dataDir.slice(mountPoint.length + 1);
  const files: TracedFile[] = innodbFiles(dataDir).map((f) => ({ file: `${rel}/${f}`, pageSize }));
  files.push({ file: `${rel}/ib_logfile0` });
  const extents = await fileMap(mountPoint, files.map((f) => f.file));
  return { extents, files };
}

/** Pages named torn (innochecksum, the refusal in the error log), matched against the traced writes. */
function tornPagesOf(res: CycleResult, shape: NonNullable<CycleResult['writeShape']>): TornPage[] {
  const rel = 'mysql';
  const found = new Map<string, TornPage['source']>();
  for (const b of res.checks.innochecksum?.bad ?? []) found.set(`${rel}/${b.file}#${b.page}`, 'innochecksum');
  for (const m of res.messages.join('\n').matchAll(/corrupted page (\d+) in file \.\/(\S+)/g)) if (!found.has(`${rel}/${m[2]}#${m[1]}`)) found.set(`${rel}/${m[2]}#${m[1]}`, 'error-log');
  const last = { ...(shape.load?.pages ?? {}), ...(shape.flush?.pages ?? {}) };
  const out: TornPage[] = [];
  for (const [key, source] of found) {
    const at = key.lastIndexOf('#');
    const [fate, flag] = (last[key] ?? 'not-written').split(',');
    out.push({ file: key.slice(0, at), page: Number(key.slice(at + 1)), source, write: fate as TornPage['write'], misaligned: flag === 'misaligned' });
  }
  return out;
}

function describeFindings(res: CycleResult, cfg: MariadbCellConfig): string[] {
  const f: string[] = [];
  // A .ibd whose page 0 InnoDB could not open: say what it means before the query errors it causes.
  const firstPages = new Set([...res.messages.join('\n').matchAll(IBD_FIRST_PAGE_CORRUPT)].map((m) => m[1]));
  for (const file of firstPages)
    f.push(
      cfg.doublewrite
        ? `page 0 of ${file} is torn and InnoDB did not restore it from the doublewrite buffer: the table is unusable until it is repaired (an InnoDB gap, docs/mariadb-page0-doublewrite.md)`
        : `page 0 of ${file} is torn: the table is unusable until it is restored`,
    );
  const o = res.checks.oracle;
  if (o) {
    if (o.lostCommits.length) f.push(`${o.lostCommits.length} acknowledged transfer(s) missing, e.g. id ${o.lostCommits.slice(0, 5).join(', ')}`);
    if (o.balanceSum !== o.expectedSum) f.push(`balances sum to ${o.balanceSum}, expected ${o.expectedSum}`);
    if (o.inconsistentAccounts) f.push(`${o.inconsistentAccounts} account(s) disagree with the transfers present`);
    if (o.inconsistentBranches) f.push(`${o.inconsistentBranches} branch(es) disagree with the transfers present`);
    if (o.oltpRows >= 0 && o.oltpRows !== OLTP_ROWS) f.push(`sbtest1 holds ${o.oltpRows} rows, expected ${OLTP_ROWS} (a delete or insert of a transaction without the other)`);
    for (const e of o.queryErrors) f.push(`query error: ${e}`);
  }
  const ct = res.checks.checkTable;
  if (ct) {
    for (const p of ct.problems) f.push(`CHECK TABLE ${p.table} EXTENDED: ${p.msgType} ${p.msgText}`);
    for (const e of ct.errors) f.push(`CHECK TABLE failed: ${e}`);
  }
  const ic = res.checks.innochecksum;
  if (ic) {
    if (ic.bad.length) f.push(`innochecksum: ${ic.bad.length} page(s) fail, e.g. ${ic.bad.slice(0, 5).map((b) => `${b.file} page ${b.page}`).join(', ')}`);
    for (const u of ic.unreadable) f.push(`innochecksum could not read ${u.file}: ${u.output}`);
  }
  if (res.checks.cleanShutdown === false) f.push('no clean shutdown after recovery');
  return f;
}

// ------------------------------------------------------------------- cell

export interface CellResult {
  config: MariadbCellConfig;
  settings: Record<string, string>;
  base: { blocks: number; buildMs: number };
  cycles: CycleResult[];
  verdicts: Partial<Record<Verdict, number>>;
  outages: number;
  finding: boolean;
  medianCycleMs: number;
}

/** Run a cell: preconditions, base image, `crashes` cycles. */
export async function runMariadbCell(
  cfg: MariadbCellConfig,
  opts: {
    onCycle?: (r: CycleResult) => void;
    ledger?: RunLedger;
    fromCycle?: number;
    deadlines?: Partial<MariadbDeadlines>;
    /** A shard (src/crash/shard.ts): run only the cycles whose replay id it owns (each cycle has its own seeded stream). */
    owns?: (replayId: string) => boolean;
  } = {},
): Promise<CellResult> {
  validateCell(cfg);
  await resolveRuntime(cfg);
  const ledger = opts.ledger ?? runLedger();
  const d = { ...mariadbDeadlines(cfg), ...opts.deadlines };
  const { base, ...run } = await runCellCycles({
    crashes: cfg.crashes,
    fromCycle: opts.fromCycle,
    owns: opts.owns,
    replayId: (i) => replayIdOf(cfg, i),
    baseImage: () => baseImage(cfg, ledger, d),
    cycle: (b, i) => runCycle(cfg, b, i, ledger, d),
    onCycle: opts.onCycle,
    ...(cfg.runtime === 'container' ? { containers: { runId: ledger.runId, releaseMs: d.release } } : {}),
  });
  return { config: cfg, settings: serverSettings(cfg), base: { blocks: base.blocks, buildMs: base.buildMs }, ...run, outages: run.cycles.filter((c) => c.outage).length };
}
