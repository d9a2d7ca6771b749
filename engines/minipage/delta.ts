/**
 * Delta judging: verify only what a crash state changed against what was
 * verified already (issue 10, point 6).
 *
 * The crash states of one cell share almost everything: most pages of a
 * recovered image are byte for byte pages another state of the cell already
 * had, and the oracle's expected content moves only by a few transactions
 * from one crash point to the next. So the verifier keeps, per oracle:
 *  - a page memo: page number + bytes -> checksum result, decoded page, the
 *    page's own key order, and its pairs as strings. A page is looked up by
 *    the identity of its stored block views (the device shares unchanged
 *    blocks between crash images, store.ts ST-2/ST-3), else by content;
 *    only a page with new bytes is checked and decoded. Recovery's loadPage
 *    uses it too (the engine gets a clone);
 *  - an expected-content cursor: the state after transactions 0..m, moved
 *    forward by the transactions in between (rebuilt when m goes back).
 *
 * Invariants:
 *  D1 a memo entry depends only on the page number and the page's bytes: it
 *     is reused only for the same stored views or equal bytes (Buffer.equals);
 *  D2 the verdict and detail of every state equal judging from scratch
 *     (verify.ts with TORNLAB_JUDGE=scratch); bench/campaign.ts and
 *     test/engine/delta.test.ts compare them state by state;
 *  D3 memo pages are never handed out to be mutated: loadPage gets a clone,
 *     the judge only reads them;
 *  D4 a non-ok outcome is always produced by the scratch code (diagnosis is
 *     not duplicated here): the delta path only decides faster that a state
 *     is ok, and hands anything else to the scratch functions.
 */
import type { NvmeDevice } from '../../src/device/device';
import { Page, PageCheck, PageType, checkPageImage, decodePage, clonePage } from './page';
import type { Oracle } from './driver';

/** TORNLAB_JUDGE=scratch judges every state from scratch (the reference the delta path is compared with). */
export function judgeFromScratch(): boolean {
  return process.env.TORNLAB_JUDGE === 'scratch';
}

export interface MemoEntry {
  /** Block views the bytes were last seen as (undefined = unwritten block). */
  views: (Uint8Array | undefined)[];
  image: Buffer;
  check: PageCheck;
  /** Decoded when check is 'ok'. Read-only (D3). */
  page?: Page;
  sortedKeys?: boolean;
  strs?: { k: string[]; v: string[] };
}

/** Distinct versions kept per page number (the newest first). */
const VERSIONS_PER_PAGE = 6;

export class PageMemo {
  private readonly byNo = new Map<number, MemoEntry[]>();

  /** @param versions distinct images kept per page number (the newest first). */
  constructor(private readonly versions = VERSIONS_PER_PAGE) {}
  /** Lookups answered by the stored views, by equal bytes, and by checking new bytes. */
  viewHits = 0;
  hits = 0;
  misses = 0;

  /**
   * The page `pageNo` as the device shows it now (peekBlock, no command), or
   * 'unreadable' when one of its blocks is.
   */
  atDevice(dev: NvmeDevice, pageNo: number, lba: number, pageBlocks: number): MemoEntry | 'unreadable' {
    const views: (Uint8Array | undefined)[] = new Array(pageBlocks);
    for (let i = 0; i < pageBlocks; i++) {
      const v = dev.peekBlock(lba + i);
      if (v === null) return 'unreadable';
      views[i] = v;
    }
    const list = this.byNo.get(pageNo);
    if (list) {
      for (const e of list) {
        if (sameViews(e.views, views)) {
          this.viewHits++;
          return e;
        }
      }
    }
    const bs = dev.blockSize;
    const image = Buffer.alloc(pageBlocks * bs);
    for (let i = 0; i < pageBlocks; i++) if (views[i]) image.set(views[i]!, i * bs);
    const e = this.byImage(pageNo, image);
    e.views = views;
    return e;
  }

  /** The entry for these bytes (`image` is handed over: never mutated afterwards). */
  byImage(pageNo: number, image: Buffer): MemoEntry {
    let list = this.byNo.get(pageNo);
    if (!list) this.byNo.set(pageNo, (list = []));
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e.image.equals(image)) {
        this.hits++;
        if (i > 0) list.unshift(...list.splice(i, 1));
        return e;
      }
    }
    this.misses++;
    const check = checkPageImage(image, pageNo);
    const e: MemoEntry = { views: [], image, check, page: check === 'ok' ? decodePage(image) : undefined };
    list.unshift(e);
    if (list.length > this.versions) list.pop();
    return e;
  }

  /**
   * The engine wrote `page` as `image` (encodePage's fresh buffer, never
   * mutated): a later load of these bytes gets the page without decoding.
   * The entry holds the page as decodePage would return it from the image
   * (asDecoded; D1), not the engine's object.
   */
  remember(pageNo: number, image: Buffer, page: Page): void {
    let list = this.byNo.get(pageNo);
    if (!list) this.byNo.set(pageNo, (list = []));
    // The same bytes keep their entry (the content tracker tells leaves apart by entry).
    for (let i = 0; i < list.length; i++) {
      if (!list[i].image.equals(image)) continue;
      if (i > 0) list.unshift(...list.splice(i, 1));
      return;
    }
    list.unshift({ views: [], image, check: 'ok', page: asDecoded(page) });
    if (list.length > this.versions) list.pop();
  }

  /** Every entry (tests). */
  *entries(): IterableIterator<MemoEntry> {
    for (const list of this.byNo.values()) yield* list;
  }

  /** Recovery's page load (`image` is handed over, as readRange's fresh buffer is): checked and decoded once per distinct image; the engine gets its own copy (D3). */
  load(pageNo: number, image: Buffer): { check: PageCheck; page?: Page } {
    const e = this.byImage(pageNo, image);
    return { check: e.check, page: e.page ? clonePage(e.page) : undefined };
  }
}

/** The fields decodePage(encodePage(p)) yields: what a page type encodes, the rest as newPage leaves it. */
export function asDecoded(p: Page): Page {
  const meta = p.type === PageType.Meta;
  const internal = p.type === PageType.Internal;
  return {
    pageNo: p.pageNo,
    type: p.type,
    level: p.level,
    lsn: p.lsn,
    right: p.right,
    keys: meta ? [] : p.keys.slice(),
    vals: p.type === PageType.Leaf ? p.vals.slice() : [],
    children: internal ? p.children.slice(0, p.keys.length + 1) : [],
    root: meta ? p.root : 0,
    pageCount: meta ? p.pageCount : 0,
    dirty: false,
    recLsn: 0,
  };
}

function sameViews(a: (Uint8Array | undefined)[], b: (Uint8Array | undefined)[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (!x || !y || x.buffer !== y.buffer || x.byteOffset !== y.byteOffset || x.byteLength !== y.byteLength) return false;
  }
  return true;
}

/** Are the entry's keys strictly ascending (a property of its bytes alone)? */
export function keysSorted(e: MemoEntry): boolean {
  if (e.sortedKeys === undefined) {
    const keys = e.page!.keys;
    let ok = true;
    for (let i = 1; i < keys.length && ok; i++) if (Buffer.compare(keys[i - 1], keys[i]) >= 0) ok = false;
    e.sortedKeys = ok;
  }
  return e.sortedKeys;
}

/** A leaf's pairs as latin1 strings (what the judge's state map holds). */
export function leafStrings(e: MemoEntry): { k: string[]; v: string[] } {
  if (!e.strs) {
    const p = e.page!;
    e.strs = { k: p.keys.map((b) => b.toString('latin1')), v: p.vals.map((b) => b.toString('latin1')) };
  }
  return e.strs;
}

/**
 * The expected content after transactions 0..m, moved from the last m asked
 * for: forward by applying transactions, back by their undo entries (the
 * states of a share do not come in crash-point order).
 */
export class ExpectedCursor {
  private m = -1;
  private readonly map = new Map<string, string>();
  /** undo[i]: the values txn i's writes replaced, in write order (undefined = absent). */
  private readonly undo: [string, string | undefined][][] = [];

  constructor(private readonly oracle: Oracle) {}

  /** The state after txns 0..m (live: the caller must not mutate it). */
  at(m: number, touched?: (k: string) => void): Map<string, string> {
    const txns = this.oracle.txns;
    while (this.m > m) {
      const u = this.undo[this.m--];
      for (let i = u.length - 1; i >= 0; i--) {
        const [k, v] = u[i];
        if (v === undefined) this.map.delete(k);
        else this.map.set(k, v);
        touched?.(k);
      }
    }
    while (this.m < m) {
      const i = ++this.m;
      const u: [string, string | undefined][] = [];
      for (const [k, v] of txns[i].writes) {
        u.push([k, this.map.get(k)]);
        if (v === null) this.map.delete(k);
        else this.map.set(k, v);
        touched?.(k);
      }
      this.undo[i] = u;
    }
    return this.map;
  }
}

/**
 * The recovered content (key -> value) of the latest state judged, kept as
 * a map updated by leaf: a state's leaves are mostly the previous state's
 * memo entries, so only leaves that left or arrived move keys. Beside it,
 * `diff`: the keys where that content and the cursor's expected map differ,
 * updated for each key either side changes (so a state costs what it
 * changed, not the size of the data set).
 */
export class ContentTracker {
  readonly state = new Map<string, string>();
  readonly diff = new Set<string>();
  private leaves = new Set<MemoEntry>();
  private base: Map<string, string>;
  private readonly touch = (k: string) => {
    if (this.state.get(k) === this.base.get(k)) this.diff.delete(k);
    else this.diff.add(k);
  };

  constructor(readonly cursor: ExpectedCursor) {
    this.base = cursor.at(-1);
  }

  /** Make `state` the union of these leaves' pairs (keys unique across them: a checked tree). */
  setLeaves(entries: MemoEntry[]): void {
    const next = new Set(entries);
    for (const e of this.leaves) {
      if (next.has(e)) continue;
      for (const k of leafStrings(e).k) {
        this.state.delete(k);
        this.touch(k);
      }
    }
    for (const e of next) {
      if (this.leaves.has(e)) continue;
      const { k, v } = leafStrings(e);
      for (let i = 0; i < k.length; i++) {
        this.state.set(k[i], v[i]);
        this.touch(k[i]);
      }
    }
    this.leaves = next;
  }

  /** Expected = after txns 0..m; returns it (live, read-only). */
  expectAt(m: number): Map<string, string> {
    this.base = this.cursor.at(m, this.touch);
    return this.base;
  }
}

/** Per-oracle delta state (the memo lives as long as the cell's run). */
export interface DeltaState {
  memo: PageMemo;
  content: ContentTracker;
  /** Workload invariant of the state after txns 0..m (an ok state is exactly that state). */
  invariantAt: Map<number, string | null>;
}

const states = new WeakMap<Oracle, DeltaState>();

export function deltaStateOf(oracle: Oracle): DeltaState {
  let s = states.get(oracle);
  if (!s) states.set(oracle, (s = { memo: new PageMemo(), content: new ContentTracker(new ExpectedCursor(oracle)), invariantAt: new Map() }));
  return s;
}

/**
 * Is the recovered content (the tracker's state) the state after some prefix
 * that includes every transaction acknowledged by crashSeq? The same search
 * as verify.ts judgeContent: its starting mismatch set is the tracker's diff
 * at lastAcked; then an overlay of the few keys the candidate prefixes write.
 * Returns the ok detail and prefix, or undefined when no prefix matches (the
 * caller then runs judgeContent: D4).
 */
export function deltaContentOk(oracle: Oracle, crashSeq: number, content: ContentTracker): { prefix: number; detail: string } | undefined {
  const txns = oracle.txns;
  let lastAcked = -1;
  let maxCand = -1;
  for (const t of txns) {
    if (t.ackSeq >= 0 && t.ackSeq <= crashSeq) lastAcked = Math.max(lastAcked, t.index);
    if (t.commitSeq <= crashSeq) maxCand = Math.max(maxCand, t.index);
  }
  maxCand = Math.max(maxCand, lastAcked);
  const base = content.expectAt(lastAcked);
  if (content.diff.size === 0) return { prefix: lastAcked, detail: `state = after txn ${lastAcked} (acknowledged through ${lastAcked})` };
  const state = content.state;
  const mismatched = new Set(content.diff);
  const overlay = new Map<string, string | null>();
  const expectedGet = (k: string): string | undefined => {
    if (overlay.has(k)) return overlay.get(k) ?? undefined;
    return base.get(k);
  };
  for (let m = lastAcked + 1; m <= maxCand; m++) {
    for (const [k, v] of txns[m].writes) overlay.set(k, v);
    for (const [k] of txns[m].writes) {
      if (state.get(k) === expectedGet(k)) mismatched.delete(k);
      else mismatched.add(k);
    }
    if (mismatched.size === 0) return { prefix: m, detail: `state = after txn ${m} (acknowledged through ${lastAcked})` };
  }
  return undefined;
}
