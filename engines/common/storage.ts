/**
 * Where a database under test keeps its files during a crash cycle, and what a
 * power cut does to them. Two kinds:
 * - `emulated-device`: a directory on a filesystem mounted from an emulated NVMe
 *   namespace (src/export). A cut stops the device, the database's processes
 *   are SIGKILLed, the pre-crash mount is torn down, and a crash image (one
 *   survivor choice of what the device had cached) is mounted at the same place.
 * - `plain-directory`: a temporary directory on the host filesystem. A "cut" is
 *   only SIGKILL: the kernel keeps every write, so this checks process-crash
 *   safety and the harness itself, never power loss.
 *
 * Invariant for callers: after `open()` resolved, `teardown()` is called exactly
 * once, in a finally block, whatever happened; it releases every mount, loop
 * device and FUSE session the storage created.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tempPrefix } from '../../src/export/ledger';
import type { PageLayout, WriteShape } from '../../src/export/write-shape';

export interface CutSummary {
  /** Device command-stream position of the cut, when there is a device. */
  seq?: number;
  /** Number of survivor choices at the cut (as a decimal string: it is a bigint). */
  choices?: string;
  /** The survivor choice applied (index into the choice space, decimal string). */
  choice?: string;
  /** Writes that were cached or in flight at the cut. */
  pendingWrites?: number;
  /** What the device saw from the storage being ready to the cut (devices only). */
  device?: { hostWriteBytes: number; writes: number; flushes: number; fuaWrites: number; nandBytesProgrammed: number };
  /** Free text: what happened. */
  note: string;
}

export interface RemountSummary {
  /** Number of survivor choices at the cut (decimal string: a bigint). */
  choices?: string;
  /** Blocks whose content differs from what was durable at the cut. */
  changedBlocks?: number;
  /** Crash state id: profile, seed, crash point, survivor sample. */
  crashStateId?: string;
  /** e2fsck -p exit status and output of the crash image (0 clean, 1 fixed). */
  fsck?: { code: number | null; output: string };
  /**
   * With a write-shape trace (device storage only): the device's write requests
   * from the mount to the cut, read against the crash image's file map.
   */
  writeShape?: { load: WriteShape; layout: PageLayout };
}

export interface CrashableStorage {
  readonly kind: 'emulated-device' | 'plain-directory';
  /** The directory the database uses (ask again after remountCrashImage: it may change unless bound to a fixed path). */
  readonly dir: string;
  /** Device profile name, when there is a device. */
  readonly profile?: string;
  /**
   * Power cut. Stops the device first, synchronously within the call (no
   * request completes after it), then awaits `killProcesses` (SIGKILL of
   * everything using `dir`), then tears the pre-crash mount down. At most once.
   */
  powerCut(killProcesses: () => Promise<void>): Promise<CutSummary>;
  /** Mount the crash image at `dir` (after powerCut). */
  remountCrashImage(): Promise<RemountSummary>;
  /** Release everything; idempotent; never throws for an already released resource. */
  teardown(): Promise<void>;
  /**
   * Optional (devices only): cut the power right before the (n+1)-th write
   * request the device receives from now on (a targeted cut inside a commit's
   * writes). The device host cuts synchronously with that request; `onCut` runs
   * when the cut is reported here, so no request was answered after the cut
   * (an acknowledgement read before onCut came from a durable commit).
   * powerCut() must still be called afterwards to kill and release.
   */
  armCut?(afterWrites: number, onCut: () => void): void;
  /** Cancel an armed cut that has not fired. */
  disarm?(): void;
}

/** Storage at `dir` whose power cut is only SIGKILL; `teardown` decides what is left afterwards. */
function plainStorage(dir: string, teardown: () => Promise<void>): CrashableStorage {
  let cut = false;
  return {
    kind: 'plain-directory',
    dir,
    async powerCut(killProcesses) {
      if (cut) throw new Error('powerCut called twice');
      cut = true;
      await killProcesses();
      return { note: 'plain directory: processes SIGKILLed, the host kept every write (no power loss)' };
    },
    async remountCrashImage() {
      return {}; // nothing was lost: the directory is its own crash image
    },
    teardown,
  };
}

/** A temp directory where a cut is only SIGKILL (see the module comment); named so that doctor knows it (ledger.ts TEMP_PREFIXES). */
export async function openPlainDirectory(): Promise<CrashableStorage> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), tempPrefix('tornlab-plain-')));
  return plainStorage(dir, () => fs.promises.rm(dir, { recursive: true, force: true }));
}

/** The same at a given, empty directory (exec without a device): teardown empties it again. */
export async function openPlainDirectoryAt(dir: string): Promise<CrashableStorage> {
  return plainStorage(dir, async () => {
    for (const e of await fs.promises.readdir(dir)) await fs.promises.rm(path.join(dir, e), { recursive: true, force: true });
  });
}
