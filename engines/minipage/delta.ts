/**
 * Delta judging: verify only what a crash state changed against what was
 * verified already (issue 10, point 6).
 *
 * The crash states of one cell share almost everything: most pages of a
 * recovered image are byte for byte pages another state already had, and the
 * expected content moves only by a few transactions from one crash point to
 * the next. So the verifier keeps, per oracle (one cell's run):
 *  - a page memo (page-memo.ts): each distinct page image is checked and
 *    decoded once, for recovery's page loads, full page images in the WAL,
 *    and the judge; the WAL records recovery decoded, by LSN and bytes;
 *  - an expected-content cursor: the state after transactions 0..m, moved
 *    forward by the transactions in between and back by their undo entries;
 *  - a content tracker: the recovered content, updated by the leaves that
 *    changed, and the keys where it differs from the expected state, updated
 *    by the keys either side changed;
 *  - the workload invariant per prefix (an ok content is exactly that state).
 *
 * Invariants:
 *  D1 the verdict and detail of every state equal judging from scratch
 *     (TORNLAB_JUDGE=scratch); bench/campaign.ts --compare-only and
 *     test/engine/delta.test.ts compare them state by state;
 *  D2 the delta path only decides faster that a content is ok: the checks,
 *     their order and every finding's message are verify.ts judgeMedia's,
 *     and a content that is not ok is judged by judgeContent from scratch;
 *  D3 the tracker's state is the union of the current leaves' pairs (keys are
 *     unique across the leaves of a checked tree), and `diff` holds exactly
 *     the keys where it and the cursor's map differ.
 */
import type { Oracle } from './driver';
import { MemoEntry, PageMemo, leafStrings } from './page-memo';


/** TORNLAB_JUDGE=scratch judges every state from scratch (the reference the delta path is compared with). */
export function judgeFromScratch(): boolean {
  return process.env.TORNLAB_JUDGE === 'scratch';
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
