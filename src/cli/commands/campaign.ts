/** `tornlab run`, `tornlab campaign`, `tornlab replay`: crash campaigns over the in-process engines. */
import fs from 'fs';
import path from 'path';
import { Command, Option } from 'commander';
import { BadInputError, HarnessError } from '../../util/errors';
import { CellSpec, COMMIT_METHODS, CommitMethod, modeLabel, STRATEGIES, Strategy } from '../../crash/cell';
import { checkCampaign, checkCampaignName, DEFAULT_MAX_CELLS, deviceCoversPage, expandCampaign, parseCampaign, readCampaignFile, CampaignFile } from '../../campaign/campaign-file';
import { countByEngine, defaultRealDatabaseCells, expandRealDatabaseCells, replayRealDatabaseCycle } from '../../campaign/real-database-lane';
import { renderJunit } from '../../campaign/junit';
import { DEFAULT_CAMPAIGN, runCampaign, TOOL_VERSION } from '../../campaign/run-campaign';
import { CellOutcome, runCell, validateCell } from '../../campaign/run-cell';
import { captureRun, judgeState } from '../../campaign/evaluate';
import { getAdapter } from '../../campaign/engines';
import { isCrashStateReplayId, parseReplayId } from '../../crash/replay-id';
import { cellId } from '../../report/build';
import type { CellResult } from '../../report/schema';
import { logCell, startCellLog, writeReportDir } from '../../report/writer';
import { checkWorkers, prepareOutputDir, prepareOutputFile, refuseMeaningless } from '../preflight';
import { DEFAULT_PROFILE } from '../../device/profiles';
import { progressBar } from '../progress';
import { hexDiff, writeDenseImage } from '../dump';
import { registerSelftestCommand } from './selftest';
import { countsHaveFinding, countsHaveHarnessError, isFinding, Verdict } from '../../crash/verdict';
import { writeFileAtomic } from '../../util/output';
import { parseShardOption, shardOption, writeRunOutputs } from '../shard';
import { EXIT_NOT_COVERED, runExitStatus } from '../exit-codes';

/** Exit code of a run whose passes prove nothing (not-covered cells, uncaught controls), when there is no bug: src/cli/exit-codes.ts EXIT_NOT_COVERED. */
export const NOT_COVERED_EXIT = EXIT_NOT_COVERED;

function int(name: string) {
  return (v: string) => {
    if (!/^[0-9]+$/.test(v)) throw new BadInputError(`${name} must be a non-negative integer, got "${v}"`);
    return Number(v);
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/**
 * One line per cell: counts, and whether findings are the expected demonstration
 * or a bug. Harness errors (crash states not judged) are counted on their own,
 * after the cell's status, never as a finding.
 */
export function summaryLine(c: CellResult, seconds?: number): string {
  const counts = Object.entries(c.verdicts).filter(([, n]) => n > 0).map(([v, n]) => `${v}=${n}`).join(' ');
  const rate = seconds ? ` in ${seconds.toFixed(1)} s (${(c.crashStatesTried / seconds).toFixed(0)}/s)` : '';
  const head = `${c.id}: ${c.crashStatesTried} crash states${rate}: ${counts || 'none'}`;
  const n = c.verdicts['harness-error'];
  const h = c.harnessErrors[0];
  const harness = n > 0 ? `HARNESS ERROR: ${n} crash state(s) not judged; first: ${h?.detail} (tornlab replay ${h?.replayId})` : '';
  if (c.status === 'pass') return `${head} -> pass (${c.expectation.kind})`;
  if (c.status === 'harness-error') return `${head} -> ${harness}`;
  if (c.control) return `${head} -> control ${c.control.caught ? 'caught' : 'NOT CAUGHT'} (${c.control.statesInWindow} states in ${c.control.window})`;
  if (c.status === 'finding-expected') return `${head} -> finding, expected (${c.expectation.kind}: ${c.expectation.reason})`;
  if (c.status === 'not-covered') return `${head} -> NOT COVERED: windows never hit: ${(c.coverage ?? []).filter((w) => w.states === 0).map((w) => w.window).join(', ')} (raise --crashes, a bigger workload, or --strategy targeted)`;
  return `${head} -> BUG: ${c.expectation.reason}; first: ${c.findings[0]?.verdict} ${c.findings[0]?.detail} (tornlab replay ${c.findings[0]?.replayId})${harness ? `; ${harness}` : ''}`;
}

/**
 * The cells of `--only`, in campaign order: each id must name a cell of the
 * campaign (exactly as reports spell it), so a typo is bad input, not a run of
 * nothing. No ids: every cell.
 */
export function onlyCells(cells: CellSpec[], ids: readonly string[], source: string): CellSpec[] {
  if (ids.length === 0) return cells;
  const idOf = (c: CellSpec) => cellId({ ...c, mode: modeLabel(c) });
  const known = new Set(cells.map(idOf));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    const some = [...known].slice(0, 8).join(', ');
    throw new BadInputError(`--only ${unknown.join(', ')}: no such cell in ${source}; its cells are named like ${some}${known.size > 8 ? `, ... (${known.size} in all)` : ''}`);
  }
  const wanted = new Set(ids);
  return cells.filter((c) => wanted.has(idOf(c)));
}

/** A positive integer option (commander's int() allows 0). */
function atLeastOne(v: number | undefined, flag: string, why: string): void {
  if (v !== undefined && v < 1) throw new BadInputError(`${flag} 0 ${why}; give ${flag} 1 or more`);
}

/** The report folder name of a campaign file without a name: its base name, if that is a safe name. */
function defaultName(file: string | undefined): string {
  if (!file) return 'default';
  const base = path.basename(file).replace(/\.[^.]+$/, '');
  try {
    checkCampaignName(base, file);
  } catch {
    throw new BadInputError(`${file}: its file name cannot name the report folder; give the campaign a name: (letters, digits, ".", "_", "-") or --out DIR`);
  }
  return base;
}

export function registerCampaignCommands(program: Command): void {
  registerSelftestCommand(program);
  program
    .command('run')
    .description('run one campaign cell: a workload on an engine and device, cut the power at many points, recover, judge')
    .addOption(new Option('--engine <name>', 'engine').default('minipage'))
    .addOption(new Option('--mode <mode>', 'torn-write protection').choices(['none', 'doublewrite', 'fpw', 'atomic']).makeOptionMandatory())
    .option('--force', 'start atomic mode on a device that does not cover the page size (to show what goes wrong)', false)
    .option('--profile <name>', 'device profile (tornlab profiles)', DEFAULT_PROFILE)
    .option('--fault <name>', 'fault switch, repeatable (tornlab profiles)', collect, [])
    .option('--page-size <bytes>', 'page size: 4096, 8192 or 16384', int('--page-size'), 8192)
    .option('--workload <name>', 'kv-uniform, kv-zipf, bank, insert-seq, ycsb-a, ycsb-f or tpcc-like', 'bank')
    .option('--txns <n>', 'transactions in the workload', int('--txns'), 300)
    .option('--keys <n>', `key count: records, accounts, customers (default ${DEFAULT_CAMPAIGN.keys})`, int('--keys'), DEFAULT_CAMPAIGN.keys)
    .option('--frames <n>', `buffer pool frames, at least 16 (default ${DEFAULT_CAMPAIGN.frames})`, int('--frames'), DEFAULT_CAMPAIGN.frames)
    .option('--checkpoint-every <n>', `transactions between checkpoints (default ${DEFAULT_CAMPAIGN.checkpointEvery})`, int('--checkpoint-every'), DEFAULT_CAMPAIGN.checkpointEvery)
    .option('--checkpoint-batch <n>', `pages per checkpoint step (default ${DEFAULT_CAMPAIGN.checkpointBatch})`, int('--checkpoint-batch'), DEFAULT_CAMPAIGN.checkpointBatch)
    .option('--cost-txns <n>', 'also measure costs in a separate crash-free run of n transactions after a warm-up', int('--cost-txns'))
    .option('--sabotage <switch>', 'positive control: run with one engine sabotage switch (tornlab selftest lists them)')
    .option('--crashes <n>', 'crash-state budget', int('--crashes'), 500)
    .option('--seed <n>', 'seed of every random choice', int('--seed'), 1)
    .addOption(new Option('--strategy <name>', 'crash-point strategy').choices([...STRATEGIES]).default('mixed'))
    .option('--crash-during-recovery', 'also cut the power once during recovery', false)
    .addOption(new Option('--commit <method>', 'how commits are made durable (tornlab durability compares them)').choices([...COMMIT_METHODS]).default('flush'))
    .option('--window-ms <ms>', 'with --commit window: the power window the host advertises (default 50)', (v: string) => {
      if (!/^[0-9]+(\.[0-9]+)?$/.test(v)) throw new BadInputError(`--window-ms must be a number of milliseconds, got "${v}"`);
      return Number(v);
    })
    .option('--workers <n>', 'worker threads (default: one per core, max 2)', int('--workers'))
    .option('--force-workers', 'allow --workers above the core count')
    .option('--json', 'print the cell result as JSON on stdout')
    .option('--junit <file>', 'write JUnit XML (one test case per cell)')
    .option('--out <dir>', 'write a report directory (report.json, report.md, index.html)')
    .addOption(shardOption())
    .action(async (o) => {
      atLeastOne(o.crashes, '--crashes', 'judges no crash state, so the run could only pass');
      atLeastOne(o.costTxns, '--cost-txns', 'measures nothing');
      if (o.force && o.mode !== 'atomic') refuseMeaningless(['--force'], `with --mode ${o.mode} (it starts atomic mode on a device that does not cover the page)`);
      if (o.force && deviceCoversPage(o.profile, o.pageSize, o.engine)) refuseMeaningless(['--force'], `on ${o.profile}: it covers a ${o.pageSize}-byte page atomically, so atomic mode starts without it`);
      const workers = checkWorkers(o.workers, !!o.forceWorkers);
      const shard = parseShardOption(o.shard, o.out);
      const cell: CellSpec = validateCell({
        engine: o.engine,
        mode: o.mode,
        force: !!o.force,
        profile: o.profile,
        faults: o.fault,
        pageSize: o.pageSize,
        workload: o.workload,
        txns: o.txns,
        seed: o.seed,
        crashes: o.crashes,
        strategy: o.strategy as Strategy,
        crashDuringRecovery: !!o.crashDuringRecovery,
        commit: o.commit as CommitMethod,
        windowMs: o.windowMs,
        keys: o.keys,
        frames: o.frames,
        checkpointEvery: o.checkpointEvery,
        checkpointBatch: o.checkpointBatch,
        ...(o.sabotage ? { sabotage: o.sabotage } : {}),
        ...(o.costTxns ? { costTxns: o.costTxns } : {}),
      });
      // Output paths before the work: a run must not end unable to write what it found.
      if (o.out) prepareOutputDir(o.out, '--out');
      if (o.junit) prepareOutputFile(o.junit, '--junit');
      const bar = progressBar(`${cell.mode} on ${cell.profile}`);
      if (o.out) startCellLog(o.out, { toolVersion: TOOL_VERSION, title: `tornlab run ${cellId({ ...cell, mode: modeLabel(cell) })}`, campaign: { cell }, cells: 1 });
      const outcome = await runCell(cell, { workers, shard, onProgress: (p) => bar.update(p.done, p.total, p.verdicts) });
      bar.end();
      const r = outcome.result;
      if (o.out) logCell(o.out, 0, r);
      if (o.json) {
        // Every state, uncapped: all findings, and all harness errors on their own.
        const findings = outcome.states.filter((s) => isFinding(s.verdict)).map((s) => ({ replayId: s.replayId, verdict: s.verdict, detail: s.detail }));
        const harnessErrors = outcome.states.filter((s) => s.verdict === 'harness-error').map((s) => ({ replayId: s.replayId, detail: s.detail }));
        process.stdout.write(JSON.stringify({ ...r, truncated: outcome.truncated, findings, findingsOmitted: 0, harnessErrors, harnessErrorsOmitted: 0 }, null, 2) + '\n');
      } else {
        process.stdout.write(summaryLine(r, outcome.wallSeconds) + '\n');
        if (r.costs) {
          const k = r.costs;
          const tags = Object.entries(k.perTxn.byTag).filter(([, v]) => (v ?? 0) > 0).map(([t, v]) => `${t} ${Math.round(v ?? 0)}`).join(', ');
          process.stdout.write(`  costs (${k.txns} txns after ${k.warmupTxns} warm-up): per txn host ${Math.round(k.perTxn.hostBytes)} B (${tags}), NAND ${Math.round(k.perTxn.nandBytes)} B, ${k.perTxn.flushes.toFixed(2)} flushes, ${k.perTxn.fuaWrites.toFixed(2)} FUA; commit p50/p99 ${k.commitLatencyUs.p50}/${k.commitLatencyUs.p99} us\n`);
        }
        for (const f of r.findings.slice(0, 5)) process.stdout.write(`  ${f.verdict}: ${f.detail}\n    tornlab replay ${f.replayId}\n`);
        for (const h of r.harnessErrors.slice(0, 5)) process.stdout.write(`  harness-error: ${h.detail}\n    tornlab replay ${h.replayId}\n`);
        if (outcome.truncated) process.stdout.write(`  (exhaustive plan cut at the budget of ${cell.crashes} crash states; raise --crashes to cover the whole run)\n`);
      }
      writeRunOutputs({ command: 'run', title: `tornlab run ${r.id}`, campaign: { cell }, seed: cell.seed, cells: [r], parts: [outcome.part], shard, out: o.out, junit: o.junit });
      // src/cli/exit-codes.ts: 3 harness error > 1 finding > 4 not covered > 0. Any finding (expected or
      // not) is 1 here, except in a positive control, where a finding is the sabotage caught and 4 is the
      // sabotage missed (the cell is then not-covered). A shard leaves coverage to the merge.
      process.exitCode = runExitStatus({ findings: !r.control && countsHaveFinding(r.verdicts), harnessErrors: countsHaveHarnessError(r.verdicts), notCovered: !shard && r.status === 'not-covered' });
    });

  program
    .command('campaign [file]')
    .description('run a campaign matrix from a JSON/YAML file (or the default campaign) and write a report')
    .option('--default', 'run the default campaign (what npm start runs)')
    .option('--databases', 'add one real PostgreSQL and one real SQLite cell (local, else in a container), or say why each is skipped (npm start)')
    .option('--out <dir>', 'report directory', '')
    .option('--workers <n>', 'worker threads', int('--workers'))
    .option('--force-workers', 'allow --workers above the core count')
    .option('--max-cells <n>', `refuse a matrix of more cells than this (default ${DEFAULT_MAX_CELLS})`, int('--max-cells'), DEFAULT_MAX_CELLS)
    .option('--junit <file>', 'write JUnit XML (one test case per cell)')
    .option('--json', 'print the report JSON on stdout')
    .option('--generated-at <iso>', 'fix the report timestamp (for byte-reproducible reports)')
    .option('--no-costs', 'skip the cost runs (costTxns): crash states only, minutes faster on the default campaign')
    .option('--only <cell-id>', 'run only the mini-engine cell with this id (as the report and the progress lines name it; repeatable); real-database sections are left out', collect, [])
    .addOption(shardOption())
    .action(async (file: string | undefined, o) => {
      const shard = parseShardOption(o.shard, true);
      if (!file && !o.default) throw new BadInputError('give a campaign file (JSON or YAML), or --default for the default campaign');
      if (file && o.default) throw new BadInputError(`give a campaign file or --default, not both (got ${file} and --default)`);
      const workers = checkWorkers(o.workers, !!o.forceWorkers);
      atLeastOne(o.maxCells, '--max-cells', 'allows no cell');
      if (o.generatedAt !== undefined && !(/^\d{4}-\d\d-\d\dT/.test(o.generatedAt) && !Number.isNaN(Date.parse(o.generatedAt)))) {
        throw new BadInputError(`--generated-at must be an ISO 8601 time such as 2026-01-01T00:00:00.000Z, got "${o.generatedAt}"`);
      }
      const source = file ?? 'the default campaign';
      const config: CampaignFile = file ? readCampaignFile(file) : parseCampaign(JSON.stringify(DEFAULT_CAMPAIGN), 'default.json');
      checkCampaign(config, source, o.maxCells);
      if (o.costs === false) {
        if (config.costTxns === undefined) throw new BadInputError(`--no-costs: ${source} has no cost runs (no costTxns) to skip; drop --no-costs`);
        delete config.costTxns;
      }
      const cells = onlyCells(expandCampaign(config), o.only, source);
      for (const c of cells) validateCell(c);
      const realCells = o.only.length > 0 ? [] : expandRealDatabaseCells(config, source);
      if (o.only.length > 0 && o.databases) refuseMeaningless(['--databases'], 'with --only (it runs only the mini-engine cells named)');
      if (o.databases) {
        const extra = await defaultRealDatabaseCells(config.seed ?? 1);
        realCells.push(...extra.cells);
        for (const s of extra.skipped) process.stderr.write(`skipped ${s}\n`);
      }
      const total = cells.length + realCells.length;
      if (total === 0) throw new BadInputError(`${file ?? 'the campaign'} has no cells: list mini-engine modes (modes: [...]) or a postgres, mariadb or sqlite section`);
      const name = config.name ?? defaultName(file);
      const out = o.out || path.join('reports', name, ...(shard ? [`shard-${shard.index}-of-${shard.count}`] : []));
      // Output paths before the work: a run must not end unable to write what it found.
      prepareOutputDir(out, o.out ? '--out' : 'the report folder (set it with --out)');
      if (o.junit) prepareOutputFile(o.junit, '--junit');
      startCellLog(out, { toolVersion: TOOL_VERSION, title: `tornlab campaign ${config.name ?? ''}`.trim(), campaign: config, cells: total, ...(o.generatedAt ? { generatedAt: o.generatedAt } : {}) });
      process.stderr.write(`campaign ${config.name ?? file ?? 'default'}: ${total} cells${countByEngine(realCells)}${shard ? ` (shard ${shard.index}/${shard.count})` : ''}\n`);
      const bar = progressBar('');
      const campaign = config as unknown as Record<string, unknown>;
      const run = await runCampaign(cells, campaign, {
        workers,
        generatedAt: o.generatedAt,
        realCells,
        onSkip: (cell, why) => process.stderr.write(`skipped ${cell}: ${why}\n`),
        shard,
        onProgress: (p, i) => bar.update(p.done, p.total, p.verdicts),
        onCell: (oc, i) => {
          bar.end();
          logCell(out, i, oc.result);
          process.stderr.write(`[${i + 1}/${total}] ${summaryLine(oc.result, oc.wallSeconds)}\n`);
        },
      });
      const report = writeRunOutputs({ command: 'campaign', title: run.report.title, campaign, seed: typeof config.seed === 'number' ? config.seed : undefined, cells: run.report.cells, parts: run.outcomes.map((x) => x.part), shard, out, junit: o.junit, generatedAt: run.report.generatedAt });
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      const bugs = report.cells.filter((c) => c.status === 'finding-bug');
      const expected = report.cells.filter((c) => c.status === 'finding-expected' && !c.control);
      const notCovered = report.cells.filter((c) => c.status === 'not-covered');
      const controls = report.cells.filter((c) => c.control);
      const sens = controls.length ? `; controls caught ${controls.filter((c) => c.control!.caught).length}/${controls.length}` : '';
      const unjudged = report.totals.verdicts['harness-error'];
      const harnessCells = report.cells.filter((c) => c.verdicts['harness-error'] > 0);
      process.stderr.write(
        // A shard's coverage and controls are partial: the merge judges them.
        `summary${shard ? ` of shard ${shard.index}/${shard.count}` : ''}: ${report.cells.length} cells, ${report.totals.crashStatesTried} crash states; ${bugs.length} bug cell(s), ${expected.length} expected demonstration(s)${shard ? '' : `, ${notCovered.length} not covered${sens}`}` +
          (unjudged > 0 ? `; HARNESS ERROR: ${unjudged} crash state(s) in ${harnessCells.length} cell(s) not judged (neither pass nor finding)` : '') +
          '\n',
      );
      // src/cli/exit-codes.ts: 3 harness error > 1 bug > 4 not covered (a window never hit, a control not caught) > 0.
      // A shard leaves coverage and controls to the merge (they are judged over all shards).
      process.exitCode = runExitStatus({ findings: bugs.length > 0, harnessErrors: unjudged > 0, notCovered: !shard && notCovered.length > 0 });
    });

  program
    .command('replay <id>')
    .description('rebuild one crash state from its replay id, recover, and print the verdict')
    .option('--dump <dir>', 'write the crash image and a hex diff of the blocks the crash changed')
    .option('--json', 'print as JSON')
    .action(async (id: string, o) => {
      if (!isCrashStateReplayId(id)) {
        // A real-database cycle: the lane reruns it through its engine's adapter.
        if (o.dump) refuseMeaningless(['--dump'], 'for a real-database cycle (it writes the crash image of a mini-engine crash state)');
        const { cycle, lines } = await replayRealDatabaseCycle(id);
        process.stdout.write(o.json ? JSON.stringify(cycle, null, 2) + '\n' : lines.join('\n') + '\n');
        process.exitCode = runExitStatus({ findings: isFinding(cycle.verdict as Verdict), harnessErrors: cycle.verdict === 'harness-error' });
        return;
      }
      const s = parseReplayId(id);
      const cell = validateCell({ engine: s.engine, mode: s.mode, force: s.force, profile: s.profile, faults: s.faults, pageSize: s.pageSize, workload: s.workload, txns: s.txns, seed: s.seed, crashes: 1, strategy: 'random', crashDuringRecovery: !!s.recovery, commit: s.commit, windowMs: s.windowMs, keys: s.keys, frames: s.frames, checkpointEvery: s.checkpointEvery, checkpointBatch: s.checkpointBatch, ...(s.sabotage ? { sabotage: s.sabotage } : {}) });
      const adapter = getAdapter(cell.engine);
      // Out-of-range fields of the id (crash point, choice, recovery point) are bad input, not harness errors.
      const outOfRange = (e: unknown): never => {
        if (e instanceof HarnessError && (e.phase === 'capture' || e.phase === 'recovery-cut')) throw new BadInputError(`${e.message}: the replay id's ${e.phase === 'capture' ? 'crash point' : 'recovery crash point'} is out of range for this cell; take the id from a report or from tornlab run --json`);
        if (e instanceof RangeError) throw new BadInputError(`the replay id's survivor choice is out of range: ${e.message}; take the id from a report or from tornlab run --json`);
        throw e;
      };
      let captured: ReturnType<typeof captureRun>;
      try {
        captured = captureRun(adapter, cell, [s.point]);
      } catch (e) {
        return outOfRange(e);
      }
      const { run, spaces } = captured;
      const space = spaces.get(s.point)!;
      let r: ReturnType<typeof judgeState>;
      try {
        r = judgeState(cell, run, space, { point: s.point, choice: s.choice }, s.recovery);
      } catch (e) {
        return outOfRange(e);
      }
      if (r.replayId !== id.trim()) throw new BadInputError(`"${id.trim()}" is not in canonical form; the same crash state is ${r.replayId}`);
      if (o.dump) {
        fs.mkdirSync(o.dump, { recursive: true });
        writeDenseImage(path.join(o.dump, 'crash-image.bin'), r.image.store, space.point.nsze);
        writeFileAtomic(path.join(o.dump, 'diff.txt'), hexDiff(space.point.media, r.image.store, space.point.blockSize));
      }
      const out = { replayId: r.replayId, verdict: r.verdict, detail: r.detail, crashPoint: s.point, pendingWrites: space.point.pending.length, choiceSpace: space.count.toString(), changedBlocks: r.image.changedBlocks };
      if (o.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      else {
        process.stdout.write(`${r.verdict}: ${r.detail}\n`);
        process.stdout.write(`  crash point ${s.point}: ${space.point.pending.length} write(s) pending, ${space.count} survivor choices; ${r.image.changedBlocks} block(s) changed by this one\n`);
        if (o.dump) process.stdout.write(`  dumped to ${o.dump}/crash-image.bin and ${o.dump}/diff.txt\n`);
      }
      process.exitCode = runExitStatus({ findings: isFinding(r.verdict), harnessErrors: r.verdict === 'harness-error' });
    });
}

export { deviceCoversPage };
