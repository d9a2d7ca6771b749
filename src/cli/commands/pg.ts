/** `tornlab pg`: crash cycles of real PostgreSQL on an emulated device (engines/postgres). */
import { Command } from 'commander';
import { getProfile } from '../../device/profiles';
import { warnLeftovers, prepareOutputDir, prepareOutputFile } from '../preflight';
import { BadInputError } from '../../util/errors';
import { CellResult } from '../../../engines/postgres/cycle';
import { CrashAt, DEFAULT_CELL, PgCellConfig, containerPgVersion, fsChoiceOf, parseSettings, validateCell } from '../../../engines/postgres/config';
import { CycleResult } from '../../../engines/postgres/result';
import { detailLine } from '../../../engines/postgres/verdict';
import { runRealDatabaseShard } from '../../campaign/run-campaign';
import { formatPgCycleLine, pgAdapter } from '../../../engines/postgres/adapter';
import { parseShardOption, writeRunOutputs } from '../shard';
import { CycleOpts, RunOutputOpts, addCycleOptions, addRunOutputOptions, printCycleRun, setCycleExitStatus } from '../cycle-options';
import { addFsOptions, fsChoiceFromOptions } from '../fs-options';
import { describeFsChoice } from '../../export/fs-options';
import { WriteShapeRun } from '../../report/write-shape';
import { PG_PAGE_BYTES } from '../../../engines/postgres/write-shape';
import { applyDeadlineFactor } from '../deadline';
import { storageSettings } from '../write-shape-option';
import { kib } from '../../../engines/common/cycle-result';

interface PgOpts extends CycleOpts, RunOutputOpts {
  fpw: string;
  crashAt: string;
  fs: string;
  mkfsOption: string[];
  mountOption: string[];
  set: string[];
  accounts: string;
  clients: string;
  loadMs: string;
  pgbench: string;
  deviceMib?: string;
  runtime: string;
  pgVersion?: string;
}

/** A non-negative integer option (what sqlite and exec accept too). */
function int(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) throw new BadInputError(`${flag} must be a non-negative integer, got "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new BadInputError(`${flag} is too large, got "${text}"`);
  return n;
}

/** Build and validate a cell from CLI options (throws BadInputError before anything is touched). */
export function cellFromOptions(o: PgOpts): PgCellConfig {
  if (o.fpw !== 'on' && o.fpw !== 'off') throw new BadInputError(`--fpw must be on or off, got "${o.fpw}"`);
  const cfg: PgCellConfig = {
    ...DEFAULT_CELL,
    fpw: o.fpw === 'on',
    profile: o.profile,
    faults: o.fault,
    crashes: int(o.crashes, '--crashes'),
    seed: int(o.seed, '--seed'),
    crashAt: o.crashAt as CrashAt,
    ...fsChoiceFromOptions(o),
    settings: parseSettings(o.set),
    accounts: int(o.accounts, '--accounts'),
    clients: int(o.clients, '--clients'),
    loadMs: int(o.loadMs, '--load-ms'),
    pgbenchClients: int(o.pgbench, '--pgbench'),
    runtime: o.runtime as PgCellConfig['runtime'],
    ...(o.pgVersion !== undefined ? { pgVersion: o.pgVersion } : {}),
  };
  if (o.deviceMib !== undefined) {
    const mib = int(o.deviceMib, '--device-mib');
    if (mib < 64 || mib > 65536) throw new BadInputError(`--device-mib must be from 64 to 65536 (MiB), got ${mib}`);
    cfg.nsze = (mib * 2 ** 20) / getProfile(cfg.profile).identify.namespace.lbaDataSize;
  }
  if (o.writeShape !== undefined) {
    if (cfg.crashAt !== 'checkpoint') throw new BadInputError('--write-shape maps the files before the CHECKPOINT\'s writeback: give it with --crash-at checkpoint');
    cfg.writeShape = true;
  }
  validateCell(cfg);
  return cfg;
}

/** The write-shape report data of a cell: per cycle, the load and checkpoint phases and the page layout. */
export function writeShapeRun(r: CellResult): WriteShapeRun {
  const c = r.config;
  return {
    title: `PostgreSQL full_page_writes=${c.fpw ? 'on' : 'off'} on ${c.profile} (${c.fs})`,
    settings: {
      ...storageSettings(c.profile, c.faults, fsChoiceOf(c)),
      'page size': `${PG_PAGE_BYTES / 1024} KiB`,
      full_page_writes: c.fpw ? 'on' : 'off',
    },
    cycles: r.cycles.map((y) => ({
      cycle: y.cycle,
      replayId: y.replayId,
      verdict: y.verdict,
      phases: [y.writeShape?.load, y.writeShape?.checkpoint].filter((s): s is NonNullable<typeof s> => s !== undefined),
      layout: y.writeShape?.layout,
      tornPages: [],
    })),
  };
}

export function formatCell(r: CellResult): string {
  const c = r.config;
  const inForce = r.cycles.find((x) => x.fsInForce)?.fsInForce;
  const lines = [
    `PostgreSQL${c.runtime === 'container' ? ` ${containerPgVersion(c)} (container)` : ' (local)'} full_page_writes=${c.fpw ? 'on' : 'off'} on ${c.profile}${c.faults.length ? ' + ' + c.faults.join(', ') : ''} (${c.fs}, cut at ${c.crashAt}, seed ${c.seed})`,
    `file system asked: ${describeFsChoice(fsChoiceOf(c))}`,
    ...(inForce ? [`file system in force: mount ${inForce.mount}; ${inForce.format}`] : []),
    `base image: ${r.base.blocks} blocks, built in ${(r.base.buildMs / 1000).toFixed(1)} s`,
    ...r.cycles.map(formatPgCycleLine),
    `verdicts: ${Object.entries(r.verdicts).map(([v, n]) => `${v} ${n}`).join(', ')}; median cycle ${(r.medianCycleMs / 1000).toFixed(1)} s`,
  ];
  const walOn = r.cycles.map((x) => x.wal.lsnBytes);
  if (walOn.length) lines.push(`per cycle: WAL ${kib(walOn.reduce((a, b) => a + b, 0) / walOn.length)} average, FPI ${Math.round(r.cycles.reduce((a, x) => a + Math.max(0, x.wal.fpi), 0) / r.cycles.length)} average`);
  return lines.join('\n');
}

export function registerPgCommands(program: Command): void {
  const cmd = addFsOptions(program.command('pg'))
    .description('run real PostgreSQL on an emulated device exported through FUSE: load, cut the power (during a CHECKPOINT by default), recover, verify')
    .requiredOption('--fpw <on|off>', 'full_page_writes');
  addCycleOptions(cmd)
    .option('--crash-at <where>', 'checkpoint (targeted: inside a CHECKPOINT\'s writeback) | seeded (after a seeded number of writes)', 'checkpoint')
    .option('--set <name=value>', 'extra PostgreSQL setting (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--accounts <n>', 'bank accounts', String(DEFAULT_CELL.accounts))
    .option('--clients <n>', 'bank-transfer client connections', String(DEFAULT_CELL.clients))
    .option('--load-ms <ms>', 'load before the cut', String(DEFAULT_CELL.loadMs))
    .option('--pgbench <clients>', 'also run pgbench with this many clients as load (0: off)', '0')
    .option('--device-mib <n>', 'namespace size in MiB (default 1024)')
    .option('--runtime <where>', 'local (Debian\'s binaries on the host) | container (a tornlab image; see tornlab containers setup)', 'local')
    .option('--pg-version <v>', 'PostgreSQL major version of the container runtime: 15 | 17 | 18 (default 15)');
  addRunOutputOptions(cmd, 'trace the device writes and write the write-shape report (write-shape.json, .md, .html) into this folder')
    .addHelpText('after', '\nNeeds root, /dev/fuse, a free loop device, libfuse2, mkfs.ext4 and PostgreSQL 15 (Debian paths).\nExit status: 0 every cycle ok, 1 a finding (any other verdict), 2 bad input or a missing precondition,\n3 a harness error (a cycle the testbed failed to judge; wins over 1).')
    .action(async (o: PgOpts) => {
      const cfg = cellFromOptions(o);
      const shard = parseShardOption(o.shard, o.out);
      // Output paths before the work (src/cli/preflight.ts).
      if (o.out) prepareOutputDir(o.out, '--out');
      if (o.junit) prepareOutputFile(o.junit, '--junit');
      if (o.writeShape !== undefined) prepareOutputDir(o.writeShape, '--write-shape');
      applyDeadlineFactor(o.deadlineFactor);
      warnLeftovers();
      const { outcome, cell: r } = await runRealDatabaseShard(pgAdapter, cfg, shard, { onCycle: o.json ? undefined : (c) => process.stderr.write(formatPgCycleLine(c) + '\n') });
      printCycleRun(o, r, cfg.crashes, shard, { formatCell, writeShapeRun });
      writeRunOutputs({ command: 'pg', title: `tornlab pg ${outcome.result.id}`, campaign: { pg: cfg }, seed: cfg.seed, cells: [outcome.result], parts: [outcome.part], shard, out: o.out, junit: o.junit });
      setCycleExitStatus(r?.cycles ?? []);
    });
}
