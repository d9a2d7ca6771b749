/**
 * A page-mapped FTL with greedy garbage collection: what the NAND really
 * programs for the host's writes (ARCHITECTURE 2.6), and so what a workload
 * costs in device life.
 *
 * Model (the textbook one; cf. Hu et al., "Write amplification analysis in
 * flash-based SSDs", SYSTOR 2009, and Desnoyers, "Analytic models of SSD write
 * performance", 2012):
 * - The mapping unit is a 4 KiB NAND page; an erase block holds
 *   PAGES_PER_BLOCK of them. A program of part of a unit rewrites the unit.
 * - The drive is sized from the namespace: user capacity U = the namespace's
 *   units (capped at FTL_MAX_UNITS; a larger namespace folds its units onto
 *   that many, unit mod U), physical capacity ceil(U x (1 + OP)) pages in
 *   whole erase blocks (at least two spare blocks).
 * - Before the host's first write counts, the drive is preconditioned in the
 *   SNIA SSS PTS manner (workload-independent preconditioning): `fill` of the
 *   user capacity written sequentially, twice. Preconditioning programs are
 *   not counted; the host's writes then meet a drive in use, not an empty one.
 * - Writes append to the open block; the previous copy of the unit becomes
 *   invalid. When no free block is left, greedy GC picks the closed block with
 *   the fewest valid pages (O(1): blocks are bucketed by valid count), copies
 *   them to the open block (NAND programs the host never asked for) and
 *   erases it.
 * - Deallocate (Dataset Management) and Write Zeroes without programming
 *   unmap units: their old copies become invalid, nothing is programmed.
 *
 * Invariants:
 * - INV-F1 sum(valid[b]) = number of mapped units; valid[b] = pages of b whose
 *   owner maps back to them.
 * - INV-F2 every closed, non-free block is in exactly the bucket of its valid
 *   count; the open block and free blocks are in none.
 *
 * Keeping the device's hot path cheap: the device only appends unit numbers
 * (negative = unmap) to a log; the FTL allocates, preconditions and replays
 * the log when its figures are asked for.
 */
export const FTL_UNIT_BYTES = 4096;
export const PAGES_PER_BLOCK = 256;
/** Largest modelled user capacity in units (16 GiB): bigger namespaces fold onto it. */
export const FTL_MAX_UNITS = 1 << 22;

export interface FtlStats {
  /** Units programmed because the device destaged host data. */
  hostUnits: number;
  /** Units relocated by garbage collection. */
  gcUnits: number;
  erases: number;
  /** (host + gc) units / host units. */
  gcWriteAmplification: number;
  /** Modelled user capacity (units) and physical capacity (pages). */
  userUnits: number;
  physicalPages: number;
  /** Fraction of the user capacity written by preconditioning. */
  fill: number;
  /** Units mapped now. */
  mappedUnits: number;
}

export interface FtlOptions {
  /** Namespace size in bytes: the drive's user capacity. */
  userBytes: number;
  /** Spare NAND beyond the user capacity, as a fraction (0.07 = 7%). */
  overProvisioning: number;
  /** Preconditioning fill level, a fraction of the user capacity (default 1: a full drive). */
  fill?: number;
}

export class FtlModel {
  readonly userUnits: number;
  readonly overProvisioning: number;
  readonly fill: number;
  private log: Int32Array = new Int32Array(1024);
  private logLen = 0;
  private replayed = 0;
  private lastEnd = -1;
  private ready = false;
  // Replay state (allocated on first use).
  private map!: Int32Array; // unit -> physical page, or -1
  private owner!: Int32Array; // physical page -> unit, or -1
  private valid!: Int32Array; // block -> valid pages
  private next!: Int32Array; // bucket lists (doubly linked, by valid count)
  private prev!: Int32Array;
  private head!: Int32Array;
  private inBucket!: Uint8Array;
  private free: number[] = [];
  private freeHead = 0;
  private blocks = 0;
  private open = -1;
  private openFill = 0;
  private mapped = 0;
  private hostUnits = 0;
  private gcUnits = 0;
  private erases = 0;

  constructor(opts: FtlOptions | number) {
    // A bare number is the over-provisioning of a 64 MiB drive (unit tests of the GC).
    const o: FtlOptions = typeof opts === 'number' ? { userBytes: 64 * 1024 * 1024, overProvisioning: opts } : opts;
    if (!(o.overProvisioning > 0)) throw new RangeError('over-provisioning must be > 0');
    this.userUnits = Math.max(1, Math.min(FTL_MAX_UNITS, Math.ceil(o.userBytes / FTL_UNIT_BYTES)));
    this.overProvisioning = o.overProvisioning;
    this.fill = o.fill ?? 1;
    if (!(this.fill >= 0 && this.fill <= 1)) throw new RangeError('fill must be in [0, 1]');
  }

  /** Record that the device programmed bytes [byteOffset, byteOffset + bytes) of the namespace. */
  program(byteOffset: number, bytes: number): void {
    const first = Math.floor(byteOffset / FTL_UNIT_BYTES);
    const last = Math.floor((byteOffset + bytes - 1) / FTL_UNIT_BYTES);
    // The drive's write buffer merges a unit filled piecewise (512 B LBAs destaged one by one)
    // into one program: a range that continues the previous one inside the same unit adds nothing.
    const continues = this.logLen > 0 && this.log[this.logLen - 1] === first % this.userUnits && byteOffset === this.lastEnd && byteOffset % FTL_UNIT_BYTES !== 0;
    this.lastEnd = byteOffset + bytes;
    for (let u = continues ? first + 1 : first; u <= last; u++) this.push(u % this.userUnits);
  }

  /** Record that the host deallocated (or zeroed without programming) whole units inside [byteOffset, +bytes). */
  unmap(byteOffset: number, bytes: number): void {
    const first = Math.ceil(byteOffset / FTL_UNIT_BYTES);
    const end = Math.floor((byteOffset + bytes) / FTL_UNIT_BYTES);
    this.lastEnd = -1;
    for (let u = first; u < end; u++) this.push(-1 - (u % this.userUnits));
  }

  private push(v: number): void {
    if (this.logLen === this.log.length) {
      const bigger = new Int32Array(this.log.length * 2);
      bigger.set(this.log);
      this.log = bigger;
    }
    this.log[this.logLen++] = v;
  }

  stats(): FtlStats {
    if (!this.ready) this.setUp();
    while (this.replayed < this.logLen) {
      const v = this.log[this.replayed++];
      if (v >= 0) {
        this.write(v);
        this.hostUnits++;
      } else this.trim(-1 - v);
    }
    return {
      hostUnits: this.hostUnits,
      gcUnits: this.gcUnits,
      erases: this.erases,
      gcWriteAmplification: this.hostUnits === 0 ? 1 : (this.hostUnits + this.gcUnits) / this.hostUnits,
      userUnits: this.userUnits,
      physicalPages: this.blocks * PAGES_PER_BLOCK,
      fill: this.fill,
      mappedUnits: this.mapped,
    };
  }

  private setUp(): void {
    this.ready = true;
    const U = this.userUnits;
    this.blocks = Math.max(Math.ceil((U * (1 + this.overProvisioning)) / PAGES_PER_BLOCK), Math.ceil(U / PAGES_PER_BLOCK) + 2);
    const pages = this.blocks * PAGES_PER_BLOCK;
    this.map = new Int32Array(U).fill(-1);
    this.owner = new Int32Array(pages).fill(-1);
    this.valid = new Int32Array(this.blocks);
    this.next = new Int32Array(this.blocks).fill(-1);
    this.prev = new Int32Array(this.blocks).fill(-1);
    this.head = new Int32Array(PAGES_PER_BLOCK + 1).fill(-1);
    this.inBucket = new Uint8Array(this.blocks);
    for (let b = 0; b < this.blocks; b++) this.free.push(b);
    // SNIA PTS workload-independent preconditioning: the filled range written sequentially, twice.
    const filled = Math.floor(U * this.fill);
    for (let pass = 0; pass < 2; pass++) for (let u = 0; u < filled; u++) this.write(u);
    this.gcUnits = 0;
    this.erases = 0;
  }

  private bucketAdd(b: number): void {
    const v = this.valid[b];
    this.prev[b] = -1;
    this.next[b] = this.head[v];
    if (this.head[v] >= 0) this.prev[this.head[v]] = b;
    this.head[v] = b;
    this.inBucket[b] = 1;
  }

  private bucketRemove(b: number): void {
    if (!this.inBucket[b]) return;
    const v = this.valid[b];
    if (this.prev[b] >= 0) this.next[this.prev[b]] = this.next[b];
    else this.head[v] = this.next[b];
    if (this.next[b] >= 0) this.prev[this.next[b]] = this.prev[b];
    this.inBucket[b] = 0;
  }

  private takeFree(): number {
    const b = this.free[this.freeHead++];
    if (this.freeHead > 1024 && this.freeHead * 2 > this.free.length) {
      this.free = this.free.slice(this.freeHead);
      this.freeHead = 0;
    }
    return b;
  }

  private closeOpen(): void {
    if (this.open >= 0) this.bucketAdd(this.open);
    this.open = -1;
  }

  /** Program `unit` into the next page of the open block, opening one (and collecting) as needed. */
  private append(unit: number): void {
    if (this.open < 0 || this.openFill === PAGES_PER_BLOCK) {
      this.closeOpen();
      if (this.free.length - this.freeHead === 0) this.collect();
      if (this.open < 0 || this.openFill === PAGES_PER_BLOCK) {
        this.closeOpen();
        this.open = this.takeFree();
        this.openFill = 0;
      }
    }
    this.place(unit);
  }

  private place(unit: number): void {
    const ppa = this.open * PAGES_PER_BLOCK + this.openFill++;
    this.owner[ppa] = unit;
    this.valid[this.open]++;
    this.map[unit] = ppa;
    this.mapped++;
  }

  private invalidate(unit: number): void {
    const old = this.map[unit];
    if (old < 0) return;
    const b = Math.floor(old / PAGES_PER_BLOCK);
    this.owner[old] = -1;
    const inB = this.inBucket[b] === 1;
    if (inB) this.bucketRemove(b);
    this.valid[b]--;
    if (inB) this.bucketAdd(b);
    this.map[unit] = -1;
    this.mapped--;
  }

  private write(unit: number): void {
    this.invalidate(unit);
    this.append(unit);
  }

  private trim(unit: number): void {
    this.invalidate(unit);
  }

  /** Greedy GC: reclaim the closed block with the fewest valid pages. */
  private collect(): void {
    let victim = -1;
    for (let v = 0; v <= PAGES_PER_BLOCK && victim < 0; v++) if (this.head[v] >= 0) victim = this.head[v];
    if (victim < 0) throw new Error('FTL: no block to collect (over-provisioning too small)');
    this.bucketRemove(victim);
    const moving: number[] = [];
    for (let s = 0; s < PAGES_PER_BLOCK; s++) {
      const u = this.owner[victim * PAGES_PER_BLOCK + s];
      if (u >= 0) moving.push(u);
      this.owner[victim * PAGES_PER_BLOCK + s] = -1;
    }
    this.mapped -= moving.length;
    this.valid[victim] = 0;
    this.erases++;
    this.free.push(victim);
    // Relocate into a fresh block (the victim, just erased, when nothing else is free).
    for (const u of moving) {
      if (this.open < 0 || this.openFill === PAGES_PER_BLOCK) {
        this.closeOpen();
        this.open = this.takeFree();
        this.openFill = 0;
      }
      this.place(u);
      this.gcUnits++;
    }
  }
}

/** Steady-state write amplification of greedy GC under uniform random writes (Desnoyers 2012; Lambert W, principal branch). */
export function lambertWWriteAmplification(overProvisioning: number): number {
  const a = 1 + overProvisioning;
  const x = -a * Math.exp(-a);
  // W0(x) by Halley iteration, from a start near the branch point.
  let w = -1 + Math.sqrt(2 * (1 + Math.E * x));
  for (let i = 0; i < 50; i++) {
    const e = Math.exp(w);
    const f = w * e - x;
    w -= f / (e * (w + 1) - ((w + 2) * f) / (2 * w + 2));
  }
  return a / (a + w);
}
