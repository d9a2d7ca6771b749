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
import { CrashPoint, NvmeDevice } from '../device/device';
import { Choice, ChoiceSpace, CrashImage, buildCrashImage, choiceAt, choiceSpace, powerOn, sampleChoice } from '../device/power-loss';
import { Prng } from '../util/prng';
import { BlockStack, FsckResult, MountOptions } from './block-stack';

/** Which of the pending writes survive: drawn from a Prng, given, or the n-th in enumeration order. */
export type SurvivorSpec = { prng: Prng } | { choice: Choice } | { index: bigint };

export interface CutResult {
  point: CrashPoint;
  /** Requests that were waiting for an answer when they were failed with EIO. */
  heldRequests: number;
}

/** Steps 1-4: cut (unless already cut), kill via the caller, fail pending, release the stack. */
export async function cutAndRelease(stack: BlockStack, kill: () => Promise<void> | void): Promise<CutResult> {
  const point = stack.fuse?.point ?? stack.cut();
  const heldRequests = stack.fuse?.heldCount ?? 0;
  try {
    await kill();
  } finally {
    await stack.release();
  }
  return { point, heldRequests };
}

export interface CrashState {
  space: ChoiceSpace;
  choice: Choice;
  image: CrashImage;
}

/** The crash image a survivor choice gives at a crash point. */
export function crashState(point: CrashPoint, survivors: SurvivorSpec): CrashState {
  const space = choiceSpace(point);
  let choice: Choice;
  if ('prng' in survivors) choice = sampleChoice(space, survivors.prng);
  else if ('choice' in survivors) choice = survivors.choice;
  else choice = choiceAt(space, survivors.index);
  return { space, choice, image: buildCrashImage(space, choice) };
}

export interface RemountResult extends CrashState {
  device: NvmeDevice;
  stack: BlockStack;
  fsck: FsckResult | undefined;
}

/** Step 5: power a device on from the chosen crash image and mount it (e2fsck -p first). */
export async function remountCrashImage(point: CrashPoint, survivors: SurvivorSpec, opts: MountOptions = {}): Promise<RemountResult> {
  const st = crashState(point, survivors);
  const device = powerOn(point, st.image);
  const stack = await BlockStack.mountDevice(device, { ...opts, format: false, fsck: opts.fsck ?? true });
  return { ...st, device, stack, fsck: stack.fsck };
}
