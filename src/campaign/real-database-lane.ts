/**
 * The one real-database lane: runs the cells of any real-database adapter
 * (src/crash/adapter.ts RealDatabaseAdapter; the adapters are listed in
 * engines/registry.ts), whole or as the cycles a shard owns, and turns each
 * into a report cell and a shard part. Names no engine: `tornlab pg`,
 * `tornlab mariadb`, `tornlab sqlite`, `tornlab exec` and the real-database
 * cells of a campaign all run here.
 *
 * Invariants:
 *  1. Every cell's plan is all of its cycles' replay ids; the shard's share
 *     is the ones it owns (src/crash/shard.ts). A shard that owns none of a
 *     cell's cycles builds no base image and starts no server.
 *  2. Before any cell runs, each adapter's machine check passes (missing(),
 *     prepare()); a campaign does not fail half way for a missing package.
 *  3. finish() of an adapter runs after its last cell, also when one threw.
 *  4. A campaign runs its real-database cells in registry order
 *     (engines/registry.ts), each engine's in file order, then its defaults.
 */
import { buildCellResult, CellMeasurements } from '../report/build';
import type { RealDatabaseCycle, RunCellOptions } from '../crash/adapter';
import { parseCycleReplayId } from '../crash/replay-id';
import { BadInputError } from '../util/errors';
import { CampaignTop, ProfileEntry } from '../crash/campaign-section';
import { fingerprint, owns, Shard } from '../crash/shard';
import { requireExport } from '../export/preconditions';
import { REAL_DATABASES, RealDatabase } from './engines';
import { partMeasurements, ShardPart } from './shard-parts';
import type { CellOutcome } from './run-cell';

/** A real-database cell: its adapter and its configuration (plain data). */
export interface RealCell {
  adapter: RealDatabase;
  cfg: unknown;
}

/** The plan fields of a part (src/campaign/shard-parts.ts P1): all ids of the cell, and the owned ones. */
export function cover(id: string, planned: readonly string[], mine: readonly string[]) {
  return { id, planned: planned.length, plannedPrint: fingerprint(planned), owned: mine.length, ownedPrint: fingerprint(mine) };
}

/** A cell's outcome from its part (src/campaign/shard-parts.ts): the report cell of what this shard judged. */
export function outcomeOf(part: ShardPart, t0: bigint): CellOutcome {
  const result = buildCellResult(partMeasurements(part));
  part.id = result.id;
  return { result, states: [], truncated: false, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, part };
}

/**
 * One cell of a real-database adapter, or the cycles of it a shard owns (by
 * replay id; the cycles are independent). Returns the report outcome and the
 * engine's own record of the cell (undefined when the shard owns none).
 */
export async function runRealDatabaseShard<Cfg, Cycle extends { replayId: string; verdict: string }, Cell extends { cycles: Cycle[] }>(
  adapter: { kind: string; crashes(cfg: Cfg): number; replayId(cfg: Cfg, k: number): string; runCell(cfg: Cfg, o: RunCellOptions<Cycle>): Promise<Cell>; summary(c: Cycle): unknown; measure(cfg: Cfg, cycles: readonly any[]): CellMeasurements },
  cfg: Cfg,
  shard: Shard | undefined,
  o: { onCycle?: (c: Cycle, owned: number) => void; onNote?: (line: string) => void } = {},
): Promise<{ outcome: CellOutcome; cell?: Cell }> {
  const t0 = process.hrtime.bigint();
  const ids = Array.from({ length: adapter.crashes(cfg) }, (_, k) => adapter.replayId(cfg, k));
  const mine = ids.filter((id) => owns(shard, id));
  const cell = mine.length === 0 ? undefined : await adapter.runCell(cfg, { owns: (id) => owns(shard, id), onCycle: (c) => o.onCycle?.(c, mine.length), onNote: o.onNote });
  const part: ShardPart = { kind: adapter.kind, ...cover('', ids, mine), config: cfg, cycles: (cell?.cycles ?? []).map((c) => adapter.summary(c)) };
  return { outcome: outcomeOf(part, t0), cell };
}

/** The real-database cells of a campaign file, section by section in registry order, each section's in file order. */
export function expandRealDatabaseCells(file: Record<string, unknown> & { profiles: readonly ProfileEntry[]; seed?: number }, source: string): RealCell[] {
  const top: CampaignTop = { profiles: file.profiles, seed: file.seed };
  return REAL_DATABASES.flatMap((adapter) => {
    const s = adapter.campaignSection;
    const section = s ? file[s.key] : undefined;
    return s && section !== undefined ? s.expand(section, top, source).map((cfg) => ({ adapter, cfg })) : [];
  });
}

/** The cells `campaign --databases` adds (what `npm start` shows of real databases), and a line per cell skipped here. */
export async function defaultRealDatabaseCells(seed: number): Promise<{ cells: RealCell[]; skipped: string[] }> {
  const cells: RealCell[] = [];
  const skipped: string[] = [];
  for (const adapter of REAL_DATABASES) {
    if (!adapter.defaultCells) continue;
    const d = await adapter.defaultCells(seed);
    cells.push(...d.cells.map((cfg) => ({ adapter, cfg })));
    skipped.push(...d.skipped);
  }
  return { cells, skipped };
}

/** The cells in registry order (stable within an engine): the order a campaign runs and counts them in. */
export function inRegistryOrder(cells: readonly RealCell[]): RealCell[] {
  return [...cells].sort((a, b) => REAL_DATABASES.indexOf(a.adapter) - REAL_DATABASES.indexOf(b.adapter));
}

/** A cell count per engine, as a campaign's first line shows it: ", 1 PostgreSQL, 1 SQLite". */
export function countByEngine(cells: readonly RealCell[]): string {
  const n = new Map<string, number>();
  for (const c of inRegistryOrder(cells)) {
    const title = c.adapter.campaignSection?.title ?? c.adapter.command;
    n.set(title, (n.get(title) ?? 0) + 1);
  }
  return [...n].map(([title, k]) => `, ${k} ${title}`).join('');
}

/**
 * The cells that can run here, checked before anything runs (invariant 2):
 * a cell that cannot run on this machine at all (a container cell without
 * engine or image) is skipped with one line (never pretended, issue 12); a
 * missing package or export is an error naming the fix.
 */
export async function prepareRealDatabaseCells(cells: readonly RealCell[], onSkip?: (cell: string, why: string) => void): Promise<RealCell[]> {
  const runnable: RealCell[] = [];
  for (const c of inRegistryOrder(cells)) {
    const why = await c.adapter.unavailable(c.cfg);
    if (why) onSkip?.(c.adapter.describe(c.cfg), why);
    else runnable.push(c);
  }
  for (const a of adaptersOf(runnable)) {
    const local = cellsOf(runnable, a).find((cfg) => a.missing(cfg).length > 0);
    if (local !== undefined) requireExport('ext4', a.missing(local));
  }
  if (runnable.length > 0) requireExport('ext4');
  for (const a of adaptersOf(runnable)) await a.prepare?.(cellsOf(runnable, a));
  return runnable;
}

const adaptersOf = (cells: readonly RealCell[]) => [...new Set(cells.map((c) => c.adapter))];
const cellsOf = (cells: readonly RealCell[], a: RealDatabase) => cells.filter((c) => c.adapter === a).map((c) => c.cfg);

/** Run prepared cells (prepareRealDatabaseCells) in order; `i` in the callbacks counts from 0. */
export async function runRealDatabaseCells(
  cells: readonly RealCell[],
  o: { shard?: Shard; onProgress?: (p: { done: number; total: number; verdicts: Record<string, number> }, i: number) => void; onCell?: (oc: CellOutcome, i: number) => void },
): Promise<CellOutcome[]> {
  const outcomes: CellOutcome[] = [];
  const finished = new Set<RealDatabase>();
  try {
    for (let i = 0; i < cells.length; i++) {
      const { adapter, cfg } = cells[i];
      const verdicts: Record<string, number> = {};
      let done = 0;
      const { outcome } = await runRealDatabaseShard(adapter, cfg, o.shard, {
        onCycle: (c, total) => {
          verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
          o.onProgress?.({ done: ++done, total, verdicts }, i);
        },
      });
      outcomes.push(outcome);
      o.onCell?.(outcome, i);
      // Invariant 3: after an adapter's last cell, it releases what it kept across its cells.
      if (!cells.slice(i + 1).some((c) => c.adapter === adapter)) {
        finished.add(adapter);
        await adapter.finish?.(cellsOf(cells, adapter));
      }
    }
  } finally {
    for (const a of adaptersOf(cells)) if (!finished.has(a)) await a.finish?.(cellsOf(cells, a));
  }
  return outcomes;
}

/**
 * Rerun one real-database cycle from its replay id (src/crash/replay-id.ts's
 * cycle grammar): the adapter of its kind parses the cell, the machine checks
 * of invariant 2 run, and the cell runs only that cycle (invariant 1: it has
 * its own seeded stream, so it is the cycle the id came from). An id that does
 * not parse, or names an engine whose ids do not carry the whole cell, is bad
 * input naming what to do instead.
 */
export async function replayRealDatabaseCycle(id: string): Promise<{ cycle: RealDatabaseCycle; lines: string[] }> {
  const env = parseCycleReplayId(id);
  const adapter = REAL_DATABASES.find((a) => a.kind === env.kind);
  if (!adapter) throw new BadInputError(`"${id.trim()}": no real database of kind "${env.kind}" (kinds: ${REAL_DATABASES.map((a) => a.kind).join(', ')}; a mini-engine crash state starts with tl1.)`);
  if (!adapter.replay) throw new BadInputError(`"${id.trim()}" names cycle ${env.cycle} of a tornlab ${adapter.command} run but not all of its configuration, so it cannot be rerun from the id alone: ${adapter.replayHint ?? `rerun the cell with tornlab ${adapter.command} and --seed ${env.seed}`}`);
  const cfg = adapter.replay.cell(id);
  const canonical = adapter.replayId(cfg, env.cycle);
  if (canonical !== id.trim()) throw new BadInputError(`"${id.trim()}" is not in canonical form; the same cycle is ${canonical}`);
  // Invariant 2 for one cell; a container runtime that is not there is the engine's own error, naming the fix.
  requireExport('ext4', adapter.missing(cfg));
  await adapter.prepare?.([cfg]);
  try {
    const ran = await adapter.runCell(cfg, { owns: (r) => r === canonical });
    const cycle = ran.cycles[0];
    return { cycle, lines: adapter.replay.lines(cycle) };
  } finally {
    await adapter.finish?.([cfg]);
  }
}
