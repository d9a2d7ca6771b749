/**
 * The device side of a real-database crash cycle, the same for every
 * database (engines/postgres, engines/mariadb): power a device on from the
 * base image and mount it, race the awaits of the load against the cut, read
 * the cut's record, release what a failed cycle left mounted, and remount the
 * crash image a seeded survivor choice gives for recovery.
 *
 * Invariants:
 *  1. Every step runs under its watchdog deadline; a HarnessError becomes the
 *     cycle's harness-error note (noteHarnessError), anything else propagates.
 *  2. The survivors come from the cycle's own Prng fork 'survivors', so a
 *     replay id remounts the same crash image.
 *  3. A stack is released exactly once: by the cut path, or by
 *     releaseCycleStack after the cycle (cutting first if nothing did).
 */
import { BlockStack } from '../../src/export/block-stack';
import { HostedDevice } from '../../src/export/device-host/client';
import { FsType } from '../../src/export/block-stack';
import { RunLedger } from '../../src/export/ledger';
import { RemountResult, remountCrashImage, survivorsFrom } from '../../src/export/power-cut';
import { guard } from '../../src/export/watchdog';
import { HarnessError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';
import type { Verdict } from '../../src/crash/verdict';
import type { BaseImage } from './base-image';
import { CutPointFields, DeviceBytes, HarnessNote, deviceBytes, noteHarnessError, recordCutPoint } from './cycle-result';

/** The mount of a cycle's device. */
export interface CycleMount {
  fs: FsType;
  mountOptions?: string[];
  ledger: RunLedger;
}

/** What the shared steps write into a cycle's result. */
export interface CycleRecord {
  verdict: Verdict;
  harness?: HarnessNote;
  findings: string[];
  messages: string[];
  cut: CutPointFields & { heldRequests: number; maxDirtyBytes: number; changedBlocks: number };
  device: { load: DeviceBytes; recovery: DeviceBytes };
  recovery: { fsckCode: number | null; fsckOutput: string };
}

/**
 * Power a device on from the base image (its seed from the cycle's Prng fork
 * 'device') and mount it without fsck. A mount that passes its deadline is a
 * HarnessError, returned for the caller's harness-error result.
 */
export async function powerOnCycleDevice(
  o: CycleMount & { profile: string; faults: string[]; base: BaseImage; cyclePrng: Prng; exportMs: number },
): Promise<{ dev: HostedDevice; stack: BlockStack } | { error: HarnessError }> {
  const devSeed = o.cyclePrng.fork('device').int(1, 2 ** 31 - 1);
  const dev = await HostedDevice.create({ profile: o.profile, faults: o.faults, seed: devSeed, nsze: o.base.nsze, image: o.base.image.id });
  try {
    const stack = await guard('export', o.exportMs, BlockStack.mountDevice(dev, { fs: o.fs, fsck: false, mountOptions: o.mountOptions, ledger: o.ledger }));
    return { dev, stack };
  } catch (e) {
    await dev.dispose();
    if (e instanceof HarnessError) return { error: e };
    throw e;
  }
}

/**
 * `untilCut(p)`: p, or undefined as soon as the power is cut. Every query
 * awaited while a cut is armed races the cut: a backend blocked on a held
 * request never answers, and the kill that would free it comes only after
 * the await.
 */
export function cutRace(stack: BlockStack): <T>(p: Promise<T>) => Promise<T | undefined> {
  const cutSeen = new Promise<'cut'>((resolve) => stack.fuse!.onCut(() => resolve('cut')));
  return <T>(p: Promise<T>) => Promise.race([p, cutSeen.then(() => undefined)]);
}

/** Record the cut point and the device's bytes up to it (right after the cut, before the kill). */
export async function recordCut(res: CycleRecord, stack: BlockStack, dev: HostedDevice, dev0: DeviceBytes): Promise<void> {
  recordCutPoint(res.cut, stack.fuse!.point!);
  res.device.load = deviceBytes(await dev.counters(), dev0);
}

/** Record what the export held and the largest cache fill it saw. */
export async function recordExportStats(res: CycleRecord, stack: BlockStack): Promise<void> {
  const s = await stack.fuse!.stats();
  res.cut.heldRequests = s.heldCount;
  res.cut.maxDirtyBytes = s.maxDirtyBytes;
}

/** After a cycle: cut and release a stack the cut path did not release (invariant 3), then drop the device. */
export async function releaseCycleStack(res: CycleRecord, stack: BlockStack, dev: HostedDevice, released: boolean, releaseMs: number): Promise<void> {
  if (!released) {
    await guard('release', releaseMs, async () => {
      if (!stack.fuse!.isCut) await stack.cut();
      await stack.release();
    }).catch((e) => {
      if (!(e instanceof HarnessError)) throw e;
      noteHarnessError(res, e);
    });
  }
  await dev.dispose();
}

/** A crash image mounted for recovery, and the device's counters when it was. */
export interface RecoveryMount {
  rec: RemountResult;
  counters0: DeviceBytes;
}

/** Mount the crash image of the cut device the survivor choice gives (e2fsck -p first) and record the fsck. */
export async function mountCrashImage(res: CycleRecord, cut: HostedDevice, cyclePrng: Prng, o: CycleMount & { fsckMs: number; tear?: { lba: number; nlb: number } }): Promise<RecoveryMount> {
  // The seeded survivors, with the cut's trigger write torn on purpose when the caller aims at it.
  const survivors = { ...survivorsFrom(cyclePrng.fork('survivors')), ...(o.tear ? { tear: o.tear } : {}) };
  const rec = await guard('fsck', o.fsckMs, remountCrashImage(cut, survivors, { fs: o.fs, mountOptions: o.mountOptions, ledger: o.ledger }));
  res.cut.changedBlocks = rec.changedBlocks;
  res.recovery.fsckCode = rec.fsck?.code ?? 0;
  res.recovery.fsckOutput = rec.fsck?.output ?? '';
  return { rec, counters0: deviceBytes(await rec.device.counters()) };
}

/** e2fsck -p could not repair the crash image: the cycle is recovery-failed with fsck's words. */
export function fsckFailed(res: CycleRecord, m: RecoveryMount): boolean {
  const code = m.rec.fsck?.code ?? 0;
  if (code < 4) return false;
  res.findings.push(`e2fsck -p could not repair the file system (exit ${m.rec.fsck?.code})`);
  res.messages.push(...(m.rec.fsck?.output ?? '').split('\n').slice(0, 20));
  res.verdict = 'recovery-failed';
  return true;
}

/** Record recovery's device bytes and release the crash image's stack and device. */
export async function releaseCrashImage(res: CycleRecord, m: RecoveryMount, releaseMs: number): Promise<void> {
  res.device.recovery = deviceBytes(await m.rec.device.counters(), m.counters0);
  await guard('release', releaseMs, m.rec.stack.release()).finally(() => m.rec.device.dispose());
}
