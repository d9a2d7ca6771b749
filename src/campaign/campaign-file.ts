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
import { getProfile } from '../device/profiles';
import { DEFAULT_ENGINE, REAL_DATABASES, engineNames, getAdapter } from './engines';
import { CellSpec, COMMIT_METHODS, CommitMethod, SCALE_KEYS, ScaleKey, STRATEGIES, Strategy } from '../crash/cell';
import { EngineAdapter } from '../crash/adapter';
import { PROFILE_LIST_SCHEMA, ProfileEntry, profileKey, profileOf, refuseDuplicates } from '../crash/campaign-section';
import { RealCell, expandRealDatabaseCells } from './real-database-lane';

/**
 * A campaign file: the in-process matrix below, and one section per real
 * database (`postgres:`, `mariadb:`, `sqlite:`; each engine declares its own,
 * src/crash/campaign-section.ts), read by the real-database lane.
 */
export type CampaignFile = MatrixFile & { [section: string]: unknown };

export interface MatrixFile {
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
  commits?: CommitMethod[];
  windowMs?: number;
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
    engine: { type: 'string', enum: engineNames() },
    modes: { type: 'array', minItems: 0, items: { type: 'string', enum: ['none', 'doublewrite', 'fpw', 'atomic'] } },
    profiles: PROFILE_LIST_SCHEMA,
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
    // One section per real database, as each engine declares it (engines/registry.ts).
    ...Object.fromEntries(REAL_DATABASES.flatMap((a) => (a.campaignSection ? [[a.campaignSection.key, a.campaignSection.schema]] : []))),
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

function workloadName(w: NonNullable<CampaignFile['workloads']>[number]): string {
  return typeof w === 'string' ? w : w.name;
}

/**
 * The number of cells a campaign expands to, the in-process matrix counted
 * without expanding it (a file may describe millions); the real-database
 * sections, which are small, by expanding them (which checks them too).
 */
export function countCells(c: CampaignFile, source = 'campaign'): { mini: number; controls: number; real: RealCell[]; total: number } {
  const modes = c.modes ?? [];
  const perPoint = (c.workloads ?? ['bank']).length * (c.commits ?? ['flush']).length;
  let mini = 0;
  for (const pEntry of c.profiles) {
    const { profile } = profileOf(pEntry);
    getProfile(profile);
    for (const pageSize of c.pageSizes ?? [8192]) {
      const skipped = modes.includes('atomic') && !c.forceAtomic && !deviceCoversPage(profile, pageSize, c.engine ?? DEFAULT_ENGINE) ? 1 : 0;
      mini += (modes.length - skipped) * perPoint;
    }
  }
  const controls = c.controls ? Object.keys(getAdapter(c.engine ?? DEFAULT_ENGINE).sabotages ?? {}).length : 0;
  const real = expandRealDatabaseCells(c, source);
  return { mini, controls, real, total: mini + controls + real.length };
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
  if (c.windowMs !== undefined && !(c.commits ?? []).includes('window')) {
    throw new BadInputError(`${source}: windowMs applies to the window commit method only; add window to commits: [...] or remove windowMs`);
  }
  if (c.forceAtomic && !(c.modes ?? []).includes('atomic')) throw new BadInputError(`${source}: forceAtomic applies to mode atomic only; add atomic to modes: [...] or remove forceAtomic`);
  const n = countCells(c, source);
  if (n.total > maxCells) {
    const real = REAL_DATABASES.flatMap((a) => (a.campaignSection ? [`${n.real.filter((x) => x.adapter === a).length} ${a.campaignSection.title}`] : []));
    throw new BadInputError(
      `${source}: the matrix expands to ${n.total} cells (${[`${n.mini} mini-engine`, `${n.controls} controls`, ...real].join(', ')}), more than the limit of ${maxCells}; shrink the matrix or raise the limit with --max-cells ${n.total}`,
    );
  }
}

/** Does the engine's atomic mode hold on this profile at this page size (its adapter answers: src/crash/adapter.ts coversPages)? */
export function deviceCoversPage(profile: string, pageSize: number, engine: string = DEFAULT_ENGINE): boolean {
  return getAdapter(engine).coversPages?.(profile, pageSize) ?? false;
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
          const force = mode === 'atomic' && !deviceCoversPage(profile, pageSize, c.engine ?? DEFAULT_ENGINE);
          if (force && !c.forceAtomic) continue;
          for (const commit of c.commits ?? ['flush']) {
            const cell: CellSpec = {
              engine: c.engine ?? DEFAULT_ENGINE,
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
  if (c.controls) cells.push(...controlCells(cells, getAdapter(c.engine ?? DEFAULT_ENGINE)).controls);
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
