/**
 * Speed at the default campaign's scale (issue 10, point 6), as ratios on one run:
 *   npm run bench:campaign   (= npm run build && node dist/bench/campaign.js [crashes] [costTxns] [--compare-only])
 *  1. the simulated workload alone (no crash capture), transactions per second
 *     on one thread, per default workload (target: 50,000/s, so that a
 *     1M-transaction cost run takes under 30 s);
 *  2. crash states verified per second over the default campaign's cells
 *     (controls left out), with one worker thread versus two (target with 2
 *     workers: 2,000/s). Each figure includes the cell's planning (a trace run
 *     and a capture run of the workload) and, per worker, one more run: the
 *     whole cost of judging a cell, not only the per-state loop;
 *  3. delta judging (engines/minipage/delta.ts) against judging from scratch
 *     (TORNLAB_JUDGE=scratch), controls included: the judging loop of every
 *     cell run both ways on the same plan, CPU time, and every state's
 *     verdict, detail and replay id compared. Any difference fails the bench
 *     (exit 1).
 */
import { CellSpec } from '../src/crash/cell';
import { expandCampaign, parseCampaign } from '../src/campaign/campaign-file';
import { DEFAULT_CAMPAIGN } from '../src/campaign/run-campaign';
import { planCell, runCell } from '../src/campaign/run-cell';
import { judgeStates, StateResult } from '../src/campaign/evaluate';
import { minipageAdapter } from '../engines/minipage/adapter';

async function rate(cells: CellSpec[], workers: number): Promise<{ states: number; seconds: number }> {
  let states = 0;
  const t0 = process.hrtime.bigint();
  for (const c of cells) states += (await runCell(c, { workers })).result.crashStatesTried;
  return { states, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function cpuMs(f: () => StateResult[]): { ms: number; results: StateResult[] } {
  const t0 = process.cpuUsage();
  const results = f();
  const t = process.cpuUsage(t0);
  return { ms: (t.user + t.system) / 1000, results };
}

/** Judge every cell's plan from scratch and by delta; returns the number of states that differ. */
function scratchVsDelta(cells: CellSpec[]): number {
  let scratchMs = 0;
  let deltaMs = 0;
  let states = 0;
  let differ = 0;
  const before = process.env.TORNLAB_JUDGE;
  for (const cell of cells) {
    const plan = planCell(minipageAdapter, cell);
    process.env.TORNLAB_JUDGE = 'scratch';
    const a = cpuMs(() => judgeStates(cell, plan.run, plan.spaces, plan.states));
    delete process.env.TORNLAB_JUDGE;
    const b = cpuMs(() => judgeStates(cell, plan.run, plan.spaces, plan.states));
    scratchMs += a.ms;
    deltaMs += b.ms;
    states += a.results.length;
    a.results.forEach((r, i) => {
      const d = b.results[i];
      if (r.verdict === d.verdict && r.detail === d.detail && r.replayId === d.replayId) return;
      if (differ++ < 10) console.log(`DIFFERENT ${r.replayId}: scratch ${r.verdict} (${r.detail}) / delta ${d.verdict} (${d.detail})`);
    });
  }
  if (before === undefined) delete process.env.TORNLAB_JUDGE;
  else process.env.TORNLAB_JUDGE = before;
  console.log(`judging ${states} crash states of ${cells.length} cells (controls included), CPU time: scratch ${(states / (scratchMs / 1000)).toFixed(0)} states/s, delta ${(states / (deltaMs / 1000)).toFixed(0)} states/s = ${(scratchMs / deltaMs).toFixed(2)}x; verdicts differing: ${differ}`);
  return differ;
}

async function main(): Promise<void> {
  const crashes = Number(process.argv[2] ?? DEFAULT_CAMPAIGN.crashes);
  const costTxns = Number(process.argv[3] ?? 20000);
  const cells = expandCampaign(parseCampaign(JSON.stringify({ ...DEFAULT_CAMPAIGN, costTxns: undefined, crashes, controls: false }), 'default.json'));
  const all = expandCampaign(parseCampaign(JSON.stringify({ ...DEFAULT_CAMPAIGN, costTxns: undefined, crashes }), 'default.json'));
  if (process.argv.includes('--compare-only')) {
    if (scratchVsDelta(all) > 0) process.exitCode = 1;
    return;
  }
  const c0 = cells[0];
  console.log(`default campaign scale: keys ${c0.keys}, frames ${c0.frames}, checkpoint every ${c0.checkpointEvery} txns, batch ${c0.checkpointBatch} pages, 8 KiB pages`);
  for (const w of DEFAULT_CAMPAIGN.workloads) {
    for (const mode of ['none', 'doublewrite']) {
      const cell = cells.find((c) => c.workload === w.name && c.mode === mode && c.profile === 'consumer-tlc')!;
      const k = minipageAdapter.costRun!({ ...cell, costTxns });
      const tps = (k.txns + k.warmupTxns) / k.wallSeconds;
      console.log(`workload ${w.name.padEnd(10)} ${mode.padEnd(11)}: ${k.txns + k.warmupTxns} txns in ${k.wallSeconds.toFixed(1)} s = ${tps.toFixed(0)} txn/s (${(tps / 50000).toFixed(2)} of the 50,000/s target)`);
    }
  }
  await rate(cells.slice(0, 2), 2); // warm-up (JIT, worker start)
  const one = await rate(cells, 1);
  const two = await rate(cells, 2);
  const r1 = one.states / one.seconds;
  const r2 = two.states / two.seconds;
  console.log(`${cells.length} cells, budget ${crashes} crash states each`);
  console.log(`1 worker : ${one.states} crash states in ${one.seconds.toFixed(1)} s = ${r1.toFixed(0)} states/s`);
  console.log(`2 workers: ${two.states} crash states in ${two.seconds.toFixed(1)} s = ${r2.toFixed(0)} states/s (${(r2 / 2000).toFixed(2)} of the 2,000/s target)`);
  console.log(`speed-up : ${(r2 / r1).toFixed(2)}x`);
  if (scratchVsDelta(all) > 0) {
    console.error('delta judging disagrees with judging from scratch');
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
