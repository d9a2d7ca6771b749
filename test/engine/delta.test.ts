/**
 * Delta judging (engines/minipage/delta.ts D1): every crash state gets the
 * verdict, detail and replay id that judging from scratch gives, over the
 * default campaign's modes, profiles, workloads and positive controls at a
 * small scale (the controls bring findings of every kind, so the fallback to
 * the scratch code is exercised too); and the memo really is used.
 */
import { expandCampaign, parseCampaign } from '../../src/campaign/campaign-file';
import { DEFAULT_CAMPAIGN } from '../../src/campaign/run-campaign';
import { planCell } from '../../src/campaign/run-cell';
import { judgeStates, StateResult } from '../../src/campaign/evaluate';
import { minipageAdapter } from '../../engines/minipage/adapter';
import { deltaStateOf } from '../../engines/minipage/delta';
import { PageMemo } from '../../engines/minipage/page-memo';
import { MiniPageEngine } from '../../engines/minipage/engine';
import { PageType, decodePage } from '../../engines/minipage/page';
import { smallDevice } from './helpers';
import { runWorkload, verifyCrashState } from '../../engines/minipage';
import { buildCrashImage, choiceSpace, powerOn, sampleChoice } from '../../src/device/power-loss';
import { Prng } from '../../src/util/prng';

function judged(scratch: boolean, f: () => StateResult[]): StateResult[] {
  const before = process.env.TORNLAB_JUDGE;
  if (scratch) process.env.TORNLAB_JUDGE = 'scratch';
  else delete process.env.TORNLAB_JUDGE;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.TORNLAB_JUDGE;
    else process.env.TORNLAB_JUDGE = before;
  }
}

test('delta judging gives every state the verdict judging from scratch gives (cells and controls)', () => {
  const config = {
    ...DEFAULT_CAMPAIGN,
    workloads: [
      { name: 'bank', txns: 80 },
      { name: 'ycsb-a', txns: 80 },
      { name: 'tpcc-like', txns: 60 },
    ],
    keys: 500,
    frames: 16,
    checkpointEvery: 20,
    checkpointBatch: 8,
    crashes: 30,
  };
  const cells = expandCampaign(parseCampaign(JSON.stringify(config), 'delta-test.json'));
  const verdicts: Record<string, number> = {};
  let states = 0;
  for (const cell of cells) {
    const plan = planCell(minipageAdapter, cell);
    const a = judged(true, () => judgeStates(cell, plan.run, plan.spaces, plan.states));
    const b = judged(false, () => judgeStates(cell, plan.run, plan.spaces, plan.states));
    expect(b.map((r) => [r.replayId, r.verdict, r.detail])).toEqual(a.map((r) => [r.replayId, r.verdict, r.detail]));
    for (const r of a) verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1;
    states += a.length;
  }
  // The comparison covered ok states and findings (the delta path hands those to the scratch code).
  expect(states).toBeGreaterThan(800);
  expect(verdicts.ok).toBeGreaterThan(0);
  expect(Object.keys(verdicts).filter((v) => v !== 'ok').length).toBeGreaterThanOrEqual(2);
}, 600_000);

test('the page memo answers most page lookups without checking the page again', () => {
  const run = runWorkload({
    profile: 'consumer-tlc',
    faults: [],
    seed: 7,
    engine: { mode: 'doublewrite', pageSize: 8192, frames: 16, checkpointBatch: 8, maxPages: 400 },
    workload: { name: 'ycsb-a', seed: 7, txns: 60, keys: 500 },
    checkpointEvery: 20,
    capture: { every: 5 },
  });
  expect(run.points.length).toBeGreaterThan(20);
  for (const cp of run.points) {
    const space = choiceSpace(cp.point);
    const dev = powerOn(cp.point, buildCrashImage(space, sampleChoice(space, new Prng(7, `crash/p${cp.seq}/s0`))));
    expect(verifyCrashState(dev, run.oracle, cp.seq).verdict).toBe('ok');
  }
  const memo = deltaStateOf(run.oracle).memo;
  expect(memo.viewHits + memo.hits).toBeGreaterThan(2 * memo.misses);
}, 120_000);

test('a page the engine remembers at write time is what decoding its image gives (leaves, internal pages, meta)', () => {
  const memo = new PageMemo(4);
  const dev = smallDevice('consumer-tlc', { maxPages: 400 });
  const eng = MiniPageEngine.create(dev, { pageSize: 4096, frames: 16, maxPages: 400, pageMemo: memo });
  const prng = new Prng(11, 'delta-test');
  for (let t = 0; t < 200; t++) {
    const tx = eng.begin();
    for (let i = 0; i < 4; i++) {
      const k = `k${String(prng.int(0, 3000)).padStart(6, '0')}`;
      if (prng.chance(0.15)) eng.delete(tx, k);
      else eng.put(tx, k, 'v'.repeat(prng.int(10, 120)));
    }
    eng.commit(tx);
    eng.sync();
    if (t % 50 === 49) eng.checkpoint();
  }
  const types = new Set<number>();
  let n = 0;
  for (const e of memo.entries()) {
    expect(e.page).toEqual(decodePage(e.image));
    types.add(e.page!.type);
    n++;
  }
  expect(n).toBeGreaterThan(50);
  expect([...types].sort()).toEqual([PageType.Meta, PageType.Leaf, PageType.Internal]);
});
