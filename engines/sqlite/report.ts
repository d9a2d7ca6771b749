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
import { NON_OK } from '../../src/crash/verdict';
import { SqliteCampaignResult } from './campaign';

export function sqliteExpectation(r: SqliteCampaignResult, faults: readonly string[]): Expectation {
  const r0 = sqliteExpectationCore(r, faults);
  return { ...r0, reason: `${r0.reason} (real SQLite: bytes and flushes are the device's from mount to cut, throughput is wall-clock, commit latency is not measured)` };
}

function sqliteExpectationCore(r: SqliteCampaignResult, faults: readonly string[]): Expectation {
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

/**
 * A SQLite cell's crash cycles as report measurements: verdicts, and what the
 * device saw from the file system being ready to each cut (SQLite's writes
 * and syncs through ext4, as host bytes tagged `other`) over the load's
 * wall-clock time. Commit latency is not measured here (0).
 */
export function sqliteMeasurements(r: SqliteCampaignResult, profile: string, faults: readonly string[]): CellMeasurements {
  const dev = (f: (d: NonNullable<SqliteCampaignResult['cycles'][number]['cut']['device']>) => number) => r.cycles.reduce((a, c) => a + (c.cut.device ? f(c.cut.device) : 0), 0);
  const findings: NonOkState[] = r.cycles
    .filter((c): c is typeof c & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({
      replayId: c.cut.crashStateId ?? `sqlite:${r.cellName}:seed=${r.seed}:cycle=${c.cycle}`,
      verdict: c.verdict,
      detail: `${c.tradeOff ? 'documented trade-off: ' : ''}${(c.messages[0] ?? '').slice(0, 300)}`,
    }));
  return {
    engine: 'sqlite',
    mode: `${r.cell.journalMode.toLowerCase()}-${r.cell.synchronous.toLowerCase()}`,
    profile,
    faults,
    pageSize: r.cell.pageSize,
    workload: 'bank',
    txns: r.cycles.reduce((a, c) => a + c.ackedTxid, 0),
    seed: r.seed,
    bytesByTag: { other: dev((d) => d.hostWriteBytes) },
    logicalBytesCommitted: 0,
    commits: r.cycles.reduce((a, c) => a + c.ackedTxid, 0),
    nandBytesProgrammed: dev((d) => d.nandBytesProgrammed),
    flushes: dev((d) => d.flushes),
    fuaWrites: dev((d) => d.fuaWrites),
    simTimeUs: Math.round(r.cycles.reduce((a, c) => a + c.ms.load, 0) * 1000),
    commitLatencyUs: { p50: 0, p99: 0 },
    crashStatesTried: r.cycles.length,
    verdicts: r.counts,
    findings,
    expectation: sqliteExpectation(r, faults),
  };
}
