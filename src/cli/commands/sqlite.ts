/** `tornlab sqlite`: crash cycles of real SQLite on an emulated device (engines/sqlite). */
import os from 'os';
import { Command, Option } from 'commander';
import { DeviceFullError } from '../../util/errors';
import { refuseMeaningless, warnLeftovers, prepareOutputDir, prepareOutputFile } from '../preflight';
import { DEADLINE_FACTOR_FLAGS, DEADLINE_FACTOR_HELP, applyDeadlineFactor } from '../deadline';
import { DEFAULT_PROFILE, getProfile, parseFaults } from '../../device/profiles';
import { parseCell } from '../../../engines/sqlite/cell';
import { GRID_HEADER, SqliteCampaignResult, formatCampaign, formatGridRow } from '../../../engines/sqlite/campaign';
import { SqliteCellConfig, sqliteAdapter } from '../../../engines/sqlite/adapter';
import { SqliteCell, cellName, cellPromise, gridCells } from '../../../engines/sqlite/cell';
import { WRITE_SHAPE_FLAGS, WRITE_SHAPE_HELP, prepareWriteShape, storageSettings, writeStorageShape } from '../write-shape-option';
import { DEFAULT_DEVICE_BYTES } from '../../../engines/common/device-storage';
import { parsePositiveInt, parseSeed } from '../../../engines/exec/options';
import { requireExport } from '../../export';
import { VERDICTS, countsHaveHarnessError, isFinding } from '../../crash/verdict';
import { runExitStatus } from '../exit-codes';
import { BadInputError } from '../../util/errors';
import { SqliteRuntime } from '../../../engines/sqlite/runtime';
import { CellOutcome } from '../../campaign/run-cell';
import { runRealDatabaseShard } from '../../campaign/run-campaign';
import { parseShardOption, shardOption, writeRunOutputs } from '../shard';
import { addFsOptions, fsChoiceFromOptions } from '../fs-options';
import { isDefaultFsChoice } from '../../export/fs-options';

interface SqliteOpts {
  deadlineFactor?: string;
  journalMode: string;
  synchronous: string;
  pageSize: string;
  profile: string;
  fault: string[];
  crashes: string;
  seed: string;
  json?: boolean;
  device: boolean;
  deviceMib: string;
  maxAcks: string;
  strict?: boolean;
  grid?: boolean;
  runtime: string;
  fs: string;
  mkfsOption: string[];
  mountOption: string[];
  out?: string;
  junit?: string;
  shard?: string;
  writeShape?: string;
}

export function registerSqliteCommands(program: Command): void {
  addFsOptions(program.command('sqlite'))
    .description('run real SQLite (better-sqlite3, in a child process) on an emulated device: commit, cut the power mid-transaction, recover, verify')
    .option('--journal-mode <mode>', 'DELETE | TRUNCATE | PERSIST | WAL | OFF', 'DELETE')
    .option('--synchronous <level>', 'FULL | NORMAL | OFF (or EXTRA)', 'FULL')
    .option('--page-size <bytes>', 'SQLite page size: 4096, 8192, 16384 (any power of two 512..65536)', '4096')
    .option('--profile <name>', 'device profile', DEFAULT_PROFILE)
    .option('--fault <name>', 'device fault switch (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--crashes <n>', 'crash cycles', '10')
    .option('--seed <n>', 'seed of the workload, the cut points and the survivor choices', '1')
    .option('--max-acks <n>', 'cut after 3..N acknowledged commits (then a targeted number of device writes)', '40')
    .option('--device-mib <n>', 'namespace size in MiB', String(DEFAULT_DEVICE_BYTES / 1024 / 1024))
    .option('--no-device', 'no emulated device: SIGKILL only, on a temp directory (process-crash safety, not power loss)')
    .option('--runtime <where>', 'local (the child on the host) | container (a fresh tornlab SQLite container per phase; see tornlab containers setup)', 'local')
    .option('--strict', 'exit 1 for documented trade-offs too (any verdict but ok)')
    .option('--grid', 'run every cell of the grid (5 journal modes x 3 synchronous levels x 4/8/16 KiB pages) and print a table')
    .option('--json', 'print the result as JSON')
    .option('--out <dir>', 'write a report directory (report.json, report.md, index.html)')
    .option('--junit <file>', 'write JUnit XML (one test case per cell)')
    .option(WRITE_SHAPE_FLAGS, WRITE_SHAPE_HELP)
    .addOption(shardOption())
    .option(DEADLINE_FACTOR_FLAGS, DEADLINE_FACTOR_HELP)
    .addHelpText(
      'after',
      '\nExit status: 0 when every cycle is ok or a loss the cell documents (e.g. WAL + synchronous=NORMAL losing commits), 1 for a finding, 2 for bad input or a missing precondition,\n3 for a harness error (a cycle the testbed failed to judge; wins over 1).',
    )
    .action(async (o: SqliteOpts, cmd: Command) => {
      const given = (key: string, flag: string) => (cmd.getOptionValueSource(key) === 'cli' ? [flag] : []);
      if (o.grid) refuseMeaningless([...given('journalMode', '--journal-mode'), ...given('synchronous', '--synchronous'), ...given('pageSize', '--page-size')], 'with --grid (it runs every journal mode, level and page size)');
      if (!o.device) refuseMeaningless([...given('profile', '--profile'), ...(o.fault.length ? ['--fault'] : []), ...given('deviceMib', '--device-mib'), ...given('fs', '--fs'), ...(o.mkfsOption.length ? ['--mkfs-option'] : []), ...(o.mountOption.length ? ['--mount-option'] : [])], 'with --no-device (there is no emulated device)');
      warnLeftovers();
      applyDeadlineFactor(o.deadlineFactor);
      // Validate everything before touching the kernel.
      const cell = parseCell({ journalMode: o.journalMode, synchronous: o.synchronous, pageSize: o.pageSize });
      const fsc = fsChoiceFromOptions(o);
      const profile = getProfile(o.profile).name;
      parseFaults(o.fault);
      const crashes = parsePositiveInt(o.crashes, '--crashes', 100000);
      const seed = parseSeed(o.seed);
      const maxAcks = parsePositiveInt(o.maxAcks, '--max-acks', 100000);
      const sizeBytes = parsePositiveInt(o.deviceMib, '--device-mib', 4096) * 1024 * 1024;
      if (o.runtime !== 'local' && o.runtime !== 'container') throw new BadInputError(`--runtime must be local or container, got "${o.runtime}"`);
      const runtime = o.runtime as SqliteRuntime;
      const shard = parseShardOption(o.shard, o.out);
      // Output paths before the work (src/cli/preflight.ts).
      if (o.out) prepareOutputDir(o.out, '--out');
      if (o.junit) prepareOutputFile(o.junit, '--junit');
      prepareWriteShape(o.writeShape, o.device);
      if (o.device) requireExport(fsc.fs);
      const cells: SqliteCell[] = o.grid ? gridCells() : [cell];
      const configs: SqliteCellConfig[] = cells.map((c) => ({ cell: c, profile, faults: o.fault, crashes, seed, ...(runtime === 'container' ? { runtime } : {}), maxAcks, device: o.device, sizeBytes, fsChoice: fsc, writeShape: o.writeShape !== undefined }));
      await sqliteAdapter.prepare!(configs);
      const results: SqliteCampaignResult[] = [];
      const outcomes: CellOutcome[] = [];
      try {
        for (const cfg of configs) {
          // The lane (src/campaign/real-database-lane.ts): the cycles this shard owns, as a report cell and a shard part.
          const { outcome, cell: ran } = await runRealDatabaseShard(sqliteAdapter, cfg, shard, {
            onNote: o.json ? undefined : (line) => process.stderr.write(line + '\n'),
            onCycle: o.json || o.grid ? undefined : (x) => process.stderr.write(`  cycle ${x.cycle + 1}/${crashes}: ${x.verdict}${x.tradeOff ? ' (documented trade-off)' : ''}\n`),
          });
          const r = ran ?? emptyResult(cfg);
          results.push(r);
          outcomes.push(outcome);
          if (o.grid && !o.json) process.stdout.write((results.length === 1 ? GRID_HEADER + '\n' : '') + formatGridRow(r) + '\n');
        }
      } catch (e) {
        if (e instanceof DeviceFullError && o.device) {
          const mib = sizeBytes / 1024 / 1024;
          const need = Math.max(mib * 2, Math.ceil((mib * maxAcks) / Math.max(1, e.acked)));
          throw new DeviceFullError(`${e.message} on a ${mib} MiB device; give it more with --device-mib ${Math.min(4096, need)} (up to --max-acks ${maxAcks} commits need about ${need} MiB), or lower --max-acks`, e.acked);
        }
        if (e instanceof DeviceFullError) throw new DeviceFullError(`${e.message} in the temp folder of --no-device; free space in ${os.tmpdir()} or lower --max-acks`, e.acked);
        throw e;
      } finally {
        await sqliteAdapter.finish!(configs);
      }
      if (o.json) process.stdout.write(JSON.stringify(o.grid ? results : results[0], null, 2) + '\n');
      else if (!o.grid) process.stdout.write(formatCampaign(results[0]) + '\n');
      if (o.writeShape !== undefined) {
        const settings = { ...storageSettings(profile, o.fault, fsc), ...(o.grid ? {} : { 'page size': `${cell.pageSize / 1024} KiB`, journal_mode: cell.journalMode, synchronous: cell.synchronous }) };
        const cycles = results.flatMap((r) => r.cycles.map((c) => ({ cycle: c.cycle, replayId: c.replayId, verdict: c.verdict, shape: c.cut.writeShape })));
        for (const f of writeStorageShape(o.writeShape, `SQLite ${o.grid ? 'grid' : cellName(cell)} on ${profile} (${fsc.fs})`, settings, cycles)) process.stderr.write(`wrote ${f}\n`);
      }
      const campaign = { sqlite: { cells, crashes, seed, maxAcks, device: o.device, profile, faults: o.fault, deviceMib: sizeBytes / 1024 / 1024, ...(o.device && !isDefaultFsChoice(fsc) ? { fs: fsc } : {}) } };
      writeRunOutputs({ command: 'sqlite', title: `tornlab sqlite ${o.grid ? 'grid' : outcomes[0].result.id}`, campaign, seed, cells: outcomes.map((x) => x.result), parts: outcomes.map((x) => x.part), shard, out: o.out, junit: o.junit });
      const bad = results.some((r) => (o.strict ? r.cycles.some((c) => isFinding(c.verdict)) : r.findings > 0));
      process.exitCode = runExitStatus({ findings: bad, harnessErrors: results.some((r) => countsHaveHarnessError(r.counts)) });
    });
}

/** The result of a cell of which this shard owns no cycle: nothing ran. */
function emptyResult(cfg: SqliteCellConfig): SqliteCampaignResult {
  return { cell: cfg.cell, cellName: cellName(cfg.cell), storage: '', profile: undefined, promise: cellPromise(cfg.cell), crashes: cfg.crashes, seed: cfg.seed, counts: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as SqliteCampaignResult['counts'], findings: 0, tradeOffs: 0, cycles: [], cyclesPerMinute: 0, elapsedMs: 0 };
}
