/**
 * The state of one emulated NVMe namespace and its controller, shared by the
 * device's modules: command intake and the completion scheduler
 * (commands.ts), the latency model (latency.ts), the volatile cache and its
 * destage (cache.ts), races between commands in flight (races.ts),
 * persistence tokens (tokens.ts) and crash capture (capture.ts). NvmeDevice
 * (device.ts) is the façade the rest of tornlab uses; the semantics the
 * modules implement together are in its header.
 *
 * Invariants:
 *  1. One DeviceState belongs to one NvmeDevice; only the device's modules
 *     read or write it (it never leaves src/device).
 *  2. `inflight` is the one queue of commands in flight, sorted by
 *     (completeAt, id); it is never replaced, so modules may hold it.
 *  3. `now` never goes back; `seqNo` counts submit and complete steps.
 *  4. Nothing here draws randomness: `jitter` and `race` are the seeded Prngs
 *     the other modules draw from (device.ts INV-8).
 */
import { BadInputError, TornlabError } from '../util/errors';
import { Prng } from '../util/prng';
import { AtomicityRule, PowerFailAtomicity, normalAtomicity, powerFailAtomicity } from './identify';
import { DeviceProfile, FaultSet, NO_FAULTS, getProfile, validateProfile } from './profiles';
import { BlockStore } from './store';
import { FtlModel } from './ftl';
import { Completion, CommandKind, DeviceCounters, DeviceEvent, Intent, TAGS, Tag } from './types';

/** A command the device cannot take: out-of-range LBA, misaligned data, powered off. */
export class DeviceError extends TornlabError {}

/** A broken invariant of the device model (a tornlab bug, never bad input). */
export class DeviceInvariantError extends TornlabError {}

export function invariant(ok: boolean, n: number, what: string): void {
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

export interface InFlight {
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

export interface DeviceState {
  readonly profile: DeviceProfile;
  readonly faults: FaultSet;
  readonly seed: number;
  readonly blockSize: number;
  readonly nsze: number;
  readonly atomicity: PowerFailAtomicity;
  readonly normal: AtomicityRule;
  /** Durable values. */
  media: BlockStore;
  /** Blocks that read back as an unrecovered read error until rewritten. */
  readonly unreadable: Set<number>;
  /** Per LBA: versions written since it was last durable, oldest first. */
  readonly cache: Map<number, WriteRecord[]>;
  /** Cached STANDARD writes in completion order (destage queue; entries with pendingBlocks 0 are skipped). */
  dirty: WriteRecord[];
  dirtyHead: number;
  /** Cached EPHEMERAL writes in completion order (lowest destage priority). */
  ephemeral: WriteRecord[];
  ephemeralHead: number;
  cachedBytes: number;
  /** Commands submitted and not yet completed, sorted by (completeAt, id) (invariant 2). */
  readonly inflight: InFlight[];
  readonly done: Map<number, Completion>;
  readonly unconfirmed: Set<number>;
  readonly durableListeners: ((token: number, atUs: number) => void)[];
  readonly retiredListeners: ((token: number, atUs: number) => void)[];
  /** Tokens settled without any of their bytes reaching media. */
  readonly retired: Set<number>;
  readonly eventListeners: ((e: DeviceEvent) => void)[];
  readonly jitter: Prng;
  /** Races between commands in flight: reads of in-flight data, mixes of overlapping writes. */
  readonly race: Prng;
  /** Per channel: when it is free (the controller stage is FIFO per channel). */
  readonly chanFree: Float64Array;
  /** Completed writes that some write still in flight was concurrent with (pruned when none is). */
  recent: WriteRecord[];
  /**
   * Which write's data is the media value of a block, kept only while writes
   * race (from the first media write with a command in flight until no
   * completed write races any more); empty otherwise, so it is never stale.
   */
  readonly mediaWriter: Map<number, WriteRecord>;
  nextId: number;
  seqNo: number;
  now: number;
  linkFreeAt: number;
  nandFreeAt: number;
  poweredOff: boolean;
  candW: WriteRecord | undefined;
  candReadyAt: number;
  /** Volatile Write Cache Enable (Set Features FID 06h); on at power-on when VWC is present. */
  wce: boolean;
  powerWindowMs: number;
  readonly c: DeviceCounters;
  /** Where destaged data goes in NAND: garbage collection and erases. */
  readonly ftl: FtlModel;
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

/** A powered-on device: the profile checked, media empty or the given image. */
export function newDeviceState(opts: DeviceOptions): DeviceState {
  const profile = typeof opts.profile === 'string' ? getProfile(opts.profile) : opts.profile;
  if (opts.nsze !== undefined) {
    profile.identify = JSON.parse(JSON.stringify(profile.identify));
    profile.identify.namespace.nsze = opts.nsze;
  }
  validateProfile(profile);
  const seed = opts.seed ?? 1;
  const blockSize = profile.identify.namespace.lbaDataSize;
  const nsze = profile.identify.namespace.nsze;
  let media: BlockStore;
  if (opts.image) {
    if (opts.image.store.blockSize !== blockSize) {
      throw new BadInputError(`image block size ${opts.image.store.blockSize} does not match profile ${profile.name} (${blockSize})`);
    }
    media = opts.image.store.snapshot();
  } else {
    media = new BlockStore(blockSize);
  }
  return {
    profile,
    faults: opts.faults ?? NO_FAULTS,
    seed,
    blockSize,
    nsze,
    atomicity: powerFailAtomicity(profile.identify),
    normal: normalAtomicity(profile.identify),
    media,
    unreadable: new Set(opts.image?.unreadable ?? []),
    cache: new Map(),
    dirty: [],
    dirtyHead: 0,
    ephemeral: [],
    ephemeralHead: 0,
    cachedBytes: 0,
    inflight: [],
    done: new Map(),
    unconfirmed: new Set(),
    durableListeners: [],
    retiredListeners: [],
    retired: new Set(),
    eventListeners: [],
    jitter: new Prng(seed, `device/${profile.name}/jitter`),
    race: new Prng(seed, `device/${profile.name}/race`),
    chanFree: new Float64Array(profile.latency.channels),
    recent: [],
    mediaWriter: new Map(),
    nextId: 1,
    seqNo: 0,
    now: 0,
    linkFreeAt: 0,
    nandFreeAt: 0,
    poweredOff: false,
    candW: undefined,
    candReadyAt: 0,
    wce: true,
    powerWindowMs: 0,
    c: emptyCounters(),
    ftl: new FtlModel({ userBytes: nsze * blockSize, overProvisioning: profile.overProvisioning, fill: profile.preconditionFill ?? 1 }),
  };
}

/** True when completed writes sit in a cache that a power cut can lose. */
export function volatileCache(s: DeviceState): boolean {
  return s.profile.identify.controller.vwc.present && !s.profile.plp && s.wce;
}

/** Data may still sit in the volatile cache (also after Set Features turned the cache off). */
export function cacheLive(s: DeviceState): boolean {
  return volatileCache(s) || s.cachedBytes > 0;
}

export function checkPower(s: DeviceState): void {
  if (s.poweredOff) throw new DeviceError('powered-off', 'the device has lost power; power it on from a crash image');
}

export function checkRange(s: DeviceState, lba: number, nlb: number): void {
  if (!Number.isInteger(lba) || lba < 0) throw new DeviceError('lba-out-of-range', `LBA ${lba} is not a non-negative integer`);
  if (!Number.isInteger(nlb) || nlb < 1) throw new DeviceError('invalid-length', `block count ${nlb} must be a positive integer`);
  if (lba + nlb > s.nsze) {
    throw new DeviceError('lba-out-of-range', `LBA range ${lba}..${lba + nlb - 1} exceeds the namespace (NSZE ${s.nsze} blocks)`);
  }
}

/** One block of a write's data (a view, shared; never mutated). */
export function blockOf(w: { data: Uint8Array; lba: number }, index: number, bs: number): Uint8Array {
  // A one-block write is its own block: no view object to allocate.
  return w.data.length === bs ? w.data : w.data.subarray(index * bs, (index + 1) * bs);
}
