/**
 * Campaign files (JSON or YAML): a matrix of engines x modes x profiles
 * (with fault sets) x page sizes x workloads, each cell with a crash budget
 * and a seed. Validated against a JSON Schema; an unknown key or a bad value
 * is an error that names the key.
 *
 *   name: nightly
 *   engine: minipage
 *   modes: [none, doublewrite, fpw, atomic]
 *   profiles: [consumer-tlc, atomic-16k, {profile: consumer-tlc, faults: [lying-flush]}]
 *   pageSizes: [8192]
 *   workloads: [{name: bank, txns: 300}, {name: kv-zipf, txns: 300}]
 *   crashes: 500
 *   seed: 42
 *   strategy: mixed
 *   crashDuringRecovery: false
 *   forceAtomic: true      # run atomic on devices that do not cover the page (as a demonstration)
 *   commits: [flush, token, window]   # optional: how commits are made durable (default [flush])
 *   windowMs: 50           # optional: the power window of the window commits
 *   keys: 2000             # optional scale (also per workload entry): key count,
 *   frames: 24             #   buffer frames, transactions between checkpoints,
 *   checkpointEvery: 40    #   pages per checkpoint step (engine defaults otherwise)
 *   checkpointBatch: 24
 *   controls: true         # also run every positive control (sabotaged variant) beside the cells
 */
import fs from 'fs';
import Ajv from 'ajv';
import YAML from 'yaml';
import { BadInputError } from '../util/errors';
import { isPowerFailAtomic, powerFailAtomicity } from '../device/identify';
import { getProfile } from '../device/profiles';
import { getAdapter } from './engines';
import { CellSpec, COMMIT_METHODS, CommitMethod, SCALE_KEYS, ScaleKey, STRATEGIES, Strategy } from '../crash/cell';
import { EngineAdapter } from '../crash/adapter';
import { DEFAULT_CELL, PgCellConfig, validateCell as validatePgCell } from '../../engines/postgres/config';
import { MARIADB_VERSIONS } from '../../engines/mariadb/container-server';
import { DEFAULT_CELL as MARIADB_DEFAULT_CELL, FLUSH_METHODS, FlushMethod, MariadbCellConfig, validateCell as validateMariadbCell } from '../../engines/mariadb/cycle';
import { SqliteCell, gridCells, parseCell } from '../../engines/sqlite/cell';
import { canonicalFaults } from '../crash/faults';

export interface CampaignFile {
  name?: string;
  engine?: string;
  /** Mini-engine protection modes (may be empty for a PostgreSQL-only campaign). */
  modes?: string[];
  profiles: ProfileEntry[];
  /** Default [8192]. */
  pageSizes?: number[];
  /** Default [bank]. */
  workloads?: (string | ({ name: string; txns?: number } & Partial<Record<ScaleKey, number>>))[];
  keys?: number;
  frames?: number;
  checkpointEvery?: number;
  checkpointBatch?: number;
  /** Run the engine's positive controls beside the cells (controlCells). */
  controls?: boolean;
  /** Costs from a separate crash-free run of this many transactions per cell (after a warm-up). */
  costTxns?: number;
  txns?: number;
  crashes?: number;
  seed?: number;
  strategy?: Strategy;
  crashDuringRecovery?: boolean;
  forceAtomic?: boolean;
  /** Real PostgreSQL cells (tornlab pg): full_page_writes on/off x profiles, `crashes` crash cycles each. */
  postgres?: { fpw: ('on' | 'off')[]; profiles?: ProfileEntry[]; crashes?: number; seed?: number; crashAt?: 'checkpoint' | 'seeded'; runtime?: 'local' | 'container'; versions?: string[] };
  /** Real MariaDB cells (tornlab mariadb): innodb_doublewrite on/off x profiles, `crashes` crash cycles each. */
  mariadb?: { doublewrite: ('on' | 'off')[]; profiles?: ProfileEntry[]; crashes?: number; seed?: number; crashAt?: 'flush' | 'unprotected' | 'seeded'; flushMethod?: FlushMethod; pageSize?: number; mkfsOptions?: string[]; runtime?: 'local' | 'container'; versions?: string[] };
  /** Real SQLite cells (tornlab sqlite): journal_mode x synchronous x page size, or the whole grid, per profile. */
  sqlite?: { cells?: { journalMode: string; synchronous: string; pageSize?: number }[]; grid?: boolean; profiles?: ProfileEntry[]; crashes?: number; seed?: number; runtime?: 'local' | 'container' };
  commits?: CommitMethod[];
  windowMs?: number;
}

/** A profile, by name or with fault switches: `consumer-tlc` or `{profile: consumer-tlc, faults: [lying-flush]}`. */
const PROFILE_ENTRY = {
  anyOf: [
    { type: 'string' },
    { type: 'object', additionalProperties: false, required: ['profile'], properties: { profile: { type: 'string' }, faults: { type: 'array', items: { type: 'string' } } } },
  ],
} as const;

const PROFILE_LIST = { type: 'array', minItems: 1, items: PROFILE_ENTRY } as const;

type ProfileEntry = string | { profile: string; faults?: string[] };

function profileOf(e: ProfileEntry): { profile: string; faults: string[] } {
  return typeof e === 'string' ? { profile: e, faults: [] } : { profile: e.profile, faults: e.faults ?? [] };
}

const SCALE_SCHEMA = {
  keys: { type: 'integer', minimum: 2 },
  frames: { type: 'integer', minimum: 16 },
  checkpointEvery: { type: 'integer', minimum: 1 },
  checkpointBatch: { type: 'integer', minimum: 1 },
} as const;

export const CAMPAIGN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['profiles'],
  properties: {
    name: { type: 'string' },
    engine: { type: 'string', enum: ['minipage'] },
    modes: { type: 'array', minItems: 0, items: { type: 'string', enum: ['none', 'doublewrite', 'fpw', 'atomic'] } },
    profiles: PROFILE_LIST,
    pageSizes: { type: 'array', minItems: 1, items: { type: 'integer', enum: [4096, 8192, 16384] } },
    workloads: {
      type: 'array',
      minItems: 1,
      items: {
        anyOf: [
          { type: 'string' },
          { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string' }, txns: { type: 'integer', minimum: 1 }, ...SCALE_SCHEMA } },
        ],
      },
    },
    txns: { type: 'integer', minimum: 1 },
    ...SCALE_SCHEMA,
    controls: { type: 'boolean' },
    costTxns: { type: 'integer', minimum: 1 },
    crashes: { type: 'integer', minimum: 1 },
    seed: { type: 'integer', minimum: 0 },
    strategy: { type: 'string', enum: [...STRATEGIES] },
    crashDuringRecovery: { type: 'boolean' },
    forceAtomic: { type: 'boolean' },
    commits: { type: 'array', minItems: 1, items: { type: 'string', enum: [...COMMIT_METHODS] } },
    windowMs: { type: 'number', exclusiveMinimum: 0 },
    postgres: {
      type: 'object',
      additionalProperties: false,
      required: ['fpw'],
      properties: {
        fpw: { type: 'array', minItems: 1, items: { type: 'string', enum: ['on', 'off'] } },
        profiles: PROFILE_LIST,
        crashes: { type: 'integer', minimum: 1, maximum: 1000 },
        seed: { type: 'integer', minimum: 0 },
        crashAt: { type: 'string', enum: ['checkpoint', 'seeded'] },
        runtime: { type: 'string', enum: ['local', 'container'] },
        versions: { type: 'array', minItems: 1, items: { type: 'string', enum: ['15', '17', '18'] } },
      },
    },
    mariadb: {
      type: 'object',
      additionalProperties: false,
      required: ['doublewrite'],
      properties: {
        doublewrite: { type: 'array', minItems: 1, items: { type: 'string', enum: ['on', 'off'] } },
        profiles: PROFILE_LIST,
        crashes: { type: 'integer', minimum: 1, maximum: 1000 },
        seed: { type: 'integer', minimum: 0 },
        crashAt: { type: 'string', enum: ['flush', 'unprotected', 'seeded'] },
        flushMethod: { type: 'string', enum: [...FLUSH_METHODS] },
        pageSize: { type: 'integer', enum: [4096, 8192, 16384, 32768, 65536] },
        mkfsOptions: { type: 'array', items: { type: 'string', minLength: 1 } },
        runtime: { type: 'string', enum: ['local', 'container'] },
        versions: { type: 'array', minItems: 1, items: { type: 'string', enum: [...MARIADB_VERSIONS] } },
      },
    },
    sqlite: {
      type: 'object',
      additionalProperties: false,
      properties: {
        cells: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['journalMode', 'synchronous'],
            properties: { journalMode: { type: 'string' }, synchronous: { type: 'string' }, pageSize: { type: 'integer' } },
          },
        },
        grid: { type: 'boolean' },
        profiles: PROFILE_LIST,
        crashes: { type: 'integer', minimum: 1, maximum: 10000 },
        seed: { type: 'integer', minimum: 0 },
        runtime: { type: 'string', enum: ['local', 'container'] },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(CAMPAIGN_SCHEMA);

/** Parse and validate campaign text; `source` names the file in errors. */
export function parseCampaign(text: string, source: string): CampaignFile {
  let data: unknown;
  try {
    data = source.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new BadInputError(`${source}: not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (!validate(data)) {
    const msgs = (validate.errors ?? []).map((e) => {
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
      if (e.keyword === 'additionalProperties') return `${where === '(top level)' ? '' : where + '.'}${(e.params as { additionalProperty: string }).additionalProperty}: unknown key`;
      if (e.keyword === 'enum') return `${where}: ${e.message} (${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')})`;
      return `${where}: ${e.message}`;
    });
    throw new BadInputError(`${source}: invalid campaign:\n  ${[...new Set(msgs)].join('\n  ')}`);
  }
  return data as CampaignFile;
}

/** Largest campaign file read (bytes): a matrix fits in far less; a bigger file is a mistake. */
export const MAX_CAMPAIGN_FILE_BYTES = 1024 * 1024;

export function readCampaignFile(file: string): CampaignFile {
  let bytes: Buffer;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new BadInputError(`campaign file ${file} is a folder; give a JSON or YAML file`);
    if (st.size > MAX_CAMPAIGN_FILE_BYTES) throw new BadInputError(`campaign file ${file} is ${(st.size / 1024 / 1024).toFixed(1)} MiB; a campaign file is at most ${MAX_CAMPAIGN_FILE_BYTES / 1024 / 1024} MiB (list the matrix's factors, not its cells)`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof BadInputError) throw e;
    throw new BadInputError(`cannot read campaign file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BadInputError(`${file}: not UTF-8 text (invalid byte sequence at byte ${firstBadUtf8(bytes)}); save the file as UTF-8`);
  }
  return parseCampaign(text, file);
}

/** Offset of the first byte of `b` that is not valid UTF-8 (where the lenient decoder puts its first U+FFFD). */
function firstBadUtf8(b: Buffer): number {
  const lenient = b.toString('utf8');
  const i = lenient.indexOf('\uFFFD');
  return Buffer.byteLength(lenient.slice(0, Math.max(0, i)), 'utf8');
}

/** Default limit on the cells a campaign expands to (--max-cells raises it). */
export const DEFAULT_MAX_CELLS = 2000;

/** Longest campaign name (bytes): it names a folder, well under every file system's 255. */
export const MAX_NAME_BYTES = 100;

/**
 * A campaign name names its report folder reports/NAME: printable, no path
 * separators, not `.`/`..` or hidden, at most MAX_NAME_BYTES bytes.
 */
export function checkCampaignName(name: string, source: string): void {
  const shown = JSON.stringify(name.length > 40 ? name.slice(0, 40) + '...' : name);
  const fix = 'use letters, digits, ".", "_" and "-" only, not starting with "."';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) throw new BadInputError(`${source}: name ${shown} is ${bytes} bytes long; it names the report folder, so it is at most ${MAX_NAME_BYTES} bytes (${fix})`);
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) throw new BadInputError(`${source}: name ${shown} cannot name the report folder reports/NAME; ${fix}`);
}

/** The first entry of `items` whose key was seen before, or undefined. */
function firstDuplicate<T>(items: readonly T[], key: (t: T) => string): string | undefined {
  const seen = new Set<string>();
  for (const it of items) {
    const k = key(it);
    if (seen.has(k)) return k;
    seen.add(k);
  }
  return undefined;
}

function profileKey(e: ProfileEntry): string {
  const { profile, faults } = profileOf(e);
  return [profile, ...canonicalFaults(faults)].join('+');
}

function workloadName(w: NonNullable<CampaignFile['workloads']>[number]): string {
  return typeof w === 'string' ? w : w.name;
}

/** Refuse a factor list that names the same thing twice (two cells with one id, refused only in the report). */
function refuseDuplicates<T>(source: string, key: string, items: readonly T[] | undefined, id: (t: T) => string, why = ''): void {
  const d = items ? firstDuplicate(items, id) : undefined;
  if (d !== undefined) throw new BadInputError(`${source}: ${key} lists ${JSON.stringify(d)} twice${why}; list each once`);
}

/**
 * The number of cells a campaign expands to, counted without expanding it
 * (a file may describe millions).
 */
export function countCells(c: CampaignFile): { mini: number; controls: number; pg: number; sqlite: number; total: number } {
  const modes = c.modes ?? [];
  const perPoint = (c.workloads ?? ['bank']).length * (c.commits ?? ['flush']).length;
  let mini = 0;
  for (const pEntry of c.profiles) {
    const { profile } = profileOf(pEntry);
    getProfile(profile);
    for (const pageSize of c.pageSizes ?? [8192]) {
      const skipped = modes.includes('atomic') && !c.forceAtomic && !deviceCoversPage(profile, pageSize) ? 1 : 0;
      mini += (modes.length - skipped) * perPoint;
    }
  }
  const controls = c.controls ? Object.keys(getAdapter(c.engine ?? 'minipage').sabotages ?? {}).length : 0;
  const pg = c.postgres ? (c.postgres.profiles ?? c.profiles).length * c.postgres.fpw.length : 0;
  const sqlite = c.sqlite ? (c.sqlite.profiles ?? c.profiles).length * (c.sqlite.grid ? gridCells().length : (c.sqlite.cells ?? []).length) : 0;
  return { mini, controls, pg, sqlite, total: mini + controls + pg + sqlite };
}

/**
 * Everything about a campaign that can be wrong, checked before any cell
 * runs: its name (a safe folder name), factor lists without duplicates (each
 * cell id once), options that need one another (windowMs needs the window
 * commit method), and the size of the expanded matrix against `maxCells`.
 */
export function checkCampaign(c: CampaignFile, source: string, maxCells = DEFAULT_MAX_CELLS): void {
  if (c.name !== undefined) checkCampaignName(c.name, source);
  refuseDuplicates(source, 'profiles', c.profiles, profileKey);
  refuseDuplicates(source, 'modes', c.modes, String);
  refuseDuplicates(source, 'pageSizes', c.pageSizes, String);
  refuseDuplicates(source, 'workloads', c.workloads, workloadName, ' (cells are named by workload, so one name takes one size; run a second campaign for another)');
  refuseDuplicates(source, 'commits', c.commits, String);
  refuseDuplicates(source, 'postgres.fpw', c.postgres?.fpw, String);
  refuseDuplicates(source, 'postgres.profiles', c.postgres?.profiles, profileKey);
  refuseDuplicates(source, 'sqlite.profiles', c.sqlite?.profiles, profileKey);
  refuseDuplicates(source, 'sqlite.cells', c.sqlite?.cells, (x) => `${x.journalMode.toUpperCase()}/${x.synchronous.toUpperCase()}/${x.pageSize ?? 4096}`);
  if (c.sqlite?.grid && c.sqlite.cells) throw new BadInputError(`${source}: sqlite.grid runs every cell, so sqlite.cells would be ignored; give one of them`);
  if (c.windowMs !== undefined && !(c.commits ?? []).includes('window')) {
    throw new BadInputError(`${source}: windowMs applies to the window commit method only; add window to commits: [...] or remove windowMs`);
  }
  if (c.forceAtomic && !(c.modes ?? []).includes('atomic')) throw new BadInputError(`${source}: forceAtomic applies to mode atomic only; add atomic to modes: [...] or remove forceAtomic`);
  const n = countCells(c);
  if (n.total > maxCells) {
    throw new BadInputError(
      `${source}: the matrix expands to ${n.total} cells (${n.mini} mini-engine, ${n.controls} controls, ${n.pg} PostgreSQL, ${n.sqlite} SQLite), more than the limit of ${maxCells}; shrink the matrix or raise the limit with --max-cells ${n.total}`,
    );
  }
}

/** Does the device's power-fail atomicity cover a page at its natural alignment? */
export function deviceCoversPage(profile: string, pageSize: number): boolean {
  const id = getProfile(profile).identify;
  const bs = id.namespace.lbaDataSize;
  const nlb = pageSize / bs;
  // Pages are aligned to their size; check the first few page positions against the boundary.
  const a = powerFailAtomicity(id);
  for (let i = 0; i < 4; i++) if (!isPowerFailAtomic(a, i * nlb, nlb)) return false;
  return true;
}

/** Expand the matrix into cells, in file order. */
export function expandCampaign(c: CampaignFile): CellSpec[] {
  const cells: CellSpec[] = [];
  for (const pEntry of c.profiles) {
    const { profile, faults } = profileOf(pEntry);
    getProfile(profile);
    for (const pageSize of c.pageSizes ?? [8192]) {
      for (const w of c.workloads ?? ['bank']) {
        const entry: { name: string; txns?: number } & Partial<Record<ScaleKey, number>> = typeof w === 'string' ? { name: w } : w;
        const { name, txns } = entry;
        for (const mode of c.modes ?? []) {
          const force = mode === 'atomic' && !deviceCoversPage(profile, pageSize);
          if (force && !c.forceAtomic) continue;
          for (const commit of c.commits ?? ['flush']) {
            const cell: CellSpec = {
              engine: c.engine ?? 'minipage',
              mode,
              force,
              profile,
              faults,
              pageSize,
              workload: name,
              txns: txns ?? c.txns ?? 300,
              seed: c.seed ?? 1,
              crashes: c.crashes ?? 500,
              strategy: c.strategy ?? 'mixed',
              crashDuringRecovery: c.crashDuringRecovery ?? false,
            };
            for (const k of SCALE_KEYS) {
              const v = entry[k] ?? c[k];
              if (v !== undefined) cell[k] = v;
            }
            if (c.costTxns !== undefined) cell.costTxns = c.costTxns;
            // Flush adds no key: a campaign without `commits` expands exactly as before.
            if (commit !== 'flush') cell.commit = commit;
            if (commit === 'window' && c.windowMs !== undefined) cell.windowMs = c.windowMs;
            cells.push(cell);
          }
        }
      }
    }
  }
  if (c.controls) cells.push(...controlCells(cells, getAdapter(c.engine ?? 'minipage')).controls);
  return cells;
}

/**
 * Positive controls: for every sabotage switch of the engine, one sabotaged
 * copy of a cell that claims safety with a mode the switch applies to, on a
 * profile whose write cache loses data at a cut, with flush commits. The
 * switches take the campaign's workloads in turn (switch i starts looking at
 * workload i mod n), so every workload carries controls. A switch with no
 * such cell gets no control (`untried`; the selftest fails on it).
 */
export function controlCells(cells: readonly CellSpec[], adapter: EngineAdapter): { controls: CellSpec[]; untried: string[] } {
  const controls: CellSpec[] = [];
  const untried: string[] = [];
  const workloads = [...new Set(cells.map((c) => c.workload))];
  Object.entries(adapter.sabotages ?? {}).forEach(([name, spec], i) => {
    for (let j = 0; j < workloads.length; j++) {
      const w = workloads[(i + j) % workloads.length];
      const base = cells.find((c) => c.workload === w && !c.sabotage && !c.commit && spec.modes.includes(c.mode) && c.faults.length === 0 && adapter.expectation(c).kind === 'claims-safe' && volatileCache(c.profile));
      if (base) {
        // A control is judged by its crash states only: no cost run.
        const { costTxns: _cost, ...rest } = base;
        controls.push({ ...rest, sabotage: name });
        return;
      }
    }
    untried.push(name);
  });
  return { controls, untried };
}

/** A profile whose write cache loses data at a power cut (dropping a Flush matters there). */
function volatileCache(profile: string): boolean {
  const p = getProfile(profile);
  return p.identify.controller.vwc.present && !p.plp;
}

/** The PostgreSQL cells of a campaign (its `postgres` section), in file order. */
export function expandPgCells(c: CampaignFile): PgCellConfig[] {
  const pg = c.postgres;
  if (!pg) return [];
  const out: PgCellConfig[] = [];
  if (pg.versions && pg.runtime !== 'container') throw new BadInputError('postgres.versions needs runtime: container (the local runtime runs the binaries TORNLAB_PG_BIN names)');
  // One cell per major version (container), versions outermost.
  const runtimes: Pick<PgCellConfig, 'runtime' | 'pgVersion'>[] = pg.runtime === 'container' ? (pg.versions ?? ['15']).map((v) => ({ runtime: 'container' as const, pgVersion: v })) : [{}];
  for (const rt of runtimes) {
    for (const pEntry of pg.profiles ?? c.profiles) {
      const { profile, faults } = profileOf(pEntry);
      for (const fpw of pg.fpw) {
        const cfg: PgCellConfig = { ...DEFAULT_CELL, profile, faults, fpw: fpw === 'on', seed: pg.seed ?? c.seed ?? 1, crashes: pg.crashes ?? 4, crashAt: pg.crashAt ?? 'checkpoint', ...rt };
        validatePgCell(cfg);
        out.push(cfg);
      }
    }
  }
  return out;
}

/** The MariaDB cells of a campaign (its `mariadb` section), in file order. */
export function expandMariadbCells(c: CampaignFile): MariadbCellConfig[] {
  const m = c.mariadb;
  if (!m) return [];
  const out: MariadbCellConfig[] = [];
  if (m.versions && m.runtime !== 'container') throw new BadInputError("mariadb.versions needs runtime: container (the local runtime runs the host's mariadb-server)");
  // One cell per version (container), versions outermost.
  const runtimes: Pick<MariadbCellConfig, 'runtime' | 'mariadbVersion'>[] = m.runtime === 'container' ? (m.versions ?? ['10.11']).map((v) => ({ runtime: 'container' as const, mariadbVersion: v })) : [{}];
  for (const rt of runtimes)
  for (const pEntry of m.profiles ?? c.profiles) {
    const { profile, faults } = profileOf(pEntry);
    for (const dw of m.doublewrite) {
      const cfg: MariadbCellConfig = {
        ...MARIADB_DEFAULT_CELL,
        profile,
        faults,
        doublewrite: dw === 'on',
        seed: m.seed ?? c.seed ?? 1,
        crashes: m.crashes ?? 4,
        crashAt: m.crashAt ?? 'flush',
        flushMethod: m.flushMethod ?? MARIADB_DEFAULT_CELL.flushMethod,
        pageSize: m.pageSize ?? MARIADB_DEFAULT_CELL.pageSize,
        mkfsOptions: (m.mkfsOptions ?? []).flatMap((o) => o.split(/\s+/).filter(Boolean)),
        ...rt,
      };
      validateMariadbCell(cfg);
      out.push(cfg);
    }
  }
  return out;
}

export interface SqliteCampaignCell {
  cell: SqliteCell;
  runtime?: 'local' | 'container';
  profile: string;
  faults: string[];
  crashes: number;
  seed: number;
}

/** The SQLite cells of a campaign (its `sqlite` section): cells (or the whole grid) x profiles. */
export function expandSqliteCells(c: CampaignFile): SqliteCampaignCell[] {
  const sq = c.sqlite;
  if (!sq) return [];
  if (!sq.grid && !sq.cells) throw new BadInputError('sqlite: give cells: [{journalMode, synchronous, pageSize}] or grid: true');
  const cells: SqliteCell[] = sq.grid ? gridCells() : sq.cells!.map((x) => parseCell({ journalMode: x.journalMode, synchronous: x.synchronous, pageSize: x.pageSize ?? 4096 }));
  const out: SqliteCampaignCell[] = [];
  for (const pEntry of sq.profiles ?? c.profiles) {
    const { profile, faults } = profileOf(pEntry);
    getProfile(profile);
    for (const cell of cells) out.push({ cell, profile, faults, crashes: sq.crashes ?? 10, seed: sq.seed ?? c.seed ?? 1, ...(sq.runtime === 'container' ? { runtime: 'container' as const } : {}) });
  }
  return out;
}
