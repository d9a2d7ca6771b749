/**
 * The verifier (oracle): recover a crash state and judge it.
 *
 * Order of judgement (ARCHITECTURE 4), first failure wins:
 *  1. recovery-failed       recovery refused to start or threw (other than a torn page);
 *  2. torn-page-detected    recovery met a page failing its checksum (blocks of different
 *                           versions), or one does afterwards; a page that verifies but
 *                           lacks updates the log needs, or reads all zeros, is a loss
 *                           instead: lost-commit (something was acknowledged) or
 *                           silent-corruption, naming the page and the missing LSN range;
 *  3. silent-corruption     checksums pass but the B+tree is broken (order, ranges,
 *                           levels, sibling links, reachability) or holds a value
 *                           nobody wrote;
 *  4. lost-commit           an acknowledged transaction's write is missing;
 *  5. atomicity-violation   part of a transaction is visible;
 *  6. ok                    the content equals the state after some prefix of the
 *                           transactions that includes every acknowledged one,
 *                           and the workload invariant holds.
 * The checks read the device after recovery (what recovery left on media), not
 * the engine's buffer pool.
 */
import { NvmeDevice } from '../../src/device/device';
import { ChoiceSpace, buildCrashImage, choiceSpace, powerOn, sampleChoice } from '../../src/device/power-loss';
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';
import { CapturedPoint, Oracle } from './driver';
import { MiniPageEngine, RecoveryInfo } from './engine';
import { LostPageError, RecoveryError, TornPageError } from './errors';
import { META_PAGE_NO, Page, PageCheck, PageType, checkPageImage, decodePage } from './page';
import type { Layout } from './layout';
import { pageLba, readRange } from './protections';
import { createWorkload } from './workloads';
import { CrashPoint } from '../../src/device/device';
import { VERDICTS, Verdict } from '../../src/crash/verdict';
import { DeltaState, deltaContentOk, deltaStateOf, judgeFromScratch } from './delta';
import { MemoEntry, PageMemo, keysSorted, leafStrings } from './page-memo';

export { VERDICTS };
export type { Verdict };

export interface VerifyResult {
  verdict: Verdict;
  /** One line saying what was found (page, key, transaction). */
  detail: string;
  page?: number;
  key?: string;
  txn?: number;
  /** Index of the last transaction the recovered state contains (ok verdicts). */
  prefix?: number;
  recovery?: RecoveryInfo;
}

/**
 * Recover `dev` (a powered-on device built from a crash image) and judge it
 * against the oracle for a crash at command-stream position `crashSeq`.
 * Runs recovery on `dev` (it writes to it); does not modify the oracle.
 */
export function verifyCrashState(dev: NvmeDevice, oracle: Oracle, crashSeq: number): VerifyResult {
  const delta = judgeFromScratch() ? undefined : deltaStateOf(oracle);
  let eng: MiniPageEngine;
  try {
    eng = MiniPageEngine.open(dev, { ...oracle.engine, ...(delta ? { pageMemo: delta.memo } : {}) });
  } catch (e) {
    if (e instanceof TornPageError) return { verdict: 'torn-page-detected', detail: `recovery: ${e.message}`, page: e.pageNo };
    if (e instanceof LostPageError) return { verdict: lossVerdict(oracle, crashSeq), detail: `recovery: ${e.message}`, page: e.pageNo };
    const kind = e instanceof RecoveryError ? 'recovery refused' : e instanceof BadInputError ? 'recovery refused to start' : 'recovery crashed';
    return { verdict: 'recovery-failed', detail: `${kind}: ${(e as Error).message}` };
  }
  const recovery = eng.recovery;
  const r = judgeMedia(dev, eng, oracle, crashSeq, delta && dev.inflightCount === 0 ? delta : undefined);
  r.recovery = recovery;
  return r;
}

/** A page of the recovered media: its check, the decoded page when ok, and its memo entry (delta). */
type PageAt = { check: PageCheck | 'unreadable'; page?: Page; entry?: MemoEntry };

/** Pages from scratch: one read of the meta page, one of all the others; each checked and decoded. */
function scratchPages(dev: NvmeDevice, layout: Layout) {
  const at = (img: Buffer | null, no: number): PageAt => {
    const check = img ? checkPageImage(img, no) : 'unreadable';
    return { check, page: check === 'ok' ? decodePage(img!) : undefined };
  };
  return {
    meta: () => at(readRange(dev, pageLba(layout, META_PAGE_NO), 1, layout.pageBlocks)[0], META_PAGE_NO),
    rest: (pageCount: number) => readRange(dev, pageLba(layout, 1), pageCount - 1, layout.pageBlocks).map((img, i) => at(img, i + 1)),
  };
}

/** Pages through the memo (delta.ts): the device's blocks as they are (peekBlock), checked and decoded once per distinct image. */
function memoPages(dev: NvmeDevice, layout: Layout, memo: PageMemo) {
  const at = (no: number): PageAt => {
    const e = memo.atDevice(dev, no, pageLba(layout, no), layout.pageBlocks);
    return e === 'unreadable' ? { check: 'unreadable' } : { check: e.check, page: e.page, entry: e };
  };
  return {
    meta: () => at(META_PAGE_NO),
    rest: (pageCount: number) => Array.from({ length: pageCount - 1 }, (_, i) => at(i + 1)),
  };
}

/**
 * Judge what recovery left on media. With `delta` (delta.ts) the pages come
 * through the memo, a page's key order is known from its bytes, and an ok
 * content is decided by the content tracker; the checks, their order and
 * every message are this one function's either way. A content that is not
 * ok is judged by judgeContent on the state in leaf order, as from scratch.
 */
function judgeMedia(dev: NvmeDevice, eng: MiniPageEngine, oracle: Oracle, crashSeq: number, delta?: DeltaState): VerifyResult {
  const layout = eng.layout;
  const src = delta ? memoPages(dev, layout, delta.memo) : scratchPages(dev, layout);
  // 1. Every allocated page's checksum, on the media.
  const m = src.meta();
  if (m.check !== 'ok') return { verdict: 'torn-page-detected', detail: `meta page 0 after recovery: ${m.check}`, page: 0 };
  const meta = m.page!;
  if (meta.type !== PageType.Meta || meta.pageCount < 2 || meta.pageCount > layout.maxPages || meta.root < 1 || meta.root >= meta.pageCount) {
    return { verdict: 'silent-corruption', detail: `meta page says root ${meta.root}, ${meta.pageCount} pages (max ${layout.maxPages})`, page: 0 };
  }
  const rest = src.rest(meta.pageCount);
  const all: PageAt[] = [m];
  const pages: Page[] = [meta];
  for (let no = 1; no < meta.pageCount; no++) {
    const r = rest[no - 1];
    if (r.check === 'zero') return { verdict: lossVerdict(oracle, crashSeq), detail: `page ${no} after recovery reads all zeros: its write never landed (allocated, ${meta.pageCount} pages)`, page: no };
    if (r.check !== 'ok') return { verdict: 'torn-page-detected', detail: `page ${no} after recovery: ${r.check}`, page: no };
    all.push(r);
    pages.push(r.page!);
  }
  // 2. B+tree invariants.
  const tree = checkTreeShape(pages, meta.root, delta ? (no) => keysSorted(all[no].entry!) : undefined);
  if ('error' in tree) return { verdict: 'silent-corruption', detail: `B+tree: ${tree.error}`, page: tree.page };
  // 3. Content against the oracle (delta: an ok content at the cost of what changed).
  if (delta) {
    delta.content.setLeaves(tree.leaves.map((no) => all[no].entry!));
    const ok = deltaContentOk(oracle, crashSeq, delta.content);
    if (ok) {
      // The content is exactly the state after txns 0..prefix: its invariant holds or not as that state's does.
      let inv = delta.invariantAt.get(ok.prefix);
      if (inv === undefined) delta.invariantAt.set(ok.prefix, (inv = invariantOf(oracle)(delta.content.state)));
      if (!inv) return { verdict: 'ok', detail: ok.detail, prefix: ok.prefix };
    }
  }
  const state = new Map<string, string>();
  for (const no of tree.leaves) {
    if (delta) {
      const { k, v } = leafStrings(all[no].entry!);
      for (let i = 0; i < k.length; i++) state.set(k[i], v[i]);
    } else {
      const p = pages[no];
      for (let i = 0; i < p.keys.length; i++) state.set(p.keys[i].toString('latin1'), p.vals[i].toString('latin1'));
    }
  }
  const content = judgeContent(state, oracle, crashSeq);
  if (content.verdict !== 'ok') return content;
  // 4. Workload invariant (implied by an exact prefix match; checked on its own as a second opinion).
  const inv = invariantOf(oracle)(state);
  if (inv) return { verdict: 'silent-corruption', detail: `workload invariant: ${inv}` };
  return content;
}

/** One workload (its invariant) per oracle: building a generator costs more than judging a small state. */
const invariants = new WeakMap<Oracle, (s: Map<string, string>) => string | null>();
function invariantOf(oracle: Oracle): (s: Map<string, string>) => string | null {
  let f = invariants.get(oracle);
  if (!f) {
    const wl = createWorkload(oracle.workload);
    f = (s) => wl.checkInvariant(s);
    invariants.set(oracle, f);
  }
  return f;
}

/** A lost page is a lost commit once anything was acknowledged (the page may hold it), else silent corruption. */
function lossVerdict(oracle: Oracle, crashSeq: number): 'lost-commit' | 'silent-corruption' {
  return oracle.txns.some((t) => t.ackSeq >= 0 && t.ackSeq <= crashSeq && t.writes.length > 0) ? 'lost-commit' : 'silent-corruption';
}

type TreeCheck = { pairs: [Buffer, Buffer][] } | { error: string; page?: number };

/** Check the B+tree invariants over decoded pages (index = page number). */
export function checkTree(pages: Page[], root: number): TreeCheck {
  const shape = checkTreeShape(pages, root);
  if ('error' in shape) return shape;
  const pairs: [Buffer, Buffer][] = [];
  for (const no of shape.leaves) {
    const p = pages[no];
    for (let i = 0; i < p.keys.length; i++) pairs.push([p.keys[i], p.vals[i]]);
  }
  return { pairs };
}

/**
 * The B+tree invariants; on success the leaves in key order. `sorted(no)`
 * true says page no's keys are strictly ascending (known from its bytes):
 * then only its first and last key are checked against the parent's range,
 * which decides the same as the slot-by-slot check (any failure is reported
 * by the slot-by-slot check, with its exact message).
 */
function checkTreeShape(pages: Page[], root: number, sorted?: (no: number) => boolean): { leaves: number[] } | { error: string; page?: number } {
  const visited = new Set<number>();
  const levels = new Map<number, number[]>();
  const rootPage = pages[root];
  const fail = (page: number, error: string) => ({ error: `page ${page}: ${error}`, page });
  type Frame = { no: number; lo?: Buffer; hi?: Buffer; level: number };
  // Depth-first, children in key order, so each level's list is in key order.
  const stack: Frame[] = [{ no: root, level: rootPage.level }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (f.no < 1 || f.no >= pages.length) return fail(f.no, `child pointer out of range (pages 1..${pages.length - 1})`);
    if (visited.has(f.no)) return fail(f.no, 'reachable twice (cycle or shared child)');
    visited.add(f.no);
    const p = pages[f.no];
    const want = f.level === 0 ? PageType.Leaf : PageType.Internal;
    if (p.type !== want || p.level !== f.level) return fail(f.no, `type ${p.type} level ${p.level}, expected type ${want} level ${f.level}`);
    const n = p.keys.length;
    const inRange = n === 0 || ((!f.lo || Buffer.compare(p.keys[0], f.lo) >= 0) && (!f.hi || Buffer.compare(p.keys[n - 1], f.hi) < 0));
    for (let i = sorted && inRange && sorted(f.no) ? n : 0; i < n; i++) {
      if (i > 0 && Buffer.compare(p.keys[i - 1], p.keys[i]) >= 0) return fail(f.no, `keys out of order at slot ${i}`);
      if ((f.lo && Buffer.compare(p.keys[i], f.lo) < 0) || (f.hi && Buffer.compare(p.keys[i], f.hi) >= 0)) {
        return fail(f.no, `key "${p.keys[i].toString('latin1')}" outside the range its parent gives`);
      }
    }
    let list = levels.get(f.level);
    if (!list) levels.set(f.level, (list = []));
    list.push(f.no);
    if (p.type === PageType.Internal) {
      if (p.children.length !== p.keys.length + 1) return fail(f.no, `${p.children.length} children for ${p.keys.length} keys`);
      for (let i = p.children.length - 1; i >= 0; i--) {
        stack.push({ no: p.children[i], lo: i === 0 ? f.lo : p.keys[i - 1], hi: i === p.keys.length ? f.hi : p.keys[i], level: f.level - 1 });
      }
    }
  }
  for (const [level, list] of levels) {
    for (let i = 0; i < list.length; i++) {
      const want = i + 1 < list.length ? list[i + 1] : 0;
      if (pages[list[i]].right !== want) return fail(list[i], `right sibling ${pages[list[i]].right} on level ${level}, expected ${want}`);
    }
  }
  if (visited.size !== pages.length - 1) {
    for (let no = 1; no < pages.length; no++) if (!visited.has(no)) return fail(no, 'allocated but not reachable from the root');
  }
  return { leaves: levels.get(0) ?? [] };
}

/**
 * Find a prefix of the transactions whose state equals the recovered one and
 * includes every transaction acknowledged by crashSeq; else say what is wrong.
 */
export function judgeContent(state: Map<string, string>, oracle: Oracle, crashSeq: number): VerifyResult {
  const txns = oracle.txns;
  let lastAcked = -1;
  let maxCand = -1;
  for (const t of txns) {
    if (t.ackSeq >= 0 && t.ackSeq <= crashSeq) lastAcked = Math.max(lastAcked, t.index);
    if (t.commitSeq <= crashSeq) maxCand = Math.max(maxCand, t.index);
  }
  maxCand = Math.max(maxCand, lastAcked);
  const expected = new Map<string, string>();
  const apply = (m: number) => {
    for (const [k, v] of txns[m].writes) {
      if (v === null) expected.delete(k);
      else expected.set(k, v);
    }
  };
  for (let m = 0; m <= lastAcked; m++) apply(m);
  const mismatched = new Set<string>();
  for (const [k, v] of expected) if (state.get(k) !== v) mismatched.add(k);
  for (const k of state.keys()) if (!expected.has(k)) mismatched.add(k);
  let best = lastAcked;
  let bestCount = mismatched.size;
  if (mismatched.size === 0) return { verdict: 'ok', detail: `state = after txn ${lastAcked} (acknowledged through ${lastAcked})`, prefix: lastAcked };
  for (let m = lastAcked + 1; m <= maxCand; m++) {
    apply(m);
    for (const [k] of txns[m].writes) {
      if (state.get(k) === expected.get(k)) mismatched.delete(k);
      else mismatched.add(k);
    }
    if (mismatched.size === 0) return { verdict: 'ok', detail: `state = after txn ${m} (acknowledged through ${lastAcked})`, prefix: m };
    if (mismatched.size < bestCount) {
      best = m;
      bestCount = mismatched.size;
    }
  }
  return diagnose(state, oracle, best, lastAcked, maxCand);
}

/** History of every key, [txn index, value | null] in txn order, per oracle (built once: every failing state of a cell needs it). */
const KEY_HISTORY = new WeakMap<Oracle['txns'], { n: number; history: Map<string, [number, string | null][]> }>();

function keyHistory(txns: Oracle['txns']): Map<string, [number, string | null][]> {
  const known = KEY_HISTORY.get(txns);
  if (known && known.n === txns.length) return known.history;
  const history = new Map<string, [number, string | null][]>();
  for (const t of txns) {
    for (const [k, v] of t.writes) {
      let h = history.get(k);
      if (!h) history.set(k, (h = []));
      h.push([t.index, v]);
    }
  }
  KEY_HISTORY.set(txns, { n: txns.length, history });
  return history;
}

function diagnose(state: Map<string, string>, oracle: Oracle, m: number, lastAcked: number, maxCand: number): VerifyResult {
  const txns = oracle.txns;
  const history = keyHistory(txns);
  const expected = new Map<string, string>();
  for (let i = 0; i <= m; i++) for (const [k, v] of txns[i].writes) v === null ? expected.delete(k) : expected.set(k, v);
  const keys = new Set<string>([...expected.keys(), ...state.keys()]);
  let lost: VerifyResult | undefined;
  let partial: VerifyResult | undefined;
  let corrupt: VerifyResult | undefined;
  for (const k of keys) {
    const got = state.get(k);
    if (got === expected.get(k)) continue;
    const h = history.get(k) ?? [];
    let writer = -1;
    for (const [i] of h) if (i <= m) writer = i;
    // The latest write whose value is what the key holds (absent = deleted, or never written).
    let source: number | undefined = got === undefined ? -1 : undefined;
    for (const [i, v] of h) if ((v ?? undefined) === got) source = i;
    const show = (v: string | undefined) => (v === undefined ? 'absent' : `"${v.slice(0, 24)}${v.length > 24 ? '...' : ''}"`);
    if (source === undefined) {
      corrupt ??= { verdict: 'silent-corruption', detail: `key ${k} holds ${show(got)}, a value no transaction wrote`, key: k };
    } else if (source > m) {
      partial ??= { verdict: 'atomicity-violation', detail: `key ${k} shows txn ${source}'s write while the rest of the state is before it (state ~ txn ${m})`, key: k, txn: source };
    } else if (writer > lastAcked) {
      partial ??= { verdict: 'atomicity-violation', detail: `txn ${writer} is partly visible: key ${k} is ${show(got)} instead of its write`, key: k, txn: writer };
    } else {
      lost ??= { verdict: 'lost-commit', detail: `acknowledged txn ${writer} lost: key ${k} is ${show(got)} instead of ${show(expected.get(k))}`, key: k, txn: writer };
    }
  }
  const r = lost ?? partial ?? corrupt;
  if (r) return r;
  return { verdict: 'silent-corruption', detail: `content matches no prefix of txns ${lastAcked}..${maxCand}` };
}

// ----------------------------------------------------------------- campaign helpers

/** Build the crash image of one choice at a captured point, power it on, recover and judge. */
export function recoverAndVerify(point: CrashPoint, choice: number[], oracle: Oracle, space: ChoiceSpace = choiceSpace(point)): VerifyResult {
  const dev = powerOn(point, buildCrashImage(space, choice));
  return verifyCrashState(dev, oracle, point.seq);
}

export interface SampledVerdict extends VerifyResult {
  pointIndex: number;
  seq: number;
  phase: string;
  sample: number;
}

/**
 * Verify `perPoint` sampled crash states at each captured point (choice from
 * Prng(seed, `crash/p<seq>/s<n>`), as power-loss.ts resolveChoice does).
 */
export function verifySampled(points: CapturedPoint[], oracle: Oracle, perPoint: number, seed: number): SampledVerdict[] {
  const out: SampledVerdict[] = [];
  points.forEach((cp, pointIndex) => {
    const space = choiceSpace(cp.point);
    for (let n = 0; n < perPoint; n++) {
      const choice = sampleChoice(space, new Prng(seed, `crash/p${cp.point.seq}/s${n}`));
      out.push({ ...recoverAndVerify(cp.point, choice, oracle, space), pointIndex, seq: cp.seq, phase: cp.phase, sample: n });
    }
  });
  return out;
}

/**
 * Double fault: recover the crash state, capturing crash points during that
 * recovery, then recover each of (a sample of) them again and judge.
 * Returns the first recovery's verdict and the verdicts after the second.
 */
export function verifyCrashDuringRecovery(
  point: CrashPoint,
  choice: number[],
  oracle: Oracle,
  opts: { maxPoints?: number; samplesPerPoint?: number; seed?: number } = {},
): { first: VerifyResult; second: (VerifyResult & { seq: number })[] } {
  const dev = powerOn(point, buildCrashImage(choiceSpace(point), choice));
  const inner: CrashPoint[] = [];
  dev.onEvent(() => inner.push(dev.capture()));
  const first = verifyCrashState(dev, oracle, point.seq);
  const maxPoints = opts.maxPoints ?? 40;
  const stride = Math.max(1, Math.ceil(inner.length / maxPoints));
  const second: (VerifyResult & { seq: number })[] = [];
  const seed = opts.seed ?? 1;
  for (let i = 0; i < inner.length; i += stride) {
    const p = inner[i];
    // The second recovery judges against the ORIGINAL crash point: what was acknowledged then.
    const space = choiceSpace(p);
    for (let n = 0; n < (opts.samplesPerPoint ?? 2); n++) {
      const c = sampleChoice(space, new Prng(seed, `recovery-crash/p${p.seq}/s${n}`));
      const dev2 = powerOn(p, buildCrashImage(space, c));
      second.push({ ...verifyCrashState(dev2, oracle, point.seq), seq: p.seq });
    }
  }
  return { first, second };
}
