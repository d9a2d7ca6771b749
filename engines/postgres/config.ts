/**
 * The configuration of a PostgreSQL cell: what the user chooses (protection,
 * device, cut, file system, load, runtime), its validation, the server
 * settings it gives, the phase deadlines it scales, and the replay id of one
 * of its cycles and its parser.
 *
 * Invariants:
 *  1. validateCell accepts a configuration or throws BadInputError naming the
 *     option and what it must be (exit 2): nothing runs on bad input.
 *  2. The user's --set settings win over ours, except full_page_writes, which
 *     only --fpw sets.
 *  3. pgReplayId(cfg, N) names everything a cycle depends on; segments at
 *     their default (the local runtime, ext4 without options) are left out, so
 *     older ids stay valid.
 */
import { getProfile, parseFaults } from '../../src/device/profiles';
import { FsType } from '../../src/export/block-stack';
import { FsChoice, fsOptionsTag, isDefaultFsChoice, parseFsOptionsTag, validateFsChoice } from '../../src/export/fs-options';
import { formatCycleReplayId, matchCycleReplayId, overridesSegment, parseOverridesSegment } from '../../src/crash/replay-id';
import { PG_VERSIONS } from '../../src/export/containers/images';
import { BadInputError } from '../../src/util/errors';
import { cellNsze } from '../common/base-image';
import { CycleDeadlines, scaledDeadlines } from '../common/cycle-result';

export type CrashAt = 'checkpoint' | 'seeded';
/** Where PostgreSQL runs: Debian's local binaries, or a tornlab container image of `pgVersion`. */
export type PgRuntime = 'local' | 'container';

export interface PgCellConfig {
  fpw: boolean;
  profile: string;
  faults: string[];
  seed: number;
  crashes: number;
  crashAt: CrashAt;
  fs: FsType;
  /** Extra mkfs arguments of the base image's file system (src/export/fs-options.ts; default none). */
  mkfsOptions?: string[];
  /** Extra mount options of every mount of the cell (default none). */
  mountOptions?: string[];
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
  /** Trace the device's writes and keep the write shape per cycle (engines/postgres/write-shape.ts); an observation, not in the replay id. */
  writeShape?: boolean;
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

/** The cell's file-system choice (src/export/fs-options.ts). */
export function fsChoiceOf(cfg: PgCellConfig): FsChoice {
  return { fs: cfg.fs, mkfsOptions: cfg.mkfsOptions ?? [], mountOptions: cfg.mountOptions ?? [] };
}

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
  validateFsChoice(fsChoiceOf(cfg));
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

/** The namespace size in blocks of a cell (default: 1 GiB worth). */
export function nszeOf(cfg: PgCellConfig): number {
  return cellNsze(cfg.profile, cfg.nsze);
}

/** The device in MiB a cell gets. */
export function deviceMib(cfg: PgCellConfig): number {
  return Math.round((nszeOf(cfg) * getProfile(cfg.profile).identify.namespace.lbaDataSize) / 2 ** 20);
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

/** PostgreSQL's phase deadlines: base = initdb + schema + load + clean shutdown; verify = oracle, pg_amcheck, clean shutdown, pg_checksums. */
export type PgDeadlines = CycleDeadlines;

/** Deadlines scaled with the work (engines/common/cycle-result.ts): data units = accounts / 20,000 + the pgbench scale when pgbench runs. */
export function pgDeadlines(cfg: PgCellConfig): PgDeadlines {
  const gib = (nszeOf(cfg) * getProfile(cfg.profile).identify.namespace.lbaDataSize) / 1024 ** 3;
  const data = cfg.accounts / 20000 + (cfg.pgbenchClients > 0 ? cfg.pgbenchScale : 0);
  return scaledDeadlines({ deviceGiB: gib, dataUnits: data, loadMs: cfg.loadMs }, { base: 180_000, start: 90_000, recoveryStart: 150_000, verify: 150_000 });
}

/** Test hooks (never set by the CLI). */
export interface PgTestHooks {
  /** Make the FUSE handler stop answering right after the server started (a hung device server). */
  hangAfterStart?: boolean;
}

/**
 * The replay id of a cycle (src/crash/replay-id.ts's cycle grammar; parsePgReplayId reads it back); shards own cycles by it:
 *   pg[@container<V>]:<profile>[+fault]:fpw=on|off:checkpoint|seeded[:ext4|xfs[~options]][:w~<fields>]:seed=S:cycle=N
 * (w~: the load, data set, settings and namespace size where they differ from DEFAULT_CELL).
 */
export function pgReplayId(cfg: PgCellConfig, cycle: number): string {
  // The file-system segment only when it is not the default (ext4, no options): older ids stay valid.
  const c = fsChoiceOf(cfg);
  const fsSeg = isDefaultFsChoice(c) ? '' : `:${c.fs}${fsOptionsTag(c)}`;
  const w = overridesSegment(cfg, DEFAULT_CELL, PG_REPLAY_FIELDS);
  const body = `${cfg.profile}${cfg.faults.length ? '+' + cfg.faults.join('+') : ''}:fpw=${cfg.fpw ? 'on' : 'off'}:${cfg.crashAt}${fsSeg}${w ? `:${w}` : ''}`;
  return formatCycleReplayId({ kind: 'pg', ...(cfg.runtime === 'container' ? { runtime: `container${containerPgVersion(cfg)}` } : {}), body, seed: cfg.seed, cycle });
}

/** The fields a cycle depends on besides protection, device, cut and file system (written only when not the default). */
const PG_REPLAY_FIELDS = ['settings', 'accounts', 'clients', 'loadMs', 'pgbenchClients', 'pgbenchScale', 'nsze'] as const;
const PG_BODY = /^([a-z0-9-]+)((?:\+[a-z0-9:-]+)*):fpw=(on|off):(checkpoint|seeded)(?::(ext4|xfs)(~[A-Za-z0-9_-]+)?)?(?::(w~[A-Za-z0-9_-]+))?$/;

/** Parse a PostgreSQL cycle's replay id into its cell (with enough crashes to reach the cycle) and the cycle. */
export function parsePgReplayId(id: string): { cfg: PgCellConfig; cycle: number } {
  const bad = () => new BadInputError(`"${id.trim()}" is not a PostgreSQL replay id (pg[@containerV]:<profile>[+fault]:fpw=on|off:checkpoint|seeded[:ext4|xfs[~options]][:w~<fields>]:seed=S:cycle=N)`);
  const { env, m, containerVersion } = matchCycleReplayId(id, 'pg', PG_BODY, /[0-9]+/, bad);
  if (env.seed < 0) throw bad();
  const fsOptions = parseFsOptionsTag(m[6], id);
  const cfg: PgCellConfig = {
    ...DEFAULT_CELL,
    ...parseOverridesSegment<PgCellConfig>(m[7], DEFAULT_CELL, PG_REPLAY_FIELDS, id),
    profile: m[1],
    faults: m[2] ? m[2].slice(1).split('+') : [],
    fpw: m[3] === 'on',
    crashAt: m[4] as CrashAt,
    ...(m[5] ? { fs: m[5] as FsType } : {}),
    ...(fsOptions.mkfsOptions.length || fsOptions.mountOptions.length ? fsOptions : {}),
    seed: env.seed,
    crashes: env.cycle + 1,
    ...(containerVersion ? { runtime: 'container' as const, pgVersion: containerVersion } : {}),
  };
  return { cfg, cycle: env.cycle };
}

