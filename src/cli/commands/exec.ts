/** `tornlab exec`: crash cycles of the user's own database, driven by start/load/verify commands (engines/exec). */
import * as fs from 'fs';
import { DEADLINE_FACTOR_FLAGS, DEADLINE_FACTOR_HELP, applyDeadlineFactor } from '../deadline';
import * as path from 'path';
import { Command } from 'commander';
import { refuseMeaningless, warnLeftovers, prepareOutputDir, prepareOutputFile } from '../preflight';
import { DEFAULT_PROFILE, getProfile, parseFaults } from '../../device/profiles';
import { RunLedger, haltIfInterrupted, requireExport, runLedger } from '../../export';
import { markedProcesses } from '../../export/processes';
import { DEFAULT_DEVICE_BYTES } from '../../../engines/common/device-storage';
import { ExecCellConfig, execAdapter } from '../../../engines/exec/adapter';
import { mountsAtOrUnder, parsePositiveInt, parseSeconds, parseSeed, prepareMountDir, validateCommands } from '../../../engines/exec/options';
import { signalKillAll } from '../../../engines/common/processes';
import { DEFAULT_TIMEOUTS, ExecCampaignResult, formatExecCampaign } from '../../../engines/exec/runner';
import { countsHaveHarnessError } from '../../crash/verdict';
import { runExitStatus } from '../exit-codes';
import { runRealDatabaseShard } from '../../campaign/run-campaign';
import { parseShardOption, shardOption, writeRunOutputs } from '../shard';
import { WRITE_SHAPE_FLAGS, WRITE_SHAPE_HELP, parsePageSizeOption, prepareWriteShape, storageSettings, writeStorageShape } from '../write-shape-option';
import { addFsOptions, fsChoiceFromOptions } from '../fs-options';
import { isDefaultFsChoice } from '../../export/fs-options';

/** Exit status when a cycle ended as harness-error (a phase passed its deadline) and none had a finding. */
export const EXIT_HARNESS_ERROR = 3;

interface ExecOpts {
  deadlineFactor?: string;
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
  startTimeout: string;
  loadTimeout: string;
  verifyTimeout: string;
  timeout?: string;
  deviceMib: string;
  device: boolean;
  fs: string;
  mkfsOption: string[];
  mountOption: string[];
  json?: boolean;
  out?: string;
  junit?: string;
  shard?: string;
  writeShape?: string;
  writeShapePageSize?: string;
}

export function registerExecCommands(program: Command): void {
  addFsOptions(program.command('exec'))
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
    .option('--start-timeout <s>', 'seconds each start (and recover) command may take to exit; past it its process group is killed and the cycle is harness-error', String(DEFAULT_TIMEOUTS.startMs / 1000))
    .option('--load-timeout <s>', 'seconds the load may take to report the --cut-after-acks target', String(DEFAULT_TIMEOUTS.loadMs / 1000))
    .option('--verify-timeout <s>', 'seconds the verify command may take to exit', String(DEFAULT_TIMEOUTS.verifyMs / 1000))
    .option('--timeout <ms>', 'deprecated: milliseconds, sets the three timeouts above where they are not given')
    .option('--device-mib <n>', 'namespace size in MiB', String(DEFAULT_DEVICE_BYTES / 1024 / 1024))
    .option('--no-device', 'no emulated device: SIGKILL only, in DIR itself (process-crash safety, not power loss)')
    .option('--json', 'print the result as JSON')
    .option('--out <dir>', 'write a report directory (report.json, report.md, index.html)')
    .option('--junit <file>', 'write JUnit XML')
    .option(WRITE_SHAPE_FLAGS, WRITE_SHAPE_HELP)
    .option('--write-shape-page-size <size>', "the database's page size (4k, 16k, ...): every traced file's writes are read as pages of it; without it, command sizes and syncs only")
    .addOption(shardOption())
    .option(DEADLINE_FACTOR_FLAGS, DEADLINE_FACTOR_HELP)
    .addHelpText(
      'after',
      '\nEnvironment of the commands: TORNLAB_MOUNT, TORNLAB_PHASE (start|load|recover|verify), TORNLAB_CYCLE, TORNLAB_SEED,\n' +
        'TORNLAB_ACK_FILE (load), TORNLAB_ACKED_FILE and TORNLAB_ACKED_COUNT (verify: what was acknowledged before the cut).\n' +
        'Each command is over when it exits; what it left in the background (a daemon) is killed with its process group at the\n' +
        'power cut (start) or at the end of the cycle (recover); daemons should redirect their stdio (>log 2>&1 </dev/null &).\n' +
        'Exit status: 0 every cycle ok, 1 a finding, 2 bad input (mount dir, command not found, start failing before the cut)\n' +
        'or a missing precondition, 3 a harness error (a phase passed its deadline; wins over 1: the run did not judge everything).',
    )
    .action(async (o: ExecOpts, cmd: Command) => {
      const given = (key: string, flag: string) => (cmd.getOptionValueSource(key) === 'cli' ? [flag] : []);
      if (o.cutAfterAcks !== undefined) refuseMeaningless(given('cutWithinMs', '--cut-within-ms'), 'with --cut-after-acks (the cut comes after acknowledgements, not after a time)');
      if (!o.device) refuseMeaningless([...given('profile', '--profile'), ...(o.fault.length ? ['--fault'] : []), ...given('deviceMib', '--device-mib'), ...given('fs', '--fs'), ...(o.mkfsOption.length ? ['--mkfs-option'] : []), ...(o.mountOption.length ? ['--mount-option'] : [])], 'with --no-device (there is no emulated device)');
      warnLeftovers();
      applyDeadlineFactor(o.deadlineFactor);
      const fsc = fsChoiceFromOptions(o);
      const profile = getProfile(o.profile).name;
      parseFaults(o.fault);
      const crashes = parsePositiveInt(o.crashes, '--crashes', 100000);
      const seed = parseSeed(o.seed);
      const cutAfterAcks = o.cutAfterAcks !== undefined ? parsePositiveInt(o.cutAfterAcks, '--cut-after-acks') : undefined;
      const cutWithinMs = parsePositiveInt(o.cutWithinMs, '--cut-within-ms', 3_600_000);
      // --timeout (deprecated, ms) fills in the per-phase limits not given explicitly.
      const legacy = o.timeout !== undefined ? parsePositiveInt(o.timeout, '--timeout', 86_400_000) : undefined;
      const limit = (key: 'startTimeout' | 'loadTimeout' | 'verifyTimeout', option: string) =>
        legacy !== undefined && cmd.getOptionValueSource(key) === 'default' ? legacy : parseSeconds(o[key], option) * 1000;
      const timeouts = { startMs: limit('startTimeout', '--start-timeout'), loadMs: limit('loadTimeout', '--load-timeout'), verifyMs: limit('verifyTimeout', '--verify-timeout') };
      if (legacy !== undefined) process.stderr.write('tornlab: --timeout is deprecated; use --start-timeout, --load-timeout and --verify-timeout (seconds)\n');
      const sizeBytes = parsePositiveInt(o.deviceMib, '--device-mib', 4096) * 1024 * 1024;
      const shard = parseShardOption(o.shard, o.out);
      // Output paths before the work (src/cli/preflight.ts).
      if (o.out) prepareOutputDir(o.out, '--out');
      if (o.junit) prepareOutputFile(o.junit, '--junit');
      if (o.writeShapePageSize !== undefined && o.writeShape === undefined) refuseMeaningless(['--write-shape-page-size'], 'without --write-shape');
      const shapePageSize = o.writeShapePageSize !== undefined ? parsePageSizeOption(o.writeShapePageSize, '--write-shape-page-size') : undefined;
      prepareWriteShape(o.writeShape, o.device);
      const commands = { start: o.start, load: o.load, verify: o.verify };
      await validateCommands(commands);
      if (o.device) requireExport(fsc.fs);
      const { dir, created } = await prepareMountDir(o.mount);
      // The run ledger marks the commands' processes (TORNLAB_RUN) for the teardown and doctor,
      // also without a device; where it cannot be made (no root), the runner marks them itself.
      let ledger: RunLedger | undefined;
      try {
        ledger = runLedger();
      } catch (e) {
        if (o.device) throw e;
      }
      // At any exit (SIGINT/SIGTERM teardown, an error that escaped): leave DIR as it was found.
      // A folder tornlab made is the run's to remove: recorded so that doctor removes it (while empty) after a SIGKILL.
      if (created) ledger?.add('mount-dir', dir, 'exec --mount folder tornlab created');
      const leaveDir = () =>
        leaveDirAsFound(dir, {
          created,
          plain: !o.device,
          runId: ledger?.runId,
          // Gone: off the ledger, and the run folder may go too (the teardown's exit hook ran before this one).
          onRemoved: () => {
            ledger?.remove('mount-dir', dir);
            ledger?.close();
          },
        });
      process.on('exit', leaveDir);
      const cfg: ExecCellConfig = { commands, dir, crashes, seed, profile, faults: o.fault, cutAfterAcks, cutWithinMs, timeouts, device: o.device, sizeBytes, fsChoice: fsc, writeShape: o.writeShape !== undefined, writeShapePageSize: shapePageSize, runId: ledger?.runId };
      try {
        // The lane (src/campaign/real-database-lane.ts): the cycles this shard owns, as a report cell and a shard part.
        const { outcome, cell } = await runRealDatabaseShard(execAdapter, cfg, shard, {
          onNote: o.json ? undefined : (line) => process.stderr.write(line + '\n'),
          onCycle: o.json ? undefined : (c) => process.stderr.write(`  cycle ${c.cycle + 1}/${crashes}: ${c.verdict}\n`),
        });
        const r: ExecCampaignResult = cell ?? { dir, commands, storage: '', crashes, seed, counts: {}, findings: 0, cycles: [], cyclesPerMinute: 0 };
        await haltIfInterrupted();
        process.stdout.write((o.json ? JSON.stringify(r, null, 2) : formatExecCampaign(r)) + '\n');
        if (o.writeShape !== undefined) {
          const settings = { ...storageSettings(profile, o.fault, fsc), 'page size': shapePageSize ? `${shapePageSize / 1024} KiB (--write-shape-page-size)` : '(not given: commands and syncs only)' };
          const cycles = r.cycles.map((c) => ({ cycle: c.cycle, replayId: c.replayId, verdict: c.verdict, shape: c.cut?.writeShape }));
          for (const f of writeStorageShape(o.writeShape, `tornlab exec on ${profile} (${fsc.fs})`, settings, cycles)) process.stderr.write(`wrote ${f}\n`);
        }
        // The campaign as the report (and a shard's merge) knows it: what decides the cycles, not where DIR is or how long phases may take.
        const campaign = { exec: { commands, crashes, seed, profile, faults: o.fault, cutAfterAcks, cutWithinMs: cutAfterAcks === undefined ? cutWithinMs : undefined, device: o.device, deviceMib: sizeBytes / 1024 / 1024, ...(o.device && !isDefaultFsChoice(fsc) ? { fs: fsc } : {}) } };
        writeRunOutputs({ command: 'exec', title: `tornlab exec ${outcome.result.id}`, campaign, seed, cells: [outcome.result], parts: [outcome.part], shard, out: o.out, junit: o.junit });
        process.exitCode = runExitStatus({ findings: r.findings > 0, harnessErrors: countsHaveHarnessError(r.counts) });
      } catch (e) {
        await haltIfInterrupted(); // a SIGINT/SIGTERM teardown owns the exit (128+signal)
        throw e;
      } finally {
        process.off('exit', leaveDir);
        // A folder tornlab made goes (without a device, with the database's files in it).
        if (created) leaveDir();
        ledger?.close(); // removes the run folder when nothing is held any more
      }
    });
}

/**
 * Synchronous last resort at process exit: kill what is left of the commands
 * (their groups, and by marker what left them), then, without a device, empty
 * DIR (never when anything is mounted at or under it) and remove it if tornlab
 * created it. With a device the teardown has unmounted DIR (lazily); it is
 * removed if tornlab created it and it is empty; doctor handles the rest.
 */
function leaveDirAsFound(dir: string, o: { created: boolean; plain: boolean; runId?: string; onRemoved?: () => void }): void {
  try {
    signalKillAll();
    // Not with a device: reading a process's environment could block on one stuck in its I/O.
    if (o.plain && o.runId) {
      for (const p of markedProcesses(o.runId)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    if (mountsAtOrUnder(dir).length) return;
    if (o.plain) for (const e of fs.readdirSync(dir)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
    if (o.created) {
      fs.rmdirSync(dir);
      o.onRemoved?.();
    }
  } catch {
    // what is left is reported by `tornlab doctor`
  }
}
