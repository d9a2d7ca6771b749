/**
 * Crash states verified per second (issue 4), for the default campaign's
 * cells, with one worker thread versus two, in the same run.
 *   npm run bench:campaign   (= npm run build && node dist/bench/campaign.js [crashes])
 * Each figure includes the cell's planning (a trace run and a capture run of
 * the workload) and, per worker, one more run of the workload: the whole
 * cost of judging a cell, not only the per-state loop.
 */
import { CellSpec } from '../src/campaign/cell';
import { expandCampaign, parseCampaign } from '../src/campaign/campaign-file';
import { DEFAULT_CAMPAIGN } from '../src/campaign/run-campaign';
import { runCell } from '../src/campaign/run-cell';

async function rate(cells: CellSpec[], workers: number): Promise<{ states: number; seconds: number }> {
  let states = 0;
  const t0 = process.hrtime.bigint();
  for (const c of cells) states += (await runCell(c, { workers })).result.crashStatesTried;
  return { states, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

async function main(): Promise<void> {
  const crashes = Number(process.argv[2] ?? 3000);
  const cells = expandCampaign(parseCampaign(JSON.stringify({ ...DEFAULT_CAMPAIGN, crashes }), 'default.json'));
  console.log(`default campaign: ${cells.length} cells, budget ${crashes} crash states each, ${cells[0].txns} txns, 8 KiB pages`);
  await rate(cells.slice(0, 2), 2); // warm-up (JIT, worker start)
  const one = await rate(cells, 1);
  const two = await rate(cells, 2);
  const r1 = one.states / one.seconds;
  const r2 = two.states / two.seconds;
  console.log(`1 worker : ${one.states} crash states in ${one.seconds.toFixed(1)} s = ${r1.toFixed(0)} states/s`);
  console.log(`2 workers: ${two.states} crash states in ${two.seconds.toFixed(1)} s = ${r2.toFixed(0)} states/s`);
  console.log(`speed-up : ${(r2 / r1).toFixed(2)}x`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
