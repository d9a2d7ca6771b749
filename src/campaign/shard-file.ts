/**
 * shard.json: what a shard writes into its report folder beside report.json,
 * and the merge of N such folders into the report of the unsharded run.
 *
 * Invariants:
 *   F1  A shard file names the campaign it belongs to: the tornlab version,
 *       the command, a hash of the campaign as run (command + config, keys
 *       sorted), the seed and N. Files to merge must agree on all of them.
 *   F2  The files to merge are shards 1..N of N, each once: a missing K is a
 *       gap, a repeated K an overlap; both are refused, naming the K and the
 *       folders. Within each cell the parts must cover the plan exactly
 *       (src/campaign/shard-parts.ts checkCover).
 *   F3  The merged report is buildReport over buildCellResult of the merged
 *       measurements, with the unsharded title and campaign: apart from
 *       generatedAt, the bytes of the unsharded run's report.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { BadInputError } from '../util/errors';
import { writeFileAtomic } from '../util/output';
import { shardLabel, Shard } from '../crash/shard';
import { buildCellResult, buildReport } from '../report/build';
import type { Report } from '../report/schema';
import { checkCover, isStatesPart, mergeParts, ShardPart } from './shard-parts';
import { REAL_DATABASES } from './engines';

export const SHARD_FILE = 'shard.json';
/** Version of the shard file's layout; a merge refuses any other. */
// 2: a real-database part keeps its adapter's cell configuration (`config`) for every engine.
export const SHARD_FORMAT = 2;

export interface ShardFile {
  format: typeof SHARD_FORMAT;
  tool: { name: 'tornlab'; version: string };
  /** The tornlab command that ran: run, campaign, pg, sqlite, exec. */
  command: string;
  /** F1: SHA-256 of the command and the campaign as run. */
  campaignHash: string;
  seed: number | null;
  shard: Shard;
  /** The title of the unsharded run's report. */
  title: string;
  campaign: Record<string, unknown>;
  generatedAt: string;
  parts: ShardPart[];
}

/** JSON with object keys sorted at every level: the same data always hashes the same. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function campaignHash(command: string, campaign: unknown): string {
  return createHash('sha256').update(canonicalJson({ command, campaign })).digest('hex');
}

export function makeShardFile(o: { toolVersion: string; command: string; campaign: Record<string, unknown>; seed?: number; shard: Shard; title: string; generatedAt: string; parts: ShardPart[] }): ShardFile {
  const campaign = JSON.parse(JSON.stringify(o.campaign)) as Record<string, unknown>;
  return {
    format: SHARD_FORMAT,
    tool: { name: 'tornlab', version: o.toolVersion },
    command: o.command,
    campaignHash: campaignHash(o.command, campaign),
    seed: o.seed ?? null,
    shard: o.shard,
    title: o.title,
    campaign,
    generatedAt: o.generatedAt,
    parts: o.parts,
  };
}

export function writeShardFile(dir: string, f: ShardFile): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, SHARD_FILE);
  writeFileAtomic(file, JSON.stringify(f) + '\n');
  return file;
}

/** Read DIR/shard.json; what is missing or not a shard file is bad input naming the file and the fix. */
export function readShardDir(dir: string): ShardFile {
  const file = path.join(dir, SHARD_FILE);
  const how = 'give the --out folders of runs made with --shard K/N (e.g. tornlab campaign FILE --shard 1/4 --out shards/1)';
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new BadInputError(`${dir} is not a directory; ${how}`);
  if (!fs.existsSync(file)) throw new BadInputError(`${file} is missing: ${dir} is not a shard's report folder; ${how}`);
  let f: ShardFile;
  try {
    f = JSON.parse(fs.readFileSync(file, 'utf8')) as ShardFile;
  } catch (e) {
    throw new BadInputError(`${file} is not valid JSON (${(e as Error).message}); run the shard again`);
  }
  const bad = (what: string) => new BadInputError(`${file}: ${what}; it is damaged or not a tornlab shard file: run the shard again`);
  if (!f || typeof f !== 'object') throw bad('not an object');
  if (f.format !== SHARD_FORMAT) throw bad(`format ${JSON.stringify(f.format)} is not ${SHARD_FORMAT}`);
  if (f.tool?.name !== 'tornlab' || typeof f.tool.version !== 'string') throw bad('no tornlab version');
  if (typeof f.command !== 'string' || typeof f.campaignHash !== 'string' || typeof f.title !== 'string' || typeof f.generatedAt !== 'string') throw bad('command, campaignHash, title or generatedAt missing');
  if (!f.shard || !Number.isInteger(f.shard.index) || !Number.isInteger(f.shard.count) || f.shard.index < 1 || f.shard.index > f.shard.count) throw bad(`shard ${JSON.stringify(f.shard)} is not K/N`);
  if (!f.campaign || typeof f.campaign !== 'object') throw bad('no campaign');
  if (campaignHash(f.command, f.campaign) !== f.campaignHash) throw bad('its campaign does not match its campaign hash');
  if (!Array.isArray(f.parts)) throw bad('no cell parts');
  for (const p of f.parts) {
    if (!p || typeof p.id !== 'string' || !(p.kind === 'states' || REAL_DATABASES.some((a) => a.kind === p.kind)) || !Number.isInteger(p.planned) || !Number.isInteger(p.owned) || typeof p.plannedPrint !== 'string' || typeof p.ownedPrint !== 'string') {
      throw bad(`cell part ${JSON.stringify(p?.id)} is incomplete`);
    }
    if (isStatesPart(p) ? !p.measurements || !Array.isArray(p.measurements.findings) || !Array.isArray(p.firstNonOk) : !Array.isArray(p.cycles) || !p.config) throw bad(`cell part ${p.id} has no results`);
  }
  return f;
}

/**
 * Merge shards (F1-F3). `generatedAt` defaults to the latest of the shards'.
 * Every refusal is a BadInputError that names the shards and what differs.
 */
export function mergeShardFiles(shards: readonly { dir: string; file: ShardFile }[], generatedAt?: string): Report {
  if (shards.length === 0) throw new BadInputError('report merge: give the report folders of the shards (tornlab report merge DIR... --out DIR)');
  const [a] = shards;
  const who = (s: { dir: string; file: ShardFile }) => `${s.dir} (${shardLabel(s.file.shard)})`;
  for (const s of shards.slice(1)) {
    const f = s.file;
    if (f.tool.version !== a.file.tool.version) throw new BadInputError(`report merge: ${who(s)} was run by tornlab ${f.tool.version}, ${who(a)} by tornlab ${a.file.tool.version}; run every shard with one tornlab version`);
    if (f.command !== a.file.command) throw new BadInputError(`report merge: ${who(s)} was run by tornlab ${f.command}, ${who(a)} by tornlab ${a.file.command}; merge the shards of one run`);
    if (f.seed !== a.file.seed) throw new BadInputError(`report merge: ${who(s)} ran seed ${f.seed}, ${who(a)} seed ${a.file.seed}; every shard must run the same seed`);
    if (f.campaignHash !== a.file.campaignHash) throw new BadInputError(`report merge: ${who(s)} ran another campaign than ${who(a)} (campaign hash ${f.campaignHash.slice(0, 12)} vs ${a.file.campaignHash.slice(0, 12)}); every shard must run the same campaign file and options`);
    if (f.shard.count !== a.file.shard.count) throw new BadInputError(`report merge: ${who(s)} is one of ${f.shard.count} shards, ${who(a)} one of ${a.file.shard.count}; merge the shards of one split`);
  }
  const n = a.file.shard.count;
  const byIndex = new Map<number, string[]>();
  for (const s of shards) byIndex.set(s.file.shard.index, [...(byIndex.get(s.file.shard.index) ?? []), s.dir]);
  const twice = [...byIndex].filter(([, dirs]) => dirs.length > 1);
  if (twice.length > 0) throw new BadInputError(`report merge: overlap: ${twice.map(([k, dirs]) => `shard ${k}/${n} is given ${dirs.length} times (${dirs.join(', ')})`).join('; ')}; give each shard once`);
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length > 0) throw new BadInputError(`report merge: gap: shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${n}`).join(', ')} missing (got ${[...byIndex.keys()].sort((x, y) => x - y).map((k) => `${k}/${n}`).join(', ')}); give the report folders of all ${n} shards`);

  const ids = a.file.parts.map((p) => p.id);
  for (const s of shards) {
    const mine = s.file.parts.map((p) => p.id);
    const extra = mine.filter((id) => !ids.includes(id));
    const lack = ids.filter((id) => !mine.includes(id));
    if (extra.length || lack.length) throw new BadInputError(`report merge: ${who(s)} and ${who(a)} hold different cells (${[...extra.map((c) => `${c} only in ${s.dir}`), ...lack.map((c) => `${c} only in ${a.dir}`)].slice(0, 3).join('; ')}); they did not run the same campaign`);
  }
  const cells = ids.map((id) => {
    const parts = shards.map((s) => ({ shard: who(s), part: s.file.parts.find((p) => p.id === id)! }));
    checkCover(parts);
    return buildCellResult(mergeParts(parts.map((p) => p.part)));
  });
  const latest = shards.map((s) => s.file.generatedAt).sort().at(-1)!;
  return buildReport({ toolVersion: a.file.tool.version, generatedAt: generatedAt ?? latest, title: a.file.title, campaign: a.file.campaign, cells });
}
