/**
 * The shape of a tornlab report: plain JSON data, written as report.json and
 * read back by `tornlab report DIR`. The campaign layer fills it (see build.ts
 * for the helpers that compute the derived fields); the renderers (markdown.ts,
 * html.ts) only read it.
 *
 * Versioning: `schemaVersion` changes whenever a field is renamed, removed or
 * changes meaning, or a value appears that an older reader would refuse.
 * Adding an optional field does not change it. The JSON Schema in validate.ts
 * is the executable form of this file; keep them in step.
 *   1  the first schema.
 *   2  the verdict `harness-error` (src/crash/verdict.ts): a count in every
 *      verdicts object, the cell status `harness-error`, and per cell the
 *      list `harnessErrors` / `harnessErrorsOmitted`; `findings` and
 *      `totals.findings` hold findings only (never harness errors). Also in
 *      2: the cell status `not-covered` and the optional cell fields
 *      `coverage`, `control` and `costs` (a schema-1 report has none of them).
 * Compatibility: this tornlab writes 2 and reads 1 and 2; a schema-1 report is
 * upgraded on load (zero harness errors, which is what it recorded), so every
 * report.json written before schema 2 still validates and renders.
 *
 * Units: bytes are integers; times are microseconds unless the name says
 * otherwise; ratios that have no meaning (division by zero) are `null`, never
 * NaN or Infinity (JSON cannot carry those).
 */
import { TAGS, Tag } from '../device/types';
import { NON_OK, VERDICTS } from '../crash/verdict';
import type { FindingVerdict, Verdict } from '../crash/verdict';
import { EXPECTATION_KINDS } from '../crash/expectation';
import type { Expectation, ExpectationKind } from '../crash/expectation';

export const REPORT_SCHEMA_VERSION = 2 as const;
/** Schema versions this tornlab reads (older ones are upgraded on load). */
export const READABLE_SCHEMA_VERSIONS = [1, 2] as const;

export { TAGS };
export type { Tag };

/** Oracle verdicts (ARCHITECTURE section 4), in the order reports list them; defined in src/crash/verdict.ts. */
export { VERDICTS, NON_OK };
export type { Verdict, FindingVerdict };
export type VerdictCounts = Record<Verdict, number>;

/** What a cell's mode promises (which findings it tolerates); defined in src/crash/expectation.ts. */
export { EXPECTATION_KINDS };
export type { ExpectationKind, Expectation };

/**
 * pass: every crash state ended ok. finding-expected: findings, all tolerated,
 * and every state judged. finding-bug: a finding the expectation does not
 * tolerate (CLI exit 1, CI failure), whether or not some states also ended
 * harness-error. harness-error: no bug, but some crash states were not judged
 * (the testbed failed; CLI exit 3): neither a pass nor a finding.
 * not-covered: no finding and no harness error, but a declared crash window of
 * the cell was never hit, or the cell is a positive control (a sabotaged
 * variant) that nothing caught: the pass says nothing (CLI exit 4 when there
 * is no bug and no harness error; src/cli/exit-codes.ts).
 * Precedence (src/report/build.ts cellStatus): finding-bug > harness-error >
 * finding-expected > not-covered > pass.
 */
export const CELL_STATUSES = ['pass', 'finding-expected', 'finding-bug', 'harness-error', 'not-covered'] as const;
export type CellStatus = (typeof CELL_STATUSES)[number];

/** One crash state that ended in a finding, with what is needed to rebuild it: `tornlab replay <replayId>`. */
export interface Finding {
  replayId: string;
  verdict: FindingVerdict;
  /** What the oracle saw, one line (e.g. "page 17: CRC mismatch after recovery"). */
  detail: string;
}

/** One crash state the testbed failed to judge (verdict `harness-error`). */
export interface HarnessErrorRecord {
  replayId: string;
  /** The phase that failed and why, one line: "verify: passed its deadline of 120000 ms". */
  detail: string;
}

/** A crash state that did not end ok, as the campaign hands it to buildCellResult (which sorts findings from harness errors). */
export interface NonOkState {
  replayId: string;
  verdict: Exclude<Verdict, 'ok'>;
  detail: string;
}

export interface LatencySummary {
  p50: number;
  p99: number;
}

/** Device lifetime impact of running this cell's workload continuously. */
export interface LifetimeImpact {
  /** The profile's endurance rating, terabytes (10^12 bytes) written by the host. */
  tbwTerabytes: number;
  /** Host bytes written per committed transaction (all tags). */
  hostBytesPerTxn: number | null;
  /** NAND bytes programmed per committed transaction. */
  nandBytesPerTxn: number | null;
  /** Committed transactions until the host has written the TBW rating. */
  txnsToTbw: number | null;
  /** Days until TBW when writing at this cell's simulated host write rate, around the clock. */
  daysToTbwAtSimRate: number | null;
}

/**
 * One cell of the campaign matrix: engine x mode x profile(+faults) x page size x workload.
 * `id` is stable and unique within a report; charts and tables refer to cells by it.
 */
export interface CellResult {
  id: string;
  engine: string;
  mode: string;
  profile: string;
  /** Canonical fault switch names (src/device/profiles faultNames), sorted. */
  faults: string[];
  pageSize: number;
  workload: string;
  /** Transactions the workload ran. */
  txns: number;
  seed: number;

  // --- cost (from the run without a crash) ---
  /** Host bytes written, by the engine's tag. */
  bytesByTag: Record<Tag, number>;
  /** Sum of bytesByTag (host bytes written). */
  hostWriteBytes: number;
  /** Bytes of user data in committed transactions (the workload's own count). */
  logicalBytesCommitted: number;
  /** Committed (acknowledged) transactions. */
  commits: number;
  /** hostWriteBytes / logicalBytesCommitted. */
  hostWriteAmplification: number | null;
  nandBytesProgrammed: number;
  /** nandBytesProgrammed / hostWriteBytes: the device's own amplification. */
  nandWriteAmplification: number | null;
  /** nandBytesProgrammed / logicalBytesCommitted: what the media pays per byte of user data. */
  totalWriteAmplification: number | null;
  flushes: number;
  fuaWrites: number;
  flushesPerCommit: number | null;
  fuaWritesPerCommit: number | null;
  /** Simulated time of the run (us). */
  simTimeUs: number;
  /** Committed transactions per simulated second. */
  throughputTxnPerSec: number | null;
  /** Commit latency in simulated microseconds (acknowledgement time minus commit start). */
  commitLatencyUs: LatencySummary;
  lifetime: LifetimeImpact;

  // --- crash verdicts ---
  crashStatesTried: number;
  verdicts: VerdictCounts;
  /** Findings kept in the report, at most the report's findingsCap, in a stable order. */
  findings: Finding[];
  /** Findings left out because of the cap (their count only). */
  findingsOmitted: number;
  /** Crash states that ended harness-error, at most findingsCap, in replay-id order. */
  harnessErrors: HarnessErrorRecord[];
  /** Harness errors left out because of the cap (their count only). */
  harnessErrorsOmitted: number;
  expectation: Expectation;
  status: CellStatus;
  /** Per declared crash window: crash states that landed inside it and their non-ok verdicts (in-process engines). */
  coverage?: WindowCoverageEntry[];
  /** Present on a positive control: the sabotage switch it runs with and whether a crash state caught it. */
  control?: ControlEntry;
  /** Costs at scale: a separate crash-free run of `txns` transactions after `warmupTxns`, per committed transaction. */
  costs?: CostsEntry;
}

export interface CostsEntry {
  txns: number;
  warmupTxns: number;
  commits: number;
  perTxn: { hostBytes: number; byTag: Partial<Record<Tag, number>>; flushes: number; fuaWrites: number; nandBytes: number; logicalBytes: number };
  commitLatencyUs: LatencySummary;
  evictions: number;
  checkpoints: number;
  /** fpw cells: the full-page images' share of WAL bytes at longer checkpoint intervals (src/crash/adapter.ts checkpointSweepOf). */
  checkpointSweep?: { checkpointEvery: number; txns: number; checkpoints: number; fpiShare: number; walBytesPerTxn: number }[];
}

export interface WindowCoverageEntry {
  window: string;
  states: number;
  nonOk: Partial<Record<Verdict, number>>;
}

export interface ControlEntry {
  sabotage: string;
  what: string;
  /** The window a crash must land in to expose the sabotage. */
  window: string;
  caught: boolean;
  statesInWindow: number;
}

export interface ReportTotals {
  cells: number;
  cellsByStatus: Record<CellStatus, number>;
  crashStatesTried: number;
  verdicts: VerdictCounts;
  /** Crash states that ended in a finding, over all cells (kept or omitted from the findings lists); harness errors are in verdicts['harness-error']. */
  findings: number;
  hostWriteBytes: number;
  logicalBytesCommitted: number;
  nandBytesProgrammed: number;
}

export interface Report {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  tool: { name: 'tornlab'; version: string };
  /** ISO-8601 UTC. The only field that may differ between two runs of the same campaign and seed. */
  generatedAt: string;
  /** Free text shown as the report heading. */
  title: string;
  /** The campaign as it was run (the validated config, plain JSON); reports do not interpret it. */
  campaign: Record<string, unknown>;
  /** The cap applied to each cell's findings list. */
  findingsCap: number;
  cells: CellResult[];
  totals: ReportTotals;
}
