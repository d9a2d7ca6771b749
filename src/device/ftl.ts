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
 * - Writes append to the open block; the previous copy of the unit becomes
 *   invalid.
 * - The drive is taken as full with the workload's footprint: its user
 *   capacity is the set of units ever written, and its physical capacity that
 *   times (1 + over-provisioning). This gives the steady-state amplification
 *   of this access pattern on a full drive, the case device life is rated for.
 * - When no free block is left, greedy GC picks the block with the fewest
 *   valid pages, copies them to the open block (NAND programs the host never
 *   asked for) and erases it.
 *
 * Keeping the device's hot path cheap: the device only appends destaged unit
 * numbers to a log; the FTL replays the log when its figures are asked for.
 */
export const FTL_UNIT_BYTES = 4096;
export const PAGES_PER_BLOCK = 64;

export interface FtlStats {
  /** Units programmed because the device destaged host data. */
  hostUnits: number;
  /** Units relocated by garbage collection. */
  gcUnits: number;
  erases: number;
  /** (host + gc) units / host units. */
  gcWriteAmplification: number;
  /** Distinct units ever written (the drive's modelled user capacity). */
  footprintUnits: number;
}

export class FtlModel {
  private log: Int32Array = new Int32Array(1024);
  private logLen = 0;
  private replayed = 0;
  private lastEnd = -1;
  // Replay state.
  private readonly map = new Map<number, number>(); // unit -> physical page (block * PAGES_PER_BLOCK + slot)
  private owner: Int32Array = new Int32Array(0); // physical page -> unit, or -1
  private valid: Int32Array = new Int32Array(0); // block -> valid pages
  private free: number[] = [];
  private blocks = 0;
  private open = -1;
  private openFill = 0;
  private hostUnits = 0;
  private gcUnits = 0;
  private erases = 0;

  constructor(readonly overProvisioning: number) {}

  /** Record that the device programmed bytes [byteOffset, byteOffset + bytes) of the namespace. */
  program(byteOffset: number, bytes: number): void {
    const first = Math.floor(byteOffset / FTL_UNIT_BYTES);
    const last = Math.floor((byteOffset + bytes - 1) / FTL_UNIT_BYTES);
    // The drive's write buffer merges a unit filled piecewise (512 B LBAs destaged one by one)
    // into one program: a range that continues the previous one inside the same unit adds nothing.
    const continues = this.logLen > 0 && this.log[this.logLen - 1] === first && byteOffset === this.lastEnd && byteOffset % FTL_UNIT_BYTES !== 0;
    this.lastEnd = byteOffset + bytes;
    for (let u = continues ? first + 1 : first; u <= last; u++) {
      if (this.logLen === this.log.length) {
        const bigger = new Int32Array(this.log.length * 2);
        bigger.set(this.log);
        this.log = bigger;
      }
      this.log[this.logLen++] = u;
    }
  }

  stats(): FtlStats {
    while (this.replayed < this.logLen) this.write(this.log[this.replayed++]);
    return {
      hostUnits: this.hostUnits,
      gcUnits: this.gcUnits,
      erases: this.erases,
      gcWriteAmplification: this.hostUnits === 0 ? 1 : (this.hostUnits + this.gcUnits) / this.hostUnits,
      footprintUnits: this.map.size,
    };
  }

  private grow(footprint: number): void {
    // Physical capacity follows the footprint: ceil(units x (1 + OP)) pages, plus the open block and one spare.
    const want = Math.ceil((footprint * (1 + this.overProvisioning)) / PAGES_PER_BLOCK) + 2;
    if (want <= this.blocks) return;
    const owner = new Int32Array(want * PAGES_PER_BLOCK).fill(-1);
    owner.set(this.owner);
    const valid = new Int32Array(want);
    valid.set(this.valid);
    for (let b = this.blocks; b < want; b++) this.free.push(b);
    this.owner = owner;
    this.valid = valid;
    this.blocks = want;
  }

  private append(unit: number): void {
    if (this.open < 0 || this.openFill === PAGES_PER_BLOCK) {
      // GC may leave room in the open block (it relocates into the block it freed).
      if (this.free.length === 0) this.collect();
      if (this.open < 0 || this.openFill === PAGES_PER_BLOCK) {
        this.open = this.free.shift()!;
        this.openFill = 0;
      }
    }
    this.place(unit);
  }

  /** Program `unit` into the next page of the open block (which has room). */
  private place(unit: number): void {
    const ppa = this.open * PAGES_PER_BLOCK + this.openFill++;
    this.owner[ppa] = unit;
    this.valid[this.open]++;
    this.map.set(unit, ppa);
  }

  private invalidate(unit: number): void {
    const old = this.map.get(unit);
    if (old === undefined) return;
    this.owner[old] = -1;
    this.valid[Math.floor(old / PAGES_PER_BLOCK)]--;
  }

  private write(unit: number): void {
    if (!this.map.has(unit)) this.grow(this.map.size + 1);
    this.invalidate(unit);
    this.map.delete(unit);
    this.append(unit);
    this.hostUnits++;
  }

  /** Greedy GC: reclaim the closed block with the fewest valid pages. */
  private collect(): void {
    let victim = -1;
    for (let b = 0; b < this.blocks; b++) {
      if (b === this.open) continue;
      if (victim < 0 || this.valid[b] < this.valid[victim]) victim = b;
    }
    const moving: number[] = [];
    for (let s = 0; s < PAGES_PER_BLOCK; s++) {
      const u = this.owner[victim * PAGES_PER_BLOCK + s];
      if (u >= 0) moving.push(u);
      this.owner[victim * PAGES_PER_BLOCK + s] = -1;
    }
    this.valid[victim] = 0;
    this.erases++;
    this.free.push(victim);
    // Relocate into the open block (and, when it fills, into the freed victim).
    for (const u of moving) {
      this.map.delete(u);
      if (this.openFill === PAGES_PER_BLOCK) {
        this.open = this.free.shift()!;
        this.openFill = 0;
      }
      this.place(u);
      this.gcUnits++;
    }
  }
}
