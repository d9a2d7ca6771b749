/**
 * The asynchronous-durability experiment's known answers (ARCHITECTURE 2.5):
 * commit by FUA, by the CRITICAL intent and by persistence-token confirmation
 * keeps every acknowledged commit on a consumer device with a volatile cache,
 * as Flush does; a power window keeps them only if the device honours it.
 * Crash states are judged in this thread (workers: 1), no dist/ needed.
 */
import { runCell, validateCell } from '../../src/campaign/run-cell';
import { CellSpec, CommitMethod } from '../../src/crash/cell';
import { CellResult } from '../../src/report/schema';
import { runWorkload } from '../../engines/minipage/driver';

function cell(commit: CommitMethod | undefined, extra: Partial<CellSpec> = {}): CellSpec {
  return {
    engine: 'minipage',
    mode: 'fpw',
    force: false,
    profile: 'consumer-tlc',
    faults: [],
    pageSize: 8192,
    workload: 'bank',
    txns: 120,
    seed: 5,
    crashes: 1500,
    strategy: 'exhaustive',
    crashDuringRecovery: false,
    commit,
    ...extra,
  };
}

async function run(c: CellSpec): Promise<CellResult> {
  const { result, truncated } = await runCell(c, { workers: 1 });
  const counts = Object.entries(result.verdicts).filter(([, n]) => n > 0).map(([v, n]) => `${v}=${n}`).join(' ');
  console.log(`${result.id}: ${result.crashStatesTried} crash states${truncated ? ' (truncated)' : ''}: ${counts}; p50 ${result.commitLatencyUs.p50} us, ${result.throughputTxnPerSec?.toFixed(0)} txn/s -> ${result.status}`);
  return result;
}

describe('commit methods on consumer-tlc (volatile cache, no PLP): every crash point', () => {
  for (const commit of ['flush', 'fua', 'critical', 'token'] as const) {
    test(`${commit}: no acknowledged commit is ever lost`, async () => {
      const r = await run(cell(commit));
      expect(r.crashStatesTried).toBeGreaterThan(150);
      expect(r.verdicts.ok).toBe(r.crashStatesTried);
      expect(r.status).toBe('pass');
      expect(r.expectation.kind).toBe('claims-safe');
      // The method is really used: no Flush per commit except the checkpoints' (one per 40 txns).
      if (commit !== 'flush') expect(r.flushesPerCommit!).toBeLessThan(0.1);
      else expect(r.flushesPerCommit!).toBeGreaterThan(0.3);
    }, 60_000);
  }

  test('window, honoured and sufficient (50 ms): all ok', async () => {
    const r = await run(cell('window', { windowMs: 50 }));
    expect(r.id).toContain('fpw@window50ms');
    expect(r.verdicts.ok).toBe(r.crashStatesTried);
    expect(r.status).toBe('pass');
  }, 60_000);

  test('window, honoured but small (0.2 ms = 38 KB of destage): the engine keeps its unconfirmed bytes within it by waiting for tokens: all ok', async () => {
    const c = cell('window', { windowMs: 0.2 });
    const w = runWorkload({ profile: c.profile, seed: c.seed, engine: { mode: 'fpw', pageSize: 8192, walDurability: 'window', powerWindowMs: 0.2 }, workload: { name: 'bank', seed: c.seed, txns: c.txns }, capture: 'none' });
    console.log(`window 0.2 ms: ${w.stats.wal.tokenWaits} of ${w.stats.wal.groupFlushes} group commits waited for tokens to fit the window`);
    expect(w.stats.wal.tokenWaits).toBeGreaterThan(0);
    const r = await run(c);
    expect(r.id).toContain('fpw@window200us');
    expect(r.verdicts.ok).toBe(r.crashStatesTried);
  }, 60_000);

  test('window not honoured by the device: acknowledged commits are lost (an expected demonstration)', async () => {
    const r = await run(cell('window', { faults: ['power-window-not-honoured'], strategy: 'mixed', crashes: 300 }));
    expect(r.verdicts['lost-commit']).toBeGreaterThan(0);
    expect(r.expectation.kind).toBe('demonstration');
    expect(r.status).toBe('finding-expected');
    expect(r.findings[0].replayId).toMatch(/^tl1\.minipage\.fpw@window50ms\.consumer-tlc\+power-window-not-honoured\./);
  }, 60_000);

  test('token and flush are unaffected by the window fault (they never rely on the window)', async () => {
    const r = await run(cell('token', { faults: ['power-window-not-honoured'], strategy: 'mixed', crashes: 200 }));
    expect(r.verdicts.ok).toBe(r.crashStatesTried);
    expect(r.expectation.kind).toBe('claims-safe');
  }, 60_000);
});

describe('cells', () => {
  test("commit 'flush' is the default: dropped by validation, so default cells keep their ids", () => {
    const v = validateCell(cell('flush'));
    expect('commit' in v).toBe(false);
    expect(validateCell(cell('token')).commit).toBe('token');
  });

  test('bad commit settings are refused with a message naming the fix', () => {
    expect(() => validateCell(cell('bogus' as CommitMethod))).toThrow(/commit "bogus" is not valid.*flush, fua, token, critical, window/);
    expect(() => validateCell(cell('token', { windowMs: 5 }))).toThrow(/windowMs applies to commit "window" only/);
    expect(() => validateCell(cell('window', { windowMs: 0 }))).toThrow(/windowMs must be/);
    expect(() => validateCell(cell('window', { windowMs: 0.0005 }))).toThrow(/whole microseconds/);
  });
});
