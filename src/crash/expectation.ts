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
import { FindingVerdict, NON_OK } from './verdict';

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

/** How a real database's page protection is named in an expectation (see realDatabaseExpectation). */
export interface PageProtection {
  /** The database, e.g. 'PostgreSQL', 'InnoDB'. */
  relies: string;
  /** The engine as its figures are measured, e.g. 'real PostgreSQL'. */
  engine: string;
  /** Why the protection on keeps pages whole, e.g. 'full_page_writes=on restores torn pages from WAL page images'. */
  on: string;
  /** Why it off leaves them torn, e.g. 'full_page_writes=off leaves a page torn by the cut for recovery to trip over'. */
  off: string;
}

/** The findings a torn page may end in when a protection is off (what the cut can show). */
export const TORN_PAGE_FINDINGS: readonly FindingVerdict[] = ['torn-page-detected', 'recovery-failed', 'silent-corruption'];

/**
 * What a real database's torn-page protection promises: on, that no torn page
 * survives recovery on any device that keeps its Flush promise (claims-safe);
 * off, nothing (a demonstration). Device faults break the promises the
 * database relies on, so a faulty device is always a demonstration.
 */
export function realDatabaseExpectation(faults: readonly string[], protectionOn: boolean, p: PageProtection): Expectation {
  const clock = `${p.engine}: latency and throughput are wall-clock, bytes are the device's during the load, logical bytes are not counted`;
  if (faults.length > 0) return { kind: 'demonstration', tolerated: NON_OK, reason: `device faults ${faults.join(', ')} break promises ${p.relies} relies on (${clock})` };
  if (protectionOn) return { kind: 'claims-safe', tolerated: [], reason: `${p.on} (${clock})` };
  return { kind: 'demonstration', tolerated: TORN_PAGE_FINDINGS, reason: `${p.off} (${clock})` };
}
