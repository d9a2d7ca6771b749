/** `tornlab exec`: crash cycles of the user's own database, driven by start/load/verify commands (engines/exec). */
import * as fs from 'fs';
import { Command } from 'commander';
import { DEFAULT_PROFILE, getProfile, parseFaults } from '../../device/profiles';
import { requireExport, runLedger } from '../../export';
import { openDeviceStorage, DEFAULT_DEVICE_BYTES } from '../../../engines/exec/device-storage';
import { openPlainDirectoryAt } from '../../../engines/exec/storage';
import { parsePositiveInt, parseSeed, prepareMountDir, validateCommands } from '../../../engines/exec/options';
import { DEFAULT_TIMEOUTS, formatExecCampaign, runExecCampaign } from '../../../engines/exec/runner';
import { countsHaveHarnessError } from '../../crash/verdict';
import { runExitStatus } from '../exit-codes';

interface ExecOpts {
  mount: string;
  start: string;
  load: string;
  verify: string;
  profile: string;
  fault: string[];
  crashes: string;
  seed: string;
  cutAfterAcks?: string;
  cutWithinMs: string;
  timeout?: string;
  deviceMib: string;
  device: boolean;
  json?: boolean;
}

export function registerExecCommands(program: Command): void {
  program
    .command('exec')
    .description('bring your own database: mount an emulated device at DIR, run START and LOAD, cut the power, remount the crash image, run START and VERIFY')
    .requiredOption('--mount <dir>', 'empty directory (created if missing) where the emulated device is mounted')
    .requiredOption('--start <cmd>', 'shell command that starts (or initialises) the database; run before the load and again after the crash')
    .requiredOption('--load <cmd>', 'shell command that writes; append one line per acknowledged operation to $TORNLAB_ACK_FILE')
    .requiredOption('--verify <cmd>', 'shell command that checks the recovered data; exit 0 ok, 10 torn-page-detected, 11 silent-corruption, 12 lost-commit, 13 atomicity-violation, 14 recovery-failed, other = failed')
    .option('--profile <name>', 'device profile', DEFAULT_PROFILE)
    .option('--fault <name>', 'device fault switch (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--crashes <n>', 'crash cycles', '1')
    .option('--seed <n>', 'seed of the cut points and survivor choices (TORNLAB_SEED = seed + cycle)', '1')
    .option('--cut-after-acks <n>', 'cut after 1..N acknowledged operations (lines in $TORNLAB_ACK_FILE)')
    .option('--cut-within-ms <ms>', 'without --cut-after-acks: cut 0..MS ms into the load', '2000')
    .option('--timeout <ms>', `time limit of each start/verify run and of reaching the ack target (default ${DEFAULT_TIMEOUTS.startMs} ms)`)
    .option('--device-mib <n>', 'namespace size in MiB', String(DEFAULT_DEVICE_BYTES / 1024 / 1024))
    .option('--no-device', 'no emulated device: SIGKILL only, in DIR itself (process-crash safety, not power loss)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nEnvironment of the commands: TORNLAB_MOUNT, TORNLAB_PHASE (start|load|recover|verify), TORNLAB_CYCLE, TORNLAB_SEED,\n' +
        'TORNLAB_ACK_FILE (load), TORNLAB_ACKED_FILE and TORNLAB_ACKED_COUNT (verify: what was acknowledged before the cut).\n' +
        'Exit status: 0 every cycle ok, 1 a finding, 2 bad input (mount dir, command not found or timing out) or a missing precondition,\n' +
        '3 a harness error (a cycle the testbed failed to judge; wins over 1).',
    )
    .action(async (o: ExecOpts) => {
      const profile = getProfile(o.profile).name;
      parseFaults(o.fault);
      const crashes = parsePositiveInt(o.crashes, '--crashes', 100000);
      const seed = parseSeed(o.seed);
      const cutAfterAcks = o.cutAfterAcks !== undefined ? parsePositiveInt(o.cutAfterAcks, '--cut-after-acks') : undefined;
      const cutWithinMs = parsePositiveInt(o.cutWithinMs, '--cut-within-ms', 3_600_000);
      const t = o.timeout !== undefined ? parsePositiveInt(o.timeout, '--timeout', 86_400_000) : undefined;
      const timeouts = t ? { startMs: t, loadMs: t, verifyMs: t } : DEFAULT_TIMEOUTS;
      const sizeBytes = parsePositiveInt(o.deviceMib, '--device-mib', 4096) * 1024 * 1024;
      const commands = { start: o.start, load: o.load, verify: o.verify };
      await validateCommands(commands);
      if (o.device) requireExport('ext4');
      const { dir, created } = await prepareMountDir(o.mount);
      try {
        const r = await runExecCampaign({
          dir,
          commands,
          crashes,
          seed,
          cutAfterAcks,
          cutWithinMs,
          timeouts,
          runId: o.device ? runLedger().runId : undefined,
          openStorage: (d, i) => (o.device ? openDeviceStorage({ profile, faults: o.fault, seed: seed + i, sample: i, sizeBytes, bindAt: d }) : openPlainDirectoryAt(d)),
          onCycle: o.json ? undefined : (i, c) => process.stderr.write(`  cycle ${i + 1}/${crashes}: ${c.verdict}\n`),
        });
        process.stdout.write((o.json ? JSON.stringify(r, null, 2) : formatExecCampaign(r)) + '\n');
        process.exitCode = runExitStatus({ findings: r.findings > 0, harnessErrors: countsHaveHarnessError(r.counts) });
      } finally {
        if (created) await fs.promises.rmdir(dir).catch(() => undefined);
        if (o.device) runLedger().close(); // removes the run folder when nothing is held any more
      }
    });
}
