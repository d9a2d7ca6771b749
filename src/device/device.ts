/**
 * The emulated NVMe namespace and its controller: commands, the volatile write
 * cache, background destage in simulated time, durability tokens, and the
 * capture of everything a power cut may leave behind.
 *
 * NvmeDevice is the façade; the model lives in one module per concept, all
 * over one DeviceState (state.ts):
 *   commands.ts  command intake and the completion scheduler
 *   latency.ts   the latency model (host link, controller channels, jitter)
 *   cache.ts     the volatile write cache and destage (Flush, FUA, background)
 *   races.ts     commands in flight racing each other (reads, overlapping writes)
 *   tokens.ts    persistence tokens (confirmation, retirement)
 *   capture.ts   crash capture (CrashPoint: what a power cut may leave)
 *
 * Semantics (NVM Command Set 2.1.2 / 2.1.4, NVMe Base 7.1; ARCHITECTURE 2):
 * - Commands in flight are not ordered. A command's data crosses the host
 *   link (serial, in submission order), then one of `latency.channels`
 *   controller channels serves it FIFO for commandUs plus an exponential
 *   spread, so a later command on a free channel completes first; the host
 *   orders by waiting for completions.
 * - A write's data is visible to reads at its completion, and may be earlier:
 *   a read may return data of a write still in flight (per block, or whole for
 *   a write within the normal atomic unit, AWUN/NAWUN/NABSN).
 * - Overlapping writes in flight together may end in any mix beyond the
 *   normal atomic unit: when a write completes, per block it may end below
 *   the overlapping writes that completed while it was in flight; two writes
 *   both within the unit take one order for all their common blocks.
 * - With a volatile cache, a completed write is durable only after a Flush
 *   submitted after its completion has completed, or if it was written FUA
 *   (or with the CRITICAL intent), or once destage took it.
 * - Without a volatile cache, with power-loss protection, or with WCE turned
 *   off by Set Features, every write completed then is durable at completion.
 *
 * Invariants (INV-n; the cheap ones are asserted at the entry points, the
 * rest by assertInvariants(), which the tests call; each module's header
 * restates the ones it keeps):
 * - INV-1 `cache` holds, per LBA, the versions written since that block was
 *   last durable, oldest first (per-block order; INV-6); `media` holds the
 *   durable value. A version leaves the cache only by being destaged (it
 *   becomes the media value) or by a newer version becoming durable.
 * - INV-2 `cachedBytes` = blockSize x the number of versions in `cache`.
 * - INV-3 a write's `pendingBlocks` = the number of blocks whose list holds
 *   it; `mediaBlocks` <= nlb counts blocks whose bytes reached media.
 * - INV-4 the power-fail atomicity of a write is decided at submission from
 *   the identify data (the pristine model; faults are an overlay applied at
 *   the cut by power-loss.ts) and every destage (Flush, FUA read, background,
 *   coalescing) moves an atomic write's cached blocks to media together.
 * - INV-5 a token settles exactly once, when its pendingBlocks reaches 0:
 *   confirmed if mediaBlocks > 0, else retired (RFC 2.5).
 * - INV-6 a block's list is in completion order except where writes raced
 *   (INV-1's mix); capture() records those blocks' order (CrashPoint.blockOrder).
 * - INV-7 a version never goes below a version of a write that completed
 *   before it was submitted (the host's ordering by waiting).
 * - INV-8 nothing here draws randomness except through the seeded Prngs
 *   (`jitter` for service times and channels, `race` for in-flight reads and
 *   mixes), so the same seed and host commands give the same device, bit for bit.
 *
 * Faults: lying-flush and power-window-not-honoured change command behaviour
 * (commands.ts and capture.ts); every other fault is an overlay on the crash
 * states (power-loss.ts), the model itself stays as the spec says.
 */
import { BadInputError } from '../util/errors';
import { AtomicityRule, Identify, PowerFailAtomicity } from './identify';
import { DeviceProfile, FaultSet } from './profiles';
import { BlockStore } from './store';
import { FTL_UNIT_BYTES } from './ftl';
import { Completion, DeviceCounters, DeviceEvent, ReadOptions, WriteOptions } from './types';
import { DeviceError, DeviceOptions, DeviceState, checkPower, checkRange, newDeviceState, volatileCache } from './state';
import * as cmd from './commands';
import { assertCacheInvariants } from './cache';
import { isDurable, tokenState } from './tokens';
import { capture, CrashPoint } from './capture';

export { DeviceError, DeviceInvariantError, blockOf } from './state';
export type { DeviceOptions, WriteRecord } from './state';
export type { CrashPoint, PendingWrite } from './capture';

export class NvmeDevice {
  readonly profile: DeviceProfile;
  readonly faults: FaultSet;
  readonly seed: number;
  readonly blockSize: number;
  readonly nsze: number;
  readonly atomicity: PowerFailAtomicity;
  readonly normal: AtomicityRule;
  /** Blocks that read back as an unrecovered read error until rewritten. */
  readonly unreadable: Set<number>;
  private readonly s: DeviceState;

  constructor(opts: DeviceOptions) {
    const s = newDeviceState(opts);
    this.s = s;
    this.profile = s.profile;
    this.faults = s.faults;
    this.seed = s.seed;
    this.blockSize = s.blockSize;
    this.nsze = s.nsze;
    this.atomicity = s.atomicity;
    this.normal = s.normal;
    this.unreadable = s.unreadable;
  }

  /** Durable values. */
  get media(): BlockStore {
    return this.s.media;
  }

  set media(store: BlockStore) {
    this.s.media = store;
  }

  /** Counters, with the FTL's figures brought up to date (the FTL replays lazily). */
  get counters(): DeviceCounters {
    const c = this.s.c;
    const f = this.s.ftl.stats();
    c.nandBytesProgrammed = (f.hostUnits + f.gcUnits) * FTL_UNIT_BYTES;
    c.gcBytes = f.gcUnits * FTL_UNIT_BYTES;
    c.erases = f.erases;
    return c;
  }

  get identify(): Identify {
    return this.profile.identify;
  }

  /** True when completed writes sit in a cache that a power cut can lose. */
  get volatileCache(): boolean {
    return volatileCache(this.s);
  }

  /**
   * Set Features, Volatile Write Cache (FID 06h), WCE bit (Base 5.27.1.4).
   * Only with VWC present; otherwise refused as Invalid Field. Turning the
   * cache off makes every write completed from now on durable at completion;
   * data already cached stays volatile until a Flush or destage takes it
   * (tornlab does not assume an implicit flush: the more permissive reading).
   */
  setVolatileWriteCache(enabled: boolean): void {
    checkPower(this.s);
    if (!this.profile.identify.controller.vwc.present) {
      throw new DeviceError('invalid-field', 'Set Features Volatile Write Cache: the controller reports no volatile write cache (VWC=0)');
    }
    this.s.wce = enabled;
  }

  /** Get Features, Volatile Write Cache: the WCE bit. */
  get volatileWriteCacheEnabled(): boolean {
    return this.profile.identify.controller.vwc.present && this.s.wce;
  }

  get timeUs(): number {
    return this.s.now;
  }

  /** Position in the command stream (number of submit/complete steps so far). */
  get seq(): number {
    return this.s.seqNo;
  }

  get isPoweredOff(): boolean {
    return this.s.poweredOff;
  }

  get inflightCount(): number {
    return this.s.inflight.length;
  }

  get dirtyBytes(): number {
    return this.s.cachedBytes;
  }

  // ---------------------------------------------------------------- commands

  submitWrite(lba: number, data: Uint8Array, opts: WriteOptions = {}): number {
    const nlb = cmd.checkWrite(this.s, lba, data);
    // Copy in (the host may reuse its buffer). Allocate + set is a memcpy; new Uint8Array(buffer)
    // would walk a Buffer element by element.
    const copy = new Uint8Array(data.length);
    copy.set(data);
    return cmd.submitWriteRecord(this.s, lba, nlb, copy, opts, 'write');
  }

  /**
   * submitWrite without the copy in: the caller hands `data` over and never
   * mutates it afterwards (ST-2; e.g. a freshly encoded page image). The same
   * command, events, counters and stored bytes as submitWrite.
   */
  submitWriteOwned(lba: number, data: Uint8Array, opts: WriteOptions = {}): number {
    const nlb = cmd.checkWrite(this.s, lba, data);
    return cmd.submitWriteRecord(this.s, lba, nlb, data, opts, 'write');
  }

  submitWriteZeroes(lba: number, nlb: number, opts: WriteOptions = {}): number {
    checkRange(this.s, lba, nlb);
    return cmd.submitWriteRecord(this.s, lba, nlb, new Uint8Array(nlb * this.blockSize), opts, 'write-zeroes');
  }

  /**
   * Dataset Management, Attribute Deallocate (NVM-CS 3.2.3): the range reads
   * as zeros afterwards (DLFEAT 001b). Until it is durable (Flush, destage) a
   * power cut may bring back the old data, per block: a deallocate carries no
   * atomicity promise. Costs no NAND program (the FTL unmaps).
   */
  submitDeallocate(lba: number, nlb: number): number {
    checkRange(this.s, lba, nlb);
    return cmd.submitWriteRecord(this.s, lba, nlb, new Uint8Array(nlb * this.blockSize), { tag: 'meta' }, 'deallocate');
  }

  deallocate(lba: number, nlb: number): Completion {
    return this.wait(this.submitDeallocate(lba, nlb));
  }

  submitRead(lba: number, nlb: number, opts: ReadOptions = {}): number {
    return cmd.submitRead(this.s, lba, nlb, opts);
  }

  submitFlush(): number {
    return cmd.submitFlush(this.s);
  }

  /** Advance simulated time until command `id` completes; returns its completion. */
  wait(id: number): Completion {
    return cmd.wait(this.s, id);
  }

  /** Complete every command in flight; returns completions in completion order. */
  waitAll(): Completion[] {
    return cmd.waitAll(this.s);
  }

  /** Complete the command in flight with the earliest completion time. */
  completeNext(): Completion {
    return cmd.completeNext(this.s);
  }

  /** Let simulated time pass (idle host): completes due commands and destages in the background. */
  advance(us: number): void {
    cmd.advance(this.s, us);
  }

  // Synchronous conveniences: submit and wait.

  write(lba: number, data: Uint8Array, opts: WriteOptions = {}): Completion {
    return this.wait(this.submitWrite(lba, data, opts));
  }

  writeZeroes(lba: number, nlb: number, opts: WriteOptions = {}): Completion {
    return this.wait(this.submitWriteZeroes(lba, nlb, opts));
  }

  flush(): Completion {
    return this.wait(this.submitFlush());
  }

  /**
   * What a Read of one block would return now, without issuing a command (no
   * event, no time, no counters): the newest cached version, else media. A view
   * of the stored bytes, shared: never mutate it (ST-2). `undefined` = never
   * written (reads as zeros), `null` = unreadable. Only with nothing in flight,
   * where a Read races no write (completeRead's `racing` is empty): throws otherwise.
   */
  peekBlock(lba: number): Uint8Array | undefined | null {
    return cmd.peekBlock(this.s, lba);
  }

  /** Read; an unrecovered read error throws a DeviceError with code 'unrecovered-read-error'. */
  read(lba: number, nlb: number, opts: ReadOptions = {}): Uint8Array {
    const c = this.wait(this.submitRead(lba, nlb, opts));
    if (c.status !== 'success') {
      throw new DeviceError('unrecovered-read-error', `unrecovered read error at LBA ${c.badLbas!.join(', ')}`);
    }
    return c.data!;
  }

  // ------------------------------------------------- asynchronous durability

  /**
   * Is the write with this token settled: every one of its LBAs holds, on
   * media, its data or newer data? True for confirmed and for retired tokens
   * (the host need wait no longer either way); tokenState tells them apart.
   */
  isDurable(token: number): boolean {
    return isDurable(this.s, token);
  }

  /**
   * pending: not settled yet; confirmed: its data physically reached media
   * (destage, Flush, FUA, CRITICAL, cache off); retired: superseded by newer
   * data that reached media before any of its own bytes did.
   */
  tokenState(token: number): 'unknown' | 'pending' | 'confirmed' | 'retired' {
    return tokenState(this.s, token);
  }

  /** Durability confirmation: the token's data physically reached media. */
  onDurable(listener: (token: number, atUs: number) => void): void {
    this.s.durableListeners.push(listener);
  }

  /** Retirement: the token's write was superseded before any of its data reached media. */
  onRetired(listener: (token: number, atUs: number) => void): void {
    this.s.retiredListeners.push(listener);
  }

  onEvent(listener: (e: DeviceEvent) => void): void {
    this.s.eventListeners.push(listener);
  }

  /**
   * Let simulated time pass until the token is confirmed (by background
   * destage, a Flush, or FUA). Returns the simulated time it took.
   */
  waitDurable(token: number): number {
    return cmd.waitDurable(this.s, token);
  }

  /** Host advertises guaranteed power for `ms` after a cut (UPS/battery); 0 revokes it. */
  setPowerWindow(ms: number): void {
    if (!(ms >= 0 && Number.isFinite(ms))) throw new BadInputError(`power window must be a number of ms >= 0, got ${ms}`);
    this.s.powerWindowMs = ms;
  }

  get powerWindow(): number {
    return this.s.powerWindowMs;
  }

  // ----------------------------------------------------------- power loss

  /**
   * Cut the power: the device stops completing commands. Returns what the
   * cut left behind (see capture). Any later command throws.
   */
  powerCut(): CrashPoint {
    const point = this.capture();
    this.s.poweredOff = true;
    return point;
  }

  /**
   * What a power cut right now would leave: the durable media (after the
   * advertised power window, if honoured, destaged what it could), and every
   * write version that may or may not have reached media. Does not disturb
   * the device: campaigns capture many points of one run.
   */
  capture(): CrashPoint {
    return capture(this.s);
  }

  /** Check INV-1..INV-3 and INV-7 over the whole cache (O(cache); for tests). */
  assertInvariants(): void {
    assertCacheInvariants(this.s);
  }
}

export function createDevice(opts: DeviceOptions): NvmeDevice {
  return new NvmeDevice(opts);
}
