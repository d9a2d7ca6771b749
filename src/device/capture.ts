/**
 * Crash capture: what a power cut at this point of the command stream would
 * leave behind, as plain data (CrashPoint) that power-loss.ts turns into
 * crash states. The device keeps only what *may* survive; which choices a
 * crash state takes is decided above it.
 *
 * Invariants:
 *  1. capture() does not disturb the device (campaigns capture many points of
 *     one run): it copies the version lists and snapshots the media.
 *  2. The advertised power window (unless the power-window-not-honoured fault
 *     is on) destages in the cache's destage priority (cache.ts destageQueue),
 *     whole writes only, within its byte budget.
 *  3. `pending` is oldest first: cached writes by completion, then writes in
 *     flight by submission; blockOrder lists the blocks where writes raced
 *     (device.ts INV-6).
 */
import { destageQueue } from './cache';
import { FaultSet, DeviceProfile } from './profiles';
import { PowerFailAtomicity } from './identify';
import { BlockStore } from './store';
import { blockOf, cacheLive, DeviceState, WriteRecord } from './state';
import { Intent, Tag } from './types';

/**
 * What a power cut right now would leave: the durable media (after the
 * advertised power window, if honoured, destaged what it could), and every
 * write version that may or may not have reached media. Does not disturb
 * the device: campaigns capture many points of one run.
 */
export function capture(s: DeviceState): CrashPoint {
  const media = s.media.snapshot();
  // Per-LBA pending version lists, copied (the records themselves are shared and immutable in the parts we read).
  const lists = new Map<number, WriteRecord[]>();
  // Blocks whose versions are not in completion order (writes that raced, INV-6): their order, by id.
  const blockOrder = new Map<number, number[]>();
  for (const [lba, versions] of s.cache) {
    lists.set(lba, versions.slice());
    for (let i = 1; i < versions.length; i++) {
      if (versions[i].completeSeq < versions[i - 1].completeSeq) {
        blockOrder.set(lba, versions.map((v) => v.id));
        break;
      }
    }
  }
  const inflightWrites = s.inflight.filter((c) => c.write).map((c) => c.write!);
  inflightWrites.sort((a, b) => a.submitSeq - b.submitSeq);
  const windowMs = s.faults.powerWindowNotHonoured ? 0 : s.powerWindowMs;
  let windowDestagedBytes = 0;
  if (windowMs > 0 && cacheLive(s)) {
    // The device keeps destaging for the window, in its normal priority order.
    let budget = windowMs * 1000 * s.profile.latency.nandBytesPerUs;
    const order = destageQueue(s);
    for (const w of order) {
      let blocks = 0;
      for (let i = 0; i < w.nlb; i++) if (lists.get(w.lba + i)?.includes(w)) blocks++;
      if (blocks === 0) continue;
      const bytes = blocks * s.blockSize;
      if (bytes > budget) break;
      budget -= bytes;
      windowDestagedBytes += bytes;
      for (let i = 0; i < w.nlb; i++) {
        const l = lists.get(w.lba + i);
        const at = l ? l.indexOf(w) : -1;
        if (at < 0) continue;
        media.set(w.lba + i, blockOf(w, i, s.blockSize));
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
    profile: s.profile,
    faults: s.faults,
    seed: s.seed,
    seq: s.seqNo,
    timeUs: s.now,
    blockSize: s.blockSize,
    nsze: s.nsze,
    atomicity: s.atomicity,
    media,
    unreadable: [...s.unreadable].sort((a, b) => a - b),
    pending,
    blockOrder,
    windowDestagedBytes,
  };
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
