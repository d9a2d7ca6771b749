/**
 * What a shard keeps of each cell, so that `tornlab report merge` can build
 * the cell's report entry as an unsharded run builds it: a ShardPart.
 *
 * Invariants:
 *   P1  A part names the cell's whole plan (planned items and their
 *       fingerprint, src/crash/shard.ts S3) and the share this shard owns.
 *       Every shard plans every cell, so the plan fields agree across shards.
 *   P2  In-process cells ('states'): the part is the cell's CellMeasurements
 *       over the owned crash states, with every non-ok state (uncapped). The
 *       run's costs (the workload without a crash) are the same in every shard
 *       and must agree; verdict counts, findings, window coverage and a
 *       control's catch add up; the cost run (costTxns) is an item of its own,
 *       owned by one shard. buildCellResult of the merged measurements is then
 *       the unsharded cell, byte for byte.
 *   P3  Real-database cells (any other kind: the adapter's, engines/registry.ts):
 *       the part is the cell's configuration and one summary per owned cycle;
 *       the merge measures the union of the cycles in cycle order with the
 *       adapter's measure(), as the unsharded run measures its cycles.
 */
import type { CellMeasurements } from '../report/build';
import type { NonOkState } from '../report/schema';
import { addFingerprints } from '../crash/shard';
import { BadInputError } from '../util/errors';
import { realDatabaseOf } from './engines';

export interface PartHead {
  /** The cell's report id (src/report/build.ts cellId). */
  id: string;
  /** Items of the cell's plan (crash states, cycles, and the cost run when there is one) and their fingerprint (P1). */
  planned: number;
  plannedPrint: string;
  /** The items this shard owns and judged. */
  owned: number;
  ownedPrint: string;
}

/** An in-process cell's part (P2). */
export type StatesPart = PartHead & {
  kind: 'states';
  measurements: CellMeasurements;
  /** Per coverage window: the plan index of the first owned state of each non-ok verdict in it (keeps the unsharded key order). */
  firstNonOk: Record<string, number>[];
};

/** A real-database cell's part (P3): `kind` is its adapter's, `config` and `cycles` are the adapter's plain data. */
export type RealDatabasePart = PartHead & { kind: string; config: unknown; cycles: unknown[] };

export type ShardPart = StatesPart | RealDatabasePart;

export function isStatesPart(p: ShardPart): p is StatesPart {
  return p.kind === 'states';
}

/** The measurements of one part alone: what the shard's own report shows of the cell. */
export function partMeasurements(p: ShardPart): CellMeasurements {
  return mergeParts([p]);
}

/** The cell's measurements over parts of disjoint shares (P2, P3). Parts must be of one cell; disagreement is bad input. */
export function mergeParts(parts: readonly ShardPart[]): CellMeasurements {
  const first = parts[0];
  if (!first) throw new Error('internal: no parts to merge');
  for (const p of parts) if (p.kind !== first.kind || p.id !== first.id) throw new BadInputError(`cell ${first.id}: a shard holds it as ${p.kind} ${p.id}; the shards are not of one campaign`);
  if (isStatesPart(first)) return mergeStateMeasurements(first.id, parts as StatesPart[]);
  const cycles = (parts as RealDatabasePart[]).flatMap((p) => p.cycles) as { cycle: number }[];
  return realDatabaseOf(first.kind).measure((first as RealDatabasePart).config, byCycle(cycles));
}

function byCycle<T extends { cycle: number }>(cycles: T[]): T[] {
  return [...cycles].sort((a, b) => a.cycle - b.cycle);
}

/** Fields of an in-process cell that do not depend on which crash states were judged (P2): equal in every shard. */
const FIXED = ['engine', 'mode', 'profile', 'faults', 'pageSize', 'workload', 'txns', 'seed', 'bytesByTag', 'logicalBytesCommitted', 'commits', 'nandBytesProgrammed', 'flushes', 'fuaWrites', 'simTimeUs', 'commitLatencyUs', 'commitLatenciesUs', 'expectation', 'tbwTerabytes'] as const;

function mergeStateMeasurements(id: string, parts: readonly StatesPart[]): CellMeasurements {
  const ms = parts.map((p) => p.measurements);
  const base = ms[0];
  for (const m of ms.slice(1)) {
    for (const k of FIXED) {
      if (JSON.stringify(m[k]) !== JSON.stringify(base[k])) throw new BadInputError(`cell ${id}: the shards disagree on ${k} (${JSON.stringify(base[k])} vs ${JSON.stringify(m[k])}); they did not run the same campaign with the same tornlab`);
    }
  }
  const verdicts: Record<string, number> = {};
  for (const m of ms) for (const [v, n] of Object.entries(m.verdicts)) verdicts[v] = (verdicts[v] ?? 0) + (n ?? 0);
  const findings: NonOkState[] = ms.flatMap((m) => m.findings);
  const costs = ms.filter((m) => m.costs);
  if (costs.length > 1) throw new BadInputError(`cell ${id}: ${costs.length} shards hold its cost run; each item has one owner`);
  const out: CellMeasurements = {
    ...base,
    crashStatesTried: ms.reduce((a, m) => a + m.crashStatesTried, 0),
    verdicts,
    findings,
    findingsOmitted: ms.reduce((a, m) => a + (m.findingsOmitted ?? 0), 0),
    harnessErrorsOmitted: ms.reduce((a, m) => a + (m.harnessErrorsOmitted ?? 0), 0),
  };
  if (base.findingsOmitted === undefined && out.findingsOmitted === 0) delete out.findingsOmitted;
  if (base.harnessErrorsOmitted === undefined && out.harnessErrorsOmitted === 0) delete out.harnessErrorsOmitted;
  delete out.costs;
  if (costs[0]) out.costs = costs[0].costs;
  if (base.coverage) {
    out.coverage = base.coverage.map((w, i) => {
      const counts: Record<string, number> = {};
      const first: Record<string, number> = {};
      let states = 0;
      parts.forEach((p) => {
        const x = p.measurements.coverage?.[i];
        if (!x || x.window !== w.window) throw new BadInputError(`cell ${id}: the shards disagree on its crash windows (${w.window})`);
        states += x.states;
        for (const [v, n] of Object.entries(x.nonOk)) {
          counts[v] = (counts[v] ?? 0) + n;
          first[v] = Math.min(first[v] ?? Infinity, p.firstNonOk[i]?.[v] ?? Infinity);
        }
      });
      // Keys in the order an unsharded run inserts them: by the first crash state (in plan order) of each verdict.
      const nonOk = Object.fromEntries(Object.keys(counts).sort((a, b) => first[a] - first[b]).map((v) => [v, counts[v]]));
      return { window: w.window, states, nonOk };
    });
  }
  if (base.control) {
    const c = base.control;
    out.control = { ...c, caught: ms.some((m) => m.control?.caught), statesInWindow: ms.reduce((a, m) => a + (m.control?.statesInWindow ?? 0), 0) };
  }
  return out;
}

/** Checks of P1 over the parts of one cell, one per shard: the same plan, shares that cover it exactly. */
export function checkCover(parts: readonly { shard: string; part: ShardPart }[]): void {
  const [a] = parts;
  for (const { shard, part } of parts) {
    if (part.planned !== a.part.planned || part.plannedPrint !== a.part.plannedPrint) {
      throw new BadInputError(`cell ${a.part.id}: ${shard} planned ${part.planned} items, ${a.shard} planned ${a.part.planned} (or other ones); the shards did not run the same campaign`);
    }
  }
  const owned = parts.reduce((n, p) => n + p.part.owned, 0);
  const print = addFingerprints(parts.map((p) => p.part.ownedPrint));
  if (owned !== a.part.planned || print !== a.part.plannedPrint) {
    const what = owned > a.part.planned ? 'overlap: some items were judged twice' : owned < a.part.planned ? 'gap: some items were judged by no shard' : 'the shares are not a partition of the plan';
    throw new BadInputError(`cell ${a.part.id}: the shards own ${owned} of its ${a.part.planned} planned items (${what}; ${parts.map((p) => `${p.shard} owns ${p.part.owned}`).join(', ')})`);
  }
}
