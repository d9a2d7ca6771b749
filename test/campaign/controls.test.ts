/**
 * Positive controls and crash-window coverage (issue 10): every sabotage
 * switch of the engine must be caught by a campaign cell; the same cells
 * without sabotage must pass many crash states with no false alarm; a pass
 * whose windows were never hit is not-covered.
 */
import { CellSpec } from '../../src/crash/cell';
import { controlCells, expandCampaign, parseCampaign } from '../../src/campaign/campaign-file';
import { getAdapter } from '../../src/campaign/engines';
import { closeWorkerPool, runCell } from '../../src/campaign/run-cell';
import { formatReplayId, parseReplayId } from '../../src/crash/replay-id';
import { SABOTAGES, SABOTAGE_NAMES } from '../../engines/minipage/sabotage';
import { DEFAULT_CAMPAIGN } from '../../src/campaign/run-campaign';

/** A scale where every window opens quickly: data > pool, checkpoint steps > the doublewrite area. */
const scale = { keys: 1000, frames: 16, checkpointEvery: 20, checkpointBatch: 24 };
const base: CellSpec = {
  engine: 'minipage',
  mode: 'doublewrite',
  force: false,
  profile: 'consumer-tlc',
  faults: [],
  pageSize: 8192,
  workload: 'ycsb-a',
  txns: 150,
  seed: 42,
  crashes: 300,
  strategy: 'mixed',
  crashDuringRecovery: false,
  ...scale,
};

afterAll(() => closeWorkerPool());

/** The cell each control runs on: its first mode, on a profile where that mode claims safety and a Flush matters. */
function controlCell(name: keyof typeof SABOTAGES, workload: string): CellSpec {
  const mode = SABOTAGES[name].modes[0];
  return { ...base, mode, workload, profile: mode === 'atomic' ? 'atomic-16k' : 'consumer-tlc', sabotage: name };
}

describe('positive controls: each sabotage switch is caught', () => {
  test.each(SABOTAGE_NAMES.map((n) => [n]))('%s', async (name) => {
    // tpcc-like writes many pages per transaction; the WAL CRC control needs multi-block records (fpw images).
    const cell = controlCell(name, 'tpcc-like');
    const o = await runCell(cell, { workers: 2 });
    const c = o.result;
    expect(c.control?.sabotage).toBe(name);
    console.log(`${name}: ${c.crashStatesTried - c.verdicts.ok}/${c.crashStatesTried} non-ok, ${c.control!.statesInWindow} in ${c.control!.window}`);
    expect(c.control!.statesInWindow).toBeGreaterThan(0);
    expect(c.control!.caught).toBe(true);
    expect(c.status).toBe('finding-expected');
  });
});

describe('safe configurations: no false alarm at scale, every window hit', () => {
  test.each([
    ['doublewrite', 'consumer-tlc', 'ycsb-f'],
    ['fpw', 'consumer-tlc', 'tpcc-like'],
    ['atomic', 'atomic-16k', 'bank'],
    ['doublewrite', 'consumer-tlc', 'tpcc-like'],
    ['fpw', 'consumer-tlc', 'ycsb-a'],
  ])('%s on %s, %s', async (mode, profile, workload) => {
    const o = await runCell({ ...base, mode, profile, workload, crashes: 600 }, { workers: 2 });
    const c = o.result;
    expect(c.crashStatesTried).toBeGreaterThan(400);
    expect(c.verdicts.ok).toBe(c.crashStatesTried);
    expect(c.coverage!.length).toBeGreaterThanOrEqual(4);
    for (const w of c.coverage!) expect([w.window, w.states > 0]).toEqual([w.window, true]);
    expect(c.status).toBe('pass');
  });
});

test('a pass whose windows were never hit is not-covered', async () => {
  // The old toy scale: 30 transactions never reach a checkpoint (every 40).
  const o = await runCell({ engine: 'minipage', mode: 'doublewrite', force: false, profile: 'consumer-tlc', faults: [], pageSize: 8192, workload: 'bank', txns: 30, seed: 1, crashes: 40, strategy: 'random', crashDuringRecovery: false }, { workers: 1 });
  expect(o.result.verdicts.ok).toBe(o.result.crashStatesTried);
  expect(o.result.coverage!.find((w) => w.window === 'ckpt.redo-to-end')!.states).toBe(0);
  expect(o.result.status).toBe('not-covered');
});

test('replay ids carry scale and sabotage, and round-trip', () => {
  const id = formatReplayId({ ...base, sabotage: 'dw-no-restore', point: 17, choice: { kind: 'sample', n: 2 } });
  expect(id).toBe('tl1.minipage.doublewrite%dw-no-restore.consumer-tlc.8192.ycsb-a.150k1000f16e20b24.42.p17.s2');
  const back = parseReplayId(id);
  expect(back).toMatchObject({ mode: 'doublewrite', sabotage: 'dw-no-restore', txns: 150, ...scale, point: 17 });
  expect(formatReplayId(back)).toBe(id);
  // An id without scale parts keeps its meaning (engine defaults).
  expect(parseReplayId('tl1.minipage.none.consumer-tlc.8192.bank.300.42.p1834.s3')).not.toHaveProperty('keys');
});

test('the default campaign runs a control for every sabotage switch', () => {
  const cells = expandCampaign(parseCampaign(JSON.stringify(DEFAULT_CAMPAIGN), 'default.json'));
  const { untried } = controlCells(cells.filter((c) => !c.sabotage), getAdapter('minipage'));
  expect(untried).toEqual([]);
  const names = new Set(cells.filter((c) => c.sabotage).map((c) => c.sabotage));
  expect([...names].sort()).toEqual([...SABOTAGE_NAMES].sort());
  for (const c of cells) expect(c.keys).toBe(DEFAULT_CAMPAIGN.keys);
});

test('tornlab selftest --list names every switch with its modes and window', () => {
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const r = spawnSync(process.execPath, [require('path').join(__dirname, '../../dist/src/cli/main.js'), 'selftest', '--list'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  for (const n of SABOTAGE_NAMES) expect(r.stdout).toContain(`${n}  [`);
});
