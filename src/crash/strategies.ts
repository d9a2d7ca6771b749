/**
 * Choosing crash states: which positions of the command stream to cut at,
 * and which survivor choices to try at each.
 *
 * - exhaustive: every command boundary of the run; at each, every survivor
 *   choice when the space is small (<= ENUMERATE_LIMIT), else a few seeded
 *   samples (like CrashMonkey's bounded B3 exhaustive mode).
 * - random: seeded uniform crash points, one sampled choice each.
 * - targeted: points where torn-write protections are under stress, found
 *   from the tags the engine puts on its writes (the campaign never looks
 *   inside the engine): inside a checkpoint (page and doublewrite writes in
 *   flight or cached), between a doublewrite flush and the in-place writes,
 *   and at WAL flushes.
 *   When the engine marks crash windows (adapter.ts WorkloadRun.windows), every
 *   declared window is a category of its own: the targeted share is spread
 *   round-robin over the windows first, then the tag-based categories.
 * - mixed: half targeted, half random (the default).
 *
 * A crash state is (point, choice ref); everything is drawn from a Prng
 * forked from the cell seed, so the list is the same for any worker count.
 */
import { ChoiceRef } from '../device/power-loss';
import { DeviceEvent } from '../device/types';
import { Prng } from '../util/prng';
import type { Strategy } from './cell';

export const ENUMERATE_LIMIT = 16n;
export const SAMPLES_PER_LARGE_POINT = 4;

export interface PlannedState {
  point: number;
  choice: ChoiceRef;
}

/** A compact trace event (what strategies look at). */
export type TraceEvent = Pick<DeviceEvent, 'seq' | 'phase' | 'kind' | 'tag'>;

/** Target categories found in a trace: label -> positions. */
export function targetedPoints(trace: readonly TraceEvent[]): Record<string, number[]> {
  const inCheckpoint: number[] = [];
  const afterDoublewriteFlush: number[] = [];
  const walFlush: number[] = [];
  let lastWriteTag: string | undefined;
  let dwPending = false; // doublewrite writes seen since the last flush
  let betweenDwAndPages = false;
  for (const e of trace) {
    if (e.kind === 'write' || e.kind === 'write-zeroes') {
      if (e.tag === 'page' || e.tag === 'doublewrite') inCheckpoint.push(e.seq);
      if (e.tag === 'page' && betweenDwAndPages) afterDoublewriteFlush.push(e.seq);
      if (e.phase === 'complete' && e.tag === 'page') betweenDwAndPages = false;
      if (e.tag === 'doublewrite') dwPending = true;
      if (e.phase === 'submit') lastWriteTag = e.tag;
    } else if (e.kind === 'flush') {
      if (lastWriteTag === 'wal' || lastWriteTag === 'fpi') walFlush.push(e.seq);
      if (e.phase === 'complete' && dwPending) {
        afterDoublewriteFlush.push(e.seq);
        dwPending = false;
        betweenDwAndPages = true;
      }
    }
    if (e.kind === 'write' && e.phase === 'complete' && (e.tag === 'wal' || e.tag === 'fpi')) walFlush.push(e.seq);
  }
  return { 'in-checkpoint': inCheckpoint, 'after-doublewrite-flush': afterDoublewriteFlush, 'at-wal-flush': walFlush };
}

/**
 * Points to capture, in the order states will be drawn, before survivor
 * choices are known. For exhaustive this is every position; the choices are
 * planned by planChoices once the spaces are known.
 */
/** Positions of the trace inside each named window (intervals [from, to)), by window name, in `names` order. */
export function windowPoints(trace: readonly TraceEvent[], windows: readonly WindowSpan[], names: readonly string[]): number[][] {
  return names.map((name) => {
    const spans = windows.filter((w) => w.name === name).sort((a, b) => a.from - b.from);
    const out: number[] = [];
    let i = 0;
    for (const e of trace) {
      while (i < spans.length && spans[i].to <= e.seq) i++;
      // Overlapping spans are merged by the scan: a position counts once.
      if (i < spans.length && spans[i].from <= e.seq) out.push(e.seq);
    }
    return out;
  });
}

export interface WindowSpan {
  name: string;
  from: number;
  to: number;
}

export function planPoints(strategy: Strategy, trace: readonly TraceEvent[], budget: number, prng: Prng, windows?: { spans: readonly WindowSpan[]; names: readonly string[] }): number[] {
  const all = trace.map((e) => e.seq);
  if (all.length === 0 || budget <= 0) return [];
  const random = (n: number, p: Prng) => Array.from({ length: n }, () => p.pick(all));
  const targeted = (n: number, p: Prng) => {
    const byWindow = windows ? windowPoints(trace, windows.spans, windows.names) : [];
    const cats = [...byWindow, ...Object.values(targetedPoints(trace))].filter((l) => l.length > 0);
    if (cats.length === 0) return random(n, p);
    // Round-robin over the categories so that each kind of stress gets its share.
    return Array.from({ length: n }, (_, i) => p.pick(cats[i % cats.length]));
  };
  switch (strategy) {
    case 'exhaustive':
      return all;
    case 'random':
      return random(budget, prng.fork('random'));
    case 'targeted':
      return targeted(budget, prng.fork('targeted'));
    case 'mixed': {
      const half = Math.ceil(budget / 2);
      return [...targeted(half, prng.fork('targeted')), ...random(budget - half, prng.fork('random'))];
    }
  }
}

/**
 * Survivor choices for the planned points, given each point's space size.
 * For sampling strategies a point drawn k times gets samples s0..s(k-1). For
 * exhaustive, small spaces are enumerated and large ones sampled; the list is
 * cut at the budget (the caller reports a truncation).
 */
export function planChoices(strategy: Strategy, points: readonly number[], spaceCount: (point: number) => bigint, budget: number): { states: PlannedState[]; truncated: boolean } {
  const states: PlannedState[] = [];
  if (strategy === 'exhaustive') {
    for (const point of points) {
      const n = spaceCount(point);
      if (n <= ENUMERATE_LIMIT) for (let i = 0n; i < n; i++) states.push({ point, choice: { kind: 'enum', index: i } });
      else for (let s = 0; s < SAMPLES_PER_LARGE_POINT; s++) states.push({ point, choice: { kind: 'sample', n: s } });
      if (states.length >= budget) return { states: states.slice(0, budget), truncated: true };
    }
    return { states, truncated: false };
  }
  const drawn = new Map<number, number>();
  for (const point of points) {
    const k = drawn.get(point) ?? 0;
    // A point with nothing pending has one crash state: drawing it again tells nothing new.
    if (k > 0 && spaceCount(point) === 1n) continue;
    drawn.set(point, k + 1);
    states.push({ point, choice: { kind: 'sample', n: k } });
  }
  return { states, truncated: false };
}
