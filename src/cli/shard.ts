/**
 * --shard K/N on the CLI (src/crash/shard.ts): the option, and the report
 * folder a shard writes (its own report of the items it judged, plus
 * shard.json for `tornlab report merge`).
 *
 * Wiring --shard into a command (e.g. a new `tornlab mariadb`) takes two lines:
 *   .addOption(shardOption())                             with its options, and
 *   writeRunOutputs({ command: 'mariadb', shard: parseShardOption(o.shard, o.out), ... })
 * after running only the cycles `owns(shard, replayId)` accepts, with one
 * ShardPart per cell (src/campaign/shard-parts.ts: add the engine's kind there).
 */
import fs from 'fs';
import path from 'path';
import { Option } from 'commander';
import { BadInputError } from '../util/errors';
import { writeFileAtomic } from '../util/output';
import { TOOL_VERSION } from '../util/version';
import { parseShard, Shard, shardLabel } from '../crash/shard';
import { buildReport } from '../report/build';
import type { CellResult, Report } from '../report/schema';
import { writeReportDir } from '../report/writer';
import { renderJunit } from '../campaign/junit';
import { makeShardFile, writeShardFile } from '../campaign/shard-file';
import type { ShardPart } from '../campaign/shard-parts';

/** The option every sharded command takes (one definition, one help text). */
export function shardOption(): Option {
  return new Option('--shard <K/N>', "run shard K of N (1 <= K <= N): plan everything, judge only the crash states or cycles this shard owns; needs --out; merge the shards' folders with tornlab report merge");
}

/** The parsed --shard value, or undefined when the run is not sharded; a sharded run needs a folder to write. */
export function parseShardOption(v: unknown, out: unknown): Shard | undefined {
  if (v === undefined) return undefined;
  const s = parseShard(String(v));
  if (!out) throw new BadInputError(`--shard ${String(v)} needs --out DIR: the shard's report folder, which tornlab report merge reads`);
  return s;
}

/**
 * Write a run's report folder (report.json, .md, .html) and, for a shard,
 * shard.json beside it; JUnit too when asked. A shard's own report shows
 * what it judged, titled with its K/N; shard.json has the unsharded title.
 */
export function writeRunOutputs(o: {
  command: string;
  title: string;
  campaign: Record<string, unknown>;
  seed?: number;
  cells: CellResult[];
  parts: ShardPart[];
  shard?: Shard;
  out?: string;
  junit?: string;
  generatedAt?: string;
}): Report {
  const generatedAt = o.generatedAt ?? new Date().toISOString();
  const report = buildReport({ toolVersion: TOOL_VERSION, generatedAt, title: o.shard ? `${o.title} (${shardLabel(o.shard)})` : o.title, campaign: o.campaign, cells: o.cells });
  if (o.out) {
    const files = writeReportDir(o.out, report);
    if (o.shard) files.push(writeShardFile(o.out, makeShardFile({ toolVersion: TOOL_VERSION, command: o.command, campaign: o.campaign, seed: o.seed, shard: o.shard, title: o.title, generatedAt, parts: o.parts })));
    process.stderr.write(`report written: ${files.join(', ')}\n`);
  }
  if (o.junit) {
    fs.mkdirSync(path.dirname(path.resolve(o.junit)), { recursive: true });
    writeFileAtomic(o.junit, renderJunit(report));
  }
  if (o.shard) process.stderr.write(`${shardLabel(o.shard)}: window coverage and positive controls are judged over all shards by tornlab report merge\n`);
  return report;
}
