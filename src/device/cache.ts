/**
 * The volatile write cache and its destage: where a completed write's blocks
 * wait until they are durable, and how they reach media (Flush, FUA read,
 * background destage in simulated time, coalescing).
 *
 * Invariants (device.ts numbers them INV-n; assertCacheInvariants checks
 * INV-1..3 and INV-7 over the whole cache, for tests):
 *  1. (INV-1) `cache` holds, per LBA, the versions written since that block
 *     was last durable, oldest first; `media` holds the durable value. A
 *     version leaves the cache only by being destaged (it becomes the media
 *     value) or by a newer version becoming durable (releaseBlock).
 *  2. (INV-2) `cachedBytes` = blockSize x the number of versions in `cache`.
 *  3. (INV-3) a write's `pendingBlocks` = the number of block lists holding
 *     it; `mediaBlocks` <= nlb counts blocks whose bytes reached media.
 *  4. (INV-4) every destage moves a power-fail atomic write's cached blocks
 *     to media together (destageWrite).
 *  5. Destage priority is one order, destageQueue(): STANDARD writes by
 *     completion, then EPHEMERAL ones; background destage and the power
 *     window at a cut (capture.ts) both follow it.
 *  6. (INV-7) a version never goes below a version of a write that completed
 *     before it was submitted.
 */
import { blockOf, cacheLive, DeviceState, invariant, volatileCache, WriteRecord } from './state';
import { settle } from './tokens';

/** A completed write that raced nothing: into the cache, or straight to media if it is durable at completion. */
export function applyWrite(s: DeviceState, w: WriteRecord): void {
  const bs = s.blockSize;
  for (let i = 0; i < w.nlb; i++) s.unreadable.delete(w.lba + i);
  const durableNow = w.fua || w.intent === 'critical' || !volatileCache(s);
  if (durableNow) {
    for (let i = 0; i < w.nlb; i++) {
      const b = w.lba + i;
      const l = s.cache.get(b);
      if (l) {
        // A newer version became durable: every cached version of this block is superseded.
        for (const old of l) releaseBlock(s, old);
        s.cache.delete(b);
      }
      s.media.set(b, blockOf(w, i, bs));
      if (s.mediaWriter.size > 0 || s.inflight.length > 0) s.mediaWriter.set(b, w);
    }
    toNand(s, w, w.lba, w.nlb);
    w.pendingBlocks = 0;
    w.mediaBlocks = w.nlb;
    settle(s, w);
    return;
  }
  for (let i = 0; i < w.nlb; i++) {
    const b = w.lba + i;
    let l = s.cache.get(b);
    if (!l) s.cache.set(b, (l = []));
    l.push(w);
  }
  s.cachedBytes += w.nlb * bs;
  queueForDestage(s, w);
}

/** A write with blocks in the cache joins its destage queue (by intent). */
export function queueForDestage(s: DeviceState, w: WriteRecord): void {
  if (w.intent === 'ephemeral') s.ephemeral.push(w);
  else s.dirty.push(w);
}

/**
 * What reaching media costs the NAND: a write programs its blocks; Write
 * Zeroes and Deallocate only unmap them in the FTL (zeros are never
 * programmed; reads of unmapped units return zeros, DLFEAT 001b).
 */
export function toNand(s: DeviceState, w: WriteRecord, lba: number, nlb: number): void {
  const bs = s.blockSize;
  if (w.unmap) {
    s.ftl.unmap(lba * bs, nlb * bs);
    return;
  }
  s.c.destagedBytes += nlb * bs;
  s.ftl.program(lba * bs, nlb * bs);
}

/** One cached block of `w` leaves the cache: destaged (its bytes reached media) or superseded by a newer durable version. */
export function releaseBlock(s: DeviceState, w: WriteRecord, destaged = false): void {
  s.cachedBytes -= s.blockSize;
  if (destaged) w.mediaBlocks++;
  if (--w.pendingBlocks === 0) settle(s, w);
}

/** Destage one version of one block: it becomes the media value; it and older versions leave the cache. */
export function destageBlock(s: DeviceState, lba: number, w: WriteRecord): boolean {
  const l = s.cache.get(lba);
  const at = l ? l.indexOf(w) : -1;
  if (at < 0) return false;
  s.media.set(lba, blockOf(w, lba - w.lba, s.blockSize));
  if (s.mediaWriter.size > 0 || s.inflight.length > 0) s.mediaWriter.set(lba, w);
  toNand(s, w, lba, 1);
  const gone = l!.splice(0, at + 1);
  if (l!.length === 0) s.cache.delete(lba);
  // The older versions never reached media: superseded. `w` itself did.
  for (let i = 0; i < gone.length - 1; i++) releaseBlock(s, gone[i]);
  releaseBlock(s, w, true);
  return true;
}

/**
 * Destage a whole write (its still-cached blocks together: atomic writes land
 * as a unit). The cache holds the newest data of an LBA, so where a newer
 * version of a block is cached that one is programmed instead (coalescing;
 * the older version is superseded without reaching media), and a newer
 * power-fail atomic write is programmed whole (INV-4).
 */
export function destageWrite(s: DeviceState, w: WriteRecord): void {
  if (w.pendingBlocks === 0) return;
  for (let i = 0; i < w.nlb; i++) {
    const b = w.lba + i;
    const l = s.cache.get(b);
    if (!l || l.indexOf(w) < 0) continue;
    const top = l[l.length - 1];
    if (top !== w && top.atomic && top.nlb > 1) destageWrite(s, top);
    else destageBlock(s, b, top);
  }
}

/** Read FUA: the newest cached version of each block read goes to media first (an atomic write whole, INV-4). */
export function destageForRead(s: DeviceState, lba: number, nlb: number): void {
  for (let i = 0; i < nlb; i++) {
    const l = s.cache.get(lba + i);
    if (!l || l.length === 0) continue;
    const w = l[l.length - 1];
    if (w.atomic && w.nlb > 1) destageWrite(s, w);
    else destageBlock(s, lba + i, w);
  }
}

/** A Flush: every write that completed before command-stream position `seq`. */
export function destageCompletedBefore(s: DeviceState, seq: number): void {
  for (let i = s.dirtyHead; i < s.dirty.length; i++) if (s.dirty[i].completeSeq < seq) destageWrite(s, s.dirty[i]);
  for (let i = s.ephemeralHead; i < s.ephemeral.length; i++) if (s.ephemeral[i].completeSeq < seq) destageWrite(s, s.ephemeral[i]);
  compactQueues(s);
}

function compactQueues(s: DeviceState): void {
  while (s.dirtyHead < s.dirty.length && s.dirty[s.dirtyHead].pendingBlocks === 0) s.dirtyHead++;
  while (s.ephemeralHead < s.ephemeral.length && s.ephemeral[s.ephemeralHead].pendingBlocks === 0) s.ephemeralHead++;
  if (s.dirtyHead > 1024 && s.dirtyHead * 2 > s.dirty.length) {
    s.dirty = s.dirty.slice(s.dirtyHead).filter((w) => w.pendingBlocks > 0);
    s.dirtyHead = 0;
  }
  if (s.ephemeralHead > 1024 && s.ephemeralHead * 2 > s.ephemeral.length) {
    s.ephemeral = s.ephemeral.slice(s.ephemeralHead).filter((w) => w.pendingBlocks > 0);
    s.ephemeralHead = 0;
  }
}

/** The writes still queued for destage, in destage priority order (invariant 5); entries may have pendingBlocks 0. */
export function destageQueue(s: DeviceState): WriteRecord[] {
  return [...s.dirty.slice(s.dirtyHead), ...s.ephemeral.slice(s.ephemeralHead)];
}

/**
 * The next write background destage would take (oldest STANDARD, else oldest
 * EPHEMERAL) into candW / candReadyAt, without allocating (the hot path);
 * false if none.
 */
function findDestageCandidate(s: DeviceState): boolean {
  compactQueues(s);
  const cache = s.profile.cache;
  for (let i = s.dirtyHead; i < s.dirty.length; i++) {
    const w = s.dirty[i];
    if (w.pendingBlocks > 0) {
      s.candW = w;
      s.candReadyAt = w.completedAt + cache.destageDelayUs;
      return true;
    }
  }
  for (let i = s.ephemeralHead; i < s.ephemeral.length; i++) {
    const w = s.ephemeral[i];
    if (w.pendingBlocks > 0) {
      s.candW = w;
      s.candReadyAt = w.completedAt + cache.ephemeralDelayUs;
      return true;
    }
  }
  s.candW = undefined;
  return false;
}

/** Simulated time at which background destage next makes something durable. */
export function nextDestageAt(s: DeviceState): number {
  if (!cacheLive(s)) return Infinity;
  if (!findDestageCandidate(s)) return Infinity;
  const start = Math.max(s.nandFreeAt, s.candReadyAt);
  return start + (s.candW!.pendingBlocks * s.blockSize) / s.profile.latency.nandBytesPerUs;
}

/** Move the clock to `t`, running background destage on the way. */
export function advanceClock(s: DeviceState, t: number): void {
  if (t < s.now) t = s.now;
  if (cacheLive(s)) {
    for (;;) {
      if (!findDestageCandidate(s)) break;
      const w = s.candW!;
      const start = Math.max(s.nandFreeAt, s.candReadyAt);
      const end = start + (w.pendingBlocks * s.blockSize) / s.profile.latency.nandBytesPerUs;
      if (end > t) break;
      s.nandFreeAt = end;
      s.now = Math.max(s.now, end);
      destageWrite(s, w);
    }
  }
  s.now = t;
  s.c.simTimeUs = t;
}

/** Check INV-1..INV-3 and INV-7 over the whole cache (O(cache); for tests). */
export function assertCacheInvariants(s: DeviceState): void {
  let versions = 0;
  const held = new Map<WriteRecord, number>();
  for (const [lba, l] of s.cache) {
    if (l.length === 0) invariant(false, 1, `LBA ${lba} has an empty version list`);
    versions += l.length;
    for (let i = 0; i < l.length; i++) {
      const w = l[i];
      if (!(lba >= w.lba && lba < w.lba + w.nlb && w.completeSeq > 0)) invariant(false, 1, `LBA ${lba} holds write ${w.id} that does not cover it or is not completed`);
      held.set(w, (held.get(w) ?? 0) + 1);
      for (let j = 0; j < i; j++) if (l[j].submitSeq > w.completeSeq) invariant(false, 7, `LBA ${lba}: write ${l[j].id} submitted after write ${w.id} completed sits below it`);
    }
  }
  if (s.cachedBytes !== versions * s.blockSize) invariant(false, 2, `cachedBytes ${s.cachedBytes} != ${versions} versions x ${s.blockSize}`);
  for (const [w, n] of held) if (w.pendingBlocks !== n) invariant(false, 3, `write ${w.id} pendingBlocks ${w.pendingBlocks} != ${n} lists holding it`);
}
