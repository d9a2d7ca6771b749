/**
 * `--fs`, `--mkfs-option` and `--mount-option`: the file-system choice of every
 * command that runs a real database on an exported device (mariadb, pg,
 * sqlite, exec). Defined once here; src/export/fs-options.ts validates and
 * records the choice.
 */
import { Command } from 'commander';
import { FsType } from '../export/block-stack';
import { FsChoice, splitMkfsOptions, validateFsChoice } from '../export/fs-options';

export interface FsOpts {
  fs: string;
  mkfsOption: string[];
  mountOption: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** Add the three options to `cmd` (default file system ext4). */
export function addFsOptions(cmd: Command, defaultFs: FsType = 'ext4'): Command {
  return cmd
    .option('--fs <type>', 'file system on the exported device: ext4 | xfs', defaultFs)
    .option('--mkfs-option <args>', 'extra mkfs arguments, split at spaces (repeatable), e.g. "-O bigalloc -C 16384" (ext4) or "-d su=16k,sw=1" (xfs)', collect, [] as string[])
    .option('--mount-option <opt>', 'extra mount option (repeatable)', collect, [] as string[]);
}

/** The validated choice the options give (BadInputError, exit 2, before anything is touched). */
export function fsChoiceFromOptions(o: FsOpts): FsChoice {
  const c: FsChoice = { fs: o.fs as FsType, mkfsOptions: splitMkfsOptions(o.mkfsOption), mountOptions: o.mountOption };
  validateFsChoice(c);
  return c;
}
