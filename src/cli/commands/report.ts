/** `tornlab report DIR`: validate DIR/report.json and (re)write DIR/report.md and DIR/index.html. */
import { Command } from 'commander';
import { rerenderReportDir } from '../../report/writer';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('validate DIR/report.json and (re)write DIR/report.md and DIR/index.html from it (without report.json: build a partial report from DIR/cells)')
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
}
