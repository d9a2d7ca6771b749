/**
 * PostgreSQL cells inside campaigns and reports: what full_page_writes
 * promises, and a crash-cycle result as report data. Replay ids of
 * PostgreSQL cycles (`pg:<profile>[+fault]:fpw=on|off:<cut>:seed=S:cycle=N`)
 * parse back into the cell and the cycle.
 */
import { BadInputError } from '../../src/util/errors';
import type { CellMeasurements } from '../../src/report/build';
import type { Expectation, NonOkState } from '../../src/report/schema';
import { NON_OK } from '../../src/crash/verdict';
import { CellResult, CrashAt, DEFAULT_CELL, PgCellConfig, median } from './cycle';

/**
 * full_page_writes=on claims that no torn page survives recovery, on any
 * device that keeps its Flush promise. off makes no such claim: the kernel
 * hands an 8 KiB page to the device in 4 KiB pieces, so even a device with
 * 16 KiB atomics can see it torn.
 */
export function pgExpectation(cfg: Pick<PgCellConfig, 'fpw' | 'faults'>): Expectation {
  const clock = 'real PostgreSQL: latency and throughput are wall-clock, bytes are the device\'s during the load, logical bytes are not counted';
  if (cfg.faults.length > 0) return { kind: 'demonstration', tolerated: NON_OK, reason: `device faults ${cfg.faults.join(', ')} break promises PostgreSQL relies on (${clock})` };
  if (cfg.fpw) return { kind: 'claims-safe', tolerated: [], reason: `full_page_writes=on restores torn pages from WAL page images (${clock})` };
  return { kind: 'demonstration', tolerated: ['torn-page-detected', 'recovery-failed', 'silent-corruption'], reason: `full_page_writes=off leaves a page torn by the cut for recovery to trip over (${clock})` };
}

/** A PostgreSQL cell's result as report measurements. */
export function pgMeasurements(r: CellResult): CellMeasurements {
  const cycles = r.cycles;
  const sum = (f: (c: (typeof cycles)[number]) => number) => cycles.reduce((a, c) => a + f(c), 0);
  // A harness error's detail is why the testbed failed (findings[0]); a finding's is PostgreSQL's own words first.
  const findings: NonOkState[] = cycles
    .filter((c): c is typeof c & { verdict: NonOkState['verdict'] } => c.verdict !== 'ok')
    .map((c) => ({
      replayId: c.replayId,
      verdict: c.verdict,
      detail: (c.verdict === 'harness-error' ? (c.findings[0] ?? c.messages[0] ?? '') : (c.messages.find((m) => /FATAL|PANIC|ERROR|WARNING/.test(m)) ?? c.findings[0] ?? '')).slice(0, 300),
    }));
  return {
    // The runtime and major version name themselves, as in the replay id: postgres@container17.
    engine: r.config.runtime === 'container' ? `postgres@container${r.config.pgVersion ?? '15'}` : 'postgres',
    mode: r.config.fpw ? 'fpw-on' : 'fpw-off',
    profile: r.config.profile,
    faults: r.config.faults,
    pageSize: 8192,
    workload: 'bank',
    txns: sum((c) => c.workload.acked),
    seed: r.config.seed,
    bytesByTag: { other: sum((c) => c.device.load.hostWriteBytes) },
    logicalBytesCommitted: 0,
    commits: sum((c) => c.workload.acked),
    nandBytesProgrammed: sum((c) => c.device.load.nandBytesProgrammed),
    flushes: sum((c) => c.device.load.flushes),
    fuaWrites: 0,
    simTimeUs: Math.round(sum((c) => c.ms.load) * 1000),
    commitLatencyUs: {
      // Median of the cycles' p50, worst of their p99.
      p50: Math.round(median(cycles.map((c) => c.workload.commitLatencyUs.p50))),
      p99: Math.max(0, ...cycles.map((c) => c.workload.commitLatencyUs.p99)),
    },
    crashStatesTried: cycles.length,
    verdicts: r.verdicts,
    findings,
    expectation: pgExpectation(r.config),
  };
}

/** Parse a PostgreSQL cycle's replay id into its cell (with enough crashes to reach the cycle) and the cycle. */
export function parsePgReplayId(id: string): { cfg: PgCellConfig; cycle: number } {
  // The container runtime names itself and its major version: pg@container17:...
  const rt = /^pg@container(\d+):/.exec(id.trim());
  const m = /^pg(?:@container\d+)?:([a-z0-9-]+)((?:\+[a-z0-9:-]+)*):fpw=(on|off):(checkpoint|seeded):seed=(\d+):cycle=(\d+)$/.exec(id.trim());
  if (!m) throw new BadInputError(`"${id}" is not a PostgreSQL replay id (pg[@containerV]:<profile>[+fault]:fpw=on|off:checkpoint|seeded:seed=S:cycle=N)`);
  const cycle = Number(m[6]);
  const cfg: PgCellConfig = {
    ...DEFAULT_CELL,
    profile: m[1],
    faults: m[2] ? m[2].slice(1).split('+') : [],
    fpw: m[3] === 'on',
    crashAt: m[4] as CrashAt,
    seed: Number(m[5]),
    crashes: cycle + 1,
    ...(rt ? { runtime: 'container' as const, pgVersion: rt[1] } : {}),
  };
  return { cfg, cycle };
}
