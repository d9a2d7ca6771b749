/**
 * `tornlab report DIR`: validate DIR/report.json and (re)write DIR/report.md and DIR/index.html.
 * `tornlab report merge DIR... --out DIR`: merge the report folders of shards 1..N (src/campaign/shard-file.ts).
 */
import path from 'path';
import { Command } from 'commander';
import { rerenderReportDir, writeReportDir } from '../../report/writer';
import { mergeShardFiles, readShardDir } from '../../campaign/shard-file';
import { renderJunit } from '../../campaign/junit';
import { writeFileAtomic } from '../../util/output';
import { BadInputError } from '../../util/errors';
import { runExitStatus } from '../exit-codes';
import type { Report } from '../../report/schema';

export const MERGED_JUNIT = 'junit.xml';

/**
 * Whether the merged run has a finding as the unsharded command counts one:
 * `campaign` and `sqlite` a bug cell (a finding the cell does not tolerate),
 * `run` any finding outside a positive control, `pg`, `mariadb` and `exec` any finding.
 */
export function mergedFinding(command: string, r: Report): boolean {
  const found = (c: Report['cells'][number]) => c.crashStatesTried > c.verdicts.ok + c.verdicts['harness-error'];
  if (command === 'run') return r.cells.some((c) => !c.control && found(c));
  if (command === 'pg' || command === 'mariadb' || command === 'exec') return r.cells.some(found);
  return r.cells.some((c) => c.status === 'finding-bug');
}

export function registerReportCommands(program: Command): void {
  const report = program
    .command('report')
    .description('validate DIR/report.json and (re)write DIR/report.md and DIR/index.html from it (without report.json: build a partial report from DIR/cells); report merge joins shards')
    .argument('<dir>', 'a report directory (written by tornlab campaign/run --out DIR)')
    .option('--quiet', 'print nothing on success')
    .action((dir: string, opts: { quiet?: boolean }) => {
      // Bad or missing input throws BadInputError: main maps it to exit 2 with the message.
      const { report, written, partial } = rerenderReportDir(dir);
      if (partial) process.stderr.write(`tornlab: PARTIAL report: the run into ${dir} ended after ${partial.logged} of ${partial.planned} cells; built from ${dir}/cells\n`);
      if (opts.quiet) return;
      const t = report.totals;
      process.stdout.write(
        `report: ${t.cells} cells, ${t.crashStatesTried} crash states, ${t.cellsByStatus['finding-bug']} cell(s) with a bug, ` +
          `${t.cellsByStatus['finding-expected']} with expected findings` +
          (t.verdicts['harness-error'] > 0 ? `, ${t.verdicts['harness-error']} crash state(s) not judged (harness error)` : '') +
          '\n' +
          written.map((f) => `wrote ${f}\n`).join(''),
      );
    });

  report
    .command('merge')
    .description('merge the report folders of shards 1..N of one run (--shard K/N --out DIR) into the report of the unsharded run')
    .argument('<dirs...>', 'the shards\' report folders (each holds report.json and shard.json)')
    .requiredOption('--out <dir>', 'where to write the merged report.json, report.md, index.html and junit.xml')
    .option('--junit <file>', 'also write the JUnit XML here')
    .option('--generated-at <iso>', 'the merged report\'s timestamp (default: the latest shard\'s)')
    .option('--quiet', 'print only errors')
    .addHelpText('after', '\nRefuses shards of different tornlab versions, commands, campaigns or seeds, a shard given twice (overlap) or missing (gap).\nExit status as the unsharded run: 0 pass, 1 a bug, 3 harness error, 4 not covered; 2 when the shards cannot be merged.')
    .action((dirs: string[], o: { out: string; junit?: string; generatedAt?: string; quiet?: boolean }) => {
      if (o.generatedAt !== undefined && Number.isNaN(Date.parse(o.generatedAt))) throw new BadInputError(`--generated-at "${o.generatedAt}" is not an ISO-8601 time, e.g. 2026-12-01T00:00:00.000Z`);
      const clash = dirs.find((d) => path.resolve(d) === path.resolve(o.out));
      if (clash) throw new BadInputError(`--out ${o.out} is one of the shard folders; write the merged report to a folder of its own`);
      const t0 = process.hrtime.bigint();
      const shards = dirs.map((dir) => ({ dir, file: readShardDir(dir) }));
      const merged = mergeShardFiles(shards, o.generatedAt);
      const files = writeReportDir(o.out, merged);
      const junit = renderJunit(merged);
      for (const f of [path.join(o.out, MERGED_JUNIT), ...(o.junit ? [o.junit] : [])]) {
        writeFileAtomic(f, junit);
        files.push(f);
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const c = merged.cells;
      const bugs = c.filter((x) => x.status === 'finding-bug').length;
      const notCovered = c.filter((x) => x.status === 'not-covered').length;
      const unjudged = merged.totals.verdicts['harness-error'];
      if (!o.quiet) {
        process.stderr.write(
          `merged ${shards.length} shards in ${ms.toFixed(0)} ms: ${c.length} cells, ${merged.totals.crashStatesTried} crash states; ${bugs} bug cell(s), ${notCovered} not covered` +
            (unjudged > 0 ? `; HARNESS ERROR: ${unjudged} crash state(s) not judged` : '') +
            `\nreport written: ${files.join(', ')}\n`,
        );
      }
      const findings = mergedFinding(shards[0].file.command, merged);
      process.exitCode = runExitStatus({ findings, harnessErrors: unjudged > 0, notCovered: notCovered > 0 });
    });
}
