/**
 * Block export: an emulated NVMe namespace as a real kernel file system.
 *
 *   const dev = await HostedDevice.create({ profile: 'consumer-tlc', seed: 1 }); // lives in the device host
 *   const stack = await BlockStack.mountDevice(dev, { format: true });   // FUSE file -> loop -> mkfs.ext4 -> mount
 *   ... run a database in stack.mountPoint ...
 *   const cut = stack.armCut({ afterWrites: 100 });                        // or await stack.cut() now
 *   const { point } = await cutAndRelease(stack, () => killMyProcesses()); // kill, fail pending, umount -l, losetup -d
 *   const rec = await remountCrashImage(dev, survivorsFrom(prng));         // crash image -> e2fsck -p -> mount
 *   ... recover and verify in rec.stack.mountPoint ...
 *   await rec.stack.release();
 *
 * Every mount, loop device and process is recorded in the run ledger
 * (RUNTIME_ROOT/<run>/state.json) and released on success, failure, SIGINT
 * or SIGTERM; `tornlab doctor [--cleanup]` handles runs that were killed.
 */
export { BlockStack } from './block-stack';
export type { FsType, FsckResult, MountOptions } from './block-stack';
export { EXPORTED_FILE_NAME } from './fuse-file';
export { HostedDevice, HostImage, HostedExport, DeviceHostGone, deviceHostPid, stopDeviceHost } from './device-host/client';
export type { CutInfo, CutTriggerSpec, DeviceSpec, ExportStats } from './device-host/client';
export { cutAndRelease, remountCrashImage, survivorsFrom } from './power-cut';
export type { CutResult, RemountResult, SurvivorSpec } from './power-cut';
export { requireExport, missingForExport, formatMissing } from './preconditions';
export type { Missing } from './preconditions';
export { RunLedger, runLedger, RUNTIME_ROOT, PLAIN_ROOT, RUN_ENV, TEMP_PREFIXES, isOurPath, tempPrefix } from './ledger';
export { killTree, descendants, markedProcesses, waitGone } from './processes';
export { registerProcessTree, registerActive, releaseAll, interrupted, haltIfInterrupted } from './teardown';
export { run, runOk, CommandError } from './exec';
export type { CommandResult } from './exec';
export { listLeftovers, cleanupLeftovers } from './doctor';
export type { Leftover } from './doctor';
export { noFuseFds, closeExtraPipes, fuseConnectionOf } from './fuse-conn';
export { abortConnections } from './fusectl';
