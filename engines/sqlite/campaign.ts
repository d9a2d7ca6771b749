/**
 * A campaign over one SQLite cell: N crash cycles, each on fresh storage, each
 * with its own cut point drawn from the seed. Aggregates the verdicts, marks
 * findings (a verdict the cell's documented promise does not allow) and
 * documented trade-offs, and measures crash cycles per minute.
 */
import { Prng } from '../../src/util/prng';
import { BadInputError, HarnessError, isHarnessError } from '../../src/util/errors';
import { guard } from '../../src/export/watchdog';
import { CrashableStorage } from '../common/storage';
import { TimeoutError, killAll } from '../common/processes';
import { CellPromise, SqliteCell, cellName, cellPromise } from './cell';
import { CycleOptions, CycleResult, drawCut, runCycle } from './cycle';
import { VERDICTS, Verdict } from '../../src/crash/verdict';
import { formatCycleReplayId } from '../../src/crash/replay-id';

export interface SqliteCampaignOptions {
  cell: SqliteCell;
  crashes: number;
  seed: number;
  /** Opens the storage for one cycle (a fresh emulated device, or a temp dir). */
  openStorage: (cycle: number, prng: Prng) => Promise<CrashableStorage>;
  cycle?: Partial<Omit<CycleOptions, 'cell' | 'seed' | 'prng'>>;
  /** Called after each cycle (progress output). */
  onCycle?: (i: number, r: SqliteCampaignResult['cycles'][number]) => void;
  /**
   * A shard (src/crash/shard.ts): run only the cycles whose id (sqliteCycleId)
   * it owns. A skipped cycle still draws its cut from the sequential stream,
   * as a cycle on the emulated device (`deviceCuts`) or without one draws it.
   */
  shard?: { owns: (id: string) => boolean; deviceCuts: boolean };
}

/**
 * The id a cycle is owned by (known before it runs), in src/crash/replay-id.ts's cycle grammar:
 * sqlite:<cell>:seed=S:cycle=N. It names the cycle; it does not name the device, so it does not replay it.
 */
export function sqliteCycleId(cell: SqliteCell, seed: number, cycle: number): string {
  return formatCycleReplayId({ kind: 'sqlite', body: cellName(cell), seed, cycle });
}

export interface SqliteCampaignResult {
  cell: SqliteCell;
  cellName: string;
  storage: string;
  profile?: string;
  promise: CellPromise;
  crashes: number;
  seed: number;
  counts: Record<Verdict, number>;
  findings: number;
  tradeOffs: number;
  /** The cycles run, each with the id a shard owns it by (sqliteCycleId). */
  cycles: (CycleResult & { cycle: number; replayId: string })[];
  cyclesPerMinute: number;
  elapsedMs: number;
}

/** Time limit of one storage step (mount, release); generous: each takes well under a second here. */
const STORAGE_STEP_MS = 120_000;

export function validateCampaignNumbers(crashes: number, seed: number): void {
  if (!Number.isInteger(crashes) || crashes < 1 || crashes > 100000) throw new BadInputError(`--crashes must be an integer from 1 to 100000, got ${crashes}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new BadInputError(`--seed must be a non-negative integer, got ${seed}`);
}

export async function runSqliteCampaign(o: SqliteCampaignOptions): Promise<SqliteCampaignResult> {
  validateCampaignNumbers(o.crashes, o.seed);
  const root = new Prng(o.seed).fork(`sqlite/${cellName(o.cell)}`);
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  const cycles: SqliteCampaignResult['cycles'] = [];
  let storageKind = '';
  let profile: string | undefined;
  const t0 = Date.now();
  // One sequential stream for all cut points (each cycle draws the same number of
  // values): the first draws of sibling forks (cycle-0, cycle-1, ...) are correlated.
  const cuts = root.fork('cuts');
  for (let i = 0; i < o.crashes; i++) {
    if (o.shard && !o.shard.owns(sqliteCycleId(o.cell, o.seed, i))) {
      drawCut(cuts, { ...o.cycle }, o.shard.deviceCuts);
      continue;
    }
    const prng = root.fork(`cycle-${i}`);
    // Bounded by the watchdog: a mount that never completes ends the run as harness-error
    // (naming the phase and what was stuck) instead of hanging it.
    const storage = await guard('export', STORAGE_STEP_MS, o.openStorage(i, prng.fork('storage')));
    storageKind = storage.kind;
    profile = storage.profile;
    let r: CycleResult;
    try {
      try {
        r = await runCycle(storage, { ...o.cycle, cell: o.cell, seed: o.seed + i, prng: cuts });
      } catch (e) {
        // The testbed failed (a phase past its deadline, a load that never got going): not a verdict on SQLite.
        if (!isHarnessError(e) && !(e instanceof TimeoutError)) throw e;
        r = harnessCycle(e instanceof TimeoutError ? new HarnessError('load', e.message) : e);
      }
      counts[r.verdict]++;
      const done = { ...r, cycle: i, replayId: sqliteCycleId(o.cell, o.seed, i) };
      cycles.push(done);
      o.onCycle?.(i, done);
    } finally {
      await killAll();
      await guard('release', STORAGE_STEP_MS, storage.teardown());
    }
  }
  const elapsedMs = Date.now() - t0;
  return {
    cell: o.cell,
    cellName: cellName(o.cell),
    storage: storageKind,
    profile,
    promise: cellPromise(o.cell),
    crashes: o.crashes,
    seed: o.seed,
    counts,
    findings: cycles.filter((c) => c.finding).length,
    tradeOffs: cycles.filter((c) => c.tradeOff).length,
    cycles,
    cyclesPerMinute: elapsedMs > 0 ? (cycles.length * 60000) / elapsedMs : 0,
    elapsedMs,
  };
}

/** A cycle the testbed could not judge. */
function harnessCycle(e: HarnessError): CycleResult {
  return {
    verdict: 'harness-error',
    ackedTxid: -1,
    balanceExpected: 0,
    messages: e.describe(),
    finding: false,
    cut: { note: `harness error in phase ${e.phase}` } as CycleResult['cut'],
    ms: { load: 0, cutAndRemount: 0, verify: 0 },
  };
}

export function formatCampaign(r: SqliteCampaignResult): string {
  const lines: string[] = [];
  lines.push(`SQLite ${r.cellName} on ${r.storage}${r.profile ? ` (${r.profile})` : ''}: ${r.crashes} crash cycles, seed ${r.seed}`);
  if (r.promise.note) lines.push(`  note: ${r.promise.note}`);
  for (const c of r.cycles) {
    const tag = c.finding ? 'FINDING' : c.tradeOff ? 'trade-off' : '';
    lines.push(`  #${c.cycle} ${c.verdict.padEnd(20)} acked ${c.ackedTxid}, recovered ${c.recoveredTxid ?? '-'}${tag ? `  [${tag}]` : ''}${c.cut.crashStateId ? `  crash state ${c.cut.crashStateId}` : ''}`);
    for (const m of c.messages.slice(0, 4)) lines.push(`      ${m}`);
  }
  const counts = VERDICTS.filter((v) => r.counts[v]).map((v) => `${v} ${r.counts[v]}`).join(', ');
  lines.push(`  verdicts: ${counts}; findings ${r.findings}; documented trade-offs ${r.tradeOffs}`);
  lines.push(`  ${r.cyclesPerMinute.toFixed(1)} crash cycles/min (${(r.elapsedMs / 1000).toFixed(1)} s)`);
  return lines.join('\n');
}

/** One line of the grid table: the cell, its verdict counts, findings and documented trade-offs. */
export function formatGridRow(r: SqliteCampaignResult): string {
  const counts = VERDICTS.filter((v) => r.counts[v]).map((v) => `${v} ${r.counts[v]}`).join(', ');
  const lost = r.cycles.filter((c) => c.verdict === 'lost-commit' && c.recoveredTxid !== undefined).map((c) => c.ackedTxid - c.recoveredTxid!);
  const lostNote = lost.length ? `; commits lost per lost-commit cycle: max ${Math.max(...lost)}` : '';
  return `| ${r.cell.journalMode} | ${r.cell.synchronous} | ${r.cell.pageSize} | ${counts} | ${r.findings} | ${r.tradeOffs}${lostNote} |`;
}

export const GRID_HEADER = '| journal_mode | synchronous | page size | verdicts | findings | documented trade-offs |\n|---|---|---|---|---|---|';
