/**
 * What a cell's protection mode promises on its device profile, as the engine
 * states it (EngineAdapter.expectation) and the campaign applies it to the
 * verdicts (src/report/build.ts cellStatus).
 *
 * Invariants:
 *  1. Only findings (src/crash/verdict.ts NON_OK) can be tolerated, never
 *     `harness-error`: the type of `tolerated` says so.
 *  2. A claims-safe expectation tolerates nothing: cellStatus makes any
 *     finding a bug, whatever `tolerated` lists.
 */
import type { FindingVerdict } from './verdict';

/**
 * What the cell's protection mode promises on its device profile:
 * - `claims-safe`: the mode claims every crash state ends `ok`; any other verdict is a bug.
 * - `demonstration`: the mode makes no claim here (e.g. `none` on a tearing device, or
 *   `atomic --force` on a device without atomics); findings are the expected demonstration.
 * - `documented-tradeoff`: the setting permits some verdicts by design (e.g. lost commits
 *   with asynchronous commit); those verdicts are expected, any other non-ok is a bug.
 */
export const EXPECTATION_KINDS = ['claims-safe', 'demonstration', 'documented-tradeoff'] as const;
export type ExpectationKind = (typeof EXPECTATION_KINDS)[number];

export interface Expectation {
  kind: ExpectationKind;
  /** Findings (never `harness-error`) that do not make the cell a bug. claims-safe: []; demonstration: usually NON_OK. */
  tolerated: readonly FindingVerdict[];
  /** One sentence a reader understands: why the mode does or does not claim safety here. */
  reason: string;
}
