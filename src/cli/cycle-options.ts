/**
 * The options every real-database crash-cycle command shares (pg, mariadb):
 * the device and the cycles (--profile, --fault, --crashes, --seed), and what
 * a run writes (--json, --write-shape, --out, --junit, --shard,
 * --deadline-factor); and how such a run ends: the cell printed, the
 * write-shape report written, the exit status set. Defined once here, in the
 * order `--help` has always shown them.
 */
import { Command } from 'commander';
import { DEFAULT_PROFILE } from '../device/profiles';
import { WriteShapeRun, writeWriteShapeReport } from '../report/write-shape';
import { Verdict, isFinding } from '../crash/verdict';
import type { Shard } from '../crash/shard';
import { DEADLINE_FACTOR_FLAGS, DEADLINE_FACTOR_HELP } from './deadline';
import { runExitStatus } from './exit-codes';
import { shardOption } from './shard';

export interface CycleOpts {
  profile: string;
  fault: string[];
  crashes: string;
  seed: string;
}

export interface RunOutputOpts {
  json?: boolean;
  writeShape?: string;
  out?: string;
  junit?: string;
  shard?: string;
  deadlineFactor?: string;
}

/** --profile, --fault (repeatable), --crashes (default 5), --seed (default 1). */
export function addCycleOptions(cmd: Command): Command {
  return cmd
    .option('--profile <name>', 'device profile', DEFAULT_PROFILE)
    .option('--fault <name>', 'device fault switch (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--crashes <n>', 'crash cycles', '5')
    .option('--seed <n>', 'seed of the workload, the cut points and the survivor choices', '1');
}

/** --json, --write-shape (with its help), --out, --junit, --shard, --deadline-factor. */
export function addRunOutputOptions(cmd: Command, writeShapeHelp: string): Command {
  return cmd
    .option('--json', 'print the result as JSON')
    .option('--write-shape <dir>', writeShapeHelp)
    .option('--out <dir>', 'write a report directory (report.json, report.md, index.html)')
    .option('--junit <file>', 'write JUnit XML')
    .addOption(shardOption())
    .option(DEADLINE_FACTOR_FLAGS, DEADLINE_FACTOR_HELP);
}

/** Print the cell of a cycle run (or that the shard owns none of its cycles) and write its write-shape report. */
export function printCycleRun<C>(o: RunOutputOpts, r: C | undefined, crashes: number, shard: Shard | undefined, show: { formatCell: (r: C) => string; writeShapeRun: (r: C) => WriteShapeRun }): void {
  if (r) process.stdout.write((o.json ? JSON.stringify(r, null, 2) : show.formatCell(r)) + '\n');
  else process.stdout.write(o.json ? '{}\n' : `${shard ? `shard ${shard.index}/${shard.count}` : 'this run'} owns none of the ${crashes} cycles\n`);
  if (r && o.writeShape !== undefined) for (const f of writeWriteShapeReport(o.writeShape, show.writeShapeRun(r))) process.stderr.write(`wrote ${f}\n`);
}

/** The exit status of a cycle run: 1 a finding, 3 a harness error (wins over 1), else 0. */
export function setCycleExitStatus(cycles: readonly { verdict: Verdict }[]): void {
  process.exitCode = runExitStatus({ findings: cycles.some((c) => isFinding(c.verdict)), harnessErrors: cycles.some((c) => c.verdict === 'harness-error') });
}
