/** `tornlab mariadb`: crash cycles of real MariaDB (InnoDB) on an emulated device (engines/mariadb). */
import { Command } from 'commander';
import { BadInputError } from '../../util/errors';
import { CellResult, CrashAt, CycleResult, DEFAULT_CELL, containerMariadbVersion, FlushMethod, MariadbCellConfig, parseMariadbReplayId, runMariadbCell, validateCell } from '../../../engines/mariadb/cycle';
import { runRealDatabaseShard } from '../../campaign/run-campaign';
import { formatMariadbCycleLine, mariadbAdapter } from '../../../engines/mariadb/adapter';
import { parseShardOption, writeRunOutputs } from '../shard';
import { CycleOpts, RunOutputOpts, addCycleOptions, addRunOutputOptions, printCycleRun, setCycleExitStatus } from '../cycle-options';
import { addFsOptions, fsChoiceFromOptions } from '../fs-options';
import { WriteShapeRun } from '../../report/write-shape';
import { applyDeadlineFactor } from '../deadline';
import { prepareOutputDir } from '../preflight';
import { storageSettings } from '../write-shape-option';
import { kib } from '../../../engines/common/cycle-result';

interface MariadbOpts extends CycleOpts, RunOutputOpts {
  doublewrite?: string;
  replay?: string;
  flushMethod: string;
  pageSize: string;
  flushLogAtTrxCommit: string;
  bufferPoolMib: string;
  redoMib: string;
  crashAt: string;
  fs: string;
  mkfsOption: string[];
  mountOption: string[];
  accounts: string;
  clients: string;
  oltpClients: string;
  loadMs: string;
  runtime: string;
  mariadbVersion?: string;
}

/** The write-shape report data of a cell: per cycle, the load and flush phases, the layout and the torn pages. */
export function writeShapeRun(r: CellResult): WriteShapeRun {
  const c = r.config;
  return {
    title: `MariaDB${c.runtime === 'container' ? ` ${containerMariadbVersion(c)} (container)` : ''} doublewrite=${c.doublewrite ? 'on' : 'off'} on ${c.profile} (${c.fs})`,
    settings: { ...storageSettings(c.profile, c.faults, c), ...r.settings },
    cycles: r.cycles.map((y) => ({
      cycle: y.cycle,
      replayId: y.replayId,
      verdict: y.verdict,
      phases: [y.writeShape?.load, y.writeShape?.flush].filter((s): s is NonNullable<typeof s> => s !== undefined),
      layout: y.writeShape?.layout,
      tornPages: y.writeShape?.tornPages ?? [],
    })),
  };
}

function int(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new BadInputError(`${flag} must be an integer, got "${text}"`);
  return Number(text);
}

function pageSize(text: string): number {
  const m = /^(4|8|16|32|64)k$/i.exec(text.trim());
  if (!m) throw new BadInputError(`--page-size must be 4k, 8k, 16k, 32k or 64k, got "${text}"`);
  return Number(m[1]) * 1024;
}

/** Build and validate a cell from CLI options (throws BadInputError before anything is touched). */
export function cellFromOptions(o: MariadbOpts): MariadbCellConfig {
  if (o.doublewrite !== 'on' && o.doublewrite !== 'off') throw new BadInputError(`--doublewrite must be on or off, got "${o.doublewrite ?? ''}" (or give --replay <id>)`);
  const cfg: MariadbCellConfig = {
    ...DEFAULT_CELL,
    doublewrite: o.doublewrite === 'on',
    flushMethod: o.flushMethod as FlushMethod,
    pageSize: pageSize(o.pageSize),
    flushLogAtTrxCommit: int(o.flushLogAtTrxCommit, '--flush-log-at-trx-commit'),
    bufferPoolMiB: int(o.bufferPoolMib, '--buffer-pool-mib'),
    redoMiB: int(o.redoMib, '--redo-mib'),
    profile: o.profile,
    faults: o.fault,
    crashes: int(o.crashes, '--crashes'),
    seed: int(o.seed, '--seed'),
    crashAt: o.crashAt as CrashAt,
    ...fsChoiceFromOptions(o),
    accounts: int(o.accounts, '--accounts'),
    clients: int(o.clients, '--clients'),
    oltpClients: int(o.oltpClients, '--oltp-clients'),
    loadMs: int(o.loadMs, '--load-ms'),
    runtime: o.runtime as MariadbCellConfig['runtime'],
    ...(o.mariadbVersion !== undefined ? { mariadbVersion: o.mariadbVersion } : {}),
  };
  validateCell(cfg);
  return cfg;
}

export function formatCell(r: CellResult): string {
  const c = r.config;
  return [
    `MariaDB${c.runtime === 'container' ? ` ${containerMariadbVersion(c)} (container)` : ' (local)'} innodb_doublewrite=${c.doublewrite ? 'on' : 'off'}, flush method ${c.flushMethod}, ${c.pageSize / 1024} KiB pages on ${c.profile}${c.faults.length ? ' + ' + c.faults.join(', ') : ''} (${c.fs}${c.mkfsOptions.length ? ` mkfs ${c.mkfsOptions.join(' ')}` : ''}${c.mountOptions.length ? ` mount ${c.mountOptions.join(',')}` : ''}, cut at ${c.crashAt}, seed ${c.seed})`,
    `base image: ${r.base.blocks} blocks, built in ${(r.base.buildMs / 1000).toFixed(1)} s`,
    ...r.cycles.map(formatMariadbCycleLine),
    `verdicts: ${Object.entries(r.verdicts).map(([v, n]) => `${v} ${n}`).join(', ')}${r.outages ? ` (${r.outages} outage(s): InnoDB refused to start)` : ''}; median cycle ${(r.medianCycleMs / 1000).toFixed(1)} s`,
  ].join('\n');
}

export function registerMariadbCommands(program: Command): void {
  const cmd = addFsOptions(program.command('mariadb'), DEFAULT_CELL.fs)
    .description('run real MariaDB (InnoDB) on an emulated device exported through FUSE: load, cut the power (during the page cleaner\'s flush by default), recover, verify')
    .option('--doublewrite <on|off>', 'innodb_doublewrite (required unless --replay)')
    .option('--replay <id>', 'rerun one cycle from its replay id (mariadb:...)')
    .option('--flush-method <m>', 'innodb_flush_method: O_DIRECT | fsync | O_DIRECT_NO_FSYNC', DEFAULT_CELL.flushMethod)
    .option('--page-size <size>', 'innodb_page_size: 4k | 8k | 16k | 32k | 64k', '16k')
    .option('--flush-log-at-trx-commit <n>', 'innodb_flush_log_at_trx_commit: 0 | 1 | 2', String(DEFAULT_CELL.flushLogAtTrxCommit))
    .option('--buffer-pool-mib <n>', 'innodb_buffer_pool_size in MiB', String(DEFAULT_CELL.bufferPoolMiB))
    .option('--redo-mib <n>', 'innodb_log_file_size in MiB', String(DEFAULT_CELL.redoMiB));
  addCycleOptions(cmd)
    .option('--crash-at <where>', "flush (targeted: inside the page cleaner's flush batch) | unprotected (there, at the first page write the device does not cover atomically, torn on purpose) | first-page (the same, at page 0 of an InnoDB file) | ibd-first-page | ibdata1-first-page (the same, at page 0 of a .ibd only, of ibdata1 only) | seeded (after a seeded number of writes)", DEFAULT_CELL.crashAt)
    .option('--accounts <n>', 'bank-ledger accounts', String(DEFAULT_CELL.accounts))
    .option('--clients <n>', 'bank-ledger client connections', String(DEFAULT_CELL.clients))
    .option('--oltp-clients <n>', 'OLTP write-mix connections (0: none)', String(DEFAULT_CELL.oltpClients))
    .option('--load-ms <ms>', 'load before the flush is forced', String(DEFAULT_CELL.loadMs))
    .option('--runtime <where>', "local (Debian's mariadb-server on the host) | container (a tornlab image; see tornlab containers setup)", 'local')
    .option('--mariadb-version <v>', 'MariaDB version of the container runtime: 10.11 | 11.8 (default 10.11)');
  addRunOutputOptions(cmd, 'write the write-shape report (write-shape.json, .md, .html) into this folder')
    .addHelpText('after', '\nNeeds root, /dev/fuse, a free loop device, libfuse2, mkfs.ext4 and Debian\'s mariadb-server.\nExit status: 0 every cycle ok, 1 a finding (any other verdict), 2 bad input or a missing precondition,\n3 a harness error (a cycle the testbed failed to judge; wins over 1).')
    .action(async (o: MariadbOpts) => {
      let cfg: MariadbCellConfig;
      let fromCycle: number | undefined;
      if (o.replay !== undefined) {
        if (o.doublewrite !== undefined) throw new BadInputError('give either --replay <id> or --doublewrite, not both (the replay id fixes the configuration)');
        const p = parseMariadbReplayId(o.replay);
        cfg = p.cfg;
        fromCycle = p.cycle;
      } else {
        cfg = cellFromOptions(o);
      }
      const shard = parseShardOption(o.shard, o.out);
      if (shard && fromCycle !== undefined) throw new BadInputError('--replay reruns one cycle: give it without --shard');
      applyDeadlineFactor(o.deadlineFactor);
      if (o.writeShape !== undefined) prepareOutputDir(o.writeShape, '--write-shape');
      const onCycle = o.json ? undefined : (c: CycleResult) => process.stderr.write(formatMariadbCycleLine(c) + '\n');
      let r: CellResult | undefined;
      if (fromCycle !== undefined) {
        r = await runMariadbCell(cfg, { fromCycle, onCycle });
      } else {
        const { outcome, cell } = await runRealDatabaseShard(mariadbAdapter, cfg, shard, { onCycle });
        r = cell;
        writeRunOutputs({ command: 'mariadb', title: `tornlab mariadb ${outcome.result.id}`, campaign: { mariadb: cfg }, seed: cfg.seed, cells: [outcome.result], parts: [outcome.part], shard, out: o.out, junit: o.junit });
      }
      printCycleRun(o, r, cfg.crashes, shard, { formatCell, writeShapeRun });
      setCycleExitStatus(r?.cycles ?? []);
    });
}
