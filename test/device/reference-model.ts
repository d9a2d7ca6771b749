/**
 * An independent brute-force reference for small crash cases (<= 4 commands,
 * <= 8 blocks). Written from ARCHITECTURE section 2 and the NVM Command Set,
 * sharing no code with src/device/power-loss.ts or the device's atomicity
 * helpers: it replays the host-visible history (submissions, completions and
 * their order, which the device reports as events) and enumerates, by subsets,
 * every way the pending data may have landed.
 *
 * Rules (R1-R9):
 * R1 A completed write is durable at completion if FUA, CRITICAL, or the
 *    cache is not volatile (VWC=0 or PLP); it then supersedes every cached
 *    version of its blocks.
 * R2 Otherwise it is cached: appended to its blocks' version lists.
 * R3 A completed Flush (not lying-flush) destages every block holding a
 *    version of a write completed before the Flush was submitted; a FUA read
 *    destages every block it read that holds a version. Destaging a block
 *    programs its newest cached version (the cache holds the newest data of
 *    an LBA) and drops the older ones; if that version belongs to a
 *    multi-block power-fail atomic write, all of that write's cached blocks
 *    are destaged with it (and so on, transitively).
 * R4 Power-fail atomic: nlb <= AWUPF+1 anywhere, or (NSABP) nlb <= NAWUPF+1
 *    (0h = AWUPF) without crossing a boundary at NABO + k(NABSPF+1)
 *    (NABSPF = 0h: no boundary). torn-atomic: at the cut (R5) nothing
 *    multi-block lands whole; destage (R3) still follows the promise.
 * R5 At the cut, every cached or in-flight version may have landed or not;
 *    an atomic multi-block one lands on all its still-pending blocks or on
 *    none; others per block. inflight-read-error: an in-flight version may
 *    also land as "unreadable".
 * R6 A block holds the newest landed version (cached by completion order,
 *    then in-flight by submission), else its durable value; unreadable if that
 *    newest landed one landed unreadable.
 * R7 sub-block-tear:g: a block that ends on a landed version may instead hold
 *    its first t*g bytes (0 < t < bs/g) over the value below it (the next
 *    older pending version, else the durable value).
 * R8 misdirected-write: a cached (completed) version may land at
 *    [lba+nlb, ...) (or max(0, lba-nlb) when that leaves the namespace)
 *    instead of its own blocks, over whatever is there, oldest first.
 * R9 latent-sector-error: any one block that holds data (durable or pending)
 *    may read back unreadable.
 * R10 Deallocate is a write of zeros with no atomicity promise (per block);
 *    Set Features VWC off makes later completions durable (R1) but leaves
 *    cached data as it is; a Flush still destages it (R3).
 */
import { Identify } from '../../src/device/identify';
import { FaultSet } from '../../src/device/profiles';
import { DeviceEvent } from '../../src/device/types';

export interface RefWrite {
  id: number;
  lba: number;
  nlb: number;
  data: Uint8Array;
  fua: boolean;
  critical: boolean;
  /** Dataset Management deallocate: reads as zeros; no atomicity promise. */
  deallocate?: boolean;
}

export interface RefHistory {
  identify: Identify;
  /** The cache is volatile at power-on (VWC present, no PLP). */
  volatile: boolean;
  /** Set Features VWC: after `afterEvents` events, WCE becomes `enabled`. */
  wceChanges?: { afterEvents: number; enabled: boolean }[];
  faults: FaultSet;
  blockSize: number;
  nsze: number;
  writes: Map<number, RefWrite>;
  fuaReads: Set<number>;
  events: DeviceEvent[];
}

interface Version {
  w: RefWrite;
  age: number;
  inflight: boolean;
}

function atomicR4(id: Identify, faults: FaultSet | undefined, lba: number, nlb: number, deallocate?: boolean): boolean {
  if (faults?.tornAtomic || deallocate) return false;
  if (nlb === 1) return true;
  const c = id.controller;
  const n = id.namespace;
  if (nlb <= c.awupf + 1) return true;
  if (!n.nsabp) return false;
  const unit = (n.nawupf === 0 ? c.awupf : n.nawupf) + 1;
  if (nlb > unit) return false;
  if (n.nabspf === 0) return true;
  const size = n.nabspf + 1;
  // Boundaries at NABO + k*size for every integer k: the write must not contain one strictly inside.
  for (let b = lba + 1; b < lba + nlb; b++) if ((((b - n.nabo) % size) + size) % size === 0) return false;
  return true;
}

/** Key of one image: per block "U" or a digest of its bytes (stamp-aware, fast). */
export type ImageKey = string;

export function blockKey(b: Uint8Array | undefined, bs: number): string {
  if (!b) return '0';
  // Words are read byte by byte (no DataView per block): this key is computed for every block of
  // every image on both sides, and was a fifth of the reference test's time.
  const u32 = (o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  const w = (o: number) => `${u32(o)}.${u32(o + 4)}`;
  const same = (o: number, p: number) => u32(o) === u32(p) && u32(o + 4) === u32(p + 4);
  const last = bs - 8;
  const name = (o: number) => (u32(o) === 0 && u32(o + 4) === 0 ? '0' : w(o));
  if (same(0, last)) return name(0);
  // A torn block: a prefix of one value over another; find where it changes.
  let lo = 0;
  let hi = bs / 8 - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (same(mid * 8, 0)) lo = mid;
    else hi = mid;
  }
  return `${name(0)}/${hi}/${name(last)}`;
}

/** Every crash image of the history (keys), or undefined when the brute-force space exceeds `limit`. */
export function referenceImages(h: RefHistory, limit = Infinity): Set<ImageKey> | undefined {
  const { blockSize: bs, nsze, faults } = h;
  const durable: (RefWrite | undefined)[] = new Array(nsze).fill(undefined);
  const cached: Version[][] = Array.from({ length: nsze }, () => []);
  const completedAt = new Map<number, number>();
  const inflight = new Map<number, number>(); // write id -> submit seq
  const destage = (start: Set<number>) => {
    const todo = [...start];
    const set = new Set(start);
    while (todo.length > 0) {
      const b = todo.pop()!;
      const top = cached[b][cached[b].length - 1];
      if (!top || !atomicR4(h.identify, undefined, top.w.lba, top.w.nlb, top.w.deallocate) || top.w.nlb === 1) continue;
      for (let i = top.w.lba; i < top.w.lba + top.w.nlb; i++) {
        if (!set.has(i) && cached[i].some((v) => v.w === top.w)) {
          set.add(i);
          todo.push(i);
        }
      }
    }
    // Tops first (a block's top is what R3 programs), then clear.
    const tops = [...set].map((b) => [b, cached[b][cached[b].length - 1]] as const);
    for (const [b, top] of tops) {
      if (!top) continue;
      durable[b] = top.w;
      cached[b] = [];
    }
  };
  let wce = true;
  h.events.forEach((e, index) => {
    for (const c of h.wceChanges ?? []) if (c.afterEvents === index) wce = c.enabled;
    step(e);
  });
  function step(e: DeviceEvent): void {
    if (e.phase === 'submit') {
      if (h.writes.has(e.id)) inflight.set(e.id, e.seq);
      return;
    }
    if (h.writes.has(e.id)) {
      const w = h.writes.get(e.id)!;
      inflight.delete(e.id);
      completedAt.set(w.id, e.seq);
      const now = w.fua || w.critical || !h.volatile || !wce;
      for (let b = w.lba; b < w.lba + w.nlb; b++) {
        if (now) {
          durable[b] = w;
          cached[b] = [];
        } else cached[b].push({ w, age: e.seq, inflight: false });
      }
    } else if (e.kind === 'flush') {
      if (faults.lyingFlush) return;
      const submitted = h.events.find((x) => x.phase === 'submit' && x.id === e.id)!.seq;
      const start = new Set<number>();
      for (let b = 0; b < nsze; b++) if (cached[b].some((v) => completedAt.get(v.w.id)! < submitted)) start.add(b);
      destage(start);
    } else if (e.kind === 'read' && h.fuaReads.has(e.id)) {
      const start = new Set<number>();
      for (let b = e.lba!; b < e.lba! + e.nlb!; b++) if (cached[b].length > 0) start.add(b);
      destage(start);
    }
  }
  // Pending versions per block, oldest first (R6).
  const pending: Version[][] = cached.map((l) => l.slice());
  const inflightWrites = [...inflight.entries()].sort((a, b) => a[1] - b[1]).map(([id, seq]) => ({ w: h.writes.get(id)!, seq }));
  for (const { w, seq } of inflightWrites) for (let b = w.lba; b < w.lba + w.nlb; b++) pending[b].push({ w, age: 1e15 + seq, inflight: true });

  // Decision units (R5): an atomic multi-block write's pending blocks together, else one per (write, block).
  interface Unit { w: RefWrite; blocks: number[]; inflight: boolean; cachedWrite: boolean }
  const units: Unit[] = [];
  const byWrite = new Map<RefWrite, { blocks: number[]; inflight: boolean }>();
  for (let b = 0; b < nsze; b++) for (const v of pending[b]) {
    let e = byWrite.get(v.w);
    if (!e) byWrite.set(v.w, (e = { blocks: [], inflight: v.inflight }));
    e.blocks.push(b);
  }
  for (const [w, e] of byWrite) {
    if (w.nlb > 1 && atomicR4(h.identify, faults, w.lba, w.nlb, w.deallocate)) units.push({ w, blocks: e.blocks, inflight: e.inflight, cachedWrite: !e.inflight });
    else for (const b of e.blocks) units.push({ w, blocks: [b], inflight: e.inflight, cachedWrite: !e.inflight });
  }
  const misdirectable = [...byWrite.entries()].filter(([, e]) => faults.misdirectedWrite && !e.inflight).map(([w]) => w);
  const pendingBlocks = [...new Set(units.flatMap((u) => u.blocks))].sort((a, b) => a - b);
  const positions = faults.subBlockTear ? bs / faults.subBlockTear : 1;
  const written = new Set<number>(pendingBlocks);
  for (let b = 0; b < nsze; b++) if (durable[b]) written.add(b);
  const lseChoices = faults.latentSectorError ? [-1, ...[...written].sort((a, b) => a - b)] : [-1];

  let size = lseChoices.length * 2 ** misdirectable.length * positions ** pendingBlocks.length;
  for (const u of units) size *= u.inflight && faults.inflightReadError ? 3 : 2;
  if (size > limit) return undefined;
  const out = new Set<ImageKey>();
  const landed: number[] = new Array(units.length).fill(0); // 0 no, 1 yes, 2 unreadable
  const valueOf = (b: number, w: RefWrite | undefined): Uint8Array | undefined => (w ? w.data.subarray((b - w.lba) * bs, (b - w.lba + 1) * bs) : undefined);
  const emit = (mis: Set<RefWrite>, tear: number[]) => {
    for (const lse of lseChoices) {
      const store: (Uint8Array | undefined)[] = [];
      const bad = new Set<number>();
      for (let b = 0; b < nsze; b++) store.push(valueOf(b, durable[b]));
      for (let b = 0; b < nsze; b++) {
        let best: { v: Version; state: number } | undefined;
        units.forEach((u, i) => {
          if (landed[i] === 0 || !u.blocks.includes(b) || mis.has(u.w)) return;
          const v = pending[b].find((x) => x.w === u.w)!;
          if (!best || best.v.age < v.age) best = { v, state: landed[i] };
        });
        if (!best) continue;
        if (best.state === 2) {
          bad.add(b);
          continue;
        }
        let data = valueOf(b, best.v.w)!;
        const t = tear[pendingBlocks.indexOf(b)];
        if (t > 0) {
          const below = pending[b].filter((x) => x.age < best!.v.age).pop();
          const under = below ? valueOf(b, below.w)! : valueOf(b, durable[b]) ?? new Uint8Array(bs);
          const mixed = new Uint8Array(bs);
          mixed.set(under);
          mixed.set(data.subarray(0, t * faults.subBlockTear), 0);
          data = mixed;
        }
        store[b] = data;
      }
      const misOrdered = [...mis].sort((a, b) => (completedAt.get(a.id)! - completedAt.get(b.id)!));
      for (const w of misOrdered) {
        let target = w.lba + w.nlb;
        if (target + w.nlb > nsze) target = Math.max(0, w.lba - w.nlb);
        for (const b of byWrite.get(w)!.blocks) {
          store[target + (b - w.lba)] = valueOf(b, w);
          bad.delete(target + (b - w.lba));
        }
      }
      if (lse >= 0) bad.add(lse);
      out.add(store.map((d, b) => (bad.has(b) ? 'U' : blockKey(d, bs))).join(' '));
    }
  };
  const tears = (k: number, acc: number[], mis: Set<RefWrite>) => {
    if (k === pendingBlocks.length) return emit(mis, acc);
    for (let t = 0; t < positions; t++) {
      acc.push(t);
      tears(k + 1, acc, mis);
      acc.pop();
    }
  };
  const misdirect = (k: number, mis: Set<RefWrite>) => {
    if (k === misdirectable.length) return tears(0, [], mis);
    misdirect(k + 1, mis);
    const m = new Set(mis);
    m.add(misdirectable[k]);
    misdirect(k + 1, m);
  };
  const land = (k: number) => {
    if (k === units.length) return misdirect(0, new Set());
    const opts = units[k].inflight && faults.inflightReadError ? 3 : 2;
    for (let o = 0; o < opts; o++) {
      landed[k] = o;
      land(k + 1);
    }
    landed[k] = 0;
  };
  land(0);
  return out;
}


/**
 * Reference for a cut with every write in flight (none completed): no order
 * is known between any of them (NVM-CS 2.1.2). Rules: each unit (an atomic
 * multi-block write's blocks together, else one block of one write) lands or
 * not (or, inflight-read-error, lands unreadable); the landed writes were
 * programmed in some order; a block ends on any landed non-atomic version, or
 * on the last-programmed landed atomic one; nothing landed: its durable
 * value. Atomic writes keep one programming order on all their common blocks.
 * latent-sector-error as R9. (sub-block-tear and misdirected-write are left
 * to referenceImages; misdirection only concerns completed writes.)
 */
export function referenceInflightImages(h: { identify: Identify; faults: FaultSet; blockSize: number; nsze: number; durable: (RefWrite | undefined)[]; inflight: RefWrite[] }, limit = Infinity): Set<ImageKey> | undefined {
  let work = 0;
  const { blockSize: bs, nsze, faults } = h;
  interface Unit { w: RefWrite; blocks: number[] }
  const units: Unit[] = [];
  const atomic = new Set<RefWrite>();
  for (const w of h.inflight) {
    if (w.nlb > 1 && atomicR4(h.identify, faults, w.lba, w.nlb, w.deallocate)) {
      atomic.add(w);
      units.push({ w, blocks: Array.from({ length: w.nlb }, (_, i) => w.lba + i) });
    } else for (let i = 0; i < w.nlb; i++) units.push({ w, blocks: [w.lba + i] });
  }
  const written = new Set<number>();
  for (let b = 0; b < nsze; b++) if (h.durable[b]) written.add(b);
  for (const w of h.inflight) for (let i = 0; i < w.nlb; i++) written.add(w.lba + i);
  const lse = faults.latentSectorError ? [-1, ...[...written].sort((a, b) => a - b)] : [-1];
  const valueOf = (b: number, w: RefWrite | undefined) => (w ? w.data.subarray((b - w.lba) * bs, (b - w.lba + 1) * bs) : undefined);
  const perms = <T>(xs: T[]): T[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
  const out = new Set<ImageKey>();
  const landed: number[] = new Array(units.length).fill(0);
  const finish = () => {
    const atomicLanded = [...atomic].filter((w) => units.some((u, i) => u.w === w && landed[i] > 0));
    for (const order of perms(atomicLanded)) {
      // Allowed outcomes per block: [write, unreadable] pairs.
      const options: { w?: RefWrite; bad: boolean }[][] = [];
      for (let b = 0; b < nsze; b++) {
        const opts: { w?: RefWrite; bad: boolean }[] = [];
        let lastAtomic: { w: RefWrite; bad: boolean } | undefined;
        units.forEach((u, i) => {
          if (landed[i] === 0 || !u.blocks.includes(b)) return;
          if (atomic.has(u.w)) {
            if (!lastAtomic || order.indexOf(u.w) > order.indexOf(lastAtomic.w)) lastAtomic = { w: u.w, bad: landed[i] === 2 };
          } else opts.push({ w: u.w, bad: landed[i] === 2 });
        });
        if (lastAtomic) opts.push(lastAtomic);
        options.push(opts.length > 0 ? opts : [{ w: h.durable[b], bad: false }]);
      }
      work += options.reduce((a, o) => a * o.length, lse.length);
      if (work > limit) throw new RangeError('reference space too large');
      const pick = (b: number, acc: { w?: RefWrite; bad: boolean }[]) => {
        if (b === nsze) {
          for (const l of lse) {
            out.add(acc.map((o, i) => (o.bad || i === l ? 'U' : blockKey(valueOf(i, o.w), bs))).join(' '));
          }
          return;
        }
        for (const o of options[b]) {
          acc.push(o);
          pick(b + 1, acc);
          acc.pop();
        }
      };
      pick(0, []);
    }
  };
  const land = (k: number) => {
    if (k === units.length) return finish();
    const n = faults.inflightReadError ? 3 : 2;
    for (let o = 0; o < n; o++) {
      landed[k] = o;
      land(k + 1);
    }
    landed[k] = 0;
  };
  try {
    land(0);
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
  return out;
}
