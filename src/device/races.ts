/**
 * Races between commands in flight (NVM Command Set 2.1.4.1: no ordering
 * between commands in flight). A read may see data of a write still in
 * flight; overlapping writes in flight together may end, per block, in any
 * mix beyond the normal atomic unit (AWUN/NAWUN/NABSN).
 *
 * Invariants:
 *  1. `recent` holds completed writes only while some write in flight was
 *     submitted before they completed; with no write in flight it and
 *     `mediaWriter` are empty (trackRecent), so neither is ever stale.
 *  2. Two writes both within the normal atomic unit take one order for all
 *     their common blocks; a read sees such a write whole or not at all.
 *  3. A racing write never goes below a write that completed before it was
 *     submitted (device.ts INV-7): only writes completed while it was in
 *     flight are its rivals.
 *  4. Every choice is drawn from the seeded `race` Prng.
 */
import { releaseBlock, toNand, queueForDestage } from './cache';
import { blockOf, DeviceState, volatileCache, WriteRecord } from './state';
import { settle } from './tokens';

/** Writes in flight overlapping [lba, lba+nlb), in submission order; undefined if none. */
export function racingWrites(s: DeviceState, lba: number, nlb: number): WriteRecord[] | undefined {
  let out: WriteRecord[] | undefined;
  for (const c of s.inflight) {
    const w = c.write;
    if (w && w.lba < lba + nlb && lba < w.lba + w.nlb) (out ??= []).push(w);
  }
  return out?.sort((a, b) => a.submitSeq - b.submitSeq);
}

/** Keep completed writes only while a write in flight was submitted before they completed (invariant 1). */
export function trackRecent(s: DeviceState, w: WriteRecord): void {
  let oldest = Infinity;
  for (const c of s.inflight) if (c.write && c.submitSeq < oldest) oldest = c.submitSeq;
  if (oldest === Infinity) {
    if (s.recent.length > 0) s.recent = [];
    if (s.mediaWriter.size > 0) s.mediaWriter.clear();
    return;
  }
  s.recent.push(w);
  if (s.recent[0].completeSeq < oldest) s.recent = s.recent.filter((x) => x.completeSeq > oldest);
}

/**
 * Overlapping writes that completed while `w` was in flight: `w` and they
 * were in flight together, so beyond the normal atomic unit their blocks may
 * end in any mix (NVM-CS 2.1.4.1). For each block, the set of them `w` ends
 * under (undefined: `w` is newest everywhere, the common case).
 */
export function losses(s: DeviceState, w: WriteRecord): ((b: number) => Set<WriteRecord> | undefined) | undefined {
  let rivals: WriteRecord[] | undefined;
  for (const x of s.recent) {
    if (x.completeSeq > w.submitSeq && x.lba < w.lba + w.nlb && w.lba < x.lba + x.nlb) (rivals ??= []).push(x);
  }
  if (!rivals) return undefined;
  // Two writes both within the normal atomic unit: one order for all their common blocks.
  const pair = new Map<WriteRecord, boolean>();
  for (const x of rivals) if (w.normalAtomic && x.normalAtomic) pair.set(x, s.race.chance(0.5));
  return (b: number) => {
    let lost: Set<WriteRecord> | undefined;
    for (const x of rivals!) {
      if (b < x.lba || b >= x.lba + x.nlb) continue;
      const loses = pair.has(x) ? pair.get(x)! : s.race.chance(0.5);
      if (loses) (lost ??= new Set()).add(x);
    }
    return lost;
  };
}

/** applyWrite (cache.ts) for a write that raced overlapping writes: per block, it may end under some of them. */
export function applyRacingWrite(s: DeviceState, w: WriteRecord, lostAt: (b: number) => Set<WriteRecord> | undefined): void {
  const bs = s.blockSize;
  for (let i = 0; i < w.nlb; i++) s.unreadable.delete(w.lba + i);
  const durableNow = w.fua || w.intent === 'critical' || !volatileCache(s);
  let cachedAny = false;
  for (let i = 0; i < w.nlb; i++) {
    const b = w.lba + i;
    const lost = lostAt(b);
    let l = s.cache.get(b);
    // Where w lost, it sits just below the rivals it lost to that are still cached.
    let at = l ? l.length : 0;
    if (lost && l) while (at > 0 && lost.has(l[at - 1])) at--;
    // Lost to the rival whose data is the media value, with nothing else cached above it: w is superseded there.
    const mw = s.mediaWriter.get(b);
    const under = at === 0 && lost !== undefined && mw !== undefined && lost.has(mw);
    if (durableNow) {
      if (!under) {
        if (l) {
          // Versions below w's place are superseded by w on media.
          const gone = l.splice(0, at);
          for (const old of gone) releaseBlock(s, old);
          if (l.length === 0) s.cache.delete(b);
        }
        s.media.set(b, blockOf(w, i, bs));
        s.mediaWriter.set(b, w);
      }
      toNand(s, w, b, 1);
      continue;
    }
    if (under) {
      w.pendingBlocks--;
      continue;
    }
    if (!l) s.cache.set(b, (l = []));
    l.splice(at, 0, w);
    s.cachedBytes += bs;
    cachedAny = true;
  }
  if (durableNow) {
    w.pendingBlocks = 0;
    w.mediaBlocks = w.nlb;
    settle(s, w);
    return;
  }
  if (!cachedAny) {
    settle(s, w);
    return;
  }
  queueForDestage(s, w);
}
