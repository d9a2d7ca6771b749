/**
 * The base image of a real-database cell: a device formatted and mounted
 * once, the database created and loaded on it and shut down cleanly, and the
 * device's media kept as a copy-on-write image in the device host. Every
 * crash cycle powers a device on from it instead of creating the database
 * again (engines/postgres, engines/mariadb).
 *
 * Invariants:
 *  1. One image per process, engine and configuration key; an image whose
 *     device host ended is built again (the host took it along).
 *  2. The base device has no faults: faults apply to the cycles, not to
 *     setup, so everything the file system wrote is in the snapshot.
 *  3. Every phase runs under the watchdog (base-export, base-image,
 *     base-release); mkfs or mount options the user passed that the tools
 *     refused are bad input (fsOptionsRefused), not a harness failure.
 */
import { getProfile } from '../../src/device/profiles';
import { BlockStack } from '../../src/export/block-stack';
import { HostImage, HostedDevice } from '../../src/export/device-host/client';
import { FsChoice, fsOptionsRefused } from '../../src/export/fs-options';
import { RunLedger } from '../../src/export/ledger';
import { guard } from '../../src/export/watchdog';

export interface BaseImage {
  key: string;
  /** The image, held by the device host. */
  image: HostImage;
  blocks: number;
  buildMs: number;
  nsze: number;
}

/** The namespace size in blocks of a cell: its own, else 1 GiB worth of the profile's blocks. */
export function cellNsze(profile: string, nsze: number | undefined): number {
  return nsze ?? Math.floor(1024 ** 3 / getProfile(profile).identify.namespace.lbaDataSize);
}

export interface BaseImageSpec {
  /** Which engine's image (keys of different engines never meet). */
  engine: string;
  /** The configuration the image depends on, as one string. */
  key: string;
  profile: string;
  seed: number;
  nsze: number;
  fs: FsChoice;
  ledger: RunLedger;
  deadlines: { export: number; base: number; release: number };
}

/**
 * Builds the database on the mounted base device. `onRelease` registers what
 * must end before the file system is released (the server), run under the
 * base-release deadline even when the build failed or passed its deadline.
 */
export type BaseBuild = (mountPoint: string, onRelease: (end: () => Promise<unknown> | void) => void) => Promise<void>;

const bases = new Map<string, BaseImage>();

/** The cached base image of `spec`, or a new one built by `build` (invariant 1). */
export async function cachedBaseImage(spec: BaseImageSpec, build: BaseBuild): Promise<BaseImage> {
  const cacheKey = `${spec.engine}\n${spec.key}`;
  const cached = bases.get(cacheKey);
  if (cached && cached.image.alive) return cached;
  const t0 = Date.now();
  const d = spec.deadlines;
  const dev = await HostedDevice.create({ profile: spec.profile, seed: spec.seed, nsze: spec.nsze });
  let stack: BlockStack;
  try {
    stack = await guard('base-export', d.export, BlockStack.mountDevice(dev, { format: true, fs: spec.fs.fs, mkfsOptions: spec.fs.mkfsOptions, mountOptions: spec.fs.mountOptions, ledger: spec.ledger }));
  } catch (e) {
    await dev.dispose();
    throw fsOptionsRefused(e, spec.fs) ?? e;
  }
  const ends: (() => Promise<unknown> | void)[] = [];
  try {
    await guard('base-image', d.base, build(stack.mountPoint!, (end) => ends.push(end)));
  } finally {
    for (const end of ends) await guard('base-release', d.release, async () => end());
    await guard('base-release', d.release, stack.release());
  }
  const image = await dev.snapshot();
  await dev.dispose();
  const base: BaseImage = { key: spec.key, image, blocks: image.blocks, buildMs: Date.now() - t0, nsze: spec.nsze };
  bases.set(cacheKey, base);
  return base;
}
