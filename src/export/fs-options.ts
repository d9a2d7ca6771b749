/**
 * File-system choices for a real-database cell (issue 13 item 3): the file
 * system on the exported device and the mkfs and mount arguments passed
 * through to it, for every engine (pg, sqlite, exec, mariadb).
 *
 * Invariants:
 *  1. A choice is validated (validateFsChoice) before anything is touched;
 *     bad values are BadInputError naming the fix (CLI exit 2).
 *  2. The default choice (ext4, no extra arguments) has the empty replay tag,
 *     so replay ids written before these options still parse and still name
 *     the same cycle.
 *  3. What is "in force" is read back from the kernel (mountinfo) and the
 *     file system itself (dumpe2fs -h / xfs_info), not echoed from the input.
 */
import * as fs from 'node:fs';
import { BadInputError } from '../util/errors';
import { CommandError, run } from './exec';
import { FsType } from './block-stack';

export interface FsChoice {
  fs: FsType;
  /** Extra mkfs arguments, one per element (e.g. ['-O', 'bigalloc', '-C', '16384']). */
  mkfsOptions: string[];
  /** Extra mount options (after noatime), one per element. */
  mountOptions: string[];
}

export const DEFAULT_FS_CHOICE: FsChoice = { fs: 'ext4', mkfsOptions: [], mountOptions: [] };

/** Throws BadInputError naming the fix when a choice cannot be passed through. */
export function validateFsChoice(c: FsChoice): void {
  if (c.fs !== 'ext4' && c.fs !== 'xfs') throw new BadInputError(`--fs must be ext4 or xfs, got ${c.fs}`);
  for (const o of c.mkfsOptions) if (!o || /[\0\n\s]/.test(o)) throw new BadInputError(`--mkfs-option "${o}" is not an argument (give e.g. --mkfs-option "-O bigalloc -C 16384")`);
  for (const o of c.mountOptions) if (!/^[A-Za-z0-9_=.:/+-]+$/.test(o)) throw new BadInputError(`--mount-option "${o}" is not a mount option (one per flag, e.g. --mount-option dioread_nolock)`);
}

/** Split the --mkfs-option values at spaces into arguments. */
export function splitMkfsOptions(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(/\s+/).filter(Boolean));
}

/** `~<base64url of JSON [mkfs, mount]>` when there are extra options, '' otherwise (invariant 2). */
export function fsOptionsTag(c: FsChoice): string {
  if (c.mkfsOptions.length === 0 && c.mountOptions.length === 0) return '';
  return '~' + Buffer.from(JSON.stringify([c.mkfsOptions, c.mountOptions])).toString('base64url');
}

/** Read back a tag fsOptionsTag wrote ('' or undefined: none). */
export function parseFsOptionsTag(tag: string | undefined, id: string): { mkfsOptions: string[]; mountOptions: string[] } {
  if (!tag) return { mkfsOptions: [], mountOptions: [] };
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(tag.replace(/^~/, ''), 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (!Array.isArray(v) || v.length !== 2 || !strings(v[0]) || !strings(v[1])) throw new BadInputError(`"${id}": its file-system options (after ~) do not decode; copy the replay id whole`);
  return { mkfsOptions: v[0], mountOptions: v[1] };
}

/** One line for humans: "xfs, mkfs -d su=16k,sw=1, mount noatime,logbsize=256k". */
export function describeFsChoice(c: FsChoice): string {
  return `${c.fs}, mkfs ${c.mkfsOptions.join(' ') || '(defaults)'}, mount ${['noatime', ...c.mountOptions].join(',')}`;
}

/** mkfs or mount refusing the user's extra options is bad input, not a harness failure. */
export function fsOptionsRefused(e: unknown, c: FsChoice): BadInputError | undefined {
  if (!(e instanceof CommandError) || (c.mkfsOptions.length === 0 && c.mountOptions.length === 0)) return undefined;
  const prog = e.result.command.split(' ')[0].split('/').pop() ?? '';
  if (!/^(mkfs|mount)/.test(prog)) return undefined;
  return new BadInputError(`${prog} refused the file-system options (--mkfs-option ${JSON.stringify(c.mkfsOptions.join(' '))}, --mount-option ${JSON.stringify(c.mountOptions.join(','))}): ${(e.result.stderr || e.result.stdout).trim().split('\n')[0]}; fix or drop them`);
}

/** What the kernel and the file system say is in force (invariant 3). */
export interface FsInForce {
  fs: FsType;
  /** Per-mount and super options of the mount point, from /proc/self/mountinfo. */
  mount: string;
  /** ext4: dumpe2fs -h's features, block and cluster size; xfs: xfs_info's data section (bsize, sunit, swidth in blocks). */
  format: string;
}

/** The mountinfo options of `mountPoint` ('' when it is not mounted). */
export function mountOptionsOf(mountPoint: string, mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string {
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f[4] !== mountPoint) continue;
    const sep = f.indexOf('-');
    return [f[5], sep > 0 ? f[sep + 3] : ''].filter(Boolean).join(' ');
  }
  return '';
}

/** Read what is in force on a mounted stack (device `dev`, mount point `mnt`). */
export async function fsInForce(type: FsType, dev: string, mnt: string): Promise<FsInForce> {
  const mount = mountOptionsOf(mnt);
  if (type === 'ext4') {
    const r = await run('dumpe2fs', ['-h', dev], { timeoutMs: 30_000 });
    const keep = /^(Filesystem features|Block size|Cluster size|RAID stride|RAID stripe width|Journal size):/;
    return { fs: type, mount, format: r.stdout.split('\n').filter((l) => keep.test(l)).map((l) => l.replace(/\s+/g, ' ').trim()).join('; ') };
  }
  const r = await run('xfs_info', [mnt], { timeoutMs: 30_000 });
  const data = r.stdout.split('\n').filter((l) => /^(meta-data|data|\s)/.test(l)).join(' ');
  const pick = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(data)?.[1];
  return { fs: type, mount, format: ['bsize', 'sunit', 'swidth', 'agsize'].map((k) => `${k}=${pick(k) ?? '?'}`).join(' ') };
}

/** ext4 with no extra arguments: what every engine did before these options. */
export function isDefaultFsChoice(c: FsChoice): boolean {
  return c.fs === 'ext4' && c.mkfsOptions.length === 0 && c.mountOptions.length === 0;
}
