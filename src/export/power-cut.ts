/**
 * A power cut under a mounted file system, and the mount of what survived.
 *
 * Sequence (the order matters; see ARCHITECTURE 6):
 *   1. stop completing: the device's crash state is captured (powerCut) and
 *      FUSE requests stop being answered — already done if the cut was armed;
 *   2. the caller kills every process that used the file system (SIGKILL);
 *   3. the requests still waiting are answered with EIO;
 *   4. lazy umount, losetup -d, FUSE unmount;
 *   5. a survivor choice picks the crash image; a fresh device powers on from
 *      it and is exported, checked (e2fsck -p) and mounted again.
 */
import { Prng } from '../util/prng';
import { BlockStack, FsckResult, MountOptions } from './block-stack';
import { CutInfo, HostedDevice, SurvivorSpec } from './device-host/client';

export type { SurvivorSpec } from './device-host/client';

/** The survivor choice drawn from a fresh seeded stream (the stream is rebuilt in the device host). */
export function survivorsFrom(prng: Prng): Extract<SurvivorSpec, { seed: number }> {
  return { seed: prng.seed, label: prng.label };
}

export interface CutResult {
  point: CutInfo;
  /** Requests that were waiting for an answer when they were failed with EIO. */
  heldRequests: number;
}

/** Steps 1-4: cut (unless already cut), kill via the caller, fail pending, release the stack. */
export async function cutAndRelease(stack: BlockStack, kill: () => Promise<void> | void): Promise<CutResult> {
  const point = stack.fuse?.point ?? (await stack.cut());
  let heldRequests = 0;
  try {
    await kill();
    heldRequests = (await stack.fuse?.stats().catch(() => undefined))?.heldCount ?? 0;
  } finally {
    await stack.release();
  }
  return { point, heldRequests };
}

export interface RemountResult {
  /** The device powered on from the crash image (in the device host). */
  device: HostedDevice;
  stack: BlockStack;
  fsck: FsckResult | undefined;
  /** Size of the survivor-choice space at the cut, and the choice applied. */
  choices: bigint;
  choice: number[];
  /** Blocks whose value differs from what was durable at the cut. */
  changedBlocks: number;
}

/** Step 5: power a device on from the chosen crash image of the cut device `cut` and mount it (e2fsck -p first). */
export async function remountCrashImage(cut: HostedDevice, survivors: SurvivorSpec, opts: MountOptions = {}): Promise<RemountResult> {
  const r = await cut.powerOnCrashImage(survivors);
  let stack: BlockStack;
  try {
    stack = await BlockStack.mountDevice(r.device, { ...opts, format: false, fsck: opts.fsck ?? true });
  } catch (e) {
    await r.device.dispose();
    throw e;
  }
  return { device: r.device, stack, fsck: stack.fsck, choices: r.choices, choice: r.choice, changedBlocks: r.changedBlocks };
}
