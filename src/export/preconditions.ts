/**
 * What the machine must offer before a run touches the kernel, checked up
 * front so a run fails with one clear message (PreconditionError, exit 2)
 * instead of halfway through with a mount half made.
 */
import * as fs from 'node:fs';
import { PreconditionError } from '../util/errors';
import { FsType } from './block-stack';

export interface Missing {
  what: string;
  fix: string;
}

function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  return dirs.some((d) => {
    try {
      fs.accessSync(`${d}/${cmd}`, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function libfuse2Present(): boolean {
  const candidates = ['/usr/lib/x86_64-linux-gnu/libfuse.so.2', '/usr/lib/aarch64-linux-gnu/libfuse.so.2', '/lib/x86_64-linux-gnu/libfuse.so.2', '/usr/lib/libfuse.so.2', '/lib/libfuse.so.2'];
  if (candidates.some((c) => fs.existsSync(c))) return true;
  try {
    return /libfuse\.so\.2/.test(fs.readFileSync('/etc/ld.so.cache', 'latin1'));
  } catch {
    return false;
  }
}

function freeLoopPossible(): boolean {
  if (fs.existsSync('/dev/loop-control')) return true;
  // Without loop-control a free pre-created /dev/loopN is still usable.
  for (let i = 0; i < 64; i++) {
    const dev = `/dev/loop${i}`;
    if (!fs.existsSync(dev)) continue;
    if (!fs.existsSync(`/sys/block/loop${i}/loop/backing_file`)) return true;
  }
  return false;
}

/** What a block export (FUSE file -> loop -> file system) lacks on this machine. */
export function missingForExport(fsType: FsType = 'ext4'): Missing[] {
  const out: Missing[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) out.push({ what: 'root', fix: 'run as root (losetup and mount need it)' });
  if (!fs.existsSync('/dev/fuse')) out.push({ what: '/dev/fuse', fix: 'load the fuse module (modprobe fuse) or, in a container, pass --device /dev/fuse --cap-add SYS_ADMIN' });
  if (!libfuse2Present()) out.push({ what: 'libfuse2', fix: 'apt-get install libfuse2' });
  if (!onPath('losetup')) out.push({ what: 'losetup', fix: 'apt-get install mount' });
  else if (!freeLoopPossible()) out.push({ what: 'a free loop device', fix: 'modprobe loop, or free one: tornlab doctor --cleanup releases the loop devices of dead tornlab runs (see /sys/block/loop*/loop/backing_file for the rest)' });
  if (!onPath('mount') || !onPath('umount')) out.push({ what: 'mount/umount', fix: 'apt-get install mount' });
  if (fsType === 'ext4') {
    if (!onPath('mkfs.ext4')) out.push({ what: 'mkfs.ext4', fix: 'apt-get install e2fsprogs' });
    if (!onPath('e2fsck')) out.push({ what: 'e2fsck', fix: 'apt-get install e2fsprogs' });
  } else if (!onPath('mkfs.xfs')) {
    out.push({ what: 'mkfs.xfs', fix: 'apt-get install xfsprogs' });
  }
  return out;
}

export function formatMissing(missing: Missing[], forWhat: string): string {
  return `${forWhat} needs what this machine lacks:\n` + missing.map((m) => `  - ${m.what}: ${m.fix}`).join('\n');
}

/** Throw a PreconditionError naming everything missing for a block export. */
export function requireExport(fsType: FsType = 'ext4', extra: Missing[] = []): void {
  const missing = [...missingForExport(fsType), ...extra];
  if (missing.length > 0) throw new PreconditionError(formatMissing(missing, 'exporting an emulated device to the kernel'));
}
