/**
 * The verdict vocabulary (ARCHITECTURE 4): what a crash state ends as once it
 * has been recovered and judged. This module is the only definition; every
 * engine (minipage, postgres, sqlite, exec), the campaign, the reports and the
 * CLI import the list, the type and the finding rule from here.
 *
 * Invariants:
 *  1. VERDICTS is the one ordered list of verdict names. Reports list verdicts,
 *     and sort findings, in this order; a new verdict is added here first, and
 *     the exhaustive records below (descriptions, short labels) make the
 *     compiler point at every place that has to know it.
 *  2. `ok` is first: every acknowledged commit present, every transaction
 *     all-or-nothing, every page verifies. It is the only passing verdict.
 *  3. A *finding* is a verdict about the database: NON_OK lists them (every
 *     verdict but `ok` and `harness-error`), and isFinding(v) is exactly
 *     membership in NON_OK. Only findings can be tolerated by an expectation,
 *     kept in a report's findings list, or make the CLI exit 1.
 *  4. `harness-error` is last and is never a finding: the testbed itself
 *     failed (a phase passed its deadline, a tool went missing, the harness
 *     threw), so the crash state was not judged at all. It is neither a pass
 *     nor a finding; reports count it separately, and the CLI exits 3 for it
 *     (src/cli/exit-codes.ts) whether or not there were findings too.
 *  5. Every verdict name is lower-case kebab-case, stable across releases
 *     (report.json and replay output carry them); renaming one is a report
 *     schema change.
 *  6. This module imports nothing but src/util (the layers below src/crash
 *     may throw HarnessError without importing upwards).
 */
import { HarnessError, isHarnessError } from '../util/errors';

export { HarnessError, isHarnessError };

export const VERDICTS = ['ok', 'torn-page-detected', 'silent-corruption', 'lost-commit', 'atomicity-violation', 'recovery-failed', 'harness-error'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** A verdict about the database: anything but `ok` and `harness-error` (invariant 3). */
export type FindingVerdict = Exclude<Verdict, 'ok' | 'harness-error'>;

/** Every verdict that is a finding, in VERDICTS order (what a demonstration tolerates). */
export const NON_OK: readonly FindingVerdict[] = VERDICTS.filter((v): v is FindingVerdict => v !== 'ok' && v !== 'harness-error');

/** Is `v` a finding about the database (not ok, not a harness error)? */
export function isFinding(v: Verdict): v is FindingVerdict {
  return (NON_OK as readonly string[]).includes(v);
}

/** Did the testbed fail to judge this crash state? */
export function isHarnessVerdict(v: Verdict): v is 'harness-error' {
  return v === 'harness-error';
}

export function isVerdict(s: unknown): s is Verdict {
  return typeof s === 'string' && (VERDICTS as readonly string[]).includes(s);
}

/** One sentence per verdict, for help texts and report legends. */
export const VERDICT_DESCRIPTIONS: Record<Verdict, string> = {
  ok: 'every page verifies, the structure holds, every acknowledged commit is present and every transaction is all-or-nothing',
  'torn-page-detected': 'a page fails its checksum: the engine noticed the torn write',
  'silent-corruption': 'structure or content is wrong while every checksum passes',
  'lost-commit': 'an acknowledged commit is missing after recovery',
  'atomicity-violation': 'part of a transaction is visible',
  'recovery-failed': 'recovery refused to start or crashed',
  'harness-error': 'the testbed itself failed (a phase passed its deadline, a tool was missing): not a verdict on the database',
};

/** Short labels for progress bars and the report's verdict matrix. */
export const VERDICT_SHORT: Record<Verdict, string> = {
  ok: 'ok',
  'torn-page-detected': 'torn',
  'silent-corruption': 'silent',
  'lost-commit': 'lost',
  'atomicity-violation': 'atomicity',
  'recovery-failed': 'recovery',
  'harness-error': 'harness',
};

/** Counts with a zero for every verdict, in VERDICTS order. */
export function zeroCounts(): Record<Verdict, number> {
  return Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
}

/** Does a (possibly partial) count record hold a finding / a harness error? */
export function countsHaveFinding(counts: Partial<Record<string, number>>): boolean {
  return NON_OK.some((v) => (counts[v] ?? 0) > 0);
}

export function countsHaveHarnessError(counts: Partial<Record<string, number>>): boolean {
  return (counts['harness-error'] ?? 0) > 0;
}
