/**
 * `tornlab exec` as a real-database adapter (src/crash/adapter.ts
 * RealDatabaseAdapter): the user's own database, driven by their START, LOAD
 * and VERIFY commands, run through the campaign's one real-database lane.
 * It has no campaign-file section: its cell is a command line.
 */
import type { RealDatabaseAdapter } from '../../src/crash/adapter';
import type { CellMeasurements } from '../../src/report/build';
import type { FsChoice } from '../../src/export/fs-options';
import { openDeviceStorage } from '../common/device-storage';
import type { ExecCommands } from './options';
import { ExecCycleSummary, execCycleSummary, execMeasurementsOf } from './report';
import { ExecCampaignResult, ExecTimeouts, execCycleId, runExecCampaign } from './runner';
import { openPlainDirectoryAt } from '../common/storage';

/** One exec cell: the commands, where they see the database's folder, the device and the cut policy. */
export interface ExecCellConfig {
  commands: ExecCommands;
  /** The folder the commands use (the device's file system is bind-mounted there). */
  dir: string;
  crashes: number;
  seed: number;
  profile: string;
  faults: string[];
  cutAfterAcks?: number;
  cutWithinMs: number;
  timeouts: ExecTimeouts;
  /** false: no emulated device, SIGKILL only, on DIR itself. */
  device: boolean;
  sizeBytes: number;
  fsChoice: FsChoice;
  /** Trace the write shape of each cycle; `writeShapePageSize` names the database's page size, if known. */
  writeShape?: boolean;
  writeShapePageSize?: number;
  /** The run ledger's id (the commands' TORNLAB_RUN marker), when there is a ledger. */
  runId?: string;
}

type Cycle = ExecCampaignResult['cycles'][number];

export const execAdapter: RealDatabaseAdapter<ExecCellConfig, Cycle, ExecCampaignResult, ExecCycleSummary, CellMeasurements> = {
  kind: 'exec',
  command: 'exec',
  crashes: (cfg) => cfg.crashes,
  replayId: (cfg, k) => execCycleId(cfg.seed, k),
  replayHint: 'rerun tornlab exec with the same commands, options and --seed (a cycle\'s cut and survivor choice follow from the seed and its number)',
  describe: (cfg) => `exec on ${cfg.profile}`,
  unavailable: async () => undefined,
  missing: () => [],
  runCell: (cfg, o) =>
    runExecCampaign({
      owns: o.owns,
      dir: cfg.dir,
      commands: cfg.commands,
      crashes: cfg.crashes,
      seed: cfg.seed,
      cutAfterAcks: cfg.cutAfterAcks,
      cutWithinMs: cfg.cutWithinMs,
      timeouts: cfg.timeouts,
      runId: cfg.runId,
      openStorage: (d, i) =>
        cfg.device
          ? openDeviceStorage({
              profile: cfg.profile,
              faults: cfg.faults,
              seed: cfg.seed + i,
              sample: i,
              sizeBytes: cfg.sizeBytes,
              bindAt: d,
              fsChoice: cfg.fsChoice,
              writeShape: cfg.writeShape ? { pageSizeOf: () => cfg.writeShapePageSize } : undefined,
              onFsInForce: i === 0 && o.onNote ? (f) => o.onNote!(`file system in force: ${f.fs}, mount ${f.mount}; ${f.format}`) : undefined,
            })
          : openPlainDirectoryAt(d),
      onCycle: (_i, c) => o.onCycle?.(c),
    }),
  summary: execCycleSummary,
  measure: (cfg, cycles) => execMeasurementsOf({ profile: cfg.profile, faults: cfg.faults, seed: cfg.seed }, cycles),
};
