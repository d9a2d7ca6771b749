/**
 * What survives a power cut: the space of crash states at one crash point,
 * enumerated or sampled, and the crash image of one choice.
 *
 * Model (ARCHITECTURE 2.3; NVM Command Set 2.1.4.2):
 * - Every block resolves to its durable media value or to one of the versions
 *   written to it that were not yet durable (cached, or in flight): a device
 *   may have destaged any of them, in any order.
 * - A multi-block write that falls under the power-fail atomicity guarantee
 *   (size <= the atomic unit, no boundary crossed) lands all-or-nothing: one
 *   choice for all of its still-pending blocks. Larger or boundary-crossing
 *   writes, and in-flight writes that are not atomic, resolve per block.
 * - Where versions compete for a block, the newest landed one is what the
 *   block holds (a device's cache keeps the newest data for an LBA; an older
 *   version can only be on media if it was destaged before the newer one).
 *
 * A choice is a vector of digits in a mixed radix. The digits, in order:
 *  1. one per multi-block atomic write ("group"): 0 = not landed, 1 = landed,
 *     2 = unreadable (only with inflight-read-error, for an in-flight write);
 *  2. one per block with non-group versions: 0 = none of them landed,
 *     i = the i-th of them (oldest first) is the newest landed one, k+1 =
 *     unreadable (inflight-read-error, when an in-flight version is among them);
 *  3. sub-block-tear: one per block with pending versions: 0 = whole, t > 0 =
 *     the first t * granularity bytes hold the resolved version, the rest
 *     the value it replaced;
 *  4. misdirected-write: one per cached write: 1 = it landed shifted by its
 *     own length instead of at its LBAs;
 *  5. latent-sector-error: one digit: 0 = none, i = the i-th written block
 *     (ascending) reads back as an unrecovered read error.
 * Without faults only 1 and 2 exist. Digit 0 everywhere is "nothing pending
 * landed" (the oldest possible state); the count is the product of radices
 * (choices, not distinct images: two choices can give the same bytes).
 *
 * Invariants (PL-n; test/device/power-loss.test.ts, reference.test.ts):
 * - PL-1 without faults no block holds bytes never written to it;
 * - PL-2 no block holds a version older than its durable one;
 * - PL-3 without torn-atomic, an atomic write is all-old or all-new (on its
 *   still-pending blocks) in every choice;
 * - PL-4 the set of images equals the independent reference model's
 *   (test/device/reference-model.ts) for every small history;
 * - PL-5 faults are an overlay: with NO_FAULTS the digits are exactly 1 and 2,
 *   and every fault only adds digits or options (torn-atomic turns groups
 *   into blocks).
 * Where writes raced, a block's version order is the device's recorded one
 * (CrashPoint.blockOrder), not completion order (ageAt).
 */
import { Prng } from '../util/prng';
import { CrashPoint, NvmeDevice, PendingWrite, blockOf } from './device';
import { BlockStore } from './store';

export type Digit =
  | { kind: 'group'; write: PendingWrite; radix: number }
  | { kind: 'order'; writes: PendingWrite[]; radix: number }
  | { kind: 'block'; lba: number; versions: PendingWrite[]; radix: number; errorOption: boolean }
  | { kind: 'tear'; lba: number; radix: number }
  | { kind: 'misdirect'; write: PendingWrite; radix: 2 }
  | { kind: 'lse'; lbas: number[]; radix: number };

export interface ChoiceSpace {
  point: CrashPoint;
  digits: Digit[];
  /** Number of survivor choices (product of the radices). */
  count: bigint;
}

/** A survivor choice: one value per digit of its space. */
export type Choice = number[];

export interface CrashImage {
  store: BlockStore;
  unreadable: number[];
  /** Blocks whose value differs from the durable media at the cut. */
  changedBlocks: number;
}

/**
 * Were two pending versions in flight together with at least one still in
 * flight at the cut? Then no order between them is known (NVM-CS 2.1.2): the
 * device may have programmed either last. (Two completed ones that raced have
 * the order the device recorded, CrashPoint.blockOrder.)
 */
export function concurrent(p: PendingWrite, q: PendingWrite): boolean {
  if (p.inflight && q.inflight) return true;
  if (p.inflight) return q.completeSeq > p.submitSeq;
  if (q.inflight) return p.completeSeq > q.submitSeq;
  return false;
}

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

/** The k-th permutation (Lehmer code) of 0..n-1: rank[i] = position of item i (larger = programmed later). */
function permutationRanks(n: number, k: number): number[] {
  const items = Array.from({ length: n }, (_, i) => i);
  const order: number[] = [];
  for (let i = n; i >= 1; i--) {
    const f = factorial(i - 1);
    order.push(items.splice(Math.floor(k / f), 1)[0]);
    k %= f;
  }
  const rank = new Array<number>(n);
  order.forEach((item, pos) => (rank[item] = pos));
  return rank;
}

/** Age of version `w` at block `lba` (larger = newer): its position where the point records a block order, else its order. */
export function ageAt(point: CrashPoint, lba: number, w: PendingWrite): number {
  const bo = point.blockOrder?.get(lba);
  if (bo) {
    const i = bo.indexOf(w.id);
    if (i >= 0) return i;
  }
  return w.order;
}

export function choiceSpace(point: CrashPoint): ChoiceSpace {
  const f = point.faults;
  if (point.blockSize !== 512 && point.blockSize !== 4096) throw new RangeError(`crash point block size ${point.blockSize} (PL: 512 or 4096)`);
  const digits: Digit[] = [];
  const perBlock = new Map<number, PendingWrite[]>();
  const allPendingLbas = new Set<number>();
  for (const w of point.pending) {
    for (const lba of w.lbas) allPendingLbas.add(lba);
    // Fault overlay: torn-atomic lands an advertised-atomic write per block.
    if (w.atomic && !f.tornAtomic && w.lbas.length > 1) {
      digits.push({ kind: 'group', write: w, radix: w.inflight && f.inflightReadError ? 3 : 2 });
    } else {
      for (const lba of w.lbas) {
        let l = perBlock.get(lba);
        if (!l) perBlock.set(lba, (l = []));
        l.push(w);
      }
    }
  }
  // 1b. Multi-block atomic writes that overlap and have no known order: one digit per
  // connected set of them, its value a permutation (the order they were programmed in).
  const groups = digits.filter((d): d is Extract<Digit, { kind: 'group' }> => d.kind === 'group').map((d) => d.write);
  const seen = new Set<PendingWrite>();
  for (const g of groups) {
    if (seen.has(g)) continue;
    const comp: PendingWrite[] = [];
    const todo = [g];
    seen.add(g);
    while (todo.length > 0) {
      const x = todo.pop()!;
      comp.push(x);
      for (const y of groups) {
        if (seen.has(y) || !concurrent(x, y) || !x.lbas.some((l) => y.lbas.includes(l))) continue;
        seen.add(y);
        todo.push(y);
      }
    }
    if (comp.length > 1) {
      comp.sort((a, b) => a.order - b.order);
      digits.push({ kind: 'order', writes: comp, radix: factorial(comp.length) });
    }
  }
  for (const lba of [...perBlock.keys()].sort((a, b) => a - b)) {
    const versions = perBlock.get(lba)!.sort((a, b) => ageAt(point, lba, a) - ageAt(point, lba, b));
    const errorOption = f.inflightReadError && versions.some((v) => v.inflight);
    digits.push({ kind: 'block', lba, versions, radix: versions.length + 1 + (errorOption ? 1 : 0), errorOption });
  }
  const pendingSorted = [...allPendingLbas].sort((a, b) => a - b);
  if (f.subBlockTear) {
    const positions = point.blockSize / f.subBlockTear;
    for (const lba of pendingSorted) digits.push({ kind: 'tear', lba, radix: positions });
  }
  if (f.misdirectedWrite) {
    for (const w of point.pending) if (!w.inflight) digits.push({ kind: 'misdirect', write: w, radix: 2 });
  }
  if (f.latentSectorError) {
    const written = new Set<number>(point.media.lbas());
    for (const lba of allPendingLbas) written.add(lba);
    const lbas = [...written].sort((a, b) => a - b);
    digits.push({ kind: 'lse', lbas, radix: lbas.length + 1 });
  }
  let count = 1n;
  for (const d of digits) count *= BigInt(d.radix);
  return { point, digits, count };
}

/** The choice with enumeration index `index` (mixed radix, first digit least significant). */
export function choiceAt(space: ChoiceSpace, index: bigint): Choice {
  if (index < 0n || index >= space.count) throw new RangeError(`choice index ${index} outside 0..${space.count - 1n}`);
  const out: Choice = [];
  let rest = index;
  for (const d of space.digits) {
    const r = BigInt(d.radix);
    out.push(Number(rest % r));
    rest /= r;
  }
  return out;
}

/** Inverse of choiceAt. */
export function choiceIndex(space: ChoiceSpace, choice: Choice): bigint {
  let index = 0n;
  for (let i = space.digits.length - 1; i >= 0; i--) index = index * BigInt(space.digits[i].radix) + BigInt(choice[i]);
  return index;
}

/** Every choice, in index order; only for small spaces (the caller checks `count`). */
export function* enumerateChoices(space: ChoiceSpace, limit = 1_000_000n): Generator<Choice> {
  if (space.count > limit) throw new RangeError(`choice space of ${space.count} exceeds the enumeration limit ${limit}; sample it instead`);
  for (let i = 0n; i < space.count; i++) yield choiceAt(space, i);
}

/**
 * One choice drawn from `prng`. Each block or group lands with probability
 * 1/2 and, among a block's versions, the newest landed one is uniform, as in
 * a cut where each cached version was destaged or not. Fault digits fire with
 * probability 1/2 (tears, misdirection) or always pick a victim (LSE), so a
 * sampled state exercises the fault that was switched on.
 */
export function sampleChoice(space: ChoiceSpace, prng: Prng): Choice {
  return space.digits.map((d) => {
    switch (d.kind) {
      case 'group':
      case 'order':
        return prng.int(0, d.radix - 1);
      case 'block':
        // Half the time nothing landed; otherwise a uniformly chosen outcome.
        return prng.chance(0.5) ? 0 : prng.int(1, d.radix - 1);
      case 'tear':
        return prng.chance(0.5) ? 0 : prng.int(1, d.radix - 1);
      case 'misdirect':
        return prng.chance(0.5) ? 1 : 0;
      case 'lse':
        return d.radix > 1 ? prng.int(1, d.radix - 1) : 0;
    }
  });
}

/**
 * The choice `choice` with one write torn on purpose: of the blocks
 * [lba, lba+nlb) that land per block (their own 'block' digits), the first
 * half ends with its newest pending version and the rest with none landed
 * (the value before the cut's pending writes). A legal outcome of the space
 * (each digit keeps a value of its radix); blocks of an atomic write ('group'
 * digits) are left as chosen, since no choice may tear those. A cut aimed at a
 * write the device does not cover uses it so the crash state holds the tear
 * the cut was aimed at, instead of leaving it to a coin per block.
 */
export function tearWrite(space: ChoiceSpace, choice: Choice, write: { lba: number; nlb: number }): Choice {
  const out = choice.slice();
  const own = space.digits.map((d, i) => ({ d, i })).filter((x): x is { d: Extract<Digit, { kind: 'block' }>; i: number } => x.d.kind === 'block' && x.d.lba >= write.lba && x.d.lba < write.lba + write.nlb);
  if (own.length < 2) return out;
  const half = Math.ceil(own.length / 2);
  own.forEach(({ d, i }, k) => (out[i] = k < half ? d.versions.length : 0));
  return out;
}

interface Resolved {
  /** The version the block ends with; undefined = the durable value. */
  write?: PendingWrite;
  error: boolean;
  /** Chosen by the block's own digit (not by a group landing). */
  explicit: boolean;
}

/** Build the crash image of one choice: the durable media plus an overlay of what the cut let land. */
export function buildCrashImage(space: ChoiceSpace, choice: Choice): CrashImage {
  const { point, digits } = space;
  if (choice.length !== digits.length) throw new RangeError(`choice has ${choice.length} digits, the space has ${digits.length}`);
  const bs = point.blockSize;
  const misdirected = new Set<PendingWrite>();
  digits.forEach((d, i) => {
    if (d.kind === 'misdirect' && choice[i] === 1) misdirected.add(d.write);
  });
  // Programming order of atomic writes without a known order (order digits).
  const rank = new Map<PendingWrite, { set: number; pos: number }>();
  digits.forEach((d, i) => {
    if (d.kind !== 'order') return;
    const r = permutationRanks(d.writes.length, choice[i]);
    d.writes.forEach((w, j) => rank.set(w, { set: i, pos: r[j] }));
  });
  const resolved = new Map<number, Resolved>();
  /** Does `w` end on top of `cur` at `lba`? */
  const beats = (lba: number, w: PendingWrite, explicit: boolean, cur: Resolved): boolean => {
    const c = cur.write!;
    // A block's own choice beats an atomic write it has no known order with (either may be last).
    if (explicit && !cur.explicit && concurrent(w, c)) return true;
    if (!explicit && cur.explicit && concurrent(w, c)) return false;
    const rw = rank.get(w);
    const rc = rank.get(c);
    if (rw && rc && rw.set === rc.set) return rw.pos > rc.pos;
    return ageAt(point, lba, c) < ageAt(point, lba, w);
  };
  const consider = (lba: number, w: PendingWrite | undefined, error: boolean, explicit = false) => {
    if (!w) return;
    const cur = resolved.get(lba);
    if (!cur || !cur.write || beats(lba, w, explicit, cur)) resolved.set(lba, { write: w, error, explicit });
  };
  digits.forEach((d, i) => {
    const v = choice[i];
    if (d.kind === 'group') {
      if (v === 0 || misdirected.has(d.write)) return;
      for (const lba of d.write.lbas) consider(lba, d.write, v === 2);
    } else if (d.kind === 'block') {
      if (v === 0) return;
      if (d.errorOption && v === d.radix - 1) {
        // Unreadable: the newest in-flight version was being programmed when the power went.
        const inflight = d.versions.filter((w) => w.inflight);
        consider(d.lba, inflight[inflight.length - 1], true, true);
        return;
      }
      const w = d.versions[v - 1];
      if (!misdirected.has(w)) consider(d.lba, w, false, true);
    }
  });

  const store = point.media.snapshot();
  const unreadable = new Set(point.unreadable);
  let changed = 0;
  const tearOf = new Map<number, number>();
  digits.forEach((d, i) => {
    if (d.kind === 'tear' && choice[i] > 0) tearOf.set(d.lba, choice[i]);
  });
  for (const [lba, r] of [...resolved].sort((a, b) => a[0] - b[0])) {
    const w = r.write!;
    if (r.error) {
      unreadable.add(lba);
      changed++;
      continue;
    }
    let data = blockOf(w, lba - w.lba, bs);
    const tear = tearOf.get(lba);
    if (tear !== undefined) {
      // The block was being programmed: its head holds the new version, its tail what it replaced.
      const before = previousValue(point, lba, w);
      const mixed = new Uint8Array(bs);
      mixed.set(before);
      mixed.set(data.subarray(0, tear * point.faults.subBlockTear), 0);
      data = mixed;
    }
    store.set(lba, data);
    unreadable.delete(lba);
    changed++;
  }
  // Misdirected writes land shifted by their own length (wrapping back inside the namespace).
  for (const w of [...misdirected].sort((a, b) => a.order - b.order)) {
    let target = w.lba + w.nlb;
    if (target + w.nlb > point.nsze) target = Math.max(0, w.lba - w.nlb);
    for (const lba of w.lbas) {
      const t = target + (lba - w.lba);
      store.set(t, blockOf(w, lba - w.lba, bs));
      unreadable.delete(t);
      changed++;
    }
  }
  digits.forEach((d, i) => {
    if (d.kind === 'lse' && choice[i] > 0) {
      unreadable.add(d.lbas[choice[i] - 1]);
      changed++;
    }
  });
  return { store, unreadable: [...unreadable].sort((a, b) => a - b), changedBlocks: changed };
}

/** The value block `lba` had just before version `w` (the next older pending version, else the durable value). */
function previousValue(point: CrashPoint, lba: number, w: PendingWrite): Uint8Array {
  let best: PendingWrite | undefined;
  const age = ageAt(point, lba, w);
  for (const p of point.pending) {
    if (ageAt(point, lba, p) < age && p.lbas.includes(lba) && (!best || ageAt(point, lba, p) > ageAt(point, lba, best))) best = p;
  }
  if (best) return blockOf(best, lba - best.lba, point.blockSize);
  return point.media.get(lba) ?? new Uint8Array(point.blockSize);
}

/** Power on a fresh device (same profile, faults and seed) whose media is the crash image. */
export function powerOn(point: CrashPoint, image: CrashImage): NvmeDevice {
  return new NvmeDevice({ profile: point.profile, faults: point.faults, seed: point.seed, image: { store: image.store, unreadable: image.unreadable } });
}

/** Short text form of a choice for replay ids: `e<index base36>` for an enumerated one, `s<n>` for the n-th sample. */
export type ChoiceRef = { kind: 'enum'; index: bigint } | { kind: 'sample'; n: number };

export function formatChoiceRef(ref: ChoiceRef): string {
  return ref.kind === 'enum' ? `e${ref.index.toString(36)}` : `s${ref.n}`;
}

export function parseChoiceRef(text: string): ChoiceRef {
  if (/^e[0-9a-z]+$/.test(text)) {
    let v = 0n;
    for (const ch of text.slice(1)) v = v * 36n + BigInt(parseInt(ch, 36));
    return { kind: 'enum', index: v };
  }
  if (/^s[0-9]+$/.test(text)) return { kind: 'sample', n: Number(text.slice(1)) };
  throw new RangeError(`"${text}" is not a choice reference (e<base36 index> or s<sample number>)`);
}

/**
 * Resolve a choice reference at a crash point. Samples draw from a stream
 * forked by the crash point's position and the sample number, so the n-th
 * sample of a point is the same whatever else was sampled before it.
 */
export function resolveChoice(space: ChoiceSpace, ref: ChoiceRef, seed: number): Choice {
  if (ref.kind === 'enum') return choiceAt(space, ref.index);
  return sampleChoice(space, new Prng(seed, `crash/p${space.point.seq}/s${ref.n}`));
}
