/**
 * A buffer pool with a fixed number of frames and LRU eviction.
 *
 * Pages in use by one tree operation are pinned until it ends (`unpinAll`),
 * so the operation's page objects stay the only copies. Pages changed by the
 * transaction being applied stay in memory until its Commit record is logged
 * (`protect` / `releaseAll`), so a page never goes to the device carrying
 * changes of a transaction that may not commit (no steal: redo never undoes).
 * Evicting a dirty page writes it back through the engine, which first makes
 * the WAL durable up to the page's LSN (the write-ahead rule).
 */
import { Page } from './page';

export class BufferPool {
  /** Insertion order = LRU order (a hit moves the page to the end). */
  private readonly frames = new Map<number, Page>();
  private readonly pinned = new Set<number>();
  /** Pages changed by the transaction being applied: never written before its Commit record is logged (no steal). */
  private readonly noSteal = new Set<number>();
  evictions = 0;

  constructor(
    readonly capacity: number,
    private readonly load: (pageNo: number) => Page,
    private readonly writeBack: (pages: Page[]) => void,
  ) {}

  /** The page, loaded if needed; pinned until unpinAll. */
  get(pageNo: number): Page {
    let p = this.frames.get(pageNo);
    if (p) {
      this.frames.delete(pageNo);
    } else {
      this.makeRoom();
      p = this.load(pageNo);
    }
    this.frames.set(pageNo, p);
    this.pinned.add(pageNo);
    return p;
  }

  /** The page if it is in a frame (no load, no LRU touch). */
  peek(pageNo: number): Page | undefined {
    return this.frames.get(pageNo);
  }

  /** Put a page object that was built, not read (a new page, a redo image); pinned. */
  install(p: Page): Page {
    if (!this.frames.has(p.pageNo)) this.makeRoom();
    this.frames.delete(p.pageNo);
    this.frames.set(p.pageNo, p);
    this.pinned.add(p.pageNo);
    return p;
  }

  /** End of one tree operation: its pages may be evicted again (unless protected by noSteal). */
  unpinAll(): void {
    this.pinned.clear();
  }

  protect(pageNo: number): void {
    this.noSteal.add(pageNo);
  }

  /** End of the transaction's apply: its Commit record is logged, its pages may be stolen. */
  releaseAll(): void {
    this.pinned.clear();
    this.noSteal.clear();
  }

  get size(): number {
    return this.frames.size;
  }

  dirtyPages(): Page[] {
    const out: Page[] = [];
    for (const p of this.frames.values()) if (p.dirty) out.push(p);
    return out.sort((a, b) => a.pageNo - b.pageNo);
  }

  private makeRoom(): void {
    while (this.frames.size >= this.capacity) {
      let victim: Page | undefined;
      for (const p of this.frames.values()) {
        if (!this.pinned.has(p.pageNo) && !this.noSteal.has(p.pageNo)) {
          victim = p;
          break;
        }
      }
      if (!victim) {
        throw new Error(`buffer pool of ${this.capacity} frames exhausted: one transaction touches more pages than fit; configure more frames`);
      }
      if (victim.dirty) this.writeBack([victim]);
      this.frames.delete(victim.pageNo);
      this.evictions++;
    }
  }
}
