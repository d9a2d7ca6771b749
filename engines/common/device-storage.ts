/**
 * CrashableStorage on an emulated NVMe device, through the block export of
 * src/export (FUSE file -> loop device -> ext4 -> mount). This module only
 * adapts that API to a crash cycle; it does not export anything itself.
 *
 *   open:     fresh device (small namespace) -> mkfs.ext4 -> mount
 *             (-> bind mount at the user's directory, for `tornlab exec`)
 *   cut:      device stops (in the device host) -> caller kills -> bind unmounted ->
 *             pending requests failed, umount -l, losetup -d, FUSE unmount
 *   remount:  survivor choice (sample n of the crash point, seeded) -> crash
 *             image -> new device -> e2fsck -p -> mount (-> bind again)
 *   teardown: unbind, release the stack; idempotent.
 *
 * The survivor choice is drawn like src/device/power-loss.ts resolveChoice
 * does for sample n, so `crashStateId` (profile, faults, seed, crash point,
 * sample) names the crash state of the device's command stream. A real
 * kernel's command stream is not bit-for-bit repeatable, so for SQLite and
 * exec runs the id documents the state; it does not promise a replay.
 */
import { run, runOk } from '../../src/export/exec';
import { BlockStack, CutInfo, HostedDevice, cutAndRelease, registerActive, remountCrashImage, requireExport, runLedger, survivorsFrom } from '../../src/export';
import { faultNames, getProfile, parseFaults } from '../../src/device/profiles';
import { Prng } from '../../src/util/prng';
import { killProcessesUsing } from './processes';
import { DEFAULT_FS_CHOICE, FsChoice, FsInForce, fsInForce, fsOptionsRefused, validateFsChoice } from '../../src/export/fs-options';
import { CrashableStorage, CutSummary, RemountSummary } from './storage';
import type { WriteTrace } from '../../src/export/device-host/client';
import { storageWriteShape } from './storage-write-shape';

export interface DeviceStorageOptions {
  profile: string;
  faults?: string[];
  /** Device seed (jitter, survivor choice). */
  seed: number;
  /** Sample number of the survivor choice at the crash point (e.g. the cycle number). */
  sample: number;
  /** Namespace size in bytes (default 64 MiB: small enough that mkfs and e2fsck are quick). */
  sizeBytes?: number;
  /** Bind-mount the file system at this (empty, existing) directory. */
  bindAt?: string;
  /** File system and extra mkfs/mount arguments (default ext4, none; src/export/fs-options.ts). */
  fsChoice?: FsChoice;
  /** Told what is in force once the first file system is mounted (mountinfo, dumpe2fs -h / xfs_info). */
  onFsInForce?: (f: FsInForce) => void;
  /**
   * Trace the device's write requests from the mount to the cut and, once the
   * crash image is mounted, read them against its files (RemountSummary.writeShape):
   * `pageSizeOf` names the page size of a file (path relative to the mount), or
   * undefined for a file without pages (a log).
   */
  writeShape?: { pageSizeOf: (file: string) => number | undefined };
}

export const DEFAULT_DEVICE_BYTES = 64 * 1024 * 1024;

export async function openDeviceStorage(o: DeviceStorageOptions): Promise<CrashableStorage> {
  const fsc = o.fsChoice ?? DEFAULT_FS_CHOICE;
  validateFsChoice(fsc);
  requireExport(fsc.fs);
  const profile = getProfile(o.profile);
  const faults = parseFaults(o.faults ?? []);
  const nsze = Math.floor((o.sizeBytes ?? DEFAULT_DEVICE_BYTES) / profile.identify.namespace.lbaDataSize);
  // The device and its FUSE server live in the device host process (src/export/device-host).
  let device = await HostedDevice.create({ profile: profile.name, faults: faultNames(faults), seed: o.seed, nsze });
  let bound = false;
  const bind = async (s: BlockStack) => {
    if (!o.bindAt) return;
    try {
      // Recorded before it exists (ledger invariant): the mount lies outside the run folders, so
      // doctor trusts it only while the mount at DIR still comes from this run's loop device.
      runLedger().add('mount', o.bindAt, `bind mount of ${s.mountPoint} from ${s.loopDevice}`);
      await runOk('mount', ['--bind', s.mountPoint!, o.bindAt], { timeoutMs: 30_000 });
      bound = true;
    } catch (e) {
      runLedger().remove('mount', o.bindAt);
      await s.release();
      throw e;
    }
  };
  const unbind = async () => {
    if (!bound || !o.bindAt) return;
    const r = await run('umount', ['-l', o.bindAt], { timeoutMs: 30_000 });
    if (r.code === 0 || /not mounted/.test(r.stderr)) {
      bound = false;
      runLedger().remove('mount', o.bindAt);
    }
  };
  // Registered before any stack, so that the export's teardown (SIGINT/SIGTERM) drops the
  // bind mount at the user's directory first; otherwise it would keep the file system, the
  // loop device and the FUSE file busy. (After a SIGKILL, tornlab doctor finds it in the ledger.)
  const unregisterBind = o.bindAt ? registerActive({ release: async () => void (await unbind()) }) : () => undefined;
  let stack: BlockStack | undefined;
  try {
    stack = await BlockStack.mountDevice(device, { format: true, fs: fsc.fs, mkfsOptions: fsc.mkfsOptions, mountOptions: fsc.mountOptions });
    if (o.onFsInForce) o.onFsInForce(await fsInForce(fsc.fs, stack.loopDevice!, stack.mountPoint!));
  } catch (e) {
    unregisterBind();
    await stack?.release();
    await device.dispose();
    throw fsOptionsRefused(e, fsc) ?? e;
  }
  try {
    await bind(stack);
  } catch (e) {
    stack = undefined;
    unregisterBind();
    throw e;
  }
  // What the device saw from the moment the storage was ready (after mkfs and mount) to the cut:
  // the database's own writes and flushes, plus the file system's for them.
  const ready = await device.counters();
  if (o.writeShape) await stack.fuse!.startTrace();
  let trace: WriteTrace | undefined;
  let point: CutInfo | undefined;
  let onCutHook: (() => void) | undefined;
  const idBase = `${profile.name}${faultNames(faults).map((f) => '+' + f).join('')}:${o.seed}`;

  const storage: CrashableStorage = {
    kind: 'emulated-device',
    get dir() {
      return o.bindAt ?? stack?.mountPoint ?? '';
    },
    profile: profile.name,
    armCut(afterWrites, onCut) {
      onCutHook = onCut;
      stack!.fuse!.onCut(() => {
        const h = onCutHook;
        onCutHook = undefined;
        h?.();
      });
      void stack!.armCut({ afterWrites });
    },
    disarm() {
      onCutHook = undefined;
      stack?.fuse?.disarm();
    },
    async powerCut(killProcesses): Promise<CutSummary> {
      const s = stack!;
      const mnt = s.mountPoint!;
      const r = await cutAndRelease(s, async () => {
        // Order: stopped (inside cutAndRelease) -> kill -> unbind; release follows.
        // Signals only, no waiting: held requests are failed after this returns.
        await killProcesses();
        // The export still holds the trace (nothing is answered after the cut): take it before the release.
        if (o.writeShape) trace = await s.fuse!.takeTrace();
        await killProcessesUsing(mnt, 0);
        if (o.bindAt) await killProcessesUsing(o.bindAt, 0);
        await unbind();
      });
      const p = (point = r.point);
      stack = undefined;
      const c = await device.counters();
      return {
        seq: p.seq,
        pendingWrites: p.pendingWrites,
        device: {
          hostWriteBytes: c.hostWriteBytes - ready.hostWriteBytes,
          writes: c.writes - ready.writes,
          flushes: c.flushes - ready.flushes,
          fuaWrites: c.fuaWrites - ready.fuaWrites,
          nandBytesProgrammed: c.nandBytesProgrammed - ready.nandBytesProgrammed,
        },
        note: `power cut at device command ${p.seq}: ${p.pendingWrites} writes cached or in flight, ${r.heldRequests} requests failed with EIO after the kill`,
      };
    },
    async remountCrashImage(): Promise<RemountSummary> {
      if (!point) throw new Error('remountCrashImage before powerCut');
      const rec = await remountCrashImage(device, survivorsFrom(new Prng(point.seed, `crash/p${point.seq}/s${o.sample}`)), { fs: fsc.fs, mountOptions: fsc.mountOptions });
      // The cut device (and its crash point) is no longer needed; the crash image's device takes its place.
      await device.dispose();
      device = rec.device;
      stack = rec.stack;
      await bind(stack);
      const shape = trace && o.writeShape ? await storageWriteShape(profile, trace, stack.mountPoint!, o.writeShape.pageSizeOf) : undefined;
      return {
        ...(shape ? { writeShape: shape } : {}),
        choices: rec.choices.toString(),
        changedBlocks: rec.changedBlocks,
        crashStateId: `${idBase}:p${point.seq}:s${o.sample}`,
        fsck: rec.fsck ? { code: rec.fsck.code, output: rec.fsck.output.slice(-2000) } : undefined,
      };
    },
    async teardown() {
      await unbind();
      unregisterBind();
      const s = stack;
      stack = undefined;
      if (s) {
        // A stack still live here is the crash image after verification, or a stack an
        // error left before its cut: the device still serves, so its users can be
        // killed and reaped first and the file system unmounted cleanly.
        if (!s.fuse?.isCut) await killProcessesUsing(s.mountPoint!, 5000).catch(() => []);
        await s.release();
      }
      await device.dispose();
    },
  };
  return storage;
}
