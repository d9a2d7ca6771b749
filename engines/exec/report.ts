/**
 * `tornlab exec` cycles as report data: what a shard keeps of each cycle it
 * ran, and the cell's measurements over a list of them (in cycle order), so
 * that an exec run has a report folder and its shards merge
 * (src/campaign/shard-parts.ts).
 *
 * The user's database claims that every crash recovers to a state its verify
 * command accepts: every other verdict is a finding (the command's exit 1).
 * A verify failure that names no class (`failed`) is reported as
 * silent-corruption, with the exit status in the detail.
 */
import type { CellMeasurements } from '../../src/report/build';
import type { NonOkState } from '../../src/report/schema';
import type { Verdict } from '../../src/crash/verdict';
import type { ExecCampaignResult, ExecCycleResult } from './runner';

export interface ExecCycleSummary {
  cycle: number;
  verdict: Verdict;
  replayId: string;
  detail: string;
  acked: number;
  device: { hostWriteBytes: number; nandBytesProgrammed: number; flushes: number; fuaWrites: number } | null;
  loadMs: number;
}

/** A report verdict for an exec verdict: `failed` (verify named no class) counts as silent-corruption. */
function reportVerdict(v: ExecCycleResult['verdict']): Verdict {
  return v === 'failed' ? 'silent-corruption' : v;
}

export function execCycleSummary(c: ExecCampaignResult['cycles'][number]): ExecCycleSummary {
  const d = c.cut?.device;
  const verify = [...c.runs].reverse().find((x) => x.phase === 'verify');
  const why = c.verdict === 'failed' ? `verify failed without naming a verdict (exit ${verify?.code ?? '?'}): ` : '';
  return {
    cycle: c.cycle,
    verdict: reportVerdict(c.verdict),
    replayId: c.cut?.crashStateId ?? c.replayId,
    detail: c.verdict === 'ok' ? '' : `${why}${c.output.trim().split('\n')[0] ?? ''}`.slice(0, 300),
    acked: c.ackedAtCut,
    device: d ? { hostWriteBytes: d.hostWriteBytes, nandBytesProgrammed: d.nandBytesProgrammed, flushes: d.flushes, fuaWrites: d.fuaWrites } : null,
    loadMs: c.runs.find((x) => x.phase === 'load')?.ms ?? 0,
  };
}

/** The cell: the device it ran on and the seed. */
export interface ExecCellSummary {
  profile: string;
  faults: readonly string[];
  seed: number;
}

export function execMeasurementsOf(s: ExecCellSummary, cycles: readonly ExecCycleSummary[]): CellMeasurements {
  const dev = (f: (d: NonNullable<ExecCycleSummary['device']>) => number) => cycles.reduce((a, c) => a + (c.device ? f(c.device) : 0), 0);
  const verdicts: Partial<Record<Verdict, number>> = {};
  for (const c of cycles) verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
  const findings: NonOkState[] = cycles
    .filter((c): c is ExecCycleSummary & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({ replayId: c.replayId, verdict: c.verdict, detail: c.detail }));
  const acked = cycles.reduce((a, c) => a + c.acked, 0);
  return {
    engine: 'exec',
    mode: 'user',
    profile: s.profile,
    faults: s.faults,
    // The user's page size is not known to tornlab: the file system's block (ext4's 4 KiB) stands in.
    pageSize: 4096,
    workload: 'user-load',
    txns: acked,
    seed: s.seed,
    bytesByTag: { other: dev((d) => d.hostWriteBytes) },
    logicalBytesCommitted: 0,
    commits: acked,
    nandBytesProgrammed: dev((d) => d.nandBytesProgrammed),
    flushes: dev((d) => d.flushes),
    fuaWrites: dev((d) => d.fuaWrites),
    simTimeUs: Math.round(cycles.reduce((a, c) => a + c.loadMs, 0) * 1000),
    commitLatencyUs: { p50: 0, p99: 0 },
    crashStatesTried: cycles.length,
    verdicts,
    findings,
    expectation: { kind: 'claims-safe', tolerated: [], reason: 'your database claims that every power cut recovers to a state its verify command accepts (real processes: bytes are the device\'s from mount to cut, throughput is wall-clock)' },
  };
}
