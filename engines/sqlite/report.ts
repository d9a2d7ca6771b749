/**
 * SQLite cells inside campaigns and reports: what a journal_mode x
 * synchronous setting promises, and a cell's crash cycles as report data.
 *
 * The status must say what `tornlab sqlite` says: a loss the setting
 * documents is expected, anything else is a finding. Verdicts that occurred
 * only in documented trade-off cycles are therefore the expectation's
 * `tolerated` list; a lost commit beyond the documented one (e.g. two commits
 * rolled back in DELETE + FULL) is not tolerated and makes the cell a bug.
 */
import type { CellMeasurements } from '../../src/report/build';
import type { Expectation, NonOkState } from '../../src/report/schema';
import { NON_OK, VERDICTS, Verdict } from '../../src/crash/verdict';
import { SqliteCampaignResult } from './campaign';

/** What the expectation reads: the cell, its promise, and each cycle's verdict and marks. */
export interface SqliteExpectationInput {
  cell: SqliteCampaignResult['cell'];
  promise: SqliteCampaignResult['promise'];
  cycles: readonly { verdict: Verdict; tradeOff?: boolean; finding?: boolean }[];
}

export function sqliteExpectation(r: SqliteExpectationInput, faults: readonly string[]): Expectation {
  const r0 = sqliteExpectationCore(r, faults);
  return { ...r0, reason: `${r0.reason} (real SQLite: bytes and flushes are the device's from mount to cut, throughput is wall-clock, commit latency is not measured)` };
}

function sqliteExpectationCore(r: SqliteExpectationInput, faults: readonly string[]): Expectation {
  const p = r.promise;
  if (faults.length > 0) return { kind: 'demonstration', tolerated: NON_OK, reason: `device faults ${faults.join(', ')} break promises SQLite relies on` };
  if (!p.integrity) return { kind: 'demonstration', tolerated: NON_OK, reason: p.note ?? 'the setting promises neither integrity nor durability' };
  const tradeOffVerdicts = new Set(r.cycles.filter((c) => c.tradeOff).map((c) => c.verdict));
  const findingVerdicts = new Set(r.cycles.filter((c) => c.finding).map((c) => c.verdict));
  // Only findings are ever tolerated: a harness error is no verdict on SQLite (src/crash/verdict.ts).
  const tolerated = NON_OK.filter((v) => tradeOffVerdicts.has(v) && !findingVerdicts.has(v));
  if (!p.durability || p.lastCommitMayRollBack) {
    return { kind: 'documented-tradeoff', tolerated, reason: p.lastCommitMayRollBack ?? p.note ?? 'acknowledged commits may roll back by design' };
  }
  return { kind: 'claims-safe', tolerated: [], reason: `journal_mode=${r.cell.journalMode} with synchronous=${r.cell.synchronous} keeps every acknowledged commit and the database consistent` };
}

/** What the cell's expectation and measurements read of the cell itself (engines/sqlite/adapter.ts sqliteCellSummary). */
export interface SqliteCellSummary {
  cell: SqliteCampaignResult['cell'];
  cellName: string;
  seed: number;
  promise: SqliteCampaignResult['promise'];
  profile: string;
  faults: readonly string[];
  /** Set when the children ran in containers (the report names it: sqlite@container). */
  runtime?: 'container';
}

/** ... and of one cycle: a shard keeps these for the cycles it owns, the merge measures their union. */
export interface SqliteCycleSummary {
  cycle: number;
  verdict: SqliteCampaignResult['cycles'][number]['verdict'];
  finding: boolean;
  tradeOff: boolean;
  replayId: string;
  detail: string;
  ackedTxid: number;
  device: { hostWriteBytes: number; nandBytesProgrammed: number; flushes: number; fuaWrites: number } | null;
  loadMs: number;
}

export function sqliteCycleSummary(c: SqliteCampaignResult['cycles'][number]): SqliteCycleSummary {
  const d = c.cut.device;
  return {
    cycle: c.cycle,
    verdict: c.verdict,
    finding: !!c.finding,
    tradeOff: !!c.tradeOff,
    replayId: c.cut.crashStateId ?? c.replayId,
    detail: `${c.tradeOff ? 'documented trade-off: ' : ''}${(c.messages[0] ?? '').slice(0, 300)}`,
    ackedTxid: c.ackedTxid,
    device: d ? { hostWriteBytes: d.hostWriteBytes, nandBytesProgrammed: d.nandBytesProgrammed, flushes: d.flushes, fuaWrites: d.fuaWrites } : null,
    loadMs: c.ms.load,
  };
}

/**
 * A SQLite cell's crash cycles as report measurements: verdicts, and what the
 * device saw from the file system being ready to each cut (SQLite's writes
 * and syncs through ext4, as host bytes tagged `other`) over the load's
 * wall-clock time, in cycle order. Commit latency is not measured here (0).
 */
export function sqliteMeasurementsOf(s: SqliteCellSummary, cycles: readonly SqliteCycleSummary[]): CellMeasurements {
  const dev = (f: (d: NonNullable<SqliteCycleSummary['device']>) => number) => cycles.reduce((a, c) => a + (c.device ? f(c.device) : 0), 0);
  const findings: NonOkState[] = cycles
    .filter((c): c is SqliteCycleSummary & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({ replayId: c.replayId, verdict: c.verdict, detail: c.detail }));
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const c of cycles) counts[c.verdict]++;
  return {
    engine: s.runtime === 'container' ? 'sqlite@container' : 'sqlite',
    mode: `${s.cell.journalMode.toLowerCase()}-${s.cell.synchronous.toLowerCase()}`,
    profile: s.profile,
    faults: s.faults,
    pageSize: s.cell.pageSize,
    workload: 'bank',
    txns: cycles.reduce((a, c) => a + c.ackedTxid, 0),
    seed: s.seed,
    bytesByTag: { other: dev((d) => d.hostWriteBytes) },
    logicalBytesCommitted: 0,
    commits: cycles.reduce((a, c) => a + c.ackedTxid, 0),
    nandBytesProgrammed: dev((d) => d.nandBytesProgrammed),
    flushes: dev((d) => d.flushes),
    fuaWrites: dev((d) => d.fuaWrites),
    simTimeUs: Math.round(cycles.reduce((a, c) => a + c.loadMs, 0) * 1000),
    commitLatencyUs: { p50: 0, p99: 0 },
    crashStatesTried: cycles.length,
    verdicts: counts,
    findings,
    expectation: sqliteExpectation({ cell: s.cell, promise: s.promise, cycles }, s.faults),
  };
}
