/**
 * One emulated namespace exposed to the kernel as one regular file through
 * FUSE (fuse-native over Debian's libfuse2), so that a loop device can sit on
 * it. The FUSE daemon runs on the event loop of the device host process
 * (device-host/host.ts), never in the orchestrator: see the threading model
 * there. Only the device host imports this module.
 *
 * Mapping (ARCHITECTURE 6):
 * - a FUSE write of [pos, pos+len) is one device write command covering the
 *   blocks it touches; a partial first/last block is completed from the
 *   device's current contents first (read-modify-write);
 * - fsync and flush of the file are one device Flush;
 * - a read is a device read; an unrecovered read error is EIO.
 *
 * Power cut ("stop completing"): after `cut()`, requests are no longer
 * answered; they wait in `held`. Once the caller has killed the processes
 * that issued them, `failPending()` answers them (and everything later) with
 * EIO — without that answer the loop worker blocks forever and neither umount
 * nor losetup -d can finish. Invariant: a request is answered exactly once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CrashPoint, NvmeDevice } from '../device/device';
import { Tag } from '../device/types';
import { isPowerFailAtomic, powerFailAtomicity } from '../device/identify';
import { run } from './exec';

// fuse-native ships no types; this is the part of its API used here.
type FuseCallback = (err: number, ...rest: unknown[]) => void;
interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  _close(cb: (err: Error | null) => void): void;
  mnt: string;
  _thread: Buffer | null;
}
// Loaded on first use: fuse-native dlopens libfuse.so.2 when required, and a
// machine without it must still run everything that does not export a device
// (the precondition check then names the missing package).
type FuseCtor = new (mnt: string, ops: object, opts: object) => FuseInstance;
let fuseNative: { Fuse: FuseCtor; binding: { fuse_native_unmount(mnt: string, thread: Buffer): void } } | undefined;
function loadFuse(): NonNullable<typeof fuseNative> {
  if (!fuseNative) {
    const Fuse: FuseCtor = require('fuse-native');
    // The same native binding fuse-native loaded (Node caches addons by path).
    const binding = require('node-gyp-build')(path.dirname(require.resolve('fuse-native')));
    fuseNative = { Fuse, binding };
  }
  return fuseNative;
}

const EIO = -5;
const ENOENT = -2;
export const EXPORTED_FILE_NAME = 'disk';

/** `hung` is a test hook: requests are held as after a cut, but the device keeps its power. */
export type GateState = 'serving' | 'held' | 'failing' | 'hung';

export interface FuseFileStats {
  writeRequests: number;
  writeBytes: number;
  /** Writes that needed read-modify-write (not block aligned). */
  partialWrites: number;
  /** Histogram of write request sizes in bytes. */
  writeSizes: Record<number, number>;
  readRequests: number;
  readBytes: number;
  syncRequests: number;
  /** Requests answered with EIO after a cut. */
  failedAfterCut: number;
  /** Largest volatile-cache fill seen after a write (bytes). */
  maxDirtyBytes: number;
}

/**
 * When an armed cut strikes. Both conditions are checked right after a write
 * request was served (so the write that triggers it is in the device's cache,
 * not yet durable); whichever holds first cuts.
 */
export interface CutTrigger {
  /** Cut after the n-th write request counted from arming (n >= 1). */
  afterWrites?: number;
  /**
   * Cut as soon as the device's volatile cache holds at least this many bytes
   * (completed, not yet durable): a cut in the middle of a burst of data
   * writes between two flushes, where torn pages come from — not right after
   * a WAL flush, where the cache is empty.
   */
  dirtyBytesAtLeast?: number;
  /**
   * Only a write request of at least this many bytes may trigger the cut
   * (writeback of file data comes in large merged requests; WAL and journal
   * commits in small ones).
   */
  minWriteBytes?: number;
  /**
   * Only a write request of at most this many bytes may trigger the cut (a
   * database writing its pages with O_DIRECT sends each page as one request;
   * its log writes come larger, and a torn log tail is not what the cut aims at).
   */
  maxWriteBytes?: number;
  /**
   * Only a write that lies inside one of these block ranges ([lba, nlb],
   * device blocks) may trigger the cut: e.g. the extents of a database's
   * paged files, so that a log write is never the one the cut aims at.
   */
  withinBlocks?: [number, number][];
  /**
   * Only a write the device does not promise to land atomically on power loss
   * (src/device/identify.ts isPowerFailAtomic: larger than the unit, or across
   * an atomic boundary) may trigger the cut: a cut aimed at the writes an
   * atomic-write device leaves unprotected.
   */
  notAtomicWrites?: boolean;
}

/**
 * The write requests (and syncs) served since tracing started, in order: what
 * reached the device, for the write-shape report (src/export/write-shape.ts).
 * `writes` holds pairs [pos, len] (bytes of the exported file = device bytes);
 * `syncs` the number of writes served before each fsync/flush.
 */
export interface WriteTrace {
  writes: number[];
  syncs: number[];
}

/** Trace at most this many writes (a bound on memory; `truncated` says so). */
const TRACE_MAX_WRITES = 2_000_000;

export class FuseFile {
  readonly filePath: string;
  readonly sizeBytes: number;
  readonly stats: FuseFileStats = { writeRequests: 0, writeBytes: 0, partialWrites: 0, writeSizes: {}, readRequests: 0, readBytes: 0, syncRequests: 0, failedAfterCut: 0, maxDirtyBytes: 0 };
  private gate: GateState = 'serving';
  private held: (() => void)[] = [];
  private failers: (() => void)[] = [];
  private fuse: FuseInstance | undefined;
  private armed: { remaining: number; dirtyBytes: number; minWrite: number; maxWrite: number; within?: [number, number][]; notAtomic: boolean; resolve: (p: CrashPoint) => void } | undefined;
  private crashPoint: CrashPoint | undefined;
  /** The write request whose service made an armed cut strike (device blocks), if one did. */
  private triggerBlocks: { lba: number; nlb: number } | undefined;
  private cutListeners: ((p: CrashPoint) => void)[] = [];
  private trace: (WriteTrace & { truncated: boolean }) | undefined;

  private constructor(
    readonly device: NvmeDevice,
    readonly mountPoint: string,
    readonly tag: Tag,
  ) {
    this.filePath = path.join(mountPoint, EXPORTED_FILE_NAME);
    this.sizeBytes = device.nsze * device.blockSize;
  }

  /** Mount the FUSE file system at `mountPoint` (created if missing) serving `device`. */
  static async mount(device: NvmeDevice, mountPoint: string, opts: { tag?: Tag } = {}): Promise<FuseFile> {
    const f = new FuseFile(device, mountPoint, opts.tag ?? 'other');
    fs.mkdirSync(mountPoint, { recursive: true });
    const fuse = new (loadFuse().Fuse)(mountPoint, f.operations(), { timeout: false, mkdir: true, fsname: 'tornlab', subtype: 'tornlab' });
    // big_writes: let the kernel send writes larger than 4 KiB (libfuse2 option, not exposed by fuse-native).
    const base = (fuse as unknown as { _fuseOptions(): string })._fuseOptions.bind(fuse);
    (fuse as unknown as { _fuseOptions(): string })._fuseOptions = () => {
      const o = base();
      return (o ? o + ',' : '-o') + 'big_writes,max_write=131072';
    };
    await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
    f.fuse = fuse;
    return f;
  }

  get state(): GateState {
    return this.gate;
  }

  get isCut(): boolean {
    return this.crashPoint !== undefined;
  }

  /** The crash point of the cut, once it happened. */
  get point(): CrashPoint | undefined {
    return this.crashPoint;
  }

  /** Requests waiting for an answer since the cut. */
  get heldCount(): number {
    return this.held.length;
  }

  onCut(listener: (p: CrashPoint) => void): void {
    this.cutListeners.push(listener);
  }

  /**
   * Cut the power now: the device keeps its crash state (powerCut) and from
   * here on no request is answered until failPending().
   */
  cut(): CrashPoint {
    if (this.crashPoint) return this.crashPoint;
    this.gate = 'held';
    this.crashPoint = this.device.powerCut();
    const p = this.crashPoint;
    if (this.armed) {
      this.armed.resolve(p);
      this.armed = undefined;
    }
    for (const l of this.cutListeners) l(p);
    return p;
  }

  /** Cut in the middle of the write stream, when `trigger` holds (see CutTrigger). */
  armCut(trigger: CutTrigger): Promise<CrashPoint> {
    if (this.crashPoint) return Promise.resolve(this.crashPoint);
    return new Promise((resolve) => {
      this.armed = {
        remaining: trigger.afterWrites === undefined ? Infinity : Math.max(1, Math.floor(trigger.afterWrites)),
        dirtyBytes: trigger.dirtyBytesAtLeast ?? Infinity,
        minWrite: trigger.minWriteBytes ?? 0,
        maxWrite: trigger.maxWriteBytes ?? Infinity,
        within: trigger.withinBlocks,
        notAtomic: trigger.notAtomicWrites ?? false,
        resolve,
      };
    });
  }

  disarm(): void {
    this.armed = undefined;
  }

  /** Start (or restart) tracing the write requests this export serves. */
  startTrace(): void {
    this.trace = { writes: [], syncs: [], truncated: false };
  }

  /** The trace since startTrace (or the last take), and start a new one; undefined if not tracing. */
  takeTrace(): (WriteTrace & { truncated: boolean }) | undefined {
    const t = this.trace;
    if (t) this.startTrace();
    return t;
  }

  /** Test hook: stop answering requests (held until failPending), as a hung handler would. */
  hang(): void {
    if (this.gate === 'serving') this.gate = 'hung';
  }

  /** Answer every held request (and every later one) with EIO. Call after the issuers were killed. */
  failPending(): void {
    this.gate = 'failing';
    const f = this.failers;
    this.failers = [];
    this.held = [];
    for (const fail of f) fail();
  }

  /** Unmount the FUSE file system (lazily: the loop device may still hold the file). */
  async unmount(): Promise<void> {
    if (!this.fuse) return;
    if (this.gate === 'held' || this.gate === 'hung') this.failPending();
    const r = await run('umount', [this.mountPoint], { timeoutMs: 15_000 });
    if (r.code !== 0 && !/not mounted/.test(r.stderr)) await run('umount', ['-l', this.mountPoint], { timeoutMs: 15_000 });
    // The native side only drops its event-loop handle; the FUSE thread ends when the kernel closes the channel.
    if (this.fuse._thread) loadFuse().binding.fuse_native_unmount(this.mountPoint, this.fuse._thread);
    this.fuse = undefined;
  }

  // -------------------------------------------------------------- FUSE ops

  /**
   * Run `serve` now if the gate is open; otherwise hold the request (after a
   * cut) or fail it (after failPending). `fail` answers it with EIO.
   */
  private admit(serve: () => void, fail: () => void): void {
    if (this.gate === 'serving') return serve();
    if (this.gate === 'failing') {
      this.stats.failedAfterCut++;
      return fail();
    }
    let answered = false;
    const once = (fn: () => void) => () => {
      if (answered) return;
      answered = true;
      fn();
    };
    this.held.push(once(serve));
    this.failers.push(
      once(() => {
        this.stats.failedAfterCut++;
        fail();
      }),
    );
  }

  private operations(): object {
    const fileName = '/' + EXPORTED_FILE_NAME;
    const dirStat = () => ({ mtime: new Date(0), atime: new Date(0), ctime: new Date(0), mode: 0o40755, size: 4096, nlink: 2, uid: 0, gid: 0 });
    const fileStat = () => ({ mtime: new Date(0), atime: new Date(0), ctime: new Date(0), mode: 0o100600, size: this.sizeBytes, nlink: 1, uid: 0, gid: 0, blksize: this.device.blockSize });
    return {
      readdir: (p: string, cb: FuseCallback) => (p === '/' ? cb(0, [EXPORTED_FILE_NAME]) : cb(ENOENT)),
      getattr: (p: string, cb: FuseCallback) => {
        if (p === '/') return cb(0, dirStat());
        if (p === fileName) return cb(0, fileStat());
        cb(ENOENT);
      },
      open: (p: string, _flags: number, cb: FuseCallback) => (p === fileName ? cb(0, 42) : cb(ENOENT)),
      release: (_p: string, _fd: number, cb: FuseCallback) => cb(0),
      truncate: (_p: string, _size: number, cb: FuseCallback) => cb(0),
      ftruncate: (_p: string, _fd: number, _size: number, cb: FuseCallback) => cb(0),
      read: (_p: string, _fd: number, buf: Buffer, len: number, pos: number, cb: FuseCallback) =>
        this.admit(
          () => cb(this.serveRead(buf, len, pos)),
          () => cb(EIO),
        ),
      write: (_p: string, _fd: number, buf: Buffer, len: number, pos: number, cb: FuseCallback) =>
        this.admit(
          () => {
            const r = this.serveWrite(buf, len, pos);
            cb(r);
            this.afterWrite(pos, len);
          },
          () => cb(EIO),
        ),
      fsync: (_p: string, _datasync: number, _fd: number, cb: FuseCallback) =>
        this.admit(
          () => cb(this.serveSync()),
          () => cb(EIO),
        ),
      flush: (_p: string, _fd: number, cb: FuseCallback) =>
        this.admit(
          () => cb(this.serveSync()),
          () => cb(EIO),
        ),
    };
  }

  /** Check an armed cut after a write was served (its answer is already on its way). */
  private afterWrite(pos: number, len: number): void {
    const dirty = this.device.dirtyBytes;
    if (dirty > this.stats.maxDirtyBytes) this.stats.maxDirtyBytes = dirty;
    const a = this.armed;
    if (!a || this.gate !== 'serving') return;
    a.remaining--;
    if (len < a.minWrite || len > a.maxWrite) return;
    const bs = this.device.blockSize;
    const lba = Math.floor(pos / bs);
    const nlb = Math.ceil((pos + len) / bs) - lba;
    if (a.within && !a.within.some(([at, n]) => lba >= at && lba + nlb <= at + n)) return;
    if (a.notAtomic && isPowerFailAtomic(powerFailAtomicity(this.device.profile.identify), lba, nlb)) return;
    if (a.remaining <= 0 || dirty >= a.dirtyBytes) {
      this.triggerBlocks = { lba, nlb };
      this.cut();
    }
  }

  /** The write that made an armed cut strike, in device blocks (undefined: the cut came otherwise). */
  get triggerWrite(): { lba: number; nlb: number } | undefined {
    return this.triggerBlocks;
  }

  private serveRead(buf: Buffer, len: number, pos: number): number {
    if (pos >= this.sizeBytes) return 0;
    len = Math.min(len, this.sizeBytes - pos);
    if (len <= 0) return 0;
    const bs = this.device.blockSize;
    const first = Math.floor(pos / bs);
    const last = Math.floor((pos + len - 1) / bs);
    try {
      const data = this.device.read(first, last - first + 1);
      buf.set(data.subarray(pos - first * bs, pos - first * bs + len), 0);
    } catch {
      return EIO;
    }
    this.stats.readRequests++;
    this.stats.readBytes += len;
    return len;
  }

  private serveWrite(buf: Buffer, len: number, pos: number): number {
    if (pos + len > this.sizeBytes) return -27; // EFBIG: the namespace has a fixed size
    const bs = this.device.blockSize;
    const st = this.stats;
    st.writeRequests++;
    st.writeBytes += len;
    st.writeSizes[len] = (st.writeSizes[len] ?? 0) + 1;
    const t = this.trace;
    if (t) {
      if (t.writes.length < 2 * TRACE_MAX_WRITES) t.writes.push(pos, len);
      else t.truncated = true;
    }
    const first = Math.floor(pos / bs);
    const last = Math.floor((pos + len - 1) / bs);
    const nlb = last - first + 1;
    try {
      if (pos % bs === 0 && len % bs === 0) {
        this.device.write(first, buf.subarray(0, len), { tag: this.tag });
        return len;
      }
      // Read-modify-write: the device takes whole blocks only.
      st.partialWrites++;
      const region = new Uint8Array(nlb * bs);
      const head = pos - first * bs;
      if (head !== 0) region.set(this.device.read(first, 1), 0);
      const tailEnd = head + len;
      if (tailEnd % bs !== 0 && (last !== first || head === 0)) region.set(this.device.read(last, 1), (nlb - 1) * bs);
      region.set(buf.subarray(0, len), head);
      this.device.write(first, region, { tag: this.tag });
      return len;
    } catch {
      return EIO;
    }
  }

  private serveSync(): number {
    this.stats.syncRequests++;
    if (this.trace) this.trace.syncs.push(this.trace.writes.length / 2);
    try {
      this.device.flush();
      return 0;
    } catch {
      return EIO;
    }
  }
}
