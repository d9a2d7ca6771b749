/**
 * Helpers the campaign layer calls to turn what it measured into report data:
 * `buildCellResult` computes every derived field of a cell (amplification,
 * per-commit counts, lifetime, status) from raw counts, and `buildReport` puts
 * cells in canonical order and adds the totals. Deriving here, once, keeps the
 * invariants the validator checks (sums, ratios, status) true by construction.
 */
import { DeviceCounters } from '../device/types';
import { PROFILES } from '../device/profiles';
import { BadInputError } from '../util/errors';
import { canonicalFaults } from '../crash/faults';
import {
  CELL_STATUSES,
  CellResult,
  CellStatus,
  ControlEntry,
  CostsEntry,
  Expectation,
  Finding,
  HarnessErrorRecord,
  LatencySummary,
  NON_OK,
  NonOkState,
  REPORT_SCHEMA_VERSION,
  Report,
  ReportTotals,
  TAGS,
  Tag,
  VERDICTS,
  Verdict,
  VerdictCounts,
} from './schema';
import { p50p99 } from '../util/percentile';

/** Findings kept per cell unless the caller says otherwise. */
export const DEFAULT_FINDINGS_CAP = 20;

/** What the campaign measured for one cell; everything else in CellResult is derived. */
export interface CellMeasurements {
  engine: string;
  mode: string;
  profile: string;
  faults: readonly string[];
  pageSize: number;
  workload: string;
  txns: number;
  seed: number;
  /** Host bytes written by tag; missing tags count 0. */
  bytesByTag: Partial<Record<Tag, number>>;
  logicalBytesCommitted: number;
  commits: number;
  nandBytesProgrammed: number;
  flushes: number;
  fuaWrites: number;
  simTimeUs: number;
  /** Either the raw commit latencies (us) or their summary. */
  commitLatenciesUs?: readonly number[];
  commitLatencyUs?: LatencySummary;
  crashStatesTried: number;
  /** Missing verdicts count 0. */
  verdicts: Partial<VerdictCounts>;
  /**
   * The crash states that did not end ok (all, or as many as were kept), findings
   * and harness errors alike: sorted apart, capped and ordered here.
   */
  findings: readonly NonOkState[];
  /** Findings already dropped before this call (counted, not kept). */
  findingsOmitted?: number;
  /** Harness errors already dropped before this call (counted, not kept). */
  harnessErrorsOmitted?: number;
  expectation: Expectation;
  /** Endurance rating; defaults to the profile's `tbw`. */
  tbwTerabytes?: number;
  coverage?: readonly { window: string; states: number; nonOk: Record<string, number> }[];
  control?: ControlEntry;
  costs?: CostsEntry & { wallSeconds?: number };
}

/** The cost part of CellMeasurements, straight from a device's counters after the run. */
export function measurementsFromCounters(c: DeviceCounters): Pick<CellMeasurements, 'bytesByTag' | 'nandBytesProgrammed' | 'flushes' | 'fuaWrites' | 'simTimeUs'> {
  const bytesByTag: Partial<Record<Tag, number>> = {};
  for (const t of TAGS) bytesByTag[t] = c.byTag[t]?.bytes ?? 0;
  return { bytesByTag, nandBytesProgrammed: c.nandBytesProgrammed, flushes: c.flushes, fuaWrites: c.fuaWrites, simTimeUs: c.simTimeUs };
}

/** Stable, unique id of a cell: engine/mode/profile[+fault...]/pageSize/workload. */
export function cellId(k: { engine: string; mode: string; profile: string; faults: readonly string[]; pageSize: number; workload: string }): string {
  const prof = [k.profile, ...canonicalFaults(k.faults)].join('+');
  return `${k.engine}/${k.mode}/${prof}/${k.pageSize}/${k.workload}`;
}

/**
 * Ratios are stored rounded to 6 significant digits: enough for every figure a
 * report shows, and it keeps report.json readable. Division by zero is null.
 */
export function ratio(num: number, den: number): number | null {
  if (den === 0 || !Number.isFinite(num) || !Number.isFinite(den)) return null;
  return roundSig(num / den, 6);
}

export function roundSig(x: number, digits: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(digits));
}

/** p50/p99 of simulated commit latencies, by the one percentile rule (src/util/percentile.ts). */
export function latencySummary(values: readonly number[]): LatencySummary {
  return p50p99(values, (x) => roundSig(x, 6));
}

/**
 * The invariant behind the CLI's exit status: a finding that the expectation
 * does not tolerate is a bug; tolerated ones are expected findings. A
 * harness error is never a finding (src/crash/verdict.ts): a cell whose only
 * trouble is harness errors is neither a pass nor a finding but
 * `harness-error`; a bug outranks it (the bug is real, replayable evidence).
 * A cell with no finding and no harness error that still proves nothing (a
 * crash window its mode declares was never hit, or it is a positive control
 * and nothing caught its sabotage) is `not-covered`; harness errors outrank
 * that (the unjudged states may be the ones in the window). Order:
 * finding-bug > harness-error > finding-expected > not-covered > pass.
 */
export function cellStatus(verdicts: VerdictCounts, expectation: Expectation, cov?: { coverage?: readonly { states: number }[]; control?: unknown }): CellStatus {
  let anyFinding = false;
  for (const v of NON_OK) {
    if (verdicts[v] === 0) continue;
    if (expectation.kind === 'claims-safe' || !expectation.tolerated.includes(v)) return 'finding-bug';
    anyFinding = true;
  }
  if (verdicts['harness-error'] > 0) return 'harness-error';
  if (anyFinding) return 'finding-expected';
  // A pass with a declared window never hit, or an uncaught positive control, proves nothing.
  if (cov?.control || cov?.coverage?.some((w) => w.states === 0)) return 'not-covered';
  return 'pass';
}

function nonNegativeInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new BadInputError(`report cell: ${name} must be an integer >= 0, got ${v}`);
  return v;
}

/** Natural order without locale: digit runs compare as numbers ("p30" < "p108"). */
export function compareNatural(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const xs = x.replace(/^0+/, '');
      const ys = y.replace(/^0+/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length || (a < b ? -1 : a > b ? 1 : 0);
}

function compareFindings(a: NonOkState, b: NonOkState): number {
  const va = VERDICTS.indexOf(a.verdict);
  const vb = VERDICTS.indexOf(b.verdict);
  if (va !== vb) return va - vb;
  return compareNatural(a.replayId, b.replayId);
}

/**
 * Keep at most `cap` findings, taken round-robin over the verdicts so that a rare
 * verdict (3 silent corruptions among 40 torn pages) keeps its examples; the kept
 * ones stay in (verdict, replay id) order. Input must be sorted by compareFindings.
 */
function capFindings<T extends NonOkState>(sorted: readonly T[], cap: number): T[] {
  if (sorted.length <= cap) return [...sorted];
  const queues = VERDICTS.map((v) => sorted.filter((f) => f.verdict === v)).filter((q) => q.length > 0);
  const kept = new Set<T>();
  for (let round = 0; kept.size < cap; round++) {
    for (const q of queues) if (round < q.length && kept.size < cap) kept.add(q[round]);
  }
  return sorted.filter((f) => kept.has(f));
}

export function buildCellResult(m: CellMeasurements, findingsCap = DEFAULT_FINDINGS_CAP): CellResult {
  const bytesByTag = {} as Record<Tag, number>;
  let hostWriteBytes = 0;
  for (const t of TAGS) {
    bytesByTag[t] = nonNegativeInt(`bytesByTag.${t}`, m.bytesByTag[t] ?? 0);
    hostWriteBytes += bytesByTag[t];
  }
  const verdicts = {} as VerdictCounts;
  let sum = 0;
  for (const v of VERDICTS) {
    verdicts[v] = nonNegativeInt(`verdicts.${v}`, m.verdicts[v] ?? 0);
    sum += verdicts[v];
  }
  if (sum !== m.crashStatesTried) throw new BadInputError(`report cell ${cellId(m)}: verdict counts sum to ${sum} but crashStatesTried is ${m.crashStatesTried}`);
  for (const k of ['logicalBytesCommitted', 'commits', 'nandBytesProgrammed', 'flushes', 'fuaWrites', 'txns', 'pageSize'] as const) nonNegativeInt(k, m[k]);

  const latency = m.commitLatencyUs ?? latencySummary(m.commitLatenciesUs ?? []);
  const tbw = m.tbwTerabytes ?? PROFILES[m.profile]?.tbw;
  if (tbw === undefined) throw new BadInputError(`report cell ${cellId(m)}: profile "${m.profile}" is unknown; pass tbwTerabytes`);
  const hostBytesPerSec = m.simTimeUs > 0 ? hostWriteBytes / (m.simTimeUs / 1e6) : 0;

  const sorted = m.findings.filter((f): f is Finding => f.verdict !== 'harness-error').sort(compareFindings);
  const findings: Finding[] = capFindings(sorted, findingsCap).map((f) => ({ replayId: f.replayId, verdict: f.verdict, detail: f.detail }));
  const errors = m.findings.filter((f) => f.verdict === 'harness-error').sort(compareFindings);
  const harnessErrors: HarnessErrorRecord[] = errors.slice(0, findingsCap).map((f) => ({ replayId: f.replayId, detail: f.detail }));

  return {
    id: cellId(m),
    engine: m.engine,
    mode: m.mode,
    profile: m.profile,
    faults: canonicalFaults(m.faults),
    pageSize: m.pageSize,
    workload: m.workload,
    txns: m.txns,
    seed: m.seed,
    bytesByTag,
    hostWriteBytes,
    logicalBytesCommitted: m.logicalBytesCommitted,
    commits: m.commits,
    hostWriteAmplification: ratio(hostWriteBytes, m.logicalBytesCommitted),
    nandBytesProgrammed: m.nandBytesProgrammed,
    nandWriteAmplification: ratio(m.nandBytesProgrammed, hostWriteBytes),
    totalWriteAmplification: ratio(m.nandBytesProgrammed, m.logicalBytesCommitted),
    flushes: m.flushes,
    fuaWrites: m.fuaWrites,
    flushesPerCommit: ratio(m.flushes, m.commits),
    fuaWritesPerCommit: ratio(m.fuaWrites, m.commits),
    simTimeUs: m.simTimeUs,
    throughputTxnPerSec: m.simTimeUs > 0 ? ratio(m.commits * 1e6, m.simTimeUs) : null,
    commitLatencyUs: { p50: latency.p50, p99: latency.p99 },
    lifetime: {
      tbwTerabytes: tbw,
      hostBytesPerTxn: ratio(hostWriteBytes, m.commits),
      nandBytesPerTxn: ratio(m.nandBytesProgrammed, m.commits),
      txnsToTbw: hostWriteBytes > 0 ? ratio(tbw * 1e12 * m.commits, hostWriteBytes) : null,
      daysToTbwAtSimRate: hostBytesPerSec > 0 ? ratio(tbw * 1e12, hostBytesPerSec * 86400) : null,
    },
    crashStatesTried: m.crashStatesTried,
    verdicts,
    findings,
    findingsOmitted: (m.findingsOmitted ?? 0) + (sorted.length - findings.length),
    harnessErrors,
    harnessErrorsOmitted: (m.harnessErrorsOmitted ?? 0) + (errors.length - harnessErrors.length),
    expectation: { kind: m.expectation.kind, tolerated: NON_OK.filter((v) => m.expectation.tolerated.includes(v)), reason: m.expectation.reason },
    status: cellStatus(verdicts, m.expectation, m),
    ...(m.coverage ? { coverage: m.coverage.map((w) => ({ window: w.window, states: w.states, nonOk: { ...w.nonOk } })) } : {}),
    ...(m.control ? { control: { ...m.control } } : {}),
    ...(m.costs ? { costs: roundCosts(m.costs) } : {}),
  };
}

/** Per-transaction figures to 6 significant digits; wall time is left out (reports are byte-reproducible). */
function roundCosts(c: CostsEntry & { wallSeconds?: number }): CostsEntry {
  const r = (x: number) => roundSig(x, 6);
  const byTag: Partial<Record<Tag, number>> = {};
  for (const [t, v] of Object.entries(c.perTxn.byTag)) byTag[t as Tag] = r(v ?? 0);
  return {
    txns: c.txns,
    warmupTxns: c.warmupTxns,
    commits: c.commits,
    perTxn: { hostBytes: r(c.perTxn.hostBytes), byTag, flushes: r(c.perTxn.flushes), fuaWrites: r(c.perTxn.fuaWrites), nandBytes: r(c.perTxn.nandBytes), logicalBytes: r(c.perTxn.logicalBytes) },
    commitLatencyUs: { p50: c.commitLatencyUs.p50, p99: c.commitLatencyUs.p99 },
    evictions: c.evictions,
    checkpoints: c.checkpoints,
    ...(c.checkpointSweep ? { checkpointSweep: c.checkpointSweep.map((p) => ({ checkpointEvery: p.checkpointEvery, txns: p.txns, checkpoints: p.checkpoints, fpiShare: r(p.fpiShare), walBytesPerTxn: r(p.walBytesPerTxn) })) } : {}),
  };
}

/** Canonical position of the usual modes; others sort after them by name. */
const MODE_ORDER = ['none', 'doublewrite', 'fpw', 'atomic'];

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rank by the base mode: `fpw@token` and `atomic!` sort next to `fpw` and `atomic`. */
function modeRank(m: string): number {
  const i = MODE_ORDER.indexOf(m.replace(/[!@].*$/, ''));
  return i < 0 ? MODE_ORDER.length : i;
}

export function compareModes(a: string, b: string): number {
  return modeRank(a) - modeRank(b) || cmpStr(a, b);
}

/** Profiles from the least to the most protected; unknown ones after them by name. */
const PROFILE_ORDER = ['consumer-tlc', 'qemu-default', 'atomic-16k', 'azure-atomic-16k', 'enterprise-plp'];

export function compareProfiles(a: string, b: string): number {
  const ra = PROFILE_ORDER.indexOf(a) < 0 ? PROFILE_ORDER.length : PROFILE_ORDER.indexOf(a);
  const rb = PROFILE_ORDER.indexOf(b) < 0 ? PROFILE_ORDER.length : PROFILE_ORDER.indexOf(b);
  return ra - rb || cmpStr(a, b);
}

/** Canonical cell order: engine, mode (none, doublewrite, fpw, atomic, others), profile (least protected first), faults, page size, workload. */
export function compareCells(a: CellResult, b: CellResult): number {
  return (
    cmpStr(a.engine, b.engine) ||
    compareModes(a.mode, b.mode) ||
    compareProfiles(a.profile, b.profile) ||
    cmpStr(a.faults.join('+'), b.faults.join('+')) ||
    a.pageSize - b.pageSize ||
    cmpStr(a.workload, b.workload)
  );
}

export function computeTotals(cells: readonly CellResult[]): ReportTotals {
  const cellsByStatus = Object.fromEntries(CELL_STATUSES.map((s) => [s, 0])) as Record<CellStatus, number>;
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as VerdictCounts;
  const t: ReportTotals = { cells: cells.length, cellsByStatus, crashStatesTried: 0, verdicts, findings: 0, hostWriteBytes: 0, logicalBytesCommitted: 0, nandBytesProgrammed: 0 };
  for (const c of cells) {
    cellsByStatus[c.status]++;
    t.crashStatesTried += c.crashStatesTried;
    for (const v of VERDICTS) verdicts[v] += c.verdicts[v];
    t.findings += c.crashStatesTried - c.verdicts.ok - c.verdicts['harness-error'];
    t.hostWriteBytes += c.hostWriteBytes;
    t.logicalBytesCommitted += c.logicalBytesCommitted;
    t.nandBytesProgrammed += c.nandBytesProgrammed;
  }
  return t;
}

export interface ReportInput {
  toolVersion: string;
  /** Defaults to now; pass a fixed value for reproducible output. */
  generatedAt?: Date | string;
  title?: string;
  /** The validated campaign config; must be plain JSON data. */
  campaign: object;
  cells: readonly CellResult[];
  findingsCap?: number;
}

export function buildReport(input: ReportInput): Report {
  const cells = [...input.cells].sort(compareCells);
  for (let i = 1; i < cells.length; i++) {
    if (cells[i].id === cells[i - 1].id) throw new BadInputError(`report: two cells have the same id ${cells[i].id}`);
  }
  const at = input.generatedAt ?? new Date();
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'tornlab', version: input.toolVersion },
    generatedAt: typeof at === 'string' ? at : at.toISOString(),
    title: input.title ?? 'tornlab report',
    // A JSON round trip: the campaign config must be plain data, and this drops undefined members.
    campaign: JSON.parse(JSON.stringify(input.campaign)) as Record<string, unknown>,
    // Default: the default cap, or more if a cell was built with a larger one (validation checks findings <= cap).
    findingsCap: input.findingsCap ?? Math.max(DEFAULT_FINDINGS_CAP, ...cells.map((c) => c.findings.length)),
    cells,
    totals: computeTotals(cells),
  };
}

/** Cells whose status makes the run a CI failure. */
export function bugCells(report: Report): CellResult[] {
  return report.cells.filter((c) => c.status === 'finding-bug');
}

/** Cells with crash states the testbed failed to judge (any status). */
export function harnessErrorCells(report: Report): CellResult[] {
  return report.cells.filter((c) => c.verdicts['harness-error'] > 0);
}

export type { Verdict };
