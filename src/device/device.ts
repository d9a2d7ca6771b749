/**
 * The emulated NVMe namespace and its controller: commands, the volatile write
 * cache, background destage in simulated time, durability tokens, and the
 * capture of everything a power cut may leave behind.
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
 * rest by assertInvariants(), which the tests call):
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
 * (two checks here); every other fault is an overlay on the crash states
 * (power-loss.ts), the model itself stays as the spec says.
 */
import { BadInputError, TornlabError } from '../util/errors';
import { Prng } from '../util/prng';
import { AtomicityRule, Identify, PowerFailAtomicity, isAtomicWrite, isPowerFailAtomic, normalAtomicity, powerFailAtomicity } from './identify';
import { DeviceProfile, FaultSet, NO_FAULTS, getProfile, validateProfile } from './profiles';
import { BlockStore } from './store';
import { FTL_UNIT_BYTES, FtlModel } from './ftl';
import {
  Completion,
  CommandKind,
  DeviceCounters,
  DeviceEvent,
  Intent,
  ReadOptions,
  TAGS,
  Tag,
  WriteOptions,
} from './types';

/** A command the device cannot take: out-of-range LBA, misaligned data, powered off. */
export class DeviceError extends TornlabError {}

/** A broken invariant of the device model (a tornlab bug, never bad input). */
export class DeviceInvariantError extends TornlabError {}

function invariant(ok: boolean, n: number, what: string): void {
  if (!ok) throw new DeviceInvariantError('device-invariant', `device invariant INV-${n} violated: ${what}`);
}

/** A write command's data while it is in flight or in the cache. */
export interface WriteRecord {
  /** Command id; also its persistence token. */
  readonly id: number;
  readonly lba: number;
  readonly nlb: number;
  /** nlb * blockSize bytes, never mutated after submission. */
  readonly data: Uint8Array;
  readonly tag: Tag;
  readonly intent: Intent;
  readonly fua: boolean;
  /** Falls under the device's power-fail atomicity (decided at submission). */
  readonly atomic: boolean;
  /** Falls under the normal atomicity (AWUN/NAWUN/NABSN): other commands see all of it or none of it. */
  readonly normalAtomic: boolean;
  /** Write Zeroes / Deallocate: reaching media unmaps in the FTL instead of programming. */
  readonly unmap: boolean;
  readonly submitSeq: number;
  /** -1 while in flight. */
  completeSeq: number;
  completedAt: number;
  /** Blocks of this write still in the cache (not yet durable nor superseded by a durable version). */
  pendingBlocks: number;
  /** Blocks of this write whose bytes physically reached media. */
  mediaBlocks: number;
}

interface InFlight {
  id: number;
  kind: CommandKind;
  completeAt: number;
  submitSeq: number;
  write?: WriteRecord;
  read?: { lba: number; nlb: number; fua: boolean };
  /** Flush: covers writes completed before this seq. */
  flushCover?: number;
}

export interface DeviceOptions {
  profile: DeviceProfile | string;
  faults?: FaultSet;
  seed?: number;
  /** Power on from a crash image (or any block image): its store becomes the media. */
  image?: { store: BlockStore; unreadable?: Iterable<number> };
  /** Override the namespace size (blocks), e.g. for a small test device. */
  nsze?: number;
}

function emptyCounters(): DeviceCounters {
  const byTag = {} as DeviceCounters['byTag'];
  for (const t of TAGS) byTag[t] = { commands: 0, bytes: 0 };
  return {
    reads: 0,
    writes: 0,
    flushes: 0,
    writeZeroes: 0,
    deallocates: 0,
    fuaWrites: 0,
    criticalWrites: 0,
    ephemeralWrites: 0,
    hostReadBytes: 0,
    hostWriteBytes: 0,
    byTag,
    destagedBytes: 0,
    nandBytesProgrammed: 0,
    gcBytes: 0,
    erases: 0,
    durabilityConfirmations: 0,
    retirements: 0,
    simTimeUs: 0,
  };
}

export class NvmeDevice {
  readonly profile: DeviceProfile;
  readonly faults: FaultSet;
  readonly seed: number;
  readonly blockSize: number;
  readonly nsze: number;
  readonly atomicity: PowerFailAtomicity;
  /** Durable values. */
  media: BlockStore;
  /** Blocks that read back as an unrecovered read error until rewritten. */
  readonly unreadable: Set<number>;
  /** Per LBA: versions written since it was last durable, oldest first. */
  private readonly cache = new Map<number, WriteRecord[]>();
  /** Cached STANDARD writes in completion order (destage queue; entries with pendingBlocks 0 are skipped). */
  private dirty: WriteRecord[] = [];
  private dirtyHead = 0;
  /** Cached EPHEMERAL writes in completion order (lowest destage priority). */
  private ephemeral: WriteRecord[] = [];
  private ephemeralHead = 0;
  private cachedBytes = 0;
  /** Commands submitted and not yet completed, sorted by (completeAt, id). */
  private inflight: InFlight[] = [];
  private readonly done = new Map<number, Completion>();
  private readonly unconfirmed = new Set<number>();
  private readonly durableListeners: ((token: number, atUs: number) => void)[] = [];
  private readonly retiredListeners: ((token: number, atUs: number) => void)[] = [];
  /** Tokens settled without any of their bytes reaching media. */
  private readonly retired = new Set<number>();
  private readonly eventListeners: ((e: DeviceEvent) => void)[] = [];
  private readonly jitter: Prng;
  /** Races between commands in flight: reads of in-flight data, mixes of overlapping writes. */
  private readonly race: Prng;
  /** Per channel: when it is free (the controller stage is FIFO per channel). */
  private readonly chanFree: Float64Array;
  readonly normal: AtomicityRule;
  /** Completed writes that some write still in flight was concurrent with (pruned when none is). */
  private recent: WriteRecord[] = [];
  /**
   * Which write's data is the media value of a block, kept only while writes
   * race (from the first media write with a command in flight until no
   * completed write races any more); empty otherwise, so it is never stale.
   */
  private readonly mediaWriter = new Map<number, WriteRecord>();
  private nextId = 1;
  private seqNo = 0;
  private now = 0;
  private linkFreeAt = 0;
  private nandFreeAt = 0;
  private poweredOff = false;
  private candW: WriteRecord | undefined;
  private candReadyAt = 0;
  /** Volatile Write Cache Enable (Set Features FID 06h); on at power-on when VWC is present. */
  private wce = true;
  private powerWindowMs = 0;
  private readonly c: DeviceCounters = emptyCounters();
  /** Where destaged data goes in NAND: garbage collection and erases. */
  private readonly ftl: FtlModel;

  constructor(opts: DeviceOptions) {
    const profile = typeof opts.profile === 'string' ? getProfile(opts.profile) : opts.profile;
    if (opts.nsze !== undefined) {
      profile.identify = JSON.parse(JSON.stringify(profile.identify));
      profile.identify.namespace.nsze = opts.nsze;
    }
    validateProfile(profile);
    this.profile = profile;
    this.faults = opts.faults ?? NO_FAULTS;
    this.seed = opts.seed ?? 1;
    this.blockSize = profile.identify.namespace.lbaDataSize;
    this.nsze = profile.identify.namespace.nsze;
    this.atomicity = powerFailAtomicity(profile.identify);
    this.jitter = new Prng(this.seed, `device/${profile.name}/jitter`);
    this.race = new Prng(this.seed, `device/${profile.name}/race`);
    this.chanFree = new Float64Array(profile.latency.channels);
    this.normal = normalAtomicity(profile.identify);
    if (opts.image) {
      if (opts.image.store.blockSize !== this.blockSize) {
        throw new BadInputError(`image block size ${opts.image.store.blockSize} does not match profile ${profile.name} (${this.blockSize})`);
      }
      this.media = opts.image.store.snapshot();
    } else {
      this.media = new BlockStore(this.blockSize);
    }
    this.unreadable = new Set(opts.image?.unreadable ?? []);
    this.ftl = new FtlModel({ userBytes: this.nsze * this.blockSize, overProvisioning: profile.overProvisioning, fill: profile.preconditionFill ?? 1 });
  }

  /** Counters, with the FTL's figures brought up to date (the FTL replays lazily). */
  get counters(): DeviceCounters {
    const f = this.ftl.stats();
    this.c.nandBytesProgrammed = (f.hostUnits + f.gcUnits) * FTL_UNIT_BYTES;
    this.c.gcBytes = f.gcUnits * FTL_UNIT_BYTES;
    this.c.erases = f.erases;
    return this.c;
  }

  get identify(): Identify {
    return this.profile.identify;
  }

  /** True when completed writes sit in a cache that a power cut can lose. */
  get volatileCache(): boolean {
    return this.profile.identify.controller.vwc.present && !this.profile.plp && this.wce;
  }

  /** Data may still sit in the volatile cache (also after Set Features turned the cache off). */
  private get cacheLive(): boolean {
    return this.volatileCache || this.cachedBytes > 0;
  }

  /**
   * Set Features, Volatile Write Cache (FID 06h), WCE bit (Base 5.27.1.4).
   * Only with VWC present; otherwise refused as Invalid Field. Turning the
   * cache off makes every write completed from now on durable at completion;
   * data already cached stays volatile until a Flush or destage takes it
   * (tornlab does not assume an implicit flush: the more permissive reading).
   */
  setVolatileWriteCache(enabled: boolean): void {
    this.checkPower();
    if (!this.profile.identify.controller.vwc.present) {
      throw new DeviceError('invalid-field', 'Set Features Volatile Write Cache: the controller reports no volatile write cache (VWC=0)');
    }
    this.wce = enabled;
  }

  /** Get Features, Volatile Write Cache: the WCE bit. */
  get volatileWriteCacheEnabled(): boolean {
    return this.profile.identify.controller.vwc.present && this.wce;
  }

  get timeUs(): number {
    return this.now;
  }

  /** Position in the command stream (number of submit/complete steps so far). */
  get seq(): number {
    return this.seqNo;
  }

  get isPoweredOff(): boolean {
    return this.poweredOff;
  }

  get inflightCount(): number {
    return this.inflight.length;
  }

  get dirtyBytes(): number {
    return this.cachedBytes;
  }

  // ---------------------------------------------------------------- commands

  submitWrite(lba: number, data: Uint8Array, opts: WriteOptions = {}): number {
    const nlb = this.checkWrite(lba, data);
    // Copy in (the host may reuse its buffer). Allocate + set is a memcpy; new Uint8Array(buffer)
    // would walk a Buffer element by element.
    const copy = new Uint8Array(data.length);
    copy.set(data);
    return this.submitWriteRecord(lba, nlb, copy, opts, 'write');
  }

  submitWriteZeroes(lba: number, nlb: number, opts: WriteOptions = {}): number {
    this.checkRange(lba, nlb);
    return this.submitWriteRecord(lba, nlb, new Uint8Array(nlb * this.blockSize), opts, 'write-zeroes');
  }

  /**
   * Dataset Management, Attribute Deallocate (NVM-CS 3.2.3): the range reads
   * as zeros afterwards (DLFEAT 001b). Until it is durable (Flush, destage) a
   * power cut may bring back the old data, per block: a deallocate carries no
   * atomicity promise. Costs no NAND program (the FTL unmaps).
   */
  submitDeallocate(lba: number, nlb: number): number {
    this.checkRange(lba, nlb);
    return this.submitWriteRecord(lba, nlb, new Uint8Array(nlb * this.blockSize), { tag: 'meta' }, 'deallocate');
  }

  deallocate(lba: number, nlb: number): Completion {
    return this.wait(this.submitDeallocate(lba, nlb));
  }

  submitRead(lba: number, nlb: number, opts: ReadOptions = {}): number {
    this.checkPower();
    this.checkRange(lba, nlb);
    const bytes = nlb * this.blockSize;
    const lat = this.profile.latency;
    let t = this.service(this.now) + bytes / lat.linkBytesPerUs;
    let fromNand = false;
    for (let i = 0; i < nlb && !fromNand; i++) if (!this.cache.has(lba + i)) fromNand = true;
    if (fromNand) t += lat.nandReadUs;
    if (opts.fua) t += lat.nandProgramUs;
    this.c.reads++;
    this.c.hostReadBytes += bytes;
    return this.enqueue({ id: this.nextId++, kind: 'read', completeAt: t, submitSeq: 0, read: { lba, nlb, fua: !!opts.fua } }, lba, nlb);
  }

  submitFlush(): number {
    this.checkPower();
    const lat = this.profile.latency;
    let t = this.now + lat.commandUs + lat.flushBaseUs + this.jitterUs();
    // A Flush has to program everything dirty now (a lying one does not bother).
    if (this.cacheLive && !this.faults.lyingFlush) t += this.cachedBytes / lat.nandBytesPerUs;
    this.c.flushes++;
    const f: InFlight = { id: this.nextId++, kind: 'flush', completeAt: t, submitSeq: 0 };
    const id = this.enqueue(f);
    f.flushCover = f.submitSeq;
    return id;
  }

  /** Advance simulated time until command `id` completes; returns its completion. */
  wait(id: number): Completion {
    for (;;) {
      const c = this.done.get(id);
      if (c) {
        this.done.delete(id);
        return c;
      }
      if (this.poweredOff) throw new DeviceError('powered-off', `command ${id} will never complete: the power was cut`);
      if (this.inflight.length === 0) throw new DeviceError('unknown-command', `command ${id} is not in flight`);
      this.completeNext();
    }
  }

  /** Complete every command in flight; returns completions in completion order. */
  waitAll(): Completion[] {
    const out: Completion[] = [];
    while (this.inflight.length > 0) out.push(this.completeNext());
    for (const c of out) this.done.delete(c.id);
    return out;
  }

  /** Complete the command in flight with the earliest completion time. */
  completeNext(): Completion {
    this.checkPower();
    if (this.cachedBytes < 0) invariant(false, 2, `cachedBytes ${this.cachedBytes} < 0`);
    const cmd = this.inflight.shift();
    if (!cmd) throw new DeviceError('idle', 'no command in flight');
    this.advanceClock(cmd.completeAt);
    const c = this.complete(cmd);
    this.done.set(c.id, c);
    return c;
  }

  /** Let simulated time pass (idle host): completes due commands and destages in the background. */
  advance(us: number): void {
    this.checkPower();
    const target = this.now + us;
    while (this.inflight.length > 0 && this.inflight[0].completeAt <= target) this.completeNext();
    this.advanceClock(target);
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
    this.checkPower();
    this.checkRange(lba, 1);
    if (this.inflight.length > 0) throw new DeviceError('command-sequence-error', `peekBlock with ${this.inflight.length} command(s) in flight; wait for them first`);
    const l = this.cache.get(lba);
    if (l && l.length > 0) return blockOf(l[l.length - 1], lba - l[l.length - 1].lba, this.blockSize);
    if (this.unreadable.has(lba)) return null;
    return this.media.get(lba);
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
    return token > 0 && token < this.nextId && !this.unconfirmed.has(token);
  }

  /**
   * pending: not settled yet; confirmed: its data physically reached media
   * (destage, Flush, FUA, CRITICAL, cache off); retired: superseded by newer
   * data that reached media before any of its own bytes did.
   */
  tokenState(token: number): 'unknown' | 'pending' | 'confirmed' | 'retired' {
    if (!(token > 0 && token < this.nextId)) return 'unknown';
    if (this.unconfirmed.has(token)) return 'pending';
    return this.retired.has(token) ? 'retired' : 'confirmed';
  }

  /** Durability confirmation: the token's data physically reached media. */
  onDurable(listener: (token: number, atUs: number) => void): void {
    this.durableListeners.push(listener);
  }

  /** Retirement: the token's write was superseded before any of its data reached media. */
  onRetired(listener: (token: number, atUs: number) => void): void {
    this.retiredListeners.push(listener);
  }

  onEvent(listener: (e: DeviceEvent) => void): void {
    this.eventListeners.push(listener);
  }

  /**
   * Let simulated time pass until the token is confirmed (by background
   * destage, a Flush, or FUA). Returns the simulated time it took.
   */
  waitDurable(token: number): number {
    const start = this.now;
    while (!this.isDurable(token)) {
      this.checkPower();
      const next = this.nextDestageAt();
      const nextCmd = this.inflight.length > 0 ? this.inflight[0].completeAt : Infinity;
      if (next === Infinity && nextCmd === Infinity) {
        throw new DeviceError('never-durable', `token ${token} cannot become durable: nothing in flight and nothing to destage`);
      }
      if (nextCmd <= next) this.completeNext();
      else this.advanceClock(next);
    }
    return this.now - start;
  }

  /** Host advertises guaranteed power for `ms` after a cut (UPS/battery); 0 revokes it. */
  setPowerWindow(ms: number): void {
    if (!(ms >= 0 && Number.isFinite(ms))) throw new BadInputError(`power window must be a number of ms >= 0, got ${ms}`);
    this.powerWindowMs = ms;
  }

  get powerWindow(): number {
    return this.powerWindowMs;
  }

  // ----------------------------------------------------------- power loss

  /**
   * Cut the power: the device stops completing commands. Returns what the
   * cut left behind (see capture). Any later command throws.
   */
  powerCut(): CrashPoint {
    const point = this.capture();
    this.poweredOff = true;
    return point;
  }

  /**
   * What a power cut right now would leave: the durable media (after the
   * advertised power window, if honoured, destaged what it could), and every
   * write version that may or may not have reached media. Does not disturb
   * the device: campaigns capture many points of one run.
   */
  capture(): CrashPoint {
    const media = this.media.snapshot();
    // Per-LBA pending version lists, copied (the records themselves are shared and immutable in the parts we read).
    const lists = new Map<number, WriteRecord[]>();
    // Blocks whose versions are not in completion order (writes that raced, INV-6): their order, by id.
    const blockOrder = new Map<number, number[]>();
    for (const [lba, versions] of this.cache) {
      lists.set(lba, versions.slice());
      for (let i = 1; i < versions.length; i++) {
        if (versions[i].completeSeq < versions[i - 1].completeSeq) {
          blockOrder.set(lba, versions.map((v) => v.id));
          break;
        }
      }
    }
    const inflightWrites = this.inflight.filter((c) => c.write).map((c) => c.write!);
    inflightWrites.sort((a, b) => a.submitSeq - b.submitSeq);
    const windowMs = this.faults.powerWindowNotHonoured ? 0 : this.powerWindowMs;
    let windowDestagedBytes = 0;
    if (windowMs > 0 && this.cacheLive) {
      // The device keeps destaging for the window, in its normal priority order.
      let budget = windowMs * 1000 * this.profile.latency.nandBytesPerUs;
      const order = [...this.dirty.slice(this.dirtyHead), ...this.ephemeral.slice(this.ephemeralHead)];
      for (const w of order) {
        let blocks = 0;
        for (let i = 0; i < w.nlb; i++) if (lists.get(w.lba + i)?.includes(w)) blocks++;
        if (blocks === 0) continue;
        const bytes = blocks * this.blockSize;
        if (bytes > budget) break;
        budget -= bytes;
        windowDestagedBytes += bytes;
        for (let i = 0; i < w.nlb; i++) {
          const l = lists.get(w.lba + i);
          const at = l ? l.indexOf(w) : -1;
          if (at < 0) continue;
          media.set(w.lba + i, blockOf(w, i, this.blockSize));
          l!.splice(0, at + 1);
          if (l!.length === 0) lists.delete(w.lba + i);
        }
      }
    }
    // Group the surviving versions back into writes, oldest first.
    const pendingLbas = new Map<WriteRecord, number[]>();
    const lbas = [...lists.keys()].sort((a, b) => a - b);
    for (const lba of lbas) {
      for (const w of lists.get(lba)!) {
        let l = pendingLbas.get(w);
        if (!l) pendingLbas.set(w, (l = []));
        l.push(lba);
      }
    }
    const cached = [...pendingLbas.keys()].sort((a, b) => a.completeSeq - b.completeSeq);
    const pending: PendingWrite[] = [];
    for (const w of cached) pending.push(pendingOf(w, pendingLbas.get(w)!, false));
    for (const w of inflightWrites) {
      const all: number[] = [];
      for (let i = 0; i < w.nlb; i++) all.push(w.lba + i);
      pending.push(pendingOf(w, all, true));
    }
    return {
      profile: this.profile,
      faults: this.faults,
      seed: this.seed,
      seq: this.seqNo,
      timeUs: this.now,
      blockSize: this.blockSize,
      nsze: this.nsze,
      atomicity: this.atomicity,
      media,
      unreadable: [...this.unreadable].sort((a, b) => a - b),
      pending,
      blockOrder,
      windowDestagedBytes,
    };
  }

  /** Check INV-1..INV-3 and INV-7 over the whole cache (O(cache); for tests). */
  assertInvariants(): void {
    let versions = 0;
    const held = new Map<WriteRecord, number>();
    for (const [lba, l] of this.cache) {
      if (l.length === 0) invariant(false, 1, `LBA ${lba} has an empty version list`);
      versions += l.length;
      for (let i = 0; i < l.length; i++) {
        const w = l[i];
        if (!(lba >= w.lba && lba < w.lba + w.nlb && w.completeSeq > 0)) invariant(false, 1, `LBA ${lba} holds write ${w.id} that does not cover it or is not completed`);
        held.set(w, (held.get(w) ?? 0) + 1);
        for (let j = 0; j < i; j++) if (l[j].submitSeq > w.completeSeq) invariant(false, 7, `LBA ${lba}: write ${l[j].id} submitted after write ${w.id} completed sits below it`);
      }
    }
    if (this.cachedBytes !== versions * this.blockSize) invariant(false, 2, `cachedBytes ${this.cachedBytes} != ${versions} versions x ${this.blockSize}`);
    for (const [w, n] of held) if (w.pendingBlocks !== n) invariant(false, 3, `write ${w.id} pendingBlocks ${w.pendingBlocks} != ${n} lists holding it`);
  }

  // ------------------------------------------------------------ internals

  private checkPower(): void {
    if (this.poweredOff) throw new DeviceError('powered-off', 'the device has lost power; power it on from a crash image');
  }

  private checkRange(lba: number, nlb: number): void {
    if (!Number.isInteger(lba) || lba < 0) throw new DeviceError('lba-out-of-range', `LBA ${lba} is not a non-negative integer`);
    if (!Number.isInteger(nlb) || nlb < 1) throw new DeviceError('invalid-length', `block count ${nlb} must be a positive integer`);
    if (lba + nlb > this.nsze) {
      throw new DeviceError('lba-out-of-range', `LBA range ${lba}..${lba + nlb - 1} exceeds the namespace (NSZE ${this.nsze} blocks)`);
    }
  }

  private checkWrite(lba: number, data: Uint8Array): number {
    this.checkPower();
    if (!(data instanceof Uint8Array)) throw new DeviceError('invalid-data', 'write data must be a Uint8Array or Buffer');
    if (data.length === 0 || data.length % this.blockSize !== 0) {
      throw new DeviceError('invalid-length', `write of ${data.length} bytes is not a positive multiple of the ${this.blockSize}-byte block size`);
    }
    const nlb = data.length / this.blockSize;
    this.checkRange(lba, nlb);
    return nlb;
  }

  private jitterUs(): number {
    const j = this.profile.latency.jitterUs;
    return j > 0 ? -Math.log(1 - this.jitter.float()) * j : 0;
  }

  /**
   * The controller stage of a command ready at `readyAt`: a channel drawn from
   * the PRNG serves it FIFO for commandUs plus an exponential spread. Channels
   * run in parallel, so a later command on a free channel completes first.
   */
  private service(readyAt: number): number {
    const lat = this.profile.latency;
    const ch = lat.channels === 1 ? 0 : Math.floor(this.jitter.float() * lat.channels);
    const start = readyAt > this.chanFree[ch] ? readyAt : this.chanFree[ch];
    const end = start + lat.commandUs + this.jitterUs();
    this.chanFree[ch] = end;
    return end;
  }

  private submitWriteRecord(lba: number, nlb: number, data: Uint8Array, opts: WriteOptions, kind: 'write' | 'write-zeroes' | 'deallocate'): number {
    this.checkPower();
    const intent = opts.intent ?? 'standard';
    const tag = opts.tag ?? 'other';
    if (!TAGS.includes(tag)) throw new DeviceError('invalid-tag', `unknown tag "${tag}"; tags: ${TAGS.join(', ')}`);
    const fua = !!opts.fua;
    const bytes = nlb * this.blockSize;
    const lat = this.profile.latency;
    this.linkFreeAt = Math.max(this.now, this.linkFreeAt) + (kind === 'write' ? bytes / lat.linkBytesPerUs : 0);
    let t = this.service(this.linkFreeAt);
    const durableAtCompletion = fua || intent === 'critical' || !this.volatileCache;
    if (durableAtCompletion && !this.profile.plp) t += lat.nandProgramUs;
    // Backpressure: a full cache admits new data only as fast as it destages.
    const over = this.cachedBytes + bytes - this.profile.cache.sizeBytes;
    if (over > 0) t += over / lat.nandBytesPerUs;
    const c = this.c;
    if (kind === 'write') c.writes++;
    else if (kind === 'write-zeroes') c.writeZeroes++;
    else c.deallocates++;
    if (fua) c.fuaWrites++;
    if (intent === 'critical') c.criticalWrites++;
    if (intent === 'ephemeral') c.ephemeralWrites++;
    if (kind !== 'deallocate') {
      c.hostWriteBytes += bytes;
      c.byTag[tag].commands++;
      c.byTag[tag].bytes += bytes;
    }
    const id = this.nextId++;
    // The pristine model: what the spec promises. torn-atomic breaks it only at the cut (power-loss.ts overlay).
    const atomic = isPowerFailAtomic(this.atomicity, lba, nlb);
    const w: WriteRecord = {
      id,
      lba,
      nlb,
      data,
      tag,
      intent,
      fua,
      // Deallocate is not a write: no atomicity promise covers it.
      atomic: atomic && kind !== 'deallocate',
      normalAtomic: kind !== 'deallocate' && isAtomicWrite(this.normal, lba, nlb),
      unmap: kind !== 'write',
      submitSeq: 0,
      completeSeq: -1,
      completedAt: 0,
      pendingBlocks: nlb,
      mediaBlocks: 0,
    };
    this.unconfirmed.add(id);
    const cmd: InFlight = { id, kind, completeAt: t, submitSeq: 0, write: w };
    this.enqueue(cmd, lba, nlb, tag, fua);
    (w as { submitSeq: number }).submitSeq = cmd.submitSeq;
    return id;
  }

  private enqueue(cmd: InFlight, lba?: number, nlb?: number, tag?: Tag, fua?: boolean): number {
    cmd.submitSeq = ++this.seqNo;
    // Keep inflight sorted by (completeAt, id); the queue is short, insertion from the back is cheap.
    let i = this.inflight.length;
    while (i > 0 && this.inflight[i - 1].completeAt > cmd.completeAt) i--;
    this.inflight.splice(i, 0, cmd);
    // Building the event costs an object per command: only when someone listens.
    if (this.eventListeners.length > 0) this.emit({ seq: cmd.submitSeq, phase: 'submit', kind: cmd.kind, id: cmd.id, lba, nlb, tag, fua, timeUs: this.now });
    return cmd.id;
  }

  private emit(e: DeviceEvent): void {
    for (const l of this.eventListeners) l(e);
  }

  private complete(cmd: InFlight): Completion {
    const seq = ++this.seqNo;
    let c: Completion;
    if (cmd.kind === 'read') {
      c = this.completeRead(cmd);
    } else if (cmd.kind === 'flush') {
      if (this.cacheLive && !this.faults.lyingFlush) this.destageCompletedBefore(cmd.flushCover!);
      c = { id: cmd.id, kind: 'flush', status: 'success', completedAt: this.now };
    } else {
      const w = cmd.write!;
      w.completeSeq = seq;
      w.completedAt = this.now;
      this.applyWrite(w);
      this.trackRecent(w);
      c = { id: cmd.id, kind: cmd.kind, status: 'success', completedAt: this.now, token: w.id };
    }
    const w = cmd.write;
    if (this.eventListeners.length > 0) this.emit({ seq, phase: 'complete', kind: cmd.kind, id: cmd.id, lba: w?.lba ?? cmd.read?.lba, nlb: w?.nlb ?? cmd.read?.nlb, tag: w?.tag, fua: w?.fua, timeUs: this.now });
    return c;
  }

  private completeRead(cmd: InFlight): Completion {
    const { lba, nlb, fua } = cmd.read!;
    if (fua) {
      // Force the LBAs read to media first: the newest cached version of each. A
      // version that belongs to a power-fail atomic write takes the whole write with
      // it (INV-4: an atomic write reaches media together, never one block of it).
      for (let i = 0; i < nlb; i++) {
        const l = this.cache.get(lba + i);
        if (!l || l.length === 0) continue;
        const w = l[l.length - 1];
        if (w.atomic && w.nlb > 1) this.destageWrite(w);
        else this.destageBlock(lba + i, w);
      }
    }
    const bs = this.blockSize;
    const out = new Uint8Array(nlb * bs);
    const bad: number[] = [];
    const racing = this.racingWrites(lba, nlb);
    const seenWhole = new Map<WriteRecord, boolean>();
    for (let i = 0; i < nlb; i++) {
      const b = lba + i;
      const l = this.cache.get(b);
      // A write still in flight may already show (NVM-CS 2.1.4.1: no ordering between
      // commands in flight); one within the normal atomic unit shows whole or not at all.
      let seen: WriteRecord | undefined;
      if (racing) {
        for (const w of racing) {
          if (b < w.lba || b >= w.lba + w.nlb) continue;
          let show: boolean;
          if (w.normalAtomic) {
            if (!seenWhole.has(w)) seenWhole.set(w, this.race.chance(0.5));
            show = seenWhole.get(w)!;
          } else show = this.race.chance(0.5);
          if (show) seen = w;
        }
      }
      if (seen) {
        out.set(blockOf(seen, b - seen.lba, bs), i * bs);
      } else if (l && l.length > 0) {
        out.set(blockOf(l[l.length - 1], b - l[l.length - 1].lba, bs), i * bs);
      } else if (this.unreadable.has(b)) {
        bad.push(b);
      } else {
        const m = this.media.get(b);
        if (m) out.set(m, i * bs);
      }
    }
    if (bad.length > 0) return { id: cmd.id, kind: 'read', status: 'unrecovered-read-error', completedAt: this.now, badLbas: bad };
    return { id: cmd.id, kind: 'read', status: 'success', completedAt: this.now, data: out };
  }

  /** Writes in flight overlapping [lba, lba+nlb), in submission order; undefined if none. */
  private racingWrites(lba: number, nlb: number): WriteRecord[] | undefined {
    let out: WriteRecord[] | undefined;
    for (const c of this.inflight) {
      const w = c.write;
      if (w && w.lba < lba + nlb && lba < w.lba + w.nlb) (out ??= []).push(w);
    }
    return out?.sort((a, b) => a.submitSeq - b.submitSeq);
  }

  /** Keep completed writes only while a write in flight was submitted before they completed. */
  private trackRecent(w: WriteRecord): void {
    let oldest = Infinity;
    for (const c of this.inflight) if (c.write && c.submitSeq < oldest) oldest = c.submitSeq;
    if (oldest === Infinity) {
      if (this.recent.length > 0) this.recent = [];
      if (this.mediaWriter.size > 0) this.mediaWriter.clear();
      return;
    }
    this.recent.push(w);
    if (this.recent[0].completeSeq < oldest) this.recent = this.recent.filter((x) => x.completeSeq > oldest);
  }

  /**
   * Overlapping writes that completed while `w` was in flight: `w` and they
   * were in flight together, so beyond the normal atomic unit their blocks may
   * end in any mix (NVM-CS 2.1.4.1). For each block, the set of them `w` ends
   * under (undefined: `w` is newest everywhere, the common case).
   */
  private losses(w: WriteRecord): ((b: number) => Set<WriteRecord> | undefined) | undefined {
    let rivals: WriteRecord[] | undefined;
    for (const x of this.recent) {
      if (x.completeSeq > w.submitSeq && x.lba < w.lba + w.nlb && w.lba < x.lba + x.nlb) (rivals ??= []).push(x);
    }
    if (!rivals) return undefined;
    // Two writes both within the normal atomic unit: one order for all their common blocks.
    const pair = new Map<WriteRecord, boolean>();
    for (const x of rivals) if (w.normalAtomic && x.normalAtomic) pair.set(x, this.race.chance(0.5));
    return (b: number) => {
      let lost: Set<WriteRecord> | undefined;
      for (const x of rivals!) {
        if (b < x.lba || b >= x.lba + x.nlb) continue;
        const loses = pair.has(x) ? pair.get(x)! : this.race.chance(0.5);
        if (loses) (lost ??= new Set()).add(x);
      }
      return lost;
    };
  }

  /** Make a completed write visible: into the cache, or straight to media if it is durable at completion. */
  private applyWrite(w: WriteRecord): void {
    const lostAt = this.recent.length > 0 ? this.losses(w) : undefined;
    if (lostAt) return this.applyRacingWrite(w, lostAt);
    const bs = this.blockSize;
    for (let i = 0; i < w.nlb; i++) this.unreadable.delete(w.lba + i);
    const durableNow = w.fua || w.intent === 'critical' || !this.volatileCache;
    if (durableNow) {
      for (let i = 0; i < w.nlb; i++) {
        const b = w.lba + i;
        const l = this.cache.get(b);
        if (l) {
          // A newer version became durable: every cached version of this block is superseded.
          for (const old of l) this.releaseBlock(old);
          this.cache.delete(b);
        }
        this.media.set(b, blockOf(w, i, bs));
        if (this.mediaWriter.size > 0 || this.inflight.length > 0) this.mediaWriter.set(b, w);
      }
      this.toNand(w, w.lba, w.nlb);
      w.pendingBlocks = 0;
      w.mediaBlocks = w.nlb;
      this.settle(w);
      return;
    }
    for (let i = 0; i < w.nlb; i++) {
      const b = w.lba + i;
      let l = this.cache.get(b);
      if (!l) this.cache.set(b, (l = []));
      l.push(w);
    }
    this.cachedBytes += w.nlb * bs;
    if (w.intent === 'ephemeral') this.ephemeral.push(w);
    else this.dirty.push(w);
  }

  /** applyWrite for a write that raced overlapping writes: per block, it may end under some of them. */
  private applyRacingWrite(w: WriteRecord, lostAt: (b: number) => Set<WriteRecord> | undefined): void {
    const bs = this.blockSize;
    for (let i = 0; i < w.nlb; i++) this.unreadable.delete(w.lba + i);
    const durableNow = w.fua || w.intent === 'critical' || !this.volatileCache;
    let cachedAny = false;
    for (let i = 0; i < w.nlb; i++) {
      const b = w.lba + i;
      const lost = lostAt(b);
      let l = this.cache.get(b);
      // Where w lost, it sits just below the rivals it lost to that are still cached.
      let at = l ? l.length : 0;
      if (lost && l) while (at > 0 && lost.has(l[at - 1])) at--;
      // Lost to the rival whose data is the media value, with nothing else cached above it: w is superseded there.
      const mw = this.mediaWriter.get(b);
      const under = at === 0 && lost !== undefined && mw !== undefined && lost.has(mw);
      if (durableNow) {
        if (!under) {
          if (l) {
            // Versions below w's place are superseded by w on media.
            const gone = l.splice(0, at);
            for (const old of gone) this.releaseBlock(old);
            if (l.length === 0) this.cache.delete(b);
          }
          this.media.set(b, blockOf(w, i, bs));
          this.mediaWriter.set(b, w);
        }
        this.toNand(w, b, 1);
        continue;
      }
      if (under) {
        w.pendingBlocks--;
        continue;
      }
      if (!l) this.cache.set(b, (l = []));
      l.splice(at, 0, w);
      this.cachedBytes += bs;
      cachedAny = true;
    }
    if (durableNow) {
      w.pendingBlocks = 0;
      w.mediaBlocks = w.nlb;
      this.settle(w);
      return;
    }
    if (!cachedAny) {
      this.settle(w);
      return;
    }
    if (w.intent === 'ephemeral') this.ephemeral.push(w);
    else this.dirty.push(w);
  }

  /**
   * What reaching media costs the NAND: a write programs its blocks; Write
   * Zeroes and Deallocate only unmap them in the FTL (zeros are never
   * programmed; reads of unmapped units return zeros, DLFEAT 001b).
   */
  private toNand(w: WriteRecord, lba: number, nlb: number): void {
    const bs = this.blockSize;
    if (w.unmap) {
      this.ftl.unmap(lba * bs, nlb * bs);
      return;
    }
    this.c.destagedBytes += nlb * bs;
    this.ftl.program(lba * bs, nlb * bs);
  }

  /** One cached block of `w` leaves the cache: destaged (its bytes reached media) or superseded by a newer durable version. */
  private releaseBlock(w: WriteRecord, destaged = false): void {
    this.cachedBytes -= this.blockSize;
    if (destaged) w.mediaBlocks++;
    if (--w.pendingBlocks === 0) this.settle(w);
  }

  /**
   * Every block of `w` has left the cache (INV-5). Confirmed if some of its
   * bytes physically reached media (the rest superseded there by newer data);
   * retired if none did: superseded before reaching media, never "confirmed".
   */
  private settle(w: WriteRecord): void {
    if (w.pendingBlocks !== 0 || w.mediaBlocks > w.nlb) invariant(false, 5, `write ${w.id} settles with ${w.pendingBlocks} blocks cached, ${w.mediaBlocks}/${w.nlb} on media`);
    if (!this.unconfirmed.delete(w.id)) return;
    if (w.mediaBlocks > 0) {
      this.c.durabilityConfirmations++;
      for (const l of this.durableListeners) l(w.id, this.now);
    } else {
      this.retired.add(w.id);
      this.c.retirements++;
      for (const l of this.retiredListeners) l(w.id, this.now);
    }
  }

  /** Destage one version of one block: it becomes the media value; it and older versions leave the cache. */
  private destageBlock(lba: number, w: WriteRecord): boolean {
    const l = this.cache.get(lba);
    const at = l ? l.indexOf(w) : -1;
    if (at < 0) return false;
    this.media.set(lba, blockOf(w, lba - w.lba, this.blockSize));
    if (this.mediaWriter.size > 0 || this.inflight.length > 0) this.mediaWriter.set(lba, w);
    this.toNand(w, lba, 1);
    const gone = l!.splice(0, at + 1);
    if (l!.length === 0) this.cache.delete(lba);
    // The older versions never reached media: superseded. `w` itself did.
    for (let i = 0; i < gone.length - 1; i++) this.releaseBlock(gone[i]);
    this.releaseBlock(w, true);
    return true;
  }

  /**
   * Destage a whole write (its still-cached blocks together: atomic writes land
   * as a unit). The cache holds the newest data of an LBA, so where a newer
   * version of a block is cached that one is programmed instead (coalescing;
   * the older version is superseded without reaching media), and a newer
   * power-fail atomic write is programmed whole (INV-4).
   */
  private destageWrite(w: WriteRecord): void {
    if (w.pendingBlocks === 0) return;
    for (let i = 0; i < w.nlb; i++) {
      const b = w.lba + i;
      const l = this.cache.get(b);
      if (!l || l.indexOf(w) < 0) continue;
      const top = l[l.length - 1];
      if (top !== w && top.atomic && top.nlb > 1) this.destageWrite(top);
      else this.destageBlock(b, top);
    }
  }

  private destageCompletedBefore(seq: number): void {
    for (let i = this.dirtyHead; i < this.dirty.length; i++) if (this.dirty[i].completeSeq < seq) this.destageWrite(this.dirty[i]);
    for (let i = this.ephemeralHead; i < this.ephemeral.length; i++) if (this.ephemeral[i].completeSeq < seq) this.destageWrite(this.ephemeral[i]);
    this.compactQueues();
  }

  private compactQueues(): void {
    while (this.dirtyHead < this.dirty.length && this.dirty[this.dirtyHead].pendingBlocks === 0) this.dirtyHead++;
    while (this.ephemeralHead < this.ephemeral.length && this.ephemeral[this.ephemeralHead].pendingBlocks === 0) this.ephemeralHead++;
    if (this.dirtyHead > 1024 && this.dirtyHead * 2 > this.dirty.length) {
      this.dirty = this.dirty.slice(this.dirtyHead).filter((w) => w.pendingBlocks > 0);
      this.dirtyHead = 0;
    }
    if (this.ephemeralHead > 1024 && this.ephemeralHead * 2 > this.ephemeral.length) {
      this.ephemeral = this.ephemeral.slice(this.ephemeralHead).filter((w) => w.pendingBlocks > 0);
      this.ephemeralHead = 0;
    }
  }

  /** The next write background destage would take: oldest STANDARD, else oldest EPHEMERAL. */
  private nextDestageCandidate(): { w: WriteRecord; readyAt: number } | undefined {
    return this.findDestageCandidate() ? { w: this.candW!, readyAt: this.candReadyAt } : undefined;
  }

  /** The candidate into candW / candReadyAt without allocating (the hot path); false if none. */
  private findDestageCandidate(): boolean {
    this.compactQueues();
    const cache = this.profile.cache;
    for (let i = this.dirtyHead; i < this.dirty.length; i++) {
      const w = this.dirty[i];
      if (w.pendingBlocks > 0) {
        this.candW = w;
        this.candReadyAt = w.completedAt + cache.destageDelayUs;
        return true;
      }
    }
    for (let i = this.ephemeralHead; i < this.ephemeral.length; i++) {
      const w = this.ephemeral[i];
      if (w.pendingBlocks > 0) {
        this.candW = w;
        this.candReadyAt = w.completedAt + cache.ephemeralDelayUs;
        return true;
      }
    }
    this.candW = undefined;
    return false;
  }

  /** Simulated time at which background destage next makes something durable. */
  private nextDestageAt(): number {
    if (!this.cacheLive) return Infinity;
    const c = this.nextDestageCandidate();
    if (!c) return Infinity;
    const start = Math.max(this.nandFreeAt, c.readyAt);
    return start + (c.w.pendingBlocks * this.blockSize) / this.profile.latency.nandBytesPerUs;
  }

  /** Move the clock to `t`, running background destage on the way. */
  private advanceClock(t: number): void {
    if (t < this.now) t = this.now;
    if (this.cacheLive) {
      for (;;) {
        if (!this.findDestageCandidate()) break;
        const w = this.candW!;
        const start = Math.max(this.nandFreeAt, this.candReadyAt);
        const end = start + (w.pendingBlocks * this.blockSize) / this.profile.latency.nandBytesPerUs;
        if (end > t) break;
        this.nandFreeAt = end;
        this.now = Math.max(this.now, end);
        this.destageWrite(w);
      }
    }
    this.now = t;
    this.c.simTimeUs = t;
  }
}

/** One block of a write's data (a view, shared; never mutated). */
export function blockOf(w: { data: Uint8Array; lba: number }, index: number, bs: number): Uint8Array {
  // A one-block write is its own block: no view object to allocate.
  return w.data.length === bs ? w.data : w.data.subarray(index * bs, (index + 1) * bs);
}

/** A write version that a power cut may or may not have let reach media. */
export interface PendingWrite {
  id: number;
  lba: number;
  nlb: number;
  data: Uint8Array;
  tag: Tag;
  intent: Intent;
  /** Blocks of the write still at risk (ascending). */
  lbas: number[];
  /** All-or-nothing under power loss. */
  atomic: boolean;
  /** Submitted but not completed at the cut. */
  inflight: boolean;
  /** Age order: cached writes by completion, then in-flight ones by submission. */
  order: number;
  /** Command-stream positions of submission and completion (-1: in flight at the cut). */
  submitSeq: number;
  completeSeq: number;
}

function pendingOf(w: WriteRecord, lbas: number[], inflight: boolean): PendingWrite {
  return {
    id: w.id,
    lba: w.lba,
    nlb: w.nlb,
    data: w.data,
    tag: w.tag,
    intent: w.intent,
    lbas,
    atomic: w.atomic,
    inflight,
    order: inflight ? 1e15 + w.submitSeq : w.completeSeq,
    submitSeq: w.submitSeq,
    completeSeq: inflight ? -1 : w.completeSeq,
  };
}

/** Everything a power cut at one point of the command stream leaves behind. */
export interface CrashPoint {
  profile: DeviceProfile;
  faults: FaultSet;
  seed: number;
  /** Command-stream position of the cut. */
  seq: number;
  timeUs: number;
  blockSize: number;
  nsze: number;
  atomicity: PowerFailAtomicity;
  /** Durable values at the cut (a snapshot; shares blocks with the device). */
  media: BlockStore;
  unreadable: number[];
  /** Versions that may or may not survive, oldest first. */
  pending: PendingWrite[];
  /**
   * Blocks where the cached versions' order differs from their writes'
   * completion order (overlapping writes that were in flight together): the
   * ids, oldest first. Elsewhere a version's age is its `order`.
   */
  blockOrder: Map<number, number[]>;
  /** Bytes the advertised power window destaged after the cut. */
  windowDestagedBytes: number;
}

export function createDevice(opts: DeviceOptions): NvmeDevice {
  return new NvmeDevice(opts);
}
