/**
 * Sparse block storage with copy-on-write snapshots.
 *
 * Invariants:
 * - ST-1 Only written blocks cost memory: an unwritten block reads as zeros and has
 *   no entry. A 1 TiB namespace with 64 MiB written holds 64 MiB of blocks.
 * - ST-2 Stored block buffers are never mutated after they are stored (the device
 *   copies data in on write and out on read), so snapshots can share them.
 * - ST-3 Blocks live in chunks of CHUNK_BLOCKS slots. A snapshot shares every chunk
 *   with its origin; whichever side writes a shared chunk first clones that one
 *   chunk (copy-on-write). So a snapshot costs O(chunks), and a crash image built
 *   on a snapshot costs O(blocks that differ from it).
 */
export const CHUNK_BLOCKS = 256;

type Chunk = (Uint8Array | undefined)[];

export class BlockStore {
  private chunks: Map<number, Chunk>;
  /** Chunks this store may mutate in place (not shared with any snapshot). */
  private owned: WeakSet<Chunk>;
  private count: number;

  constructor(readonly blockSize: number, from?: BlockStore) {
    if (from) {
      this.chunks = new Map(from.chunks);
      this.count = from.count;
      // Both sides now share every chunk: neither may mutate in place.
      from.owned = new WeakSet();
    } else {
      this.chunks = new Map();
      this.count = 0;
    }
    this.owned = new WeakSet();
  }

  /** A copy-on-write snapshot: O(chunks), blocks shared. */
  snapshot(): BlockStore {
    return new BlockStore(this.blockSize, this);
  }

  /** The stored buffer for `lba` (shared, do not mutate), or undefined if never written. */
  get(lba: number): Uint8Array | undefined {
    const c = this.chunks.get(Math.floor(lba / CHUNK_BLOCKS));
    return c ? c[lba % CHUNK_BLOCKS] : undefined;
  }

  has(lba: number): boolean {
    return this.get(lba) !== undefined;
  }

  /** Store `data` (exactly one block; the caller hands over ownership: it must not mutate it afterwards). */
  set(lba: number, data: Uint8Array): void {
    if (data.length !== this.blockSize) throw new RangeError(`ST-2: a stored block is ${this.blockSize} bytes, got ${data.length}`);
    const key = Math.floor(lba / CHUNK_BLOCKS);
    let c = this.chunks.get(key);
    if (!c) {
      c = new Array(CHUNK_BLOCKS);
      this.chunks.set(key, c);
      this.owned.add(c);
    } else if (!this.owned.has(c)) {
      c = c.slice();
      this.chunks.set(key, c);
      this.owned.add(c);
    }
    const slot = lba % CHUNK_BLOCKS;
    if (c[slot] === undefined) this.count++;
    c[slot] = data;
  }

  /** Number of blocks that hold data. */
  get size(): number {
    return this.count;
  }

  /** Every written LBA in ascending order. */
  lbas(): number[] {
    const out: number[] = [];
    const keys = [...this.chunks.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      const c = this.chunks.get(k)!;
      for (let i = 0; i < CHUNK_BLOCKS; i++) if (c[i] !== undefined) out.push(k * CHUNK_BLOCKS + i);
    }
    return out;
  }

  /** Copy `nlb` blocks starting at `lba` into `out` at `offset` (zeros where unwritten). */
  readInto(lba: number, nlb: number, out: Uint8Array, offset: number): void {
    const bs = this.blockSize;
    for (let i = 0; i < nlb; i++) {
      const b = this.get(lba + i);
      if (b) out.set(b, offset + i * bs);
      else out.fill(0, offset + i * bs, offset + (i + 1) * bs);
    }
  }
}
