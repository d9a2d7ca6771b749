/**
 * `--write-shape DIR` of the commands whose cycles run on device storage
 * (tornlab sqlite, tornlab exec): the report of src/report/write-shape.ts
 * built from each cycle's `cut.writeShape` (engines/common/storage-write-shape.ts).
 * pg and mariadb build theirs from their own phases.
 */
import { FsChoice } from '../export/fs-options';
import type { PageLayout, WriteShape } from '../export/write-shape';
import { WriteShapeRun, writeWriteShapeReport } from '../report/write-shape';
import { BadInputError } from '../util/errors';
import { prepareOutputDir } from './preflight';

export const WRITE_SHAPE_FLAGS = '--write-shape <dir>';
export const WRITE_SHAPE_HELP = 'trace the device writes and write the write-shape report (write-shape.json, .md, .html) into this folder';

/** One cycle as the report needs it. */
export interface ShapedCycle {
  cycle: number;
  replayId: string;
  verdict: string;
  shape?: { load: WriteShape; layout: PageLayout };
}

/** Check the folder before any work (exit 2 naming it); refused without a device, where there is nothing to trace. */
export function prepareWriteShape(dir: string | undefined, device: boolean): void {
  if (dir === undefined) return;
  if (!device) throw new BadInputError('--write-shape traces the emulated device: it does nothing with --no-device');
  prepareOutputDir(dir, '--write-shape');
}

/** The settings every storage-backed write-shape report names. */
export function storageSettings(profile: string, faults: readonly string[], fsc: FsChoice): Record<string, string> {
  return {
    profile: profile + (faults.length ? ` + ${faults.join(', ')}` : ''),
    'file system': fsc.fs,
    'mkfs options': fsc.mkfsOptions.join(' ') || '(defaults)',
    'mount options': ['noatime', ...fsc.mountOptions].join(','),
  };
}

/** Write the report; returns the files written. */
export function writeStorageShape(dir: string, title: string, settings: Record<string, string>, cycles: readonly ShapedCycle[]): string[] {
  const run: WriteShapeRun = {
    title,
    settings,
    cycles: cycles.map((c) => ({ cycle: c.cycle, replayId: c.replayId, verdict: c.verdict, phases: c.shape ? [c.shape.load] : [], layout: c.shape?.layout, tornPages: [] })),
  };
  return writeWriteShapeReport(dir, run);
}

/** A page size given as bytes or with a k suffix (4k, 16384): a power of two from 512 to 64 KiB. */
export function parsePageSizeOption(text: string, flag: string): number {
  const m = /^(\d+)(k)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * (m[2] ? 1024 : 1) : NaN;
  if (!(n >= 512 && n <= 65536 && (n & (n - 1)) === 0)) throw new BadInputError(`${flag} must be a power of two from 512 to 64k (e.g. 4k, 16k, 16384), got "${text}"`);
  return n;
}
