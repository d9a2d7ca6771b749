/**
 * Command intake and the completion scheduler: checking and submitting
 * Write, Write Zeroes, Deallocate, Read and Flush; the queue of commands in
 * flight; completing them in completion-time order; and the device events
 * the host may listen to.
 *
 * Invariants:
 *  1. Every command is checked at intake (power, LBA range, length, tag)
 *     and refused with a DeviceError before it touches any state.
 *  2. `inflight` stays sorted by (completeAt, id): a command completes only
 *     when it is the earliest (completeNext), and simulated time moves to its
 *     completion time first (with background destage on the way).
 *  3. Each submit and each completion is one step of the command stream
 *     (`seqNo`), and emits exactly one event when someone listens.
 *  4. A write's power-fail and normal atomicity are decided at submission
 *     from the identify data (the pristine model, device.ts INV-4); faults
 *     change only lying-flush here, and the rest at the cut (power-loss.ts).
 *  5. INV-2 (cachedBytes >= 0) is asserted at every completion.
 */
import { isAtomicWrite, isPowerFailAtomic } from './identify';
import { advanceClock, applyWrite, destageCompletedBefore, destageForRead, nextDestageAt } from './cache';
import { crossLink, jitterUs, service } from './latency';
import { applyRacingWrite, losses, racingWrites, trackRecent } from './races';
import { blockOf, cacheLive, checkPower, checkRange, DeviceError, DeviceState, InFlight, invariant, volatileCache, WriteRecord } from './state';
import { issueToken, isDurable } from './tokens';
import { Completion, DeviceEvent, ReadOptions, TAGS, Tag, WriteOptions } from './types';

export type WriteKind = 'write' | 'write-zeroes' | 'deallocate';

/** A write's data checked: a positive multiple of the block size inside the namespace; returns its block count. */
export function checkWrite(s: DeviceState, lba: number, data: Uint8Array): number {
  checkPower(s);
  if (!(data instanceof Uint8Array)) throw new DeviceError('invalid-data', 'write data must be a Uint8Array or Buffer');
  if (data.length === 0 || data.length % s.blockSize !== 0) {
    throw new DeviceError('invalid-length', `write of ${data.length} bytes is not a positive multiple of the ${s.blockSize}-byte block size`);
  }
  const nlb = data.length / s.blockSize;
  checkRange(s, lba, nlb);
  return nlb;
}

export function submitWriteRecord(s: DeviceState, lba: number, nlb: number, data: Uint8Array, opts: WriteOptions, kind: WriteKind): number {
  checkPower(s);
  const intent = opts.intent ?? 'standard';
  const tag = opts.tag ?? 'other';
  if (!TAGS.includes(tag)) throw new DeviceError('invalid-tag', `unknown tag "${tag}"; tags: ${TAGS.join(', ')}`);
  const fua = !!opts.fua;
  const bytes = nlb * s.blockSize;
  const lat = s.profile.latency;
  let t = service(s, crossLink(s, kind === 'write' ? bytes : 0));
  const durableAtCompletion = fua || intent === 'critical' || !volatileCache(s);
  if (durableAtCompletion && !s.profile.plp) t += lat.nandProgramUs;
  // Backpressure: a full cache admits new data only as fast as it destages.
  const over = s.cachedBytes + bytes - s.profile.cache.sizeBytes;
  if (over > 0) t += over / lat.nandBytesPerUs;
  const c = s.c;
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
  const id = s.nextId++;
  // The pristine model: what the spec promises. torn-atomic breaks it only at the cut (power-loss.ts overlay).
  const atomic = isPowerFailAtomic(s.atomicity, lba, nlb);
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
    normalAtomic: kind !== 'deallocate' && isAtomicWrite(s.normal, lba, nlb),
    unmap: kind !== 'write',
    submitSeq: 0,
    completeSeq: -1,
    completedAt: 0,
    pendingBlocks: nlb,
    mediaBlocks: 0,
  };
  issueToken(s, id);
  const cmd: InFlight = { id, kind, completeAt: t, submitSeq: 0, write: w };
  enqueue(s, cmd, lba, nlb, tag, fua);
  (w as { submitSeq: number }).submitSeq = cmd.submitSeq;
  return id;
}

export function submitRead(s: DeviceState, lba: number, nlb: number, opts: ReadOptions): number {
  checkPower(s);
  checkRange(s, lba, nlb);
  const bytes = nlb * s.blockSize;
  const lat = s.profile.latency;
  let t = service(s, s.now) + bytes / lat.linkBytesPerUs;
  let fromNand = false;
  for (let i = 0; i < nlb && !fromNand; i++) if (!s.cache.has(lba + i)) fromNand = true;
  if (fromNand) t += lat.nandReadUs;
  if (opts.fua) t += lat.nandProgramUs;
  s.c.reads++;
  s.c.hostReadBytes += bytes;
  return enqueue(s, { id: s.nextId++, kind: 'read', completeAt: t, submitSeq: 0, read: { lba, nlb, fua: !!opts.fua } }, lba, nlb);
}

export function submitFlush(s: DeviceState): number {
  checkPower(s);
  const lat = s.profile.latency;
  let t = s.now + lat.commandUs + lat.flushBaseUs + jitterUs(s);
  // A Flush has to program everything dirty now (a lying one does not bother).
  if (cacheLive(s) && !s.faults.lyingFlush) t += s.cachedBytes / lat.nandBytesPerUs;
  s.c.flushes++;
  const f: InFlight = { id: s.nextId++, kind: 'flush', completeAt: t, submitSeq: 0 };
  const id = enqueue(s, f);
  f.flushCover = f.submitSeq;
  return id;
}

function enqueue(s: DeviceState, cmd: InFlight, lba?: number, nlb?: number, tag?: Tag, fua?: boolean): number {
  cmd.submitSeq = ++s.seqNo;
  // Keep inflight sorted by (completeAt, id); the queue is short, insertion from the back is cheap.
  const q = s.inflight;
  let i = q.length;
  while (i > 0 && q[i - 1].completeAt > cmd.completeAt) i--;
  q.splice(i, 0, cmd);
  // Building the event costs an object per command: only when someone listens.
  if (s.eventListeners.length > 0) emit(s, { seq: cmd.submitSeq, phase: 'submit', kind: cmd.kind, id: cmd.id, lba, nlb, tag, fua, timeUs: s.now });
  return cmd.id;
}

function emit(s: DeviceState, e: DeviceEvent): void {
  for (const l of s.eventListeners) l(e);
}

/** Advance simulated time until command `id` completes; returns its completion. */
export function wait(s: DeviceState, id: number): Completion {
  for (;;) {
    const c = s.done.get(id);
    if (c) {
      s.done.delete(id);
      return c;
    }
    if (s.poweredOff) throw new DeviceError('powered-off', `command ${id} will never complete: the power was cut`);
    if (s.inflight.length === 0) throw new DeviceError('unknown-command', `command ${id} is not in flight`);
    completeNext(s);
  }
}

/** Complete every command in flight; returns completions in completion order. */
export function waitAll(s: DeviceState): Completion[] {
  const out: Completion[] = [];
  while (s.inflight.length > 0) out.push(completeNext(s));
  for (const c of out) s.done.delete(c.id);
  return out;
}

/** Complete the command in flight with the earliest completion time. */
export function completeNext(s: DeviceState): Completion {
  checkPower(s);
  if (s.cachedBytes < 0) invariant(false, 2, `cachedBytes ${s.cachedBytes} < 0`);
  const cmd = s.inflight.shift();
  if (!cmd) throw new DeviceError('idle', 'no command in flight');
  advanceClock(s, cmd.completeAt);
  const c = complete(s, cmd);
  s.done.set(c.id, c);
  return c;
}

/** Let simulated time pass (idle host): completes due commands and destages in the background. */
export function advance(s: DeviceState, us: number): void {
  checkPower(s);
  const target = s.now + us;
  while (s.inflight.length > 0 && s.inflight[0].completeAt <= target) completeNext(s);
  advanceClock(s, target);
}

/** Let simulated time pass until the token is settled (destage, a Flush, FUA); returns the simulated time it took. */
export function waitDurable(s: DeviceState, token: number): number {
  const start = s.now;
  while (!isDurable(s, token)) {
    checkPower(s);
    const next = nextDestageAt(s);
    const nextCmd = s.inflight.length > 0 ? s.inflight[0].completeAt : Infinity;
    if (next === Infinity && nextCmd === Infinity) {
      throw new DeviceError('never-durable', `token ${token} cannot become durable: nothing in flight and nothing to destage`);
    }
    if (nextCmd <= next) completeNext(s);
    else advanceClock(s, next);
  }
  return s.now - start;
}

/** What a Read of one block would return now, without a command (NvmeDevice.peekBlock). */
export function peekBlock(s: DeviceState, lba: number): Uint8Array | undefined | null {
  checkPower(s);
  checkRange(s, lba, 1);
  if (s.inflight.length > 0) throw new DeviceError('command-sequence-error', `peekBlock with ${s.inflight.length} command(s) in flight; wait for them first`);
  const l = s.cache.get(lba);
  if (l && l.length > 0) return blockOf(l[l.length - 1], lba - l[l.length - 1].lba, s.blockSize);
  if (s.unreadable.has(lba)) return null;
  return s.media.get(lba);
}

function complete(s: DeviceState, cmd: InFlight): Completion {
  const seq = ++s.seqNo;
  let c: Completion;
  if (cmd.kind === 'read') {
    c = completeRead(s, cmd);
  } else if (cmd.kind === 'flush') {
    if (cacheLive(s) && !s.faults.lyingFlush) destageCompletedBefore(s, cmd.flushCover!);
    c = { id: cmd.id, kind: 'flush', status: 'success', completedAt: s.now };
  } else {
    const w = cmd.write!;
    w.completeSeq = seq;
    w.completedAt = s.now;
    const lostAt = s.recent.length > 0 ? losses(s, w) : undefined;
    if (lostAt) applyRacingWrite(s, w, lostAt);
    else applyWrite(s, w);
    trackRecent(s, w);
    c = { id: cmd.id, kind: cmd.kind, status: 'success', completedAt: s.now, token: w.id };
  }
  const w = cmd.write;
  if (s.eventListeners.length > 0) emit(s, { seq, phase: 'complete', kind: cmd.kind, id: cmd.id, lba: w?.lba ?? cmd.read?.lba, nlb: w?.nlb ?? cmd.read?.nlb, tag: w?.tag, fua: w?.fua, timeUs: s.now });
  return c;
}

function completeRead(s: DeviceState, cmd: InFlight): Completion {
  const { lba, nlb, fua } = cmd.read!;
  // Force the LBAs read to media first (an atomic write whole, INV-4).
  if (fua) destageForRead(s, lba, nlb);
  const bs = s.blockSize;
  const out = new Uint8Array(nlb * bs);
  const bad: number[] = [];
  const racing = racingWrites(s, lba, nlb);
  const seenWhole = new Map<WriteRecord, boolean>();
  for (let i = 0; i < nlb; i++) {
    const b = lba + i;
    const l = s.cache.get(b);
    // A write still in flight may already show (NVM-CS 2.1.4.1: no ordering between
    // commands in flight); one within the normal atomic unit shows whole or not at all.
    let seen: WriteRecord | undefined;
    if (racing) {
      for (const w of racing) {
        if (b < w.lba || b >= w.lba + w.nlb) continue;
        let show: boolean;
        if (w.normalAtomic) {
          if (!seenWhole.has(w)) seenWhole.set(w, s.race.chance(0.5));
          show = seenWhole.get(w)!;
        } else show = s.race.chance(0.5);
        if (show) seen = w;
      }
    }
    if (seen) {
      out.set(blockOf(seen, b - seen.lba, bs), i * bs);
    } else if (l && l.length > 0) {
      out.set(blockOf(l[l.length - 1], b - l[l.length - 1].lba, bs), i * bs);
    } else if (s.unreadable.has(b)) {
      bad.push(b);
    } else {
      const m = s.media.get(b);
      if (m) out.set(m, i * bs);
    }
  }
  if (bad.length > 0) return { id: cmd.id, kind: 'read', status: 'unrecovered-read-error', completedAt: s.now, badLbas: bad };
  return { id: cmd.id, kind: 'read', status: 'success', completedAt: s.now, data: out };
}
