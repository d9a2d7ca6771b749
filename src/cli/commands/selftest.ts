/**
 * `tornlab selftest`: run every positive control of the default campaign (each
 * engine sabotage switch on the claims-safe cells it applies to) and say
 * whether the campaign catches it. Sensitivity = caught / tried. Exit 0 when
 * every control is caught, 4 (not covered) otherwise, 3 when a crash state
 * ended harness-error (src/cli/exit-codes.ts: 3 wins).
 */
import { Command } from 'commander';
import { BadInputError } from '../../util/errors';
import { controlCells, expandCampaign, parseCampaign } from '../../campaign/campaign-file';
import { getAdapter } from '../../campaign/engines';
import { DEFAULT_CAMPAIGN, runCampaign } from '../../campaign/run-campaign';
import { writeReportDir } from '../../report/writer';
import { checkWorkers, prepareOutputDir } from '../preflight';
import { progressBar } from '../progress';
import { runExitStatus } from '../exit-codes';
import { NON_OK } from '../../crash/verdict';

export function registerSelftestCommand(program: Command): void {
  program
    .command('selftest')
    .description('break each protection step on purpose (engine sabotage switches) and check that the default campaign catches every one')
    .option('--crashes <n>', `crash-state budget per control (default: the default campaign's, ${DEFAULT_CAMPAIGN.crashes})`, (v: string) => {
      if (!/^[0-9]+$/.test(v)) throw new BadInputError(`--crashes must be a non-negative integer, got "${v}"`);
      return Number(v);
    })
    .option('--workers <n>', 'worker threads', (v: string) => {
      if (!/^[0-9]+$/.test(v)) throw new BadInputError(`--workers must be a non-negative integer, got "${v}"`);
      return Number(v);
    })
    .option('--force-workers', 'allow --workers above the core count')
    .option('--out <dir>', 'also write a report directory')
    .option('--list', 'list the sabotage switches and exit')
    .action(async (o) => {
      const adapter = getAdapter(DEFAULT_CAMPAIGN.engine);
      if (o.list) {
        for (const [name, s] of Object.entries(adapter.sabotages ?? {})) process.stdout.write(`${name}  [${s.modes.join(', ')}; window ${s.window}]\n    ${s.what}\n`);
        return;
      }
      if (o.crashes === 0) throw new BadInputError('--crashes 0 judges no crash state, so no control could be caught; give --crashes 1 or more');
      const workers = checkWorkers(o.workers, !!o.forceWorkers);
      if (o.out) prepareOutputDir(o.out, '--out');
      const config = parseCampaign(JSON.stringify({ ...DEFAULT_CAMPAIGN, costTxns: undefined, controls: false, ...(o.crashes !== undefined ? { crashes: o.crashes } : {}) }), 'default.json');
      const { controls, untried } = controlCells(expandCampaign(config), adapter);
      const bar = progressBar('');
      const { report } = await runCampaign(controls, { ...config, selftest: true } as unknown as Record<string, unknown>, {
        workers,
        title: 'tornlab selftest: positive controls',
        onProgress: (p) => bar.update(p.done, p.total, p.verdicts),
        onCell: (oc, i) => {
          bar.end();
          const c = oc.result;
          const nonOk = [...NON_OK, 'harness-error' as const].filter((v) => c.verdicts[v] > 0).map((v) => `${v}=${c.verdicts[v]}`).join(' ');
          process.stderr.write(`[${i + 1}/${controls.length}] ${c.control!.sabotage} on ${c.mode.split('%')[0]}/${c.profile}/${c.workload}: ${c.control!.caught ? 'caught' : 'NOT CAUGHT'} (${nonOk || 'all ok'}; ${c.control!.statesInWindow} of ${c.crashStatesTried} states in ${c.control!.window})\n`);
        },
      });
      if (o.out) writeReportDir(o.out, report);
      const caught = report.cells.filter((c) => c.control?.caught).length;
      process.stdout.write(`sensitivity: ${caught}/${report.cells.length} controls caught${untried.length ? `; no claims-safe cell to try: ${untried.join(', ')}` : ''}\n`);
      // src/cli/exit-codes.ts: 3 when a control's states were not all judged (wins), else 4 when a control was not caught or could not be tried, else 0.
      const unjudged = report.totals.verdicts['harness-error'];
      if (unjudged > 0) process.stderr.write(`HARNESS ERROR: ${unjudged} crash state(s) not judged; sensitivity is incomplete\n`);
      process.exitCode = runExitStatus({ findings: false, harnessErrors: unjudged > 0, notCovered: caught !== report.cells.length || untried.length > 0 });
    });
}
