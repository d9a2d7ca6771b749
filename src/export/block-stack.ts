/**
 * The kernel block stack on top of a backing file: loop device -> file
 * system (ext4, or xfs) -> mount point. The backing file is either an
 * emulated device exported through FUSE (the testbed) or a plain file on
 * local disk (the comparison baseline).
 *
 * Release order (ARCHITECTURE 6, what the prototype found): after a cut the
 * file system is unmounted lazily, the loop device detached, and only then is
 * the FUSE file system unmounted. Every step is recorded in the run ledger
 * before it can leak and removed from it after release.
 *
 * The emulated device and its FUSE server live in the device host process
 * (device-host/host.ts); this module runs in the orchestrator and only
 * drives them, so none of its kernel calls (mount, umount, losetup, the last
 * close of a lazily unmounted file system) can wait on a FUSE request that
 * this process would have to answer.
 */
import * as fs from 'node:fs';
import { Tag } from '../device/types';
import { BadInputError } from '../util/errors';
import { CommandError, run, runOk, sleep } from './exec';
import { CutInfo, CutTriggerSpec, HostedDevice, HostedExport } from './device-host/client';
import { fuseConnectionOf } from './fuse-conn';
import { RunLedger, runLedger } from './ledger';
import { interrupted, registerActive } from './teardown';

export type FsType = 'ext4' | 'xfs';

export interface MountOptions {
  /** File system to create or expect (default ext4). */
  fs?: FsType;
  /** Create the file system first (mkfs). Default: false (mount what is there). */
  format?: boolean;
  /** Check the file system before mounting (e2fsck -p; xfs replays its log at mount). Default: !format. */
  fsck?: boolean;
  /** Extra mount options, e.g. ['noatime']. */
  mountOptions?: string[];
  /** Extra mkfs arguments when formatting, e.g. ['-O', 'bigalloc', '-C', '16384'] (ext4) or ['-d', 'su=16k,sw=1'] (xfs). */
  mkfsOptions?: string[];
  /** Device write tag for FUSE writes (default 'other'). */
  tag?: Tag;
  ledger?: RunLedger;
}

export interface FsckResult {
  /** e2fsck exit status: 0 clean, 1 errors corrected, 2 corrected (reboot), >= 4 uncorrected. */
  code: number | null;
  output: string;
}

/** A mounted file system over a loop device over a backing file. */
export class BlockStack {
  fsck: FsckResult | undefined;
  /** Kernel FUSE connection id of the exported file (recorded so doctor can abort it). */
  fuseConnection: number | undefined;
  private releasing: Promise<void> | undefined;
  private unregister: () => void = () => undefined;

  private constructor(
    readonly ledger: RunLedger,
    readonly backingFile: string,
    readonly fsType: FsType,
    readonly fuse: HostedExport | undefined,
    public loopDevice: string | undefined,
    public mountPoint: string | undefined,
  ) {}

  /** The emulated device behind this stack (undefined for a plain file). */
  get device(): HostedDevice | undefined {
    return this.fuse?.device;
  }

  /** Export `dev` through FUSE (in the device host) and mount a file system from it. */
  static async mountDevice(dev: HostedDevice, opts: MountOptions = {}): Promise<BlockStack> {
    if (interrupted()) throw new Error('interrupted: not mounting anything more');
    const ledger = opts.ledger ?? runLedger();
    const fuseDir = ledger.newPath('fuse');
    ledger.add('dir', fuseDir);
    ledger.add('fuse-mount', fuseDir);
    let fuse: HostedExport;
    try {
      fuse = await dev.export(fuseDir, opts.tag ?? 'other');
    } catch (e) {
      ledger.remove('fuse-mount', fuseDir);
      throw e;
    }
    const conn = fuseConnectionOf(fuseDir);
    if (conn !== undefined) ledger.add('fuse-conn', String(conn), fuseDir);
    const stack = new BlockStack(ledger, fuse.filePath, opts.fs ?? 'ext4', fuse, undefined, undefined);
    stack.fuseConnection = conn;
    await stack.bringUp(opts, dev.blockSize);
    return stack;
  }

  /** Mount a file system from a plain sparse file of `sizeBytes` on local disk (the baseline stack). */
  static async mountPlainFile(sizeBytes: number, opts: MountOptions & { sectorSize?: number } = {}): Promise<BlockStack> {
    if (interrupted()) throw new Error('interrupted: not mounting anything more');
    const ledger = opts.ledger ?? runLedger();
    fs.mkdirSync(ledger.plainDir, { recursive: true });
    ledger.add('dir', ledger.plainDir);
    const file = ledger.newPath('plain', 'plain') + '.img';
    fs.writeFileSync(file, '');
    fs.truncateSync(file, sizeBytes);
    const stack = new BlockStack(ledger, file, opts.fs ?? 'ext4', undefined, undefined, undefined);
    await stack.bringUp({ format: true, ...opts }, opts.sectorSize ?? 4096);
    return stack;
  }

  private async bringUp(opts: MountOptions, blockSize: number): Promise<void> {
    this.unregister = registerActive(this);
    try {
      const sector = blockSize >= 4096 ? 4096 : 512;
      const r = await runOk('losetup', ['--find', '--show', '--sector-size', String(sector), this.backingFile], { timeoutMs: 30_000 });
      this.loopDevice = r.stdout.trim();
      this.ledger.add('loop', this.loopDevice, this.backingFile);
      if (opts.format) await makeFs(this.loopDevice, this.fsType, opts.mkfsOptions ?? []);
      if (opts.fsck ?? !opts.format) this.fsck = await checkFs(this.loopDevice, this.fsType);
      const mnt = this.ledger.newPath('fs');
      fs.mkdirSync(mnt, { recursive: true });
      this.ledger.add('dir', mnt);
      const mopts = ['noatime', ...(opts.mountOptions ?? [])];
      this.ledger.add('mount', mnt, this.loopDevice);
      const m = await run('mount', ['-t', this.fsType, '-o', mopts.join(','), this.loopDevice, mnt], { timeoutMs: 60_000 });
      if (m.code !== 0) {
        this.ledger.remove('mount', mnt);
        throw new CommandError(m);
      }
      this.mountPoint = mnt;
      fs.chmodSync(mnt, 0o755);
    } catch (e) {
      await this.release();
      throw e;
    }
  }

  /** Cut the power of the emulated device now (see fuse-file.ts FuseFile.cut). */
  cut(): Promise<CutInfo> {
    if (!this.fuse) throw new BadInputError('a plain-file stack has no device to cut');
    return this.fuse.cut();
  }

  /** Arm a cut in the middle of the write stream (see fuse-file.ts CutTrigger); resolves at the cut. */
  armCut(trigger: CutTriggerSpec): Promise<CutInfo> {
    if (!this.fuse) throw new BadInputError('a plain-file stack has no device to cut');
    return this.fuse.armCut(trigger);
  }

  /** Cut the power (if not yet) and fail every pending and later request: for teardown after the users were killed. */
  async abort(): Promise<void> {
    if (!this.fuse) return;
    try {
      if (!this.fuse.isCut) await this.fuse.cut();
      await this.fuse.failPending();
    } catch {
      // the host is gone: the kernel failed every request already
    }
  }

  /**
   * Release everything, in order: file system (lazily if it must), loop
   * device, FUSE file. After a cut, held requests are failed first — call it
   * only after the processes that issued them were killed. Idempotent.
   */
  release(): Promise<void> {
    // One release for every caller: a signal teardown must wait for a release already under way.
    if (!this.releasing) this.releasing = this.doRelease();
    return this.releasing;
  }

  private async doRelease(): Promise<void> {
    try {
      // The host knows whether the device still serves (a cut may be on its way to us).
      const gate = this.fuse ? await this.fuse.stats().then((s) => s.gate, () => 'failing' as const) : 'serving';
      if (gate !== 'serving') await this.fuse!.failPending();
      if (this.mountPoint) {
        const lazy = gate !== 'serving';
        let r = await run('umount', lazy ? ['-l', this.mountPoint] : [this.mountPoint], { timeoutMs: 60_000 });
        if (r.code !== 0 && !/not mounted/.test(r.stderr)) r = await run('umount', ['-l', this.mountPoint], { timeoutMs: 30_000 });
        if (r.code === 0 || /not mounted/.test(r.stderr)) this.ledger.remove('mount', this.mountPoint);
        try {
          fs.rmdirSync(this.mountPoint);
          this.ledger.remove('dir', this.mountPoint);
        } catch {
          // still mounted (lazy umount pending): doctor reports it
        }
      }
      if (this.loopDevice) {
        await detachLoop(this.loopDevice, this.backingFile);
        this.ledger.remove('loop', this.loopDevice);
      }
      if (this.fuse) {
        await this.fuse.unmount();
        // Off the ledger only once it is really gone (ledger invariant), whoever unmounted it.
        if (fuseConnectionOf(this.fuse.mountPoint) === undefined) {
          this.ledger.remove('fuse-mount', this.fuse.mountPoint);
          if (this.fuseConnection !== undefined) this.ledger.remove('fuse-conn', String(this.fuseConnection));
        }
        try {
          fs.rmdirSync(this.fuse.mountPoint);
          this.ledger.remove('dir', this.fuse.mountPoint);
        } catch {
          // still busy: doctor reports it
        }
      } else if (fs.existsSync(this.backingFile)) {
        fs.rmSync(this.backingFile, { force: true });
      }
    } finally {
      this.unregister();
    }
  }
}

async function makeFs(dev: string, type: FsType, extra: readonly string[]): Promise<void> {
  if (type === 'ext4') {
    // nodiscard: the exported file has no hole punching; lazy init: a fresh namespace reads as zeros anyway.
    await runOk('mkfs.ext4', ['-F', '-q', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', ...extra, dev], { timeoutMs: 120_000 });
  } else {
    await runOk('mkfs.xfs', ['-f', '-q', '-K', ...extra, dev], { timeoutMs: 120_000 });
  }
}

/** e2fsck -p (preen: fix what is safe, replay the journal); xfs replays its log at mount instead. */
async function checkFs(dev: string, type: FsType): Promise<FsckResult> {
  if (type !== 'ext4') return { code: 0, output: 'xfs: log replayed at mount' };
  const r = await run('e2fsck', ['-p', dev], { timeoutMs: 120_000 });
  return { code: r.code, output: (r.stdout + r.stderr).trim() };
}

/** The loop device whose backing file is `file`, if it is still attached. */
export function loopBackingFile(loopDev: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/block/${loopDev.replace('/dev/', '')}/loop/backing_file`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

async function detachLoop(loopDev: string, backingFile: string): Promise<void> {
  // Only detach it if it is still the loop device we attached (it may have been reused).
  const back = loopBackingFile(loopDev);
  if (back === undefined || !back.startsWith(backingFile.replace(/ \(deleted\)$/, ''))) return;
  await run('losetup', ['-d', loopDev], { timeoutMs: 30_000 });
  // losetup -d on a busy device only sets autoclear; wait until the kernel really let go.
  for (let i = 0; i < 250 && loopBackingFile(loopDev) !== undefined; i++) await sleep(20);
}
